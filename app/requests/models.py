from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.cameras.models import Camera
from app.db import Base, UtcDateTime, str_enum


class DeliveryMethod(StrEnum):
    GOOGLE_DRIVE = "google_drive"
    LOCAL_LINK = "local_link"
    MEDIA = "media"


class Preservation(StrEnum):
    """Will the NVR still hold an item's window when the SOP reaches the export step?"""

    UNCHECKED = "unchecked"  # not asked yet
    UNKNOWN = "unknown"  # the NVR could not be asked (the error is kept)
    SAFE = "safe"
    AT_RISK = "at_risk"  # within the margin of the NVR's oldest recording: preserve now
    OVERWRITTEN = "overwritten"  # the NVR's oldest recording starts after the window
    # The NVR holds nothing in the window (the camera did not record then), or nothing of the
    # camera at all: whether it was ever recorded the device cannot tell, so nothing is claimed.
    ABSENT = "absent"


class RequestStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    RETURNED = "returned"
    COMPLETED = "completed"


class EvidenceRequest(Base):
    """An authority's letter asking for footage, with everything the SOP and the BAST need."""

    __tablename__ = "evidence_requests"
    __table_args__ = (UniqueConstraint("agency_id", "letter_number_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    letter_number: Mapped[str] = mapped_column(String(128))
    # Upper-cased, whitespace-collapsed: "b/12/ xi/2026" and "B/12/XI/2026" are one letter.
    letter_number_key: Mapped[str] = mapped_column(String(128))
    letter_date: Mapped[date] = mapped_column(Date)
    letter_path: Mapped[str] = mapped_column(String(512))
    letter_sha256: Mapped[str] = mapped_column(String(64))
    letter_size: Mapped[int] = mapped_column(Integer)
    letter_filename: Mapped[str] = mapped_column(String(255))
    legal_basis: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    incident: Mapped[str] = mapped_column(Text)

    officer_name: Mapped[str] = mapped_column(String(200))
    officer_id_number: Mapped[str] = mapped_column(String(64))
    officer_position: Mapped[str] = mapped_column(String(200))
    officer_institution: Mapped[str] = mapped_column(String(200))
    officer_email: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_id_number: Mapped[str] = mapped_column(String(64))
    recipient_position: Mapped[str] = mapped_column(String(200))
    recipient_institution: Mapped[str] = mapped_column(String(200))
    recipient_email: Mapped[str] = mapped_column(String(254))

    delivery_method: Mapped[DeliveryMethod] = mapped_column(str_enum(DeliveryMethod, 16))
    status: Mapped[RequestStatus] = mapped_column(str_enum(RequestStatus, 16))
    sop_id: Mapped[str] = mapped_column(String(64))
    current_step: Mapped[int] = mapped_column(Integer)
    assigned_operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    items: Mapped[list[RequestItem]] = relationship(
        back_populates="request", order_by="RequestItem.position", cascade="all"
    )

    @property
    def number(self) -> str:
        """The office's reference for the request, used in folder and package names."""
        return f"SKS-{self.created_at.year}-{self.id:05d}"


class RequestItem(Base):
    """One camera × time window of a request."""

    __tablename__ = "request_items"
    __table_args__ = (UniqueConstraint("request_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("evidence_requests.id"))
    position: Mapped[int] = mapped_column(Integer)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    window_start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # What the NVR still held when asked at intake (true UTC): the footage it overwrites next.
    oldest_recording_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    preservation_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    preservation_error: Mapped[str | None] = mapped_column(Text, default=None)
    # The NVR's own search of the window at intake: {"recorded": [...], "gaps": [...]}, true UTC.
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    preservation: Mapped[Preservation] = mapped_column(
        str_enum(Preservation, 16), default=Preservation.UNCHECKED,
        server_default=Preservation.UNCHECKED.value,
    )  # fmt: skip

    request: Mapped[EvidenceRequest] = relationship(back_populates="items")
    camera: Mapped[Camera] = relationship()
