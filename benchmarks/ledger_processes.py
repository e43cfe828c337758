"""Ledger appends from writer processes, as a scale-out deployment has them (each `saksi
worker` and API process its own interpreter and pool), beside ledger_bench's writer threads.

Each writer is a forked process with its own engine; its events are built before a barrier,
the clock runs from the barrier to the last writer's end. Kinds: the service's append
(numbered at commit, custody.at_commit), plain INSERTs of the same bytes (the peer) and the same
INSERTs each taking one lock at its commit (`locked`: the least an append must serialise when
each event names the committed one before it).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier

from sqlalchemy import Connection, text

from app.db import make_engine
from custody import CustodyEvent, at_commit
from custody.events import canonical_bytes
from custody.ledger import LEDGER_LOCK

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
PLAIN = text("INSERT INTO plain (body) VALUES (:b)")
LOCKED = text("INSERT INTO plain_locked (body) VALUES (:b)")
# The peers' tables. `plain_locked` takes one lock at its commit, by a deferred constraint
# trigger as the ledger's numbering does, and holds it through the commit's flush: what any
# append serialises when each event must name the committed one before it, and nothing else.
PEER_TABLES = (
    "CREATE TABLE IF NOT EXISTS plain (id bigserial PRIMARY KEY, body text)",
    "CREATE TABLE IF NOT EXISTS plain_locked (id bigserial PRIMARY KEY, body text)",
    "CREATE OR REPLACE FUNCTION bench_lock_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$"
    f" BEGIN PERFORM pg_advisory_xact_lock({LEDGER_LOCK + 9}); RETURN NULL; END $$",
    "DROP TRIGGER IF EXISTS plain_locked_at_commit ON plain_locked",
    "CREATE CONSTRAINT TRIGGER plain_locked_at_commit AFTER INSERT ON plain_locked"
    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bench_lock_at_commit()",
)


def create_peer_tables(connection: Connection) -> None:
    for statement in PEER_TABLES:
        connection.exec_driver_sql(statement)


def writer_summary(pairs: list[tuple[float, float]]) -> dict[str, object]:
    """Medians of (1 writer, 4 writers) rates over alternating rounds, of their ratio, and
    each round's ratio."""
    return {
        "per_s_1_writer": round(statistics.median(a for a, _ in pairs), 1),
        "per_s_4_writers": round(statistics.median(b for _, b in pairs), 1),
        "4_vs_1_writers": round(statistics.median(b / a for a, b in pairs), 3),
        "4_vs_1_writers_rounds": [round(b / a, 3) for a, b in pairs],
    }


def per_second(url: str, kind: str, events: list[CustodyEvent], writers: int) -> float:
    """Appends per second of `events` shared out among `writers` processes."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(writers + 1)
    share = len(events) // writers
    processes = [
        context.Process(
            target=_writer, args=(url, kind, events[i * share : (i + 1) * share], barrier)
        )  # fmt: skip
        for i in range(writers)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a {kind} writer process failed ({process.exitcode})")
    return share * writers / (time.perf_counter() - started)


def _writer(url: str, kind: str, events: list[CustodyEvent], barrier: Barrier) -> None:
    engine = make_engine(url, pool_size=1)
    bodies = [canonical_bytes(e.document(), 1, "0" * 64).decode() for e in events]
    with engine.begin() as connection:  # connected before the clock starts
        connection.exec_driver_sql("SELECT 1")
    barrier.wait()
    for event, body in zip(events, bodies, strict=True):
        with engine.begin() as connection:
            if kind in ("plain", "locked"):
                connection.execute(PLAIN if kind == "plain" else LOCKED, {"b": body})
            elif not at_commit.append_at_commit(connection, event, T0):
                raise RuntimeError("not numbered at commit")
    engine.dispose()
