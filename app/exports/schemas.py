from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.exports.models import AttemptOutcome, ExportPurpose, ExportState


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    worker: str
    started_at: datetime
    heartbeat_at: datetime
    ended_at: datetime | None
    outcome: AttemptOutcome
    error_code: str | None
    error_detail: str | None


class ExportProgress(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    state: ExportState
    bytes_written: int
    media_seconds: float
    percent: float
    expected_bytes: int | None = None
    updated_at: datetime


class ExportRead(ExportProgress):
    request_id: int
    item_id: int
    purpose: ExportPurpose
    created_at: datetime
    finished_at: datetime | None
    error_code: str | None
    error_detail: str | None
    sha256: str | None
    raw_sha256: str | None
    size_bytes: int | None
    frames: int | None
    first_frame_at: datetime | None
    last_frame_at: datetime | None
    device: dict[str, Any] | None
    clock: dict[str, Any] | None
    gaps: list[dict[str, Any]] | None
    trimming: dict[str, Any] | None
    method: str | None
    method_detail: dict[str, Any] | None
    expected_bytes: int | None
    master_format: str | None
    master_sha256: str | None
    master_raw_sha256: str | None
    master_size: int | None
    attempts: list[AttemptRead]
