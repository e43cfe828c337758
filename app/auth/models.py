from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, str_enum


class Role(StrEnum):
    ADMIN = "admin"
    KEPALA_DINAS = "kepala_dinas"
    SEKRETARIS = "sekretaris"
    KEPALA_BIDANG = "kepala_bidang"
    SUBKOORDINATOR = "subkoordinator"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    PEMOHON = "pemohon"


STAFF_ROLES = frozenset(set(Role) - {Role.PEMOHON})
# Auditors read the ledger, verify it and export reports: they change nothing else (issue 17).
READ_ONLY_ROLES = frozenset({Role.AUDITOR})
WRITING_ROLES = frozenset(set(Role) - READ_ONLY_ROLES)
WRITING_STAFF_ROLES = STAFF_ROLES - READ_ONLY_ROLES


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # A pemohon acts for exactly one agency; office staff belong to none.
        CheckConstraint("(role = 'pemohon') = (agency_id IS NOT NULL)", name="pemohon_has_agency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    id_number: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Tokens issued before the password was last reset no longer count.
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
