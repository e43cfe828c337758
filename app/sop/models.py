from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, str_enum


class StepOutcome(StrEnum):
    COMPLETED = "completed"
    RETURNED = "returned"


class StepRecord(Base):
    """One performed SOP step of a request: who, when, against which time standard."""

    __tablename__ = "sop_step_records"
    # At most one record per step: a second click, or two officials at once, is a conflict.
    __table_args__ = (UniqueConstraint("request_id", "step_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("evidence_requests.id"))
    step_number: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[StepOutcome] = mapped_column(str_enum(StepOutcome, 16))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(32))
    performed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    met_standard: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    assigned_operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
