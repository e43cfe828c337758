from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UtcDateTime, str_enum


class ExportState(StrEnum):
    QUEUED = "queued"
    PROBING = "probing"
    SEARCHING = "searching"
    FETCHING = "fetching"
    VERIFYING = "verifying"
    DONE = "done"
    PARTIAL = "partial"
    FAILED = "failed"


TERMINAL_STATES = frozenset({ExportState.DONE, ExportState.PARTIAL, ExportState.FAILED})
RUNNING_STATES = frozenset(
    {ExportState.PROBING, ExportState.SEARCHING, ExportState.FETCHING, ExportState.VERIFYING}
)


class ExportPurpose(StrEnum):
    EVIDENCE = "evidence"
    # Taken at intake, ahead of the dispositions, because the NVR will soon overwrite the window.
    PRESERVATION = "preservation"


class AttemptOutcome(StrEnum):
    RUNNING = "running"
    DONE = "done"
    PARTIAL = "partial"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class Export(Base):
    """The export of one request item: its state, progress and, when done, its clip."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("evidence_requests.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("request_items.id"))
    purpose: Mapped[ExportPurpose] = mapped_column(str_enum(ExportPurpose, 16))
    state: Mapped[ExportState] = mapped_column(str_enum(ExportState, 16))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    bytes_written: Mapped[int] = mapped_column(BigInteger, default=0)
    media_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)

    file_path: Mapped[str | None] = mapped_column(String(512))
    sha256: Mapped[str | None] = mapped_column(String(64))
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    frames: Mapped[int | None] = mapped_column(Integer)
    first_frame_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_frame_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    contact_sheet_path: Mapped[str | None] = mapped_column(String(512))
    device: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    clock: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    gaps: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    trimming: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # How the footage came: "download" (the device's native file over HTTP) or "playback"
    # (RTSP/ONVIF replay); with why (a refused download, Rate-Control honoured or not, notes).
    method: Mapped[str | None] = mapped_column(String(16))
    method_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    expected_bytes: Mapped[int | None] = mapped_column(BigInteger)  # from the device's search
    # The device's own file, kept unaltered; the MP4 above is the working copy derived from it.
    master_path: Mapped[str | None] = mapped_column(String(512))
    master_format: Mapped[str | None] = mapped_column(String(16))
    master_sha256: Mapped[str | None] = mapped_column(String(64))
    master_raw_sha256: Mapped[str | None] = mapped_column(String(64))
    master_size: Mapped[int | None] = mapped_column(BigInteger)

    attempts: Mapped[list[ExportAttempt]] = relationship(
        back_populates="export", order_by="ExportAttempt.number"
    )


class ExportAttempt(Base):
    """One run of an export job. Kept whatever its outcome: a failure is evidence too."""

    __tablename__ = "export_attempts"
    __table_args__ = (UniqueConstraint("export_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    export_id: Mapped[int] = mapped_column(ForeignKey("exports.id"))
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[AttemptOutcome] = mapped_column(str_enum(AttemptOutcome, 16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)
    file_path: Mapped[str | None] = mapped_column(String(512))

    export: Mapped[Export] = relationship(back_populates="attempts")


class NvrSlot(Base):
    """One leased playback session of an NVR; (nvr, slot) rows bound how many run at once."""

    __tablename__ = "nvr_slots"

    nvr_id: Mapped[int] = mapped_column(ForeignKey("nvrs.id"), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    leased_until: Mapped[datetime] = mapped_column(UtcDateTime)


class NvrSlotTicket(Base):
    """A place in an NVR's line for a playback slot (issue 18): exports take the NVR's slots in
    ticket order. A ticket outlives its job's re-queueing (the export keeps its place) and is
    ignored once `alive_until` passes (its worker died)."""

    __tablename__ = "nvr_slot_tickets"

    ticket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nvr_id: Mapped[int] = mapped_column(ForeignKey("nvrs.id"), index=True)
    export_id: Mapped[int] = mapped_column(ForeignKey("exports.id"), unique=True)
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    alive_until: Mapped[datetime] = mapped_column(UtcDateTime)
