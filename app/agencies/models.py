from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, str_enum


class AgencyKind(StrEnum):
    POLRI = "polri"
    KEJAKSAAN = "kejaksaan"
    KPK = "kpk"
    PENGADILAN = "pengadilan"
    TNI = "tni"
    BNN = "bnn"
    LAINNYA = "lainnya"


class Agency(Base):
    """An institution authorised to request footage (Polres, Kejaksaan Negeri, KPK, court…)."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[AgencyKind] = mapped_column(str_enum(AgencyKind))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
