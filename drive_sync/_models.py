"""Typed values passed in and out of every delivery backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

Method = Literal["drive", "local"]
DEFAULT_TTL = timedelta(days=14)


@dataclass(frozen=True)
class Container:
    """The per-request folder (Drive folder id, or local directory name)."""

    method: Method
    id: str
    name: str
    url: str | None = None


@dataclass(frozen=True)
class UploadResult:
    """One verified file: both checksums are kept for the custody record."""

    file_id: str
    name: str
    size: int
    local_sha256: str
    remote_checksum: str
    remote_algorithm: Literal["sha256", "md5", "local"]
    attempts: int
    bytes_sent: int


@dataclass(frozen=True)
class ShareResult:
    """What was granted; `expires_at` is None when Drive refused an expiry."""

    permission_ids: tuple[str, ...]
    recipient: str
    url: str
    shared_at: datetime
    purge_due: datetime
    expires_at: datetime | None
    anyone_with_link: bool = False


@dataclass(frozen=True)
class DeliveryRecord:
    """What the app stores to revoke, purge or inspect a delivery later."""

    method: Method
    container_id: str
    file_ids: tuple[str, ...] = ()
    permission_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed; an already-gone item counts as removed."""

    revoked_permission_ids: tuple[str, ...]
    deleted_ids: tuple[str, ...]
    already_gone: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeliveryStatus:
    """The live state of a delivery as the backend sees it now."""

    exists: bool
    file_ids: tuple[str, ...] = ()
    permission_ids: tuple[str, ...] = ()
    expires_at: datetime | None = None
    revoked: bool = False
    downloads: int = 0
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ListedItem:
    """An item found directly under the folder (or Shared Drive) Saksi delivers into."""

    id: str
    name: str
    folder: bool
    created_at: datetime
    children: tuple[str, ...] = ()


class DeliveryBackend(Protocol):
    """Create, fill, share, revoke and purge one request's delivery."""

    def create_container(self, request_number: str) -> Container:
        """Create (or find) the folder named after the request number."""
        ...

    def upload(self, container: Container, path: Path, name: str | None = None) -> UploadResult:
        """Upload one file and verify its checksum before returning."""
        ...

    def share(self, container: Container, recipient: str, now: datetime) -> ShareResult:
        """Grant the recipient read access until now + the configured TTL."""
        ...

    def revoke(self, record: DeliveryRecord) -> tuple[str, ...]:
        """Remove every grant; return the ids removed."""
        ...

    def purge(self, record: DeliveryRecord) -> PurgeResult:
        """Revoke and permanently delete; idempotent."""
        ...

    def status(self, record: DeliveryRecord) -> DeliveryStatus:
        """Report whether the delivery still exists and who can reach it."""
        ...
