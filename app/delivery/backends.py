"""The delivery backends as the service configures them, with links kept in the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select

from app.db import unit_of_work
from app.delivery.models import DeliveryLink
from app.delivery.upload_state import DatabaseStateStore
from app.runtime import Runtime
from drive_sync import (
    DeliveryBackend,
    DriveBackend,
    DriveConfig,
    LocalBackend,
    LocalLink,
    load_credentials,
)

DOWNLOAD_PATH = "/unduh"


class DatabaseLinkStore:
    """`drive_sync.LinkStore` over the `delivery_links` table; each call its own transaction."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def put(self, link: LocalLink) -> None:
        with unit_of_work(self.runtime.sessions) as session:
            row = session.get(DeliveryLink, link.token_hash) or DeliveryLink(
                token_hash=link.token_hash
            )
            row.container_id, row.recipient = link.container_id, link.recipient
            row.created_at, row.expires_at = link.created_at, link.expires_at
            row.revoked_at, row.downloads = link.revoked_at, link.downloads
            session.add(row)

    def get(self, token_hash: str) -> LocalLink | None:
        with self.runtime.sessions() as session:
            row = session.get(DeliveryLink, token_hash)
            return _link(row) if row else None

    def for_container(self, container_id: str) -> list[LocalLink]:
        with self.runtime.sessions() as session:
            rows = session.scalars(
                select(DeliveryLink).where(DeliveryLink.container_id == container_id)
            )
            return [_link(row) for row in rows]


def _link(row: DeliveryLink) -> LocalLink:
    return LocalLink(
        row.token_hash,
        row.container_id,
        row.recipient,
        row.created_at,
        row.expires_at,
        row.revoked_at,
        row.downloads,
    )


def ttl(runtime: Runtime) -> timedelta:
    return timedelta(days=runtime.settings.delivery_ttl_days)


def local_backend(runtime: Runtime) -> LocalBackend:
    base = runtime.settings.public_url.rstrip("/") + DOWNLOAD_PATH
    root = runtime.settings.data_dir / "deliveries"
    root.mkdir(parents=True, exist_ok=True)
    return LocalBackend(root, base, DatabaseLinkStore(runtime), ttl(runtime))


def drive_backend(runtime: Runtime) -> DriveBackend:
    settings = runtime.settings
    if settings.drive_credentials_file is None:
        raise RuntimeError("SAKSI_DRIVE_CREDENTIALS_FILE is not set")
    config = DriveConfig(
        api_endpoint=settings.drive_api_endpoint,
        shared_drive_id=settings.drive_shared_drive_id,
        parent_folder_id=settings.drive_parent_folder_id,
        anyone_with_link=settings.drive_anyone_with_link,
        ttl=ttl(runtime),
    )
    state = DatabaseStateStore(runtime.sessions, runtime.clock)  # safe with several workers
    return DriveBackend(load_credentials(settings.drive_credentials_file), config, state)


@contextmanager
def backend_for(runtime: Runtime, method: str) -> Iterator[DeliveryBackend]:
    """The configured backend of `method`, closed (its HTTP connections) after use."""
    if method != "drive":
        yield local_backend(runtime)
        return
    with drive_backend(runtime) as drive:
        yield drive
