"""`saksi serve --workers 2` against `--workers 1`: requests per second of the API (issue 18).

    .venv/bin/python benchmarks/scale_api_bench.py [--seconds 20] [--clients 50]

Each run starts `saksi serve` on a fresh data directory (SQLite, no job threads), signs the
first admin in, and lets `--clients` connections list requests (`GET /api/v1/requests`: the
token checked, a read transaction, a page) for `--seconds`, with no think time; three runs
each, alternating, medians. Writes benchmarks/results/scale_api.json.

The load comes from `wrk` (Debian's package, installed by scripts/setup), an HTTP load
generator in C nobody here wrote: one thread, one epoll loop, a few percent of a core at these
rates. The first version of this benchmark generated the load with asyncio + httpx in this
process; that used about a core by itself, so on a 2-core machine the second API process had
nothing to run on (ratio 0.87, `machine_ceiling_2_over_1` 1.3). Each run still records the CPU
the generator and the server's processes used (their CPU seconds over the run, from
`getrusage` and /proc), and the ceiling this machine puts on the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
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
from load_bench import free_port, log  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "scale_api.json"


WRK_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(m?s)")
WRK_LATENCY = re.compile(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def listing(base: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    """`clients` wrk connections listing requests back to back for `seconds`."""
    argv = ["wrk", "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "--latency", "--timeout", "30s",
            "-H", f"Authorization: Bearer {token}", f"{base}/api/v1/requests"]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wrk_summary(output, clients) | {"client_cpu_s": cpu}


def wrk_summary(output: str, clients: int) -> dict[str, Any]:
    """The figures of wrk's report (requests, the seconds they took, non-2xx, socket errors,
    latency percentiles) in the shape load_bench's summary uses."""
    total = WRK_TOTAL.search(output)
    if total is None:
        raise RuntimeError(f"wrk reported no total:\n{output}")
    requests, elapsed = int(total[1]), float(total[2]) * UNIT_S[total[3][:-1] or "s"]
    non_2xx = int(match[1]) if (match := WRK_NON_2XX.search(output)) else 0
    errors = [int(n) for n in match.groups()] if (match := WRK_SOCKET.search(output)) else [0] * 4
    latency = {f"p{m[1]}_s": round(float(m[2]) * UNIT_S[m[3]], 4)
               for m in WRK_LATENCY.finditer(output)}  # fmt: skip
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": requests,
            "non_2xx": non_2xx, "socket_errors": sum(errors),
            "ok_per_s": round((requests - non_2xx) / elapsed, 1), **latency}  # fmt: skip


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
        server_before = tree_cpu_seconds(server.pid)
        result = listing(base, reply.json()["access_token"], clients, seconds)
        server_cpu = tree_cpu_seconds(server.pid) - server_before
        result["healthz_after_load_s"] = healthz_after(base)
        return result | {
            "client_cores": round(result.pop("client_cpu_s") / result["seconds"], 2),
            "server_cores": round(server_cpu / result["seconds"], 2),
            # CPU the server spent per request served: what makes the ratio, beside the cores.
            "server_cpu_ms_per_request": round(1000 * server_cpu / max(result["requests"], 1), 2),
        }
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


def healthz_after(base: str) -> float | None:
    """Seconds until /healthz answers 200 once the load stopped (None after 120 s)."""
    started = time.monotonic()
    while time.monotonic() - started < 120:
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return round(time.monotonic() - started, 3)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return None


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
    parser.add_argument("--seconds", type=float, default=20)
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
            "load_generator": "wrk -t1 (Debian wrk 4.1)",
            "database": "sqlite",
        },  # fmt: skip
        "runs": {str(w): r for w, r in runs.items()},
        "ok_per_s_median": {str(w): v for w, v in rate.items()},
        "ratio_2_over_1": round(rate[2] / rate[1], 2),
        "cores_median": {str(w): v for w, v in cores.items()},
        "server_cpu_ms_per_request_median": {
            str(w): statistics.median(r["server_cpu_ms_per_request"] for r in runs[w]) for w in runs
        },
        # What two API processes could get at most here: the cores the load generator leaves,
        # over what one API process used.
        "machine_ceiling_2_over_1": round(ceiling, 2),
        "target": "ratio >= 1.6 (issue 18)",
        "non_2xx": sum(r["non_2xx"] for rs in runs.values() for r in rs),
        "socket_errors": sum(r["socket_errors"] for rs in runs.values() for r in rs),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["ok_per_s_median"]), result["ratio_2_over_1"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
