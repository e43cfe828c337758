from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime


class NvrSlot(Base):
    """One leased playback session of an NVR; (nvr, slot) rows bound how many run at once."""

    __tablename__ = "nvr_slots"

    nvr_id: Mapped[int] = mapped_column(ForeignKey("nvrs.id"), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    leased_until: Mapped[datetime] = mapped_column(UtcDateTime)
