"""What Drive says happened to delivered items, appended to the custody ledger (issue 16 item 7).

A periodic job reads the Drive Activity API for every Drive delivery that is shared and not yet
purged (and once more just before its purge), and appends each activity newer than the last one
on record as a `delivery.drive_activity` event: when it happened on Drive, what (a permission
change, an edit, a comment …), by whom (`people/…`, or Saksi's own account). The API reports no
views or downloads (see drive_sync/_activity.py), so the ledger can show what the recipient did
to the folder's sharing or contents, not when they opened a file.

Optional by design: credentials without the activity scope, or a Cloud project without the API,
make the run skip with a note in the log, never fail.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.custody import service as custody
from app.db import unit_of_work
from app.delivery.models import Delivery, DeliveryState
from app.runtime import Runtime
from custody.events import JsonValue
from custody.ledger import events_table
from drive_sync import ActivityReader, ActivityUnavailable, DriveActivity, load_credentials
from drive_sync._retry import RetryPolicy

logger = logging.getLogger(__name__)
JOB_NAME = "delivery.drive_activity"
ACTION = "delivery.drive_activity"
SKIPPED_NOTE = (
    "Drive Activity not read ({reason}): give the credentials the scope "
    "https://www.googleapis.com/auth/drive.activity.readonly and enable the Drive Activity API "
    "in the Cloud project to have recipients' actions on record (docs/google-drive.md)"
)


@dataclass(frozen=True)
class Watched:
    delivery_id: int
    request_id: int
    folder_id: str


@dataclass
class ActivityReport:
    deliveries: int = 0
    recorded: int = 0
    skipped: str | None = None  # why Drive Activity could not be read, if it could not


def collect_activity(runtime: Runtime, now: datetime) -> ActivityReport:
    """Read and record the activity of every live Drive delivery."""
    with runtime.sessions() as session:
        watched = watched_deliveries(session)
    report = ActivityReport(deliveries=len(watched))
    if not watched:
        return report
    try:
        with _reader(runtime) as reader:
            for delivery in watched:
                report.recorded += _collect(runtime, reader, delivery, now)
    except ActivityUnavailable as exc:
        report.skipped = SKIPPED_NOTE.format(reason=exc.reason)
        logger.warning("%s", report.skipped)
    return report


def collect_before_purge(runtime: Runtime, delivery_id: int) -> None:
    """The last read, just before the purge deletes the folder; never stops the purge."""
    with runtime.sessions() as session:
        found = [w for w in watched_deliveries(session) if w.delivery_id == delivery_id]
    try:
        with _reader(runtime) as reader:
            for delivery in found:
                _collect(runtime, reader, delivery, runtime.clock.now())
    except Exception as exc:  # optional by design: the purge goes on, the log says why
        logger.warning("drive activity of delivery %d not read before purge: %s", delivery_id, exc)


def watched_deliveries(session: Session) -> list[Watched]:
    query = select(Delivery).where(
        Delivery.method == "drive", Delivery.state == DeliveryState.SHARED,
        Delivery.purged_at.is_(None), Delivery.container_id.is_not(None),
    )  # fmt: skip
    return [Watched(d.id, d.request_id, str(d.container_id))
            for d in session.scalars(query.order_by(Delivery.id))]  # fmt: skip


def recipient_activity(session: Session, request_id: int) -> list[dict[str, Any]]:
    """The request's Drive activity by anyone but Saksi's own account, oldest first: for the
    BAST's public page (when, what kind of action, on which item; no names)."""
    return [
        {"time": datetime.fromisoformat(str(r["time"])), "action": r["action"], "title": r["title"]}
        for r in _recorded(session, request_id) if not r.get("by_saksi")
    ]  # fmt: skip


@contextmanager
def _reader(runtime: Runtime) -> Iterator[ActivityReader]:
    settings = runtime.settings
    if settings.drive_credentials_file is None:
        raise ActivityUnavailable("no Drive credentials", None, "no_credentials")
    credentials = load_credentials(settings.drive_credentials_file)
    reader = ActivityReader(credentials, settings.drive_activity_api_endpoint, RetryPolicy())
    try:
        yield reader
    finally:
        reader.close()


def _collect(runtime: Runtime, reader: ActivityReader, watched: Watched, now: datetime) -> int:
    with runtime.sessions() as session:
        seen = [r for r in _recorded(session, watched.request_id)
                if r.get("delivery") == watched.delivery_id]  # fmt: skip
    last = max((datetime.fromisoformat(str(r["time"])) for r in seen), default=None)
    found = reader.since(watched.folder_id, last)
    if not found:
        return 0
    with unit_of_work(runtime.sessions) as session:
        for activity in found:
            _record(session, watched, activity, now)
    return len(found)


def _record(session: Session, watched: Watched, activity: DriveActivity, now: datetime) -> None:
    custody.record(
        session, ACTION, custody.SYSTEM, now,
        object={"delivery": watched.delivery_id, "item": activity.item_id,
                "title": activity.title},
        result={"time": activity.time.isoformat(), "action": activity.action,
                "actors": list(activity.actors), "by_saksi": activity.by_caller,
                "detail": json.loads(json.dumps(activity.detail)),
                "source": "driveactivity.googleapis.com/v2/activity:query"},
        request_id=watched.request_id,
    )  # fmt: skip


def _recorded(session: Session, request_id: int) -> list[dict[str, JsonValue]]:
    """The request's `delivery.drive_activity` events, flattened, in ledger order."""
    query = (
        select(events_table.c.canonical)
        .where(events_table.c.action == ACTION, events_table.c.request_id == request_id)
        .order_by(events_table.c.seq)
    )
    flat = []
    for canonical in session.scalars(query):
        doc = json.loads(canonical)
        flat.append({**doc.get("object", {}), **doc.get("result", {})})
    return flat
