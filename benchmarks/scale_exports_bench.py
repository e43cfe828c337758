"""Exports with 2 worker processes against 1, on PostgreSQL + Redis (issue 18).

    .venv/bin/python benchmarks/scale_exports_bench.py [--rounds 3] [--minutes 2]

One NVR simulator (16 cameras, 320x240 at 10 fps, unpaced ONVIF replay) runs in this process.
Each run has a fresh PostgreSQL database, a fresh Redis queue (Huey), a fresh data directory,
one request of 16 cameras and `--minutes` of footage each, and starts `saksi worker --threads 2`
processes (1 or 2) before the exports are started; the time is from the start of the exports
to the last one finishing (every export is checked `done`). Two layouts: 4 NVRs x 4 cameras and
1 NVR x 16 cameras, each at the default playback limit of 2 per NVR. Rounds alternate 1 and 2
workers; medians. Also counted per run: attempts and `export.started` events (with the line, one
each), and waits (`NoPlaybackSlot` attempts of the old retry: now none). Writes
benchmarks/results/scale_exports.json; progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from pydantic import SecretStr
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import log, postgres_database  # noqa: E402

from app import demo as demo_data  # noqa: E402
from app.auth.models import Role, User  # noqa: E402
from app.cameras.models import Camera, NvrVendor  # noqa: E402
from app.cameras.schemas import CameraCreate, NvrCreate  # noqa: E402
from app.cameras.service import create_camera, create_nvr  # noqa: E402
from app.custody import service as custody  # noqa: E402
from app.db import unit_of_work  # noqa: E402
from app.exports import service as export_service  # noqa: E402
from app.exports.models import Export, ExportAttempt, ExportState  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.requests.models import EvidenceRequest  # noqa: E402
from app.runtime import Runtime, build_runtime  # noqa: E402
from app.settings import Settings  # noqa: E402
from custody.ledger import events_table  # noqa: E402
from nvr_sim import NvrSimulator, SimConfig, SimulatorThread  # noqa: E402
from nvr_sim.config import CameraConfig, segment_start  # noqa: E402
from tests.app.factories import walk_runtime_to_export_step  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "scale_exports.json"
REDIS_DB = 7
CAMERAS = 16
PASSWORD = "bench-sim-password"
# One window for every run: the simulator encodes a segment the first time it is asked for, so a
# window that moved with the clock would make some runs encode footage and others not.
WINDOW_START = segment_start(datetime.now(UTC) - timedelta(hours=2), 60)
KEEP_LOGS = Path(os.environ["SCALE_KEEP_LOGS"]) if os.environ.get("SCALE_KEEP_LOGS") else None


def simulator(cache: Path) -> SimulatorThread:
    cameras = tuple(CameraConfig(channel=n, name=f"Kamera {n}", schedule="continuous")
                    for n in range(1, CAMERAS + 1))  # fmt: skip
    config = SimConfig(cameras=cameras, cache_dir=cache, width=320, height=240, fps=10,
                       password=PASSWORD)  # fmt: skip
    return SimulatorThread(NvrSimulator(config, host="127.0.0.1", rtsp_port=0, http_port=0))


def register(runtime: Runtime, thread: SimulatorThread, nvrs: int) -> demo_data.DemoWorld:
    """The demo's accounts, then `nvrs` NVR records (the same simulator behind each) sharing
    the 16 cameras between them."""
    ends = thread.simulator.endpoints
    endpoint = demo_data.NvrEndpoint("127.0.0.1", ends.http_port, ends.rtsp_port, "admin",
                                     PASSWORD, vendor=NvrVendor.ONVIF)  # fmt: skip
    world = demo_data.seed(runtime, endpoint)
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        for camera in session.scalars(select(Camera)):
            camera.active = False  # the demo's own four: not part of this request
        ids = []
        for index in range(nvrs):
            record = NvrCreate(name=f"NVR {index + 1}", vendor=NvrVendor.ONVIF, host="127.0.0.1",
                               http_port=ends.http_port, rtsp_port=ends.rtsp_port,
                               username="admin", password=SecretStr(PASSWORD))  # fmt: skip
            nvr = create_nvr(session, record, runtime.secret_box, now, by=custody.SYSTEM)
            for channel in range(1 + index * CAMERAS // nvrs, 1 + (index + 1) * CAMERAS // nvrs):
                data = CameraCreate(name=f"Kamera {channel}", location=f"Titik {channel}",
                                    nvr_id=nvr.id, channel=channel,
                                    source_token=f"Profile_{channel}")  # fmt: skip
                ids.append(create_camera(session, data, now, by=custody.SYSTEM).id)
    world.camera_ids = ids
    return world


def one_run(workers: int, nvrs: int, minutes: int, thread: SimulatorThread) -> dict[str, Any]:
    redis.Redis(db=REDIS_DB).flushdb()
    with postgres_database() as url, tempfile.TemporaryDirectory(prefix="scale-exp-") as tmp:
        data_dir = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAKSI_")} | {
            "SAKSI_DATA_DIR": str(data_dir), "SAKSI_DATABASE_URL": url,
            "SAKSI_QUEUE_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        }  # fmt: skip
        upgrade(url)
        settings = Settings(
            data_dir=data_dir, database_url=url, queue_url=env["SAKSI_QUEUE_URL"], _env_file=None
        )  # type: ignore[call-arg]
        runtime = build_runtime(settings)
        try:
            request_id = _request(runtime, thread, nvrs, minutes)
            procs = [_worker(env, data_dir, n) for n in range(workers)]
            try:
                time.sleep(3)  # the workers start and wait on the queue
                started, busy_before = time.monotonic(), _busy_cpu_seconds()
                _start_exports(runtime, request_id)
                elapsed = _until_done(runtime, request_id, started)
                busy = _busy_cpu_seconds() - busy_before
            finally:
                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    proc.wait(60)
            if KEEP_LOGS is not None:
                kept = KEEP_LOGS / f"{nvrs}-nvrs-{workers}-workers-{int(time.time())}"
                kept.mkdir(parents=True)
                for log_file in data_dir.glob("worker-*.log"):
                    log_file.rename(kept / log_file.name)
            return {
                "workers": workers,
                "nvrs": nvrs,
                "seconds": round(elapsed, 2),
                "machine_busy_cpu_s": round(busy, 2),
            } | _counts(runtime, request_id)
        finally:
            runtime.close()


def _request(runtime: Runtime, thread: SimulatorThread, nvrs: int, minutes: int) -> int:
    world = register(runtime, thread, nvrs)
    start = segment_start(datetime.now(UTC) - timedelta(hours=2), 60)
    request_id = demo_data.sample_request(
        runtime, world, (start, start + timedelta(minutes=minutes))
    )
    walk_runtime_to_export_step(runtime, request_id)
    return request_id


def _busy_cpu_seconds() -> float:
    """CPU time the whole machine spent busy (every process: workers, simulator, PostgreSQL,
    Redis), from /proc/stat: what bounds the speed-up on this machine's cores."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _worker(env: dict[str, str], data_dir: Path, number: int) -> subprocess.Popen[bytes]:
    log_file = (data_dir / f"worker-{number}.log").open("wb")
    argv = [str(ROOT / ".venv" / "bin" / "saksi"), "worker", "--threads", "2", "--no-periodic"]
    return subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT)


def _start_exports(runtime: Runtime, request_id: int) -> None:
    with unit_of_work(runtime.sessions) as session:
        request = session.get(EvidenceRequest, request_id)
        operator = session.scalar(select(User).where(User.role == Role.OPERATOR))
        assert request is not None
        assert operator is not None
        created = export_service.start_exports(
            session, runtime.sop, request, operator, runtime.clock.now()
        )
        for export in created:  # as the API does: the jobs go out when this commits
            runtime.queue.enqueue(session, "exports.fetch_item", export.id)


def _until_done(runtime: Runtime, request_id: int, started: float) -> float:
    finished = {ExportState.DONE, ExportState.PARTIAL, ExportState.FAILED}
    while True:
        with runtime.sessions() as session:
            states = list(
                session.scalars(select(Export.state).where(Export.request_id == request_id))
            )
        if states and all(state in finished for state in states):
            elapsed = time.monotonic() - started
            bad = [s for s in states if s is not ExportState.DONE]
            if bad:
                raise RuntimeError(f"exports ended {bad}")
            return elapsed
        if time.monotonic() - started > 1800:
            raise RuntimeError("exports did not finish in 30 minutes")
        time.sleep(0.1)


def _counts(runtime: Runtime, request_id: int) -> dict[str, int]:
    attempts = select(ExportAttempt.error_code).join(Export).where(Export.request_id == request_id)
    started = (
        select(func.count())
        .select_from(events_table)
        .where(events_table.c.action == "export.started", events_table.c.request_id == request_id)
    )
    workers = select(ExportAttempt.worker).join(Export).where(Export.request_id == request_id)
    with runtime.sessions() as session:
        codes = list(session.scalars(attempts))
        events = session.scalar(started) or 0
        by_worker = Counter(w.rsplit(":", 1)[0] for w in session.scalars(workers))
    return {"attempts": len(codes), "slot_waits": codes.count("NoPlaybackSlot"),
            "export_started_events": events, "attempts_by_process": len(by_worker),
            "busiest_process_attempts": max(by_worker.values(), default=0)}  # fmt: skip


def measure(rounds: int, minutes: int) -> dict[str, Any]:
    cache = ROOT / "saksi-data" / "bench-scale-exports-cache"
    cache.mkdir(parents=True, exist_ok=True)
    thread = simulator(cache)
    thread.start()
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        log("warm-up: every camera's footage encoded once, untimed")
        one_run(2, 4, minutes, thread)
        for _ in range(rounds):
            for nvrs in (4, 1):
                for workers in (1, 2):
                    run = one_run(workers, nvrs, minutes, thread)
                    log(f"{nvrs} NVR(s), {workers} worker(s): {run}")
                    runs.setdefault(f"{nvrs}_nvrs_{workers}_workers", []).append(run)
    finally:
        thread.stop()
    return runs


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    median = {key: statistics.median(r["seconds"] for r in rows) for key, rows in runs.items()}
    four = median["4_nvrs_1_workers"] / median["4_nvrs_2_workers"]
    one = median["1_nvrs_1_workers"] / median["1_nvrs_2_workers"]
    one_worker = runs["4_nvrs_1_workers"]
    cores = os.cpu_count() or 1
    # The most any number of workers could gain here: the 1-worker run's CPU spread over all
    # cores with none idle.
    ceiling = statistics.median(r["seconds"] * cores / r["machine_busy_cpu_s"] for r in one_worker)
    return {
        "median_seconds": median,
        "machine_ceiling_4_nvrs": round(ceiling, 2),
        "speedup_4_nvrs_2_vs_1_workers": round(four, 2),
        "speedup_1_nvr_2_vs_1_workers": round(one, 2),
        "targets": {"4_nvrs_at_least_1.5x": four >= 1.5, "1_nvr_never_slower": one >= 0.95},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--minutes", type=int, default=2)
    args = parser.parse_args()
    runs = measure(args.rounds, args.minutes)
    result = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()} {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "settings": {
            "rounds": args.rounds,
            "minutes_per_export": args.minutes,
            "cameras": CAMERAS,
            "worker_threads": 2,
            "playback_limit": 2,
            "database": "postgresql",
            "queue": "redis (huey)",
        },  # fmt: skip
        "runs": runs,
    } | summarise(runs)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summarise(runs), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
