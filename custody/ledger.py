"""The append-only ledger of custody events and of signed checkpoints.

Tables are SQLAlchemy Core on their own metadata (the service's migrations create them).

Appends happen inside the caller's transaction: an event is committed if and only if the action
it records commits, and sequence numbers are gapless, each event's bytes naming the previous
event's leaf hash. So an appender must know that every earlier event committed before its own
can commit: appenders are serialised from their append to their commit (on PostgreSQL a
transaction-scoped advisory lock, on SQLite the write transaction itself, provided it is
`BEGIN IMMEDIATE`: pysqlite's default reads the head outside any lock, and two appenders then
pick the same number; use `custody.sqlite_pragmas.install_sqlite_ledger_settings` or an engine
that does the same). What can leave that critical section does: the event's canonical bytes are
made before the lock, with marks where its position goes; on PostgreSQL one round trip (the
function `APPEND_FUNCTION`) takes the lock, reads the head, splices the number and the previous
leaf hash in, hashes the bytes and inserts the row (Python checks the database's bytes and hash
before the caller goes on); every 16th append also stores the completed subtrees' hashes
(`nodes_table`, O(1) rows amortised). A checkpoint's root costs O(log n) stored rows
(custody.stored_tree), so signing one in the caller's transaction (the BAST's checkpoint must
cover its own events; on PostgreSQL the service's every-N checkpoint is signed after the commit)
holds the lock for milliseconds, not for a read of every leaf.

The lock still spans the caller's commit, so on one PostgreSQL the appends of N writers are at
best as fast as one writer's critical section allows, round trips to the client included. The
service therefore appends through `custody.at_commit` on PostgreSQL: the event is queued in the
caller's transaction and numbered by a deferred trigger at its commit (or before the
transaction next touches the ledger), with this module's splice, hash and nodes; `append`
remains for SQLite and for what must know its number at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
    SmallInteger,
    String,
    Table,
    Text,
    func,
    select,
    text,
    tuple_,
)

from custody.errors import LedgerError
from custody.events import CustodyEvent, JsonValue, canonical_bytes
from custody.merkle import MerkleTree, leaf_hash, node_hash

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
    # The tree's right frontier at this size (custody.frontier), kept for readers of the row.
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

# The hash of each perfect subtree of 2**level leaves (level >= NODE_LEVEL), stored in the
# transaction that appends its last leaf: roots and proofs read O(log n) of these and at most a
# tile of NODE_LEVEL leaves per edge (custody.stored_tree) instead of every leaf. A cache
# derived from the leaves, never evidence: `verify ledger` recomputes each one.
nodes_table = Table(
    "custody_merkle_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("node_index", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
)
# Tiles of 16 leaves: 1/8 of a row per append on average, 15 leaf hashes read per tile edge.
NODE_LEVEL = 4

# The tables the first ledger migration made append-only; later tables name themselves.
APPEND_ONLY_TABLES = ("custody_events", "custody_checkpoints")
ALL_APPEND_ONLY_TABLES = (*APPEND_ONLY_TABLES, "custody_timestamps", "custody_merkle_nodes")
# An arbitrary constant naming the ledger's advisory lock in PostgreSQL.
LEDGER_LOCK = 0x5A4B5349


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
    document = event.document()
    sha = event.result.get("sha256")
    sha256 = sha if isinstance(sha, str) else None
    columns: dict[str, Any] = {
        "action": event.action,
        "request_id": event.request_id,
        "sha256": sha256,
        "recorded_at": to_column_time(connection, recorded_at),
    }
    template = event_template(document) if connection.dialect.name == "postgresql" else None
    if template is not None:
        seq, data, prev = _append_in_one_round_trip(connection, template, columns)
    else:
        seq, data, prev = _append_after_reading_the_head(connection, document, columns)
    store_completed_nodes(connection, seq)
    return StoredEvent(
        seq=seq,
        action=event.action,
        request_id=event.request_id,
        sha256=sha256,
        recorded_at=recorded_at,
        canonical=data,
        leaf_hash=leaf_hash(data),
        prev_hash=prev,
    )


def _append_after_reading_the_head(
    connection: Connection, document: dict[str, JsonValue], columns: dict[str, Any]
) -> tuple[int, bytes, str]:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK})
    head = connection.execute(
        select(events_table.c.seq, events_table.c.leaf_hash)
        .order_by(events_table.c.seq.desc())
        .limit(1)
    ).first()
    seq = 1 if head is None else head.seq + 1
    prev = "" if head is None else head.leaf_hash
    data = canonical_bytes(document, seq, prev)
    connection.execute(
        events_table.insert().values(
            seq=seq,
            canonical=data.decode(),
            leaf_hash=leaf_hash(data).hex(),
            prev_hash=prev,
            **columns,
        )
    )
    return seq, data, prev


# Values no event holds, put where the canonical text has its `seq` and `prev`: the text around
# them is the event's bytes at any position (a template made before the lock is taken).
_SEQ_MARK = 918_273_645_546_372_819
_PREV_MARK = "saksi-ledger-prev-mark-5a4b5349"


def event_template(document: dict[str, JsonValue]) -> tuple[str, str, str] | None:
    """The canonical text before `prev`, between `prev` and `seq`, and after `seq`; None if a
    mark occurs in the event itself (the append then reads the head first)."""
    text_ = canonical_bytes(document, _SEQ_MARK, _PREV_MARK).decode()
    seq_mark = str(_SEQ_MARK)
    if text_.count(seq_mark) != 1 or text_.count(_PREV_MARK) != 1:
        return None
    before, _, rest = text_.partition(_PREV_MARK)
    between, found, after = rest.partition(seq_mark)
    return (before, between, after) if found else None


# What must happen under the append lock, in one round trip (PostgreSQL; the migration that
# adds the nodes table creates it): take the lock, read the head, splice the number and the
# previous leaf hash into the event's bytes, hash them SHA-256(0x00 ‖ bytes), insert the row.
# VOLATILE: "VOLATILE functions obtain a fresh snapshot at the start of each query they
# execute" (PostgreSQL manual, Function Volatility Categories), so the head is read after the
# lock is held; one plain statement would read it from a snapshot taken before the lock.
APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION custody_append_event(
    lock_key bigint, part_before text, part_between text, part_after text,
    event_action varchar, event_request_id integer, event_sha256 varchar,
    event_recorded_at timestamptz
) RETURNS TABLE (new_seq bigint, new_canonical text, new_leaf_hash varchar, new_prev varchar)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_seq bigint;
    head_hash varchar;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT e.seq, e.leaf_hash INTO head_seq, head_hash
        FROM custody_events e ORDER BY e.seq DESC LIMIT 1;
    new_seq := coalesce(head_seq, 0) + 1;
    new_prev := coalesce(head_hash, '');
    new_canonical := part_before || new_prev || part_between || new_seq::text || part_after;
    new_leaf_hash := encode(sha256('\\x00'::bytea || convert_to(new_canonical, 'UTF8')), 'hex');
    INSERT INTO custody_events
        (seq, action, request_id, sha256, recorded_at, canonical, leaf_hash, prev_hash)
        VALUES (new_seq, event_action, event_request_id, event_sha256, event_recorded_at,
                new_canonical, new_leaf_hash, new_prev);
    RETURN NEXT;
END
$$
"""
DROP_APPEND_FUNCTION = (
    "DROP FUNCTION IF EXISTS custody_append_event("
    "bigint, text, text, text, varchar, integer, varchar, timestamptz)"
)
_APPEND = text(
    "SELECT new_seq, new_canonical, new_leaf_hash, new_prev FROM custody_append_event("
    ":key, :before, :between, :after, :action, :request_id, :sha256, :recorded_at)"
)


def _append_in_one_round_trip(
    connection: Connection, template: tuple[str, str, str], columns: dict[str, Any]
) -> tuple[int, bytes, str]:
    before, between, after = template
    parameters = {"key": LEDGER_LOCK, "before": before, "between": between, "after": after}
    row = connection.execute(_APPEND, {**parameters, **columns}).one()
    seq, canonical, digest, prev = int(row[0]), str(row[1]), str(row[2]), str(row[3])
    data = canonical.encode()
    if data != f"{before}{prev}{between}{seq}{after}".encode() or leaf_hash(data).hex() != digest:
        raise LedgerError("the database made other event bytes or another leaf hash than Python")
    return seq, data, prev


def store_completed_nodes(connection: Connection, size: int) -> None:
    """Store the perfect subtrees (level >= NODE_LEVEL) whose last leaf is the `size`th: the
    tile of the last 2**NODE_LEVEL leaves, then each level its left sibling completes. A node
    whose left sibling is not stored (events written by other means) is left to the readers,
    which compute a missing node from the level below."""
    completed = (size & -size).bit_length() - 1  # levels whose subtree ends at this leaf
    if completed < NODE_LEVEL:
        return
    columns = events_table.c
    tile = [
        bytes.fromhex(digest)
        for digest in connection.execute(
            select(columns.leaf_hash)
            .where(columns.seq > size - (1 << NODE_LEVEL), columns.seq <= size)
            .order_by(columns.seq)
        ).scalars()
    ]
    if len(tile) != 1 << NODE_LEVEL:
        return
    value = MerkleTree(tile).root()
    rows = [{"level": NODE_LEVEL, "node_index": (size >> NODE_LEVEL) - 1, "hash": value.hex()}]
    lefts = {
        (level - 1, (size >> (level - 1)) - 2) for level in range(NODE_LEVEL + 1, completed + 1)
    }
    found = read_nodes(connection, lefts)
    for level in range(NODE_LEVEL + 1, completed + 1):
        left = found.get((level - 1, (size >> (level - 1)) - 2))
        if left is None:
            break
        value = node_hash(left, value)
        rows.append({"level": level, "node_index": (size >> level) - 1, "hash": value.hex()})
    connection.execute(nodes_table.insert(), rows)


def read_nodes(
    connection: Connection, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored node hashes among `wanted` (level, node_index) pairs."""
    keys, found = sorted(set(wanted)), {}
    columns = nodes_table.c
    for start in range(0, len(keys), 500):
        query = select(columns.level, columns.node_index, columns.hash).where(
            tuple_(columns.level, columns.node_index).in_(keys[start : start + 500])
        )
        for level, index, digest in connection.execute(query):
            found[(level, index)] = bytes.fromhex(digest)
    return found


def stored_nodes(connection: Connection) -> Iterator[tuple[int, int, bytes]]:
    """Every stored interior hash as (level, node_index, hash), streamed."""
    columns = nodes_table.c
    query = select(columns.level, columns.node_index, columns.hash).order_by(
        columns.level, columns.node_index
    )
    for level, index, digest in connection.execute(query.execution_options(yield_per=5000)):
        yield level, index, bytes.fromhex(digest)


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


def latest_signed(connection: Connection, at_most: int) -> tuple[int, bytes] | None:
    """(tree size, root) of the largest checkpoint of at most `at_most` events, if any."""
    row = connection.execute(
        select(checkpoints_table.c.tree_size, checkpoints_table.c.root_hash)
        .where(checkpoints_table.c.tree_size <= at_most)
        .order_by(checkpoints_table.c.tree_size.desc(), checkpoints_table.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else (int(row.tree_size), bytes.fromhex(row.root_hash))


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    id: int
    tree_size: int
    root_hash: bytes
    note: str
    created_at: datetime


def try_checkpoint_lock(connection: Connection) -> bool:
    """Take the lock `append_checkpoint` takes, without waiting (PostgreSQL; elsewhere the
    write transaction serialises): False if another transaction holds it."""
    if connection.dialect.name != "postgresql":
        return True
    query = text("SELECT pg_try_advisory_xact_lock(:key)")
    return bool(connection.execute(query, {"key": LEDGER_LOCK + 1}).scalar_one())


def append_checkpoint(
    connection: Connection, tree_size: int, root: bytes, note: str, created_at: datetime,
    frontier: str | None = None,
) -> StoredCheckpoint:  # fmt: skip
    """Store a signed checkpoint in the caller's transaction."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK + 1})
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


def latest_checkpoint(connection: Connection) -> StoredCheckpoint | None:
    """The newest stored checkpoint (one row by the primary key, not all of them)."""
    row = connection.execute(
        select(checkpoints_table).order_by(checkpoints_table.c.id.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return StoredCheckpoint(
        row.id, row.tree_size, bytes.fromhex(row.root_hash), row.note,
        from_column_time(row.created_at),
    )  # fmt: skip


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
