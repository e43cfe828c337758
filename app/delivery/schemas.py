from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: int
    method: str
    state: str
    recipient: str
    url: str | None
    files: list[dict[str, Any]]
    created_at: datetime
    shared_at: datetime | None
    expires_at: datetime | None
    purge_due_at: datetime | None
    revoked_at: datetime | None
    purged_at: datetime | None
    last_error: str | None
    destruction_sha256: str | None
    purge_overdue: bool = False


class DeliveryStarted(DeliveryRead):
    # A local link, shown this once: Saksi keeps only its hash.
    link: str | None = None


class PurgeStatus(BaseModel):
    alert: bool
    overdue: list[int]
    due_now: list[int]
