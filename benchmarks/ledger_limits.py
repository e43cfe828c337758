"""What bounds the ledger's scaling from 1 to 4 writers on this machine (issue 18), measured
beside ledger_bench's figures and written into the same results file.

- `serial_floor`: pgbench (PostgreSQL's own load generator, in C: no Python in the way) with 1
  and 4 clients, on the same rows: plain INSERTs (the peer); the same INSERT taking a lock at
  its commit (ledger_processes.PEER_TABLES), the least any chained append must serialise (each
  event names the committed one before it, so one lock spans one commit record's flush); the
  ledger's own append (a `custody_pending` row, numbered at commit by custody.at_commit's trigger).
- `sequencer_alternative`: the design the at-commit trigger was chosen over. Writers commit
  their events un-numbered and one sequencer numbers what has committed in batches, one lock
  and one commit flush per batch (the SQL below exists only in the benchmark's database).
  Writer threads, 1 and 4, alternating with the at-commit trigger, 3 rounds; with each rate the
  share of the 2 cores that was busy (/proc/stat).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import ledger_processes
from sqlalchemy import Engine, text

from custody import CustodyEvent, at_commit
from custody.ledger import LEDGER_LOCK, NODE_LEVEL, event_template

# The sequencer: number every committed queued event, oldest first, under the ledger lock.
SEQUENCER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION bench_number_committed() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    queued custody_pending;
    numbered bigint;
    count_ integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock({LEDGER_LOCK});
    FOR queued IN SELECT * FROM custody_pending ORDER BY id LOOP
        SELECT a.new_seq INTO numbered FROM custody_append_event({LEDGER_LOCK},
            queued.part_before, queued.part_between, queued.part_after, queued.action,
            queued.request_id, queued.sha256, queued.recorded_at) a;
        IF numbered % {1 << NODE_LEVEL} = 0 THEN
            PERFORM custody_store_completed_nodes(numbered);
        END IF;
        DELETE FROM custody_pending WHERE id = queued.id;
        count_ := count_ + 1;
    END LOOP;
    RETURN count_;
END
$$
"""

Rate = tuple[float, float]  # events per second, cores busy


def serial_floor(engine: Engine, event: CustodyEvent, seconds: int = 5) -> dict[str, object]:
    """pgbench transactions per second with 1 and 4 clients, 2 alternating rounds."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        return {"pgbench": "not installed (Debian: postgresql-15)"}
    database = str(engine.url.database)
    with engine.begin() as connection:
        ledger_processes.create_peer_tables(connection)
    template = event_template(event.document())
    assert template is not None
    before, between, after = (_quoted(part) for part in template)
    scripts = {
        "plain_insert": f"INSERT INTO plain (body) VALUES ({before} || {between} || {after});\n",
        "insert_locked_at_commit": (
            f"INSERT INTO plain_locked (body) VALUES ({before} || {between} || {after});\n"
        ),
        "ledger_append": (
            "INSERT INTO custody_pending (part_before, part_between, part_after, action,"
            f" request_id, sha256, recorded_at) VALUES ({before}, {between}, {after},"
            f" '{event.action}', 1, '{'0' * 64}', now());\n"
        ),
    }
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in scripts}
    with tempfile.TemporaryDirectory() as scratch:
        for _round in range(2):
            for name, script in scripts.items():
                path = Path(scratch) / f"{name}.sql"
                path.write_text(script)
                one, four = (_pgbench(pgbench, database, path, c, seconds) for c in (1, 4))
                rates[name].append((one, four))
    return {name: ledger_processes.writer_summary(pairs) for name, pairs in rates.items()}


def sequencer_alternative(
    engine: Engine, make_event: Callable[[int], CustodyEvent], appends: int
) -> dict[str, object]:
    """Writer threads, 1 and 4: events numbered at commit by the trigger (the service's design)
    against events committed un-numbered and numbered in batches by one sequencer thread."""
    with engine.begin() as connection:
        connection.connection.dbapi_connection.cursor().execute(SEQUENCER_FUNCTION)  # type: ignore[union-attr]
    rates: dict[str, list[tuple[Rate, Rate]]] = {"at_commit": [], "sequencer": []}
    batches: list[int] = []
    for _round in range(3):
        for mode, pairs in rates.items():
            _set_trigger(engine, enabled=mode == "at_commit")

            def run(writers: int, mode: str = mode) -> float:
                per_writer = appends // writers
                return _writers(engine, make_event, writers, per_writer, mode, batches)

            pairs.append((_busy(lambda: run(1)), _busy(lambda: run(4))))
    _set_trigger(engine, enabled=True)
    out: dict[str, object] = {}
    for mode, pairs in rates.items():
        out[mode] = {
            **ledger_processes.writer_summary([(a[0], b[0]) for a, b in pairs]),
            "cores_busy_1_writer": round(statistics.median(a[1] for a, _ in pairs), 2),
            "cores_busy_4_writers": round(statistics.median(b[1] for _, b in pairs), 2),
        }
    out["sequencer_mean_batch"] = round(statistics.mean(batches), 2) if batches else 0
    return out


def _writers(
    engine: Engine,
    make_event: Callable[[int], CustodyEvent],
    writers: int,
    per_writer: int,
    mode: str,
    batches: list[int],
) -> float:
    done = threading.Event()

    def write(offset: int) -> None:
        for number in range(per_writer):
            with engine.begin() as connection:
                queued = make_event(offset + number)
                assert at_commit.append_at_commit(connection, queued, ledger_processes.T0)

    def sequence() -> None:
        with engine.connect() as connection:
            while True:
                with connection.begin():
                    count = connection.execute(text("SELECT bench_number_committed()")).scalar()
                if count:
                    batches.append(int(count))
                elif done.is_set():
                    return
                else:
                    time.sleep(0.001)

    threads = [threading.Thread(target=write, args=(i * per_writer,)) for i in range(writers)]
    sequencer = threading.Thread(target=sequence) if mode == "sequencer" else None
    started = time.perf_counter()
    for thread in [*threads, *([sequencer] if sequencer else [])]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    if sequencer:
        sequencer.join()  # the clock stops when every event is numbered
    return writers * per_writer / (time.perf_counter() - started)


def _busy(measure: Callable[[], float]) -> Rate:
    """The rate `measure` returns and how many cores the machine kept busy meanwhile."""
    busy_before, started = _busy_ticks(), time.perf_counter()
    rate = measure()
    seconds = time.perf_counter() - started
    return rate, (_busy_ticks() - busy_before) / os.sysconf("SC_CLK_TCK") / seconds


def _busy_ticks() -> int:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]  # all but idle and iowait


def _set_trigger(engine: Engine, *, enabled: bool) -> None:
    state = "ENABLE" if enabled else "DISABLE"
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"ALTER TABLE custody_pending {state} TRIGGER custody_pending_number"
        )


def _pgbench(pgbench: str, database: str, script: Path, clients: int, seconds: int) -> float:
    argv = [pgbench, "-h", "127.0.0.1", "-U", "postgres", "-n", "-f", str(script), "-c",
            str(clients), "-j", str(min(clients, 2)), "-T", str(seconds), database]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return float(next(line for line in out.splitlines() if line.startswith("tps")).split()[2])


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
