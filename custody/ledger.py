"""The append-only ledger of custody events and of signed checkpoints.

Tables are SQLAlchemy Core on their own metadata (the service's migrations create them). Appends
happen inside the caller's transaction, which commits; sequence numbers are gapless and unique
across concurrent writers: on PostgreSQL a transaction-scoped advisory lock serialises appenders,
on SQLite the write transaction itself does, provided it is `BEGIN IMMEDIATE` (pysqlite's
default reads the head outside any lock: two appenders then pick the same number): use
`custody.sqlite_pragmas.install_sqlite_ledger_settings` or an engine that does the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
    func,
    select,
    text,
)

from custody.events import CustodyEvent, canonical_bytes
from custody.merkle import leaf_hash

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

events_table = Table(
    "custody_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("action", String(64), nullable=False),
    Column("request_id", Integer, nullable=True, index=True),
    Column("sha256", String(64), nullable=True, index=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("canonical", Text, nullable=False),
    Column("leaf_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
)

checkpoints_table = Table(
    "custody_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("timestamp_token", LargeBinary, nullable=True),
    # The tree's right frontier at this size (custody.frontier): a cache for the next root.
    Column("frontier", Text, nullable=True),
)

timestamps_table = Table(
    "custody_timestamps",
    metadata,
    Column("checkpoint_id", Integer, primary_key=True, autoincrement=False),
    Column("authority", String(512), nullable=False),
    Column("reply", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The tables the first ledger migration made append-only; later tables name themselves.
APPEND_ONLY_TABLES = ("custody_events", "custody_checkpoints")
ALL_APPEND_ONLY_TABLES = (*APPEND_ONLY_TABLES, "custody_timestamps")
# An arbitrary constant naming the ledger's advisory lock in PostgreSQL.
_LEDGER_LOCK = 0x5A4B5349


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    action: str
    request_id: int | None
    sha256: str | None
    recorded_at: datetime
    canonical: bytes
    leaf_hash: bytes
    prev_hash: str


def append(connection: Connection, event: CustodyEvent, recorded_at: datetime) -> StoredEvent:
    """Append an event in the caller's transaction; return it with its sequence number."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LEDGER_LOCK})
    head = connection.execute(
        select(events_table.c.seq, events_table.c.leaf_hash)
        .order_by(events_table.c.seq.desc())
        .limit(1)
    ).first()
    seq = 1 if head is None else head.seq + 1
    prev = "" if head is None else head.leaf_hash
    data = canonical_bytes(event.document(), seq, prev)
    digest = leaf_hash(data)
    sha = event.result.get("sha256")
    stored = StoredEvent(
        seq=seq,
        action=event.action,
        request_id=event.request_id,
        sha256=sha if isinstance(sha, str) else None,
        recorded_at=recorded_at,
        canonical=data,
        leaf_hash=digest,
        prev_hash=prev,
    )
    connection.execute(
        events_table.insert().values(
            seq=seq,
            action=stored.action,
            request_id=stored.request_id,
            sha256=stored.sha256,
            recorded_at=to_column_time(connection, recorded_at),
            canonical=data.decode(),
            leaf_hash=digest.hex(),
            prev_hash=prev,
        )  # fmt: skip
    )
    return stored


def to_column_time(connection: Connection, moment: datetime) -> datetime:
    """UTC, and naive on SQLite (which has no time zone type), for a DateTime column."""
    moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None) if connection.dialect.name == "sqlite" else moment


def from_column_time(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def size(connection: Connection) -> int:
    """Return the number of events in the ledger."""
    return int(connection.execute(select(func.count()).select_from(events_table)).scalar_one())


def read(connection: Connection, request_id: int | None = None) -> Iterator[StoredEvent]:
    """Yield stored events in sequence order, optionally those of one request."""
    query = select(events_table).order_by(events_table.c.seq)
    if request_id is not None:
        query = query.where(events_table.c.request_id == request_id)
    for row in connection.execute(query):
        yield _stored(row)


@dataclass(frozen=True, slots=True)
class LeafRow:
    """What `verify ledger` reads of each event: its bytes and what the row says of them."""

    seq: int
    action: str
    request_id: int | None
    canonical: bytes
    leaf_hash: bytes
    prev_hash: str


def read_leaves(connection: Connection) -> Iterator[LeafRow]:
    """Every event in sequence order, streamed in batches (not held in memory at once), with
    only the columns a verification needs."""
    columns = events_table.c
    query = select(columns.seq, columns.action, columns.request_id, columns.canonical,
                   columns.leaf_hash, columns.prev_hash).order_by(columns.seq)  # fmt: skip
    # On the statement, not the connection: Connection.execution_options() changes the
    # connection itself, and its later SAVEPOINTs would then go through a server-side cursor.
    result = connection.execute(query.execution_options(yield_per=5000))
    for seq, action, request_id, canonical, digest, prev in result:
        yield LeafRow(seq, action, request_id, canonical.encode(), bytes.fromhex(digest), prev)


def read_latest(
    connection: Connection, limit: int, *, before_seq: int | None = None, unattached: bool = False
) -> list[StoredEvent]:
    """The newest `limit` events, newest first; `unattached`: only those of no request."""
    query = select(events_table).order_by(events_table.c.seq.desc()).limit(limit)
    if before_seq is not None:
        query = query.where(events_table.c.seq < before_seq)
    if unattached:
        query = query.where(events_table.c.request_id.is_(None))
    return [_stored(row) for row in connection.execute(query)]


def _stored(row: Row[Any]) -> StoredEvent:
    return StoredEvent(
        seq=row.seq,
        action=row.action,
        request_id=row.request_id,
        sha256=row.sha256,
        recorded_at=from_column_time(row.recorded_at),
        canonical=row.canonical.encode(),
        leaf_hash=bytes.fromhex(row.leaf_hash),
        prev_hash=row.prev_hash,
    )


def leaf_hashes(connection: Connection) -> Iterator[tuple[int, bytes]]:
    """Yield (seq, stored leaf hash) in order: what proofs are built from."""
    query = select(events_table.c.seq, events_table.c.leaf_hash).order_by(events_table.c.seq)
    for row in connection.execute(query):
        yield row.seq, bytes.fromhex(row.leaf_hash)


def head_seq(connection: Connection) -> int:
    """The last event's sequence number (the ledger's size, its numbers being gapless), from
    the primary key's index rather than a count of every row."""
    return int(connection.execute(select(func.max(events_table.c.seq))).scalar() or 0)


def leaf_hashes_after(connection: Connection, size: int) -> Iterator[bytes]:
    """The stored leaf hashes of the events after the first `size`, in order."""
    query = (
        select(events_table.c.leaf_hash)
        .where(events_table.c.seq > size)
        .order_by(events_table.c.seq)
    )
    for row in connection.execute(query):
        yield bytes.fromhex(row.leaf_hash)


def latest_frontier(connection: Connection, at_most: int) -> tuple[str, bytes] | None:
    """The frontier kept with the largest checkpoint of at most `at_most` events, with that
    checkpoint's root (to check it against), if any checkpoint kept one."""
    row = connection.execute(
        select(checkpoints_table.c.frontier, checkpoints_table.c.root_hash)
        .where(checkpoints_table.c.frontier.is_not(None),
               checkpoints_table.c.tree_size <= at_most)
        .order_by(checkpoints_table.c.tree_size.desc(), checkpoints_table.c.id.desc())
        .limit(1)
    ).first()  # fmt: skip
    return None if row is None else (row.frontier, bytes.fromhex(row.root_hash))


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    id: int
    tree_size: int
    root_hash: bytes
    note: str
    created_at: datetime


def append_checkpoint(
    connection: Connection, tree_size: int, root: bytes, note: str, created_at: datetime,
    frontier: str | None = None,
) -> StoredCheckpoint:  # fmt: skip
    """Store a signed checkpoint in the caller's transaction."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LEDGER_LOCK + 1})
    last = connection.execute(select(func.max(checkpoints_table.c.id))).scalar()
    number = (last or 0) + 1
    connection.execute(
        checkpoints_table.insert().values(
            id=number,
            tree_size=tree_size,
            root_hash=root.hex(),
            note=note,
            created_at=to_column_time(connection, created_at),
            frontier=frontier,
        )  # fmt: skip
    )
    return StoredCheckpoint(number, tree_size, root, note, created_at)


def checkpoints(connection: Connection) -> list[StoredCheckpoint]:
    """Return every stored checkpoint, oldest first."""
    rows = connection.execute(select(checkpoints_table).order_by(checkpoints_table.c.id))
    return [
        StoredCheckpoint(
            row.id,
            row.tree_size,
            bytes.fromhex(row.root_hash),
            row.note,
            from_column_time(row.created_at),
        )  # fmt: skip
        for row in rows
    ]


def append_timestamp(
    connection: Connection, checkpoint_id: int, authority: str, reply: bytes, created_at: datetime
) -> None:
    """Store an authority's RFC 3161 reply for a checkpoint (append-only)."""
    connection.execute(
        timestamps_table.insert().values(
            checkpoint_id=checkpoint_id,
            authority=authority,
            reply=reply,
            created_at=to_column_time(connection, created_at),
        )  # fmt: skip
    )


@dataclass(frozen=True, slots=True)
class StoredTimestamp:
    checkpoint_id: int
    authority: str
    reply: bytes


def timestamps(connection: Connection) -> list[StoredTimestamp]:
    """Every stored RFC 3161 reply, by checkpoint id."""
    rows = connection.execute(select(timestamps_table).order_by(timestamps_table.c.checkpoint_id))
    return [StoredTimestamp(row.checkpoint_id, row.authority, row.reply) for row in rows]


def unstamped_checkpoints(connection: Connection, limit: int = 10) -> list[StoredCheckpoint]:
    """Checkpoints that have no time-stamp yet, oldest first."""
    stamped = select(timestamps_table.c.checkpoint_id)
    rows = connection.execute(
        select(checkpoints_table)
        .where(checkpoints_table.c.id.not_in(stamped))
        .order_by(checkpoints_table.c.id)
        .limit(limit)
    )
    return [
        StoredCheckpoint(
            row.id,
            row.tree_size,
            bytes.fromhex(row.root_hash),
            row.note,
            from_column_time(row.created_at),
        )  # fmt: skip
        for row in rows
    ]
