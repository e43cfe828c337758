"""Reconciliation: what is on Drive against what the database says Saksi put there (issue 16).

A periodic job lists the folder (or Shared Drive) Saksi delivers into. An item no delivery still
owns (unknown to the database, or left by a delivery already purged) is an orphan: reported
(`open_orphans`, for `/readyz` and the admin page) and deleted once it is older than the delivery
TTL, so nothing outlives the 14 days whatever put it there. Every run is one custody event,
`delivery.drive_reconciled`. Items a delivery still owns are the purge's, never touched here:
since their ids are on record before they exist, a delivery in progress is never mistaken for an
orphan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.custody import service as custody
from app.db import unit_of_work
from app.delivery.backends import drive_backend, ttl
from app.delivery.models import Delivery, DriveItem
from app.runtime import Runtime
from custody.events import JsonValue
from custody.ledger import events_table
from drive_sync import DriveBackend, ListedItem

JOB_NAME = "delivery.reconcile_drive"
ACTION = "delivery.drive_reconciled"


@dataclass
class ReconcileReport:
    listed: int = 0
    orphans: list[ListedItem] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # orphans younger than the TTL
    absent: list[str] = field(default_factory=list)  # gone before the delete reached them


def reconcile_drive(runtime: Runtime, now: datetime) -> ReconcileReport:
    """List Saksi's Drive, report what no delivery owns, delete what is older than the TTL."""
    report = ReconcileReport()
    with drive_backend(runtime) as drive:
        listed = drive.inventory()
        with runtime.sessions() as session:
            owned = owned_ids(session)
        report.listed = len(listed)
        report.orphans = [item for item in listed if item.id not in owned]
        _settle_orphans(drive, report, now - ttl(runtime))
    with unit_of_work(runtime.sessions) as session:
        custody.record(
            session, ACTION, custody.SYSTEM, now, object={"listed": report.listed},
            result={"orphans": [_described(item) for item in report.orphans],
                    "deleted": list(report.deleted), "kept": list(report.kept),
                    "absent": list(report.absent)},
        )  # fmt: skip
    return report


def owned_ids(session: Session) -> set[str]:
    """Drive ids some delivery still owns (the purge will deal with them): reserved items not
    yet purged, and the folder and files of a Drive delivery not yet purged."""
    reserved = select(DriveItem.item_id).where(DriveItem.outcome.is_(None))
    owned = set(session.scalars(reserved))
    unpurged = select(Delivery).where(Delivery.method == "drive", Delivery.purged_at.is_(None))
    for delivery in session.scalars(unpurged):
        owned.update([delivery.container_id or "", *(delivery.file_ids or [])])
    return owned - {""}


def _settle_orphans(drive: DriveBackend, report: ReconcileReport, cutoff: datetime) -> None:
    for item in report.orphans:
        if item.created_at > cutoff:
            report.kept.append(item.id)
        elif drive.delete_item(item.id):
            report.deleted.append(item.id)
        else:
            report.absent.append(item.id)


def _described(item: ListedItem) -> dict[str, JsonValue]:
    return {"id": item.id, "name": item.name, "folder": item.folder,
            "created_at": item.created_at.isoformat(), "children": len(item.children)}  # fmt: skip


def open_orphans(session: Session) -> list[dict[str, Any]]:
    """The orphans the latest reconciliation left on Drive (younger than the TTL): for the
    admin page and the `/readyz` alerts. Empty before the first run."""
    query = (
        select(events_table.c.canonical)
        .where(events_table.c.action == ACTION)
        .order_by(events_table.c.seq.desc())
        .limit(1)
    )
    canonical = session.execute(query).scalar_one_or_none()
    if canonical is None:
        return []
    result = json.loads(canonical).get("result", {})
    kept = set(result.get("kept", []))
    return [o for o in result.get("orphans", []) if o.get("id") in kept]
