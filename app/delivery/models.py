from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, str_enum


class DeliveryState(StrEnum):
    PENDING = "pending"  # recorded, upload not finished
    SHARED = "shared"  # the recipient can fetch it until `purge_due_at`
    FAILED = "failed"  # the upload or sharing failed; the record stays
    REVOKED = "revoked"  # access withdrawn before expiry; files still to purge
    PURGED = "purged"  # files deleted, grants removed


# Deliveries whose files may still exist somewhere and so must be purged when due.
LIVE_STATES = (DeliveryState.PENDING, DeliveryState.SHARED, DeliveryState.REVOKED)


class Delivery(Base):
    """One handing-over of a request's package through a backend, and its purge."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("evidence_requests.id"))
    method: Mapped[str] = mapped_column(String(16))  # drive | local | media
    state: Mapped[DeliveryState] = mapped_column(str_enum(DeliveryState, 16))
    recipient: Mapped[str] = mapped_column(String(254))
    container_id: Mapped[str | None] = mapped_column(String(256))
    url: Mapped[str | None] = mapped_column(String(1024))  # never a local token: only its hash
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    file_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    permission_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    shared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # as the backend enforces
    purge_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # as Saksi enforces
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    purge_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    destruction_path: Mapped[str | None] = mapped_column(String(512))
    destruction_sha256: Mapped[str | None] = mapped_column(String(64))


class DeliveryLink(Base):
    """A local download link: only the SHA-256 of its token is kept."""

    __tablename__ = "delivery_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    container_id: Mapped[str] = mapped_column(String(256), index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    downloads: Mapped[int] = mapped_column(Integer, default=0)


class DriveItem(Base):
    """An item Saksi may have put on Drive, on record before it exists (its id reserved with
    files.generateIds): a delivery's folder and each upload attempt's file. Whatever becomes of
    the delivery (failed, abandoned, purged), these rows tell the purge what to delete and say,
    item by item, what the purge established."""

    __tablename__ = "drive_items"

    item_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # folder | file
    reserved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(24))  # deleted | verified_absent
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def downloadable(delivery: Delivery, now: datetime) -> bool:
    """Whether the recipient can fetch the delivery now: shared, and its purge not yet due."""
    due = delivery.purge_due_at
    return delivery.state is DeliveryState.SHARED and due is not None and now < due
