"""Download sessions: one custody event per link × client × file, however many Range requests.

A download manager fetches a file in hundreds of Range requests; each used to be a custody
event, so whoever held a link could grow the append-only ledger without bound. Now requests of
one file through one link by one client, each within `download_session_minutes` of the last,
are one session: its first request records `delivery.accessed` (the fact that matters, on the
ledger at once), later ones only add to the session's row (requests, bytes, the byte ranges
served, merged). A session idle past the window is closed by `close_idle`, which records its
totals once as `delivery.access_closed`. So the ledger gets at most two events per session,
and the totals are on record in both the table and the ledger.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.custody import service as custody
from app.db import Base, UtcDateTime
from app.delivery.models import Delivery, DeliveryLink

# The ranges kept per session; beyond it the closest neighbours are joined (the bytes total
# stays exact).
MAX_RANGES = 32


class DownloadSession(Base):
    __tablename__ = "download_sessions"
    __table_args__ = (
        Index("ix_download_sessions_link_hash", "link_hash", "client", "file_name",
              "last_seen_at"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    link_hash: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    delivery_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    requests: Mapped[int] = mapped_column(Integer)
    bytes_served: Mapped[int] = mapped_column(BigInteger)
    ranges: Mapped[list[list[int]]] = mapped_column(JSON)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def record_access(
    session: Session, link_hash: str, client: str, file_name: str, span: tuple[int, int],
    now: datetime, window: timedelta,
) -> DownloadSession:  # fmt: skip
    """Add one served range to its download session; open (and record) a new one if none."""
    _serialise(session, link_hash, client, file_name)
    current = session.scalars(
        select(DownloadSession)
        .where(DownloadSession.link_hash == link_hash, DownloadSession.client == client,
               DownloadSession.file_name == file_name, DownloadSession.closed_at.is_(None),
               DownloadSession.last_seen_at > now - window)
        .order_by(DownloadSession.last_seen_at.desc()).limit(1).with_for_update()
    ).first()  # fmt: skip
    if current is None:
        return _open(session, link_hash, client, file_name, span, now)
    current.requests += 1
    current.bytes_served += span[1] - span[0] + 1
    current.ranges = merge_ranges([*current.ranges, [span[0], span[1]]])
    current.last_seen_at = now
    return current


def close_idle(session: Session, now: datetime, window: timedelta) -> int:
    """Close the sessions idle longer than `window`, recording each one's totals; return how
    many were closed."""
    idle = session.scalars(
        select(DownloadSession)
        .where(DownloadSession.closed_at.is_(None), DownloadSession.last_seen_at <= now - window)
        .order_by(DownloadSession.id).with_for_update()
    ).all()  # fmt: skip
    for row in idle:
        row.closed_at = now
        custody.record(
            session, "delivery.access_closed", custody.SYSTEM, now,
            object=_object(row), result=_totals(row), request_id=_request_id(session, row),
        )  # fmt: skip
    return len(idle)


def merge_ranges(ranges: list[list[int]]) -> list[list[int]]:
    """Sort and join overlapping or touching byte ranges (inclusive ends), at most MAX_RANGES."""
    merged: list[list[int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    while len(merged) > MAX_RANGES:
        gaps = [merged[i + 1][0] - merged[i][1] for i in range(len(merged) - 1)]
        i = gaps.index(min(gaps))
        merged[i : i + 2] = [[merged[i][0], merged[i + 1][1]]]
    return merged


def _open(
    session: Session, link_hash: str, client: str, file_name: str, span: tuple[int, int],
    now: datetime,
) -> DownloadSession:  # fmt: skip
    row = DownloadSession(
        link_hash=link_hash, client=client, file_name=file_name,
        delivery_id=_delivery_id(session, link_hash), started_at=now, last_seen_at=now,
        requests=1, bytes_served=span[1] - span[0] + 1, ranges=[[span[0], span[1]]],
    )  # fmt: skip
    session.add(row)
    session.flush()
    custody.record(
        session, "delivery.accessed", custody.SYSTEM, now,
        object=_object(row), result={"bytes": [span[0], span[1]]},
        request_id=_request_id(session, row),
    )  # fmt: skip
    return row


def _object(row: DownloadSession) -> dict[str, Any]:
    return {"delivery": row.delivery_id, "file": row.file_name, "link": row.link_hash[:16],
            "client": row.client, "download_session": row.id}  # fmt: skip


def _totals(row: DownloadSession) -> dict[str, Any]:
    return {
        "requests": row.requests, "bytes_served": row.bytes_served, "ranges": row.ranges,
        "first_at": row.started_at.isoformat(), "last_at": row.last_seen_at.isoformat(),
    }  # fmt: skip


def _delivery_id(session: Session, link_hash: str) -> int | None:
    link = session.get(DeliveryLink, link_hash)
    return link.delivery_id if link else None


def _request_id(session: Session, row: DownloadSession) -> int | None:
    delivery = session.get(Delivery, row.delivery_id) if row.delivery_id else None
    return delivery.request_id if delivery else None


def _serialise(session: Session, *parts: str) -> None:
    """Make concurrent first requests of one session wait for each other (PostgreSQL; SQLite
    writers are serialised already), so the session is opened, and recorded, once."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
