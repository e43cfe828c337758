"""`saksi serve --workers 2` against `--workers 1`: requests per second of the API (issue 18).

    .venv/bin/python benchmarks/scale_api_bench.py [--seconds 30] [--clients 50]

Each run starts `saksi serve` on a fresh data directory (SQLite, no job threads), signs the
first admin in, and lets `--clients` clients (asyncio + httpx in this process, no think time)
list requests (`GET /api/v1/requests`: the token checked, a read transaction, a page) for
`--seconds`; three runs each, alternating, medians. Writes benchmarks/results/scale_api.json.
The load generator shares the machine's cores with the server: on 2 cores two API processes
compete with it, which bounds the ratio. So each run also measures the CPU the load generator
and the server's processes used (their CPU seconds over the run's seconds, from
`time.process_time` and /proc), and the result states the ceiling this machine puts on the
ratio: the cores left beside the load generator over the cores one API process used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import free_port, healthz_after, log, summary  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scale_api.json"


async def listing(base: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    """`clients` clients listing requests back to back for `seconds`."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    seen: list[tuple[int, float]] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=60) as client:  # fmt: skip
        until = time.monotonic() + seconds
        started = time.monotonic()

        async def one() -> None:
            while time.monotonic() < until:
                begun = time.monotonic()
                try:
                    status = (await client.get("/api/v1/requests")).status_code
                except httpx.HTTPError:
                    status = 0
                seen.append((status, time.monotonic() - begun))

        await asyncio.gather(*(one() for _ in range(clients)))
        elapsed = time.monotonic() - started
    return summary(seen, elapsed, clients, await healthz_after(base))


def one_run(workers: int, clients: int, seconds: float) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix=f"saksi-scale-{workers}-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAKSI_")}
    env |= {"SAKSI_DATA_DIR": str(scratch / "data"), "SAKSI_WORKER_THREADS": "0"}
    argv = [sys.executable, "-m", "app.cli", "serve", "--port", str(port),
            "--workers", str(workers)]  # fmt: skip
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base)
        password = (scratch / "data" / "secrets" / "initial-admin-password").read_text().strip()
        reply = httpx.post(f"{base}/api/v1/auth/token",
                           data={"username": "admin", "password": password})  # fmt: skip
        client_before, server_before = time.process_time(), tree_cpu_seconds(server.pid)
        result = asyncio.run(listing(base, reply.json()["access_token"], clients, seconds))
        client_cpu = time.process_time() - client_before
        server_cpu = tree_cpu_seconds(server.pid) - server_before
        return result | {"client_cores": round(client_cpu / result["seconds"], 2),
                         "server_cores": round(server_cpu / result["seconds"], 2)}  # fmt: skip
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) of process `root` and every process below it, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    members, total = {root}, 0.0
    for _depth in range(4):  # serve -> uvicorn supervisor -> workers
        members |= {pid for pid, (parent, _cpu) in stats.items() if parent in members}
    for pid in members:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def _wait(base: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                time.sleep(2)  # every worker process up, not only the first
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("saksi serve did not start")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for _round in range(3):
        for workers in (1, 2):
            log(f"--workers {workers}: {args.clients} clients for {args.seconds:.0f} s")
            runs[workers].append(one_run(workers, args.clients, args.seconds))
            log(f"  {runs[workers][-1]}")
    rate = {w: statistics.median(r["ok_per_s"] for r in runs[w]) for w in runs}
    cores = {w: {side: statistics.median(r[f"{side}_cores"] for r in runs[w])
                 for side in ("client", "server")} for w in runs}  # fmt: skip
    left_beside_client = (os.cpu_count() or 1) - cores[2]["client"]
    ceiling = min(2.0, left_beside_client / cores[1]["server"])
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()} {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "settings": {
            "seconds": args.seconds,
            "clients": args.clients,
            "endpoint": "GET /api/v1/requests",
            "database": "sqlite",
        },  # fmt: skip
        "runs": {str(w): r for w, r in runs.items()},
        "ok_per_s_median": {str(w): v for w, v in rate.items()},
        "ratio_2_over_1": round(rate[2] / rate[1], 2),
        "cores_median": {str(w): v for w, v in cores.items()},
        # What two API processes could get at most here: the cores the load generator leaves,
        # over what one API process used.
        "machine_ceiling_2_over_1": round(ceiling, 2),
        "target": "ratio >= 1.6 (issue 18)",
        "server_errors_5xx": sum(r["server_errors_5xx"] for rs in runs.values() for r in rs),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["ok_per_s_median"]), result["ratio_2_over_1"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
