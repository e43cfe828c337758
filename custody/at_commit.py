"""Ledger events numbered at their transaction's commit (PostgreSQL; issue 18).

`custody.ledger.append` numbers an event when it is appended, so the ledger lock lasts from the
append to the caller's commit: an event commits if and only if its action does, and each event
names the one before, so the next appender must know this one committed. Round trips to the
client, the rest of the caller's work and the commit all happen under that lock, and 4 writers
appended about 1.3-1.5x as fast as one (benchmarks/results/ledger.json).

Here the caller's transaction inserts the event's bytes without their position
(`custody_pending`, the canonical text around the marks `custody.ledger.event_template` leaves)
and a constraint trigger declared `DEFERRABLE INITIALLY DEFERRED` numbers it when the
transaction commits: constraint triggers "can be deferred to the end of the transaction"
(PostgreSQL manual, CREATE TRIGGER). The trigger appends through the function the immediate path
calls (custody.ledger's APPEND_FUNCTION: the same lock, splice, hash and insert), stores the
Merkle subtrees it completes (as `custody.ledger.store_completed_nodes` does) and deletes the
pending row. The lock then lasts from the trigger to the commit record's flush, with no round
trip inside it. Still the same guarantees: the event commits with its action or not at all (a
rolled-back transaction, or savepoint, discards its queued trigger events), numbers are gapless
and each event names the previous one.

What a transaction loses is the number of its own events until it commits. So that it never
reads a ledger without them, `install` makes the engine number them first, before any later
statement of the transaction that names a ledger table or function: `SET CONSTRAINTS ...
IMMEDIATE` fires the queued triggers at once ("any outstanding data modifications that would
have been checked at the end of the transaction are instead checked during the execution of the
SET CONSTRAINTS command", PostgreSQL manual), and the rest of that transaction appends as
`append` does. Python no longer sees the bytes before they commit; `verify ledger` rehashes
every event, and a test checks the trigger's bytes, hashes and nodes against Python's.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    event,
    text,
)

from custody.events import CustodyEvent
from custody.ledger import LEDGER_LOCK, NODE_LEVEL, event_template, metadata, to_column_time

pending_table = Table(
    "custody_pending",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("part_before", Text, nullable=False),
    Column("part_between", Text, nullable=False),
    Column("part_after", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("request_id", Integer, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# The Merkle subtrees of 2**level leaves (level >= NODE_LEVEL) whose last leaf is `size`: the
# tile of the last 2**NODE_LEVEL leaf hashes, then each level whose left sibling is stored.
NODES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION custody_store_completed_nodes(size bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    completed integer := 0;
    level_ integer;
    hashes bytea[];
    paired bytea[];
    value_ bytea;
    left_ varchar;
BEGIN
    WHILE ((size >> completed) & 1) = 0 LOOP
        completed := completed + 1;
    END LOOP;
    IF completed < {NODE_LEVEL} THEN
        RETURN;
    END IF;
    SELECT array_agg(decode(e.leaf_hash, 'hex') ORDER BY e.seq) INTO hashes
        FROM custody_events e WHERE e.seq > size - {1 << NODE_LEVEL} AND e.seq <= size;
    IF coalesce(array_length(hashes, 1), 0) <> {1 << NODE_LEVEL} THEN
        RETURN;
    END IF;
    WHILE array_length(hashes, 1) > 1 LOOP
        paired := '{{}}';
        FOR i IN 1 .. array_length(hashes, 1) BY 2 LOOP
            paired := array_append(paired, sha256('\\x01'::bytea || hashes[i] || hashes[i + 1]));
        END LOOP;
        hashes := paired;
    END LOOP;
    value_ := hashes[1];
    INSERT INTO custody_merkle_nodes (level, node_index, hash)
        VALUES ({NODE_LEVEL}, (size >> {NODE_LEVEL}) - 1, encode(value_, 'hex'));
    FOR level_ IN {NODE_LEVEL + 1} .. completed LOOP
        SELECT n.hash INTO left_ FROM custody_merkle_nodes n
            WHERE n.level = level_ - 1 AND n.node_index = (size >> (level_ - 1)) - 2;
        IF left_ IS NULL THEN
            RETURN;
        END IF;
        value_ := sha256('\\x01'::bytea || decode(left_, 'hex') || value_);
        INSERT INTO custody_merkle_nodes (level, node_index, hash)
            VALUES (level_, (size >> level_) - 1, encode(value_, 'hex'));
    END LOOP;
END
$$
"""

# The append itself is custody.ledger.APPEND_FUNCTION's (migration 0022), the one the
# immediate path calls: lock, head, splice, hash, insert are written once.
NUMBER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION custody_number_pending() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    numbered bigint;
BEGIN
    SELECT a.new_seq INTO numbered FROM custody_append_event(
        {LEDGER_LOCK}, NEW.part_before, NEW.part_between, NEW.part_after, NEW.action,
        NEW.request_id, NEW.sha256, NEW.recorded_at) a;
    IF numbered % {1 << NODE_LEVEL} = 0 THEN  -- completes a tile: 1 append in 2**NODE_LEVEL
        PERFORM custody_store_completed_nodes(numbered);
    END IF;
    DELETE FROM custody_pending WHERE id = NEW.id;
    RETURN NULL;
END
$$
"""

TRIGGER = (
    "CREATE CONSTRAINT TRIGGER custody_pending_number AFTER INSERT ON custody_pending "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION custody_number_pending()"
)
DROP_STATEMENTS = (
    "DROP TRIGGER IF EXISTS custody_pending_number ON custody_pending",
    "DROP FUNCTION IF EXISTS custody_number_pending()",
    "DROP FUNCTION IF EXISTS custody_store_completed_nodes(bigint)",
)
NUMBER_NOW = "SET CONSTRAINTS custody_pending_number IMMEDIATE"
# Plain text, built once: an insert built per call with .values() cost more than the rest of
# the append, and the Core insert still a tenth of it (benchmarks/ledger_bench.py).
_QUEUE = text(
    "INSERT INTO custody_pending (part_before, part_between, part_after, action, request_id,"
    " sha256, recorded_at) VALUES (:part_before, :part_between, :part_after, :action,"
    " :request_id, :sha256, :recorded_at)"
)

# connection.info: this transaction has queued events not numbered yet; it queued some at all.
_QUEUED = "custody_events_queued"
_QUEUED_ANY = "custody_events_queued_any"
# Any ledger table or function but the queue itself.
_NAMES_LEDGER = re.compile(r"custody_(?!pending\b)\w+")


def install(engine: Engine) -> None:
    """Number a transaction's queued events before it next touches the ledger (PostgreSQL)."""
    if engine.dialect.name != "postgresql" or installed(engine):
        return
    event.listen(engine, "before_cursor_execute", _number_before_ledger_use)
    event.listen(engine, "commit", _forget)
    event.listen(engine, "rollback", _forget)
    event.listen(engine, "rollback_savepoint", _queued_again)


def installed(engine: Engine) -> bool:
    return event.contains(engine, "before_cursor_execute", _number_before_ledger_use)


def append_at_commit(connection: Connection, event_: CustodyEvent, recorded_at: datetime) -> bool:
    """Queue the event, to be numbered when the transaction commits (or before it next reads
    the ledger). False when it cannot be (not PostgreSQL, the engine without `install`, a mark
    in the event itself): the caller then appends it with `custody.ledger.append`."""
    if connection.dialect.name != "postgresql" or not installed(connection.engine):
        return False
    template = event_template(event_.document())
    if template is None:
        return False
    sha = event_.result.get("sha256")
    before, between, after = template
    connection.execute(_QUEUE, {
        "part_before": before, "part_between": between, "part_after": after,
        "action": event_.action, "request_id": event_.request_id,
        "sha256": sha if isinstance(sha, str) else None,
        "recorded_at": to_column_time(connection, recorded_at),
    })  # fmt: skip
    connection.info[_QUEUED] = connection.info[_QUEUED_ANY] = True
    return True


def _number_before_ledger_use(
    connection: Connection, cursor: Any, statement: str, *_rest: Any
) -> None:
    if connection.info.get(_QUEUED) and _NAMES_LEDGER.search(statement):
        del connection.info[_QUEUED]
        # A cursor of its own: `cursor` may be a server-side one (DECLARE ... CURSOR FOR).
        own = connection.connection.cursor()
        try:
            own.execute(NUMBER_NOW)
        finally:
            own.close()


def _forget(connection: Connection) -> None:
    connection.info.pop(_QUEUED, None)
    connection.info.pop(_QUEUED_ANY, None)


def _queued_again(connection: Connection, *_savepoint: Any) -> None:
    """A savepoint rolled back: numbering done inside it is undone, and PostgreSQL queues
    those triggers again (they fire at commit), so the next read must number them again."""
    if connection.info.get(_QUEUED_ANY):
        connection.info[_QUEUED] = True


__all__ = ["append_at_commit", "install", "installed", "pending_table"]
