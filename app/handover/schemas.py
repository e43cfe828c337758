from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class PackageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    request_id: int
    zip_sha256: str
    zip_size: int
    manifest_sha256: str
    clips: list[dict[str, Any]]
    unavailable: list[dict[str, Any]]  # requested items without a clip, and why
    checkpoint_size: int
    built_at: datetime


class HandoverRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: int
    number: str
    issued_at: datetime
    pdf_sha256: str | None
    docx_sha256: str | None
    signed_scan_sha256: str | None
    signed_at: datetime | None
