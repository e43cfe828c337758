"""Custody ledger benchmarks on PostgreSQL (127.0.0.1:5432, user postgres).

    .venv/bin/python benchmarks/ledger_bench.py [--events 100000] [--appends 2000]

Measures, in one run: appends as the service makes them (`app.custody.service.record`, a
checkpoint every 100 events, after the commit) on a ledger of ~1 000 events and on one of N, in
two databases, three alternating rounds (flat is the target: issue 18); appends per second with
1 writer and with 4 concurrent writers (each append its own transaction, as the service does),
for the service's append (numbered at commit, custody.at_commit), for the append numbered
inside the transaction (`custody.append`) and for plain INSERTs of the same rows into an
unconstrained table (the peer), five alternating rounds, with writer threads and again with
writer processes (ledger_processes.py); `verify_ledger` time at N events;
inclusion-proof latency at N events, cold (read the leaf hashes and build the tree per call),
warm (a built tree) and as the API serves them (`LedgerTreeCache`: the stored interior hashes a
proof needs, read per call; its first call included); and, in a third database, what bounds
the 4-writer ratio here (`limits`, ledger_limits.py).
Writes benchmarks/results/ledger.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ledger_limits  # noqa: E402
import ledger_processes  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from app import migrate  # noqa: E402
from app.custody import service  # noqa: E402
from app.db import make_engine  # noqa: E402
from custody import (  # noqa: E402
    Checkpoint,
    CustodyEvent,
    Instrument,
    MerkleTree,
    Performer,
    append,
    at_commit,
    load_or_create,
    sign,
    stored_tree,  # noqa: E402
    verify_ledger,
)
from custody.events import canonical_bytes  # noqa: E402
from custody.keys import OfficeKey  # noqa: E402
from custody.ledger import append_checkpoint, events_table, leaf_hashes  # noqa: E402
from custody.merkle import leaf_hash  # noqa: E402
from custody.tree_cache import LedgerTreeCache  # noqa: E402

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
WHO = Performer("user", "7", "Dewi Lestari", "operator")
TOOL = Instrument("saksi", "bench")
WHO_SERVICE = service.SYSTEM


Appender = Callable[[Connection, CustodyEvent, datetime], object]


def event(number: int) -> CustodyEvent:
    return CustodyEvent(
        action="export.file_written", performer=WHO, instrument=TOOL,
        start_time=T0 + timedelta(seconds=number), object={"camera": f"Kamera {number % 4}"},
        result={"file": f"exports/{number}.mp4", "sha256": f"{number:064x}"},
        authorization="B/123/XI/2026", request_id=number % 50,
    )  # fmt: skip


def database() -> tuple[str, Engine]:
    name = f"saksi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return name, admin


def appends_per_second(
    engine: Engine, writers: int, per_writer: int, appender: Appender = append
) -> float:
    def run(offset: int) -> None:
        for number in range(per_writer):
            with engine.begin() as connection:
                appender(connection, event(offset + number), T0)

    threads = [threading.Thread(target=run, args=(i * per_writer,)) for i in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return writers * per_writer / (time.perf_counter() - started)


def service_appends_per_second(engine: Engine, key: OfficeKey, count: int) -> float:
    """Appends as the service makes them (`app.custody.service.record`, its own transaction
    each, a checkpoint signed every 100th: its root from the last checkpoint's frontier)."""
    sessions = sessionmaker(bind=engine)
    policy = service.CheckpointPolicy(key, "bench", 100)
    with sessions.begin() as session:  # a checkpoint with a frontier to start from (setup)
        service.issue_checkpoint(session, key, "bench", T0)
    started = time.perf_counter()
    for number in range(count):
        with sessions.begin() as session:
            session.info[service.CHECKPOINT_POLICY] = policy
            service.record(session, "export.file_written", WHO_SERVICE, T0,
                           object={"n": number}, request_id=number % 50)  # fmt: skip
    return count / (time.perf_counter() - started)


def plain_inserts_per_second(
    engine: Engine, writers: int, per_writer: int, locked: bool = False
) -> float:
    """INSERTs of an event's bytes, each its own transaction; `locked`: each also takes one
    lock at its commit, the least a chained append serialises (ledger_processes.LOCKED)."""
    insert = ledger_processes.LOCKED if locked else ledger_processes.PLAIN
    with engine.begin() as connection:
        ledger_processes.create_peer_tables(connection)
    body = canonical_bytes(event(1).document(), 1, "0" * 64).decode()

    def run() -> None:
        for _ in range(per_writer):
            with engine.begin() as connection:
                connection.execute(insert, {"b": body})

    threads = [threading.Thread(target=run) for _ in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return writers * per_writer / (time.perf_counter() - started)


def bulk_fill(engine: Engine, total: int) -> None:
    """Write a valid chained ledger of `total` events quickly (one transaction, batched)."""
    with engine.begin() as connection:
        start = connection.execute(text("SELECT count(*) FROM custody_events")).scalar_one()
        prev = (
            connection.execute(
                text("SELECT leaf_hash FROM custody_events ORDER BY seq DESC LIMIT 1")
            ).scalar()
            or ""
        )
        batch = []
        for seq in range(start + 1, total + 1):
            data = canonical_bytes(event(seq).document(), seq, prev)
            digest = leaf_hash(data).hex()
            batch.append({
                "seq": seq, "action": "export.file_written", "request_id": seq % 50,
                "sha256": f"{seq:064x}", "recorded_at": T0, "canonical": data.decode(),
                "leaf_hash": digest, "prev_hash": prev,
            })  # fmt: skip
            prev = digest
            if len(batch) == 5000:
                connection.execute(events_table.insert(), batch)
                batch = []
        if batch:
            connection.execute(events_table.insert(), batch)
        # The interior hashes appends would have stored (what proofs and roots read).
        stored_tree.backfill(connection)
    # As autovacuum leaves a ledger that grew over months; else it runs during the measurement.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE custody_events, custody_merkle_nodes")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--appends", type=int, default=2000)
    args = parser.parse_args()
    # The large ledger, the ~1 000-event one (flatness) and one for ledger_limits' runs.
    names = [database() for _ in range(3)]
    urls = [f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}" for name, _a in names]
    try:
        for url in urls:
            migrate.upgrade(url)
        engine, small, scratch = (make_engine(url, pool_size=8) for url in urls)
        results = run_all(engine, small, args.events, args.appends)
        results["limits"] = limits(scratch, args.appends)
        for each in (engine, small, scratch):
            each.dispose()
    finally:
        for name, admin in names:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    out = ROOT / "benchmarks" / "results" / "ledger.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


def limits(engine: Engine, appends: int) -> dict[str, object]:
    """What bounds the 4-writer ratio here (ledger_limits): the serial floor without Python,
    and the batch-numbering design the at-commit trigger was chosen over."""
    bulk_fill(engine, 1000)
    return {
        "serial_floor_pgbench": ledger_limits.serial_floor(engine, event(1)),
        "sequencer_alternative": ledger_limits.sequencer_alternative(engine, event, appends),
    }


def run_all(engine: Engine, small: Engine, events: int, appends: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch:
        key = load_or_create(Path(scratch) / "bench-key.pem")
    bulk_fill(engine, 1000)
    writers = writer_scaling(engine, appends)
    processes = process_scaling(engine, appends)
    bulk_fill(engine, events)
    bulk_fill(small, 1000)
    flatness = service_flatness(small, engine, key, appends)
    with engine.begin() as connection:
        tree = MerkleTree(d for _s, d in leaf_hashes(connection))
        note = sign(Checkpoint("bench", tree.size, tree.root()), "bench", key)
        append_checkpoint(connection, tree.size, tree.root(), note, T0)
    started = time.perf_counter()
    with engine.connect() as connection:
        report = verify_ledger(connection, "bench", key.public_bytes)
    verify_s = time.perf_counter() - started
    assert report.ok, report.findings
    cold, warm = proof_latencies(engine, events)
    cached = cached_proof_latency(engine, events)
    return {
        "machine": f"{platform.machine()} {platform.python_version()}",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **writers,
        **processes,
        **{f"service_{k}": v for k, v in flatness.items()},
        "events": events,
        "verify_ledger_s": round(verify_s, 3),
        "inclusion_proof_cold_ms_median": round(cold, 2),
        "inclusion_proof_warm_ms_median": round(warm, 4),
        "cached_proofs": cached,
        "cached_vs_cold_proof_ratio": round(cached["inclusion_p50_ms"] / cold, 5),
    }


def service_flatness(
    small: Engine, large: Engine, key: OfficeKey, appends: int
) -> dict[str, object]:
    """Service appends on a ledger of about 1 000 events (it grows by `appends` a round) and on
    one of N, in two databases, three alternating rounds: medians and each round's ratio."""
    pairs = []
    for _round in range(3):
        pairs.append((service_appends_per_second(small, key, appends),
                      service_appends_per_second(large, key, appends)))  # fmt: skip
    return {
        "appends_per_s_at_1k_events": round(statistics.median(a for a, _ in pairs), 1),
        "appends_per_s_at_large_events": round(statistics.median(b for _, b in pairs), 1),
        "append_flatness_large_vs_1k": round(statistics.median(b / a for a, b in pairs), 3),
        "append_flatness_rounds": [round(b / a, 3) for a, b in pairs],
    }


def writer_scaling(engine: Engine, appends: int) -> dict[str, object]:
    """Appends per second with 1 and 4 writers: the service's append (numbered at commit,
    custody.at_commit), the append numbered inside the transaction (`custody.append`, what a
    transaction that reads the ledger after appending gets), plain INSERTs (the peer) and the
    same INSERTs each taking a lock at its commit (the peer that serialises what a chain
    must); five alternating rounds, medians of the rates and of each round's ratio."""
    assert at_commit.installed(engine), "make_engine installs numbering at commit"
    kinds: dict[str, Callable[[int, int], float]] = {
        "ledger": lambda w, n: appends_per_second(engine, w, n, _at_commit),
        "numbered_in_transaction": lambda w, n: appends_per_second(engine, w, n),
        "peer_plain_inserts": lambda w, n: plain_inserts_per_second(engine, w, n),
        "peer_locked_inserts": lambda w, n: plain_inserts_per_second(engine, w, n, locked=True),
    }
    rates: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
    for _round in range(5):
        for kind, measure in kinds.items():
            rates[kind].append((measure(1, appends), measure(4, appends // 4)))
    return {
        f"{kind}_{key}": value
        for kind, pairs in rates.items()
        for key, value in ledger_processes.writer_summary(pairs).items()
    }


def process_scaling(engine: Engine, appends: int) -> dict[str, object]:
    """As writer_scaling, with writer processes instead of threads (ledger_processes)."""
    url = engine.url.render_as_string(hide_password=False)
    events = [event(500_000 + number) for number in range(appends)]
    names = {"ledger": "ledger", "plain": "peer_plain_inserts", "locked": "peer_locked_inserts"}
    pairs: dict[str, list[tuple[float, float]]] = {name: [] for name in names.values()}
    for _round in range(5):
        for kind, name in names.items():
            one = ledger_processes.per_second(url, kind, events, 1)
            four = ledger_processes.per_second(url, kind, events, 4)
            pairs[name].append((one, four))
    return {
        f"processes_{name}_{key}": value
        for name, rates in pairs.items()
        for key, value in ledger_processes.writer_summary(rates).items()
    }


def _at_commit(connection: Connection, event_: CustodyEvent, recorded_at: datetime) -> None:
    assert at_commit.append_at_commit(connection, event_, recorded_at)


def cached_proof_latency(engine: Engine, events: int) -> dict[str, float]:
    """Latency through `LedgerTreeCache`, as the API serves proofs: the first call of a new
    process's cache (an inclusion proof), then inclusion and consistency proofs."""
    cache = LedgerTreeCache(engine)
    started = time.perf_counter()
    cache.inclusion_proof(events // 3)
    first = (time.perf_counter() - started) * 1000
    inclusion, consistency = [], []
    for index in range(0, events, max(1, events // 500)):
        started = time.perf_counter()
        cache.inclusion_proof(index)
        inclusion.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        cache.consistency_proof(max(1, index), events)
        consistency.append((time.perf_counter() - started) * 1000)
    inclusion.sort()
    consistency.sort()
    return {
        "first_call_ms": round(first, 1),
        "inclusion_p50_ms": round(statistics.median(inclusion), 3),
        "inclusion_p99_ms": round(inclusion[int(len(inclusion) * 0.99) - 1], 3),
        "consistency_p50_ms": round(statistics.median(consistency), 3),
        "consistency_p99_ms": round(consistency[int(len(consistency) * 0.99) - 1], 3),
    }


def proof_latencies(engine: Engine, events: int) -> tuple[float, float]:
    cold = []
    for index in (0, events // 2, events - 1):
        started = time.perf_counter()
        with engine.connect() as connection:
            tree = MerkleTree(d for _s, d in leaf_hashes(connection))
        tree.inclusion_proof(index)
        cold.append((time.perf_counter() - started) * 1000)
    warm = []
    for index in range(0, events, max(1, events // 1000)):
        started = time.perf_counter()
        tree.inclusion_proof(index)
        warm.append((time.perf_counter() - started) * 1000)
    return statistics.median(cold), statistics.median(warm)


if __name__ == "__main__":
    raise SystemExit(main())
