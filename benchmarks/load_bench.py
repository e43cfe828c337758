"""Staff clients under load against `saksi demo`, on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/load_bench.py [--seconds 60] [--only sqlite|postgresql]

For each database, `saksi demo` (one process: the API, its job workers, the simulator) runs on a
fresh data directory; the operator's demo account registers requests over the API until the
database holds 500. Then, with the load generator in this process (asyncio + httpx, one
connection per client, no think time: each client sends its next request when the previous
one is answered):

(a) 50 clients for `--seconds`, each listing requests (`GET /api/v1/requests`, a page of 50)
    and opening one at random (`GET /api/v1/requests/{id}`), alternately: status counts, p50 /
    p95 / p99, requests per second; targets 0 x 5xx and p95 < 1 s;
(b) 500 clients the same way: 0 x 5xx (503 with Retry-After is the service refusing what it
    cannot serve, allowed), then how long until `/healthz` answers once the load stops (< 5 s);
(c) one client's list-page time, median of 40, with 50 and with 500 requests in the database:
    the page costs the same queries at any size, so the ratio should stay <= 2.

Writes benchmarks/results/load.json; progress goes to stderr. Needs PostgreSQL at
127.0.0.1:5432 (user postgres, trust) for the second half.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "load.json"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_REQUESTS = 500


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def postgres_database() -> Any:
    name = f"saksi_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def demo(data_dir: Path, database_url: str | None) -> Any:
    """`saksi demo` serving on a free port; yields its base URL."""
    port = free_port()
    env = {**os.environ, "SAKSI_DATA_DIR": str(data_dir)}
    if database_url:
        env["SAKSI_DATABASE_URL"] = database_url
    argv = [sys.executable, "-m", "app.cli", "demo", "--port", str(port), "--rtsp-port", "0",
            "--http-port", "0", "--sim-size", "320x240", "--sim-fps", "5"]  # fmt: skip
    out = (data_dir.parent / "demo.log").open("w")
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        out.close()


def wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"saksi demo exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("saksi demo did not start")


def operator_token(base: str, data_dir: Path) -> str:
    accounts = (data_dir / "secrets" / "demo-accounts.txt").read_text(encoding="utf-8")
    match = re.search(r"^\s*operator\s+(\S+) / (\S+)$", accounts, re.MULTILINE)
    assert match, accounts
    reply = httpx.post(f"{base}/api/v1/auth/token",
                       data={"username": match[1], "password": match[2]})  # fmt: skip
    reply.raise_for_status()
    token: str = reply.json()["access_token"]
    return token


def pdf() -> bytes:
    """A small well-formed one-page PDF, as a scanned letter's stand-in."""
    stream = b"BT /F1 12 Tf 72 720 Td (Surat permohonan) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)  # fmt: skip
    return bytes(out)


def register_until(base: str, token: str, total: int) -> float:
    """Register requests over the API until `total` exist; seconds taken."""
    headers = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        have = len(client.get("/api/v1/requests", params={"limit": 200}).json())
        agencies = client.get("/api/v1/agencies").json()
        cameras = client.get("/api/v1/cameras").json()
        letter = pdf()
        for n in range(have, total):
            reply = client.post("/api/v1/requests", data={"data": json.dumps(
                payload(n, agencies[n % len(agencies)]["id"], cameras[n % len(cameras)]["id"]))},
                files={"letter": ("surat.pdf", letter, "application/pdf")})  # fmt: skip
            assert reply.status_code == 201, reply.text
    return time.monotonic() - started


def drain(base: str, limit_s: float = 600) -> float:
    """Wait until the job queue is empty (each registration queues a preservation check);
    seconds waited. The load is measured on a service at rest, not behind its own backlog."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if httpx.get(f"{base}/readyz", timeout=10).json().get("queue_pending", 0) == 0:
            break
        time.sleep(1)
    time.sleep(2)  # the last jobs taken off the queue finish
    return round(time.monotonic() - started, 1)


def payload(n: int, agency_id: int, camera_id: int) -> dict[str, Any]:
    end = datetime.now(UTC) - timedelta(days=1, minutes=n)
    office = "%Y-%m-%dT%H:%M:%S"
    person = {
        "name": "AKP Budi Santoso",
        "id_number": "83051234",
        "position": "Kasat Reskrim",
        "institution": "Polres Cirebon Kota",
        "email": "reskrim@polres.example.go.id",
    }
    return {
        "agency_id": agency_id, "letter_number": f"B/{n}/XII/2026/LOAD",
        "letter_date": (end - timedelta(days=1)).date().isoformat(),
        "legal_basis": "Pasal 184 KUHAP", "purpose": f"penyelidikan perkara nomor {n}",
        "incident": "Pencurian sepeda motor", "officer": person,
        "recipient": {**person, "name": "Bripka Andi Wijaya"}, "delivery_method": "local_link",
        "items": [{"camera_id": camera_id,
                   "start": (end - timedelta(minutes=10) + timedelta(hours=7)).strftime(office),
                   "end": (end + timedelta(hours=7)).strftime(office)}],
    }  # fmt: skip


async def client_loop(
    client: httpx.AsyncClient, ids: list[int], until: float, seen: list[tuple[int, float]]
) -> None:
    turn = random.randrange(2)
    while time.monotonic() < until:
        path = "/api/v1/requests" if turn % 2 else f"/api/v1/requests/{random.choice(ids)}"
        turn += 1
        started = time.monotonic()
        try:
            status = (await client.get(path)).status_code
        except httpx.HTTPError:
            status = 0  # a dropped connection or a timeout
        seen.append((status, time.monotonic() - started))


async def load(base: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    seen: list[tuple[int, float]] = []
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=60) as client:  # fmt: skip
        ids = [r["id"] for r in (await client.get("/api/v1/requests",
                                                  params={"limit": 200})).json()]  # fmt: skip
        until = time.monotonic() + seconds
        started = time.monotonic()
        await asyncio.gather(*(client_loop(client, ids, until, seen) for _ in range(clients)))
        elapsed = time.monotonic() - started
    recovered = await healthz_after(base)
    return summary(seen, elapsed, clients, recovered)


async def healthz_after(base: str) -> float | None:
    """Seconds until /healthz answers 200 once the load stopped (None after 120 s)."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() - started < 120:
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return round(time.monotonic() - started, 3)
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    return None


def summary(seen: list[tuple[int, float]], elapsed: float, clients: int,
            recovered: float | None) -> dict[str, Any]:  # fmt: skip
    statuses = Counter(status for status, _ in seen)
    served = sorted(t for status, t in seen if status == 200)
    cuts = statistics.quantiles(served, n=100) if len(served) >= 2 else [0.0] * 99
    return {
        "clients": clients, "seconds": round(elapsed, 1), "requests": len(seen),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors_5xx": sum(v for k, v in statuses.items() if k >= 500 and k != 503),
        "refused_503": statuses.get(503, 0), "dropped": statuses.get(0, 0),
        "ok_per_s": round(len(served) / elapsed, 1),
        "p50_s": round(cuts[49], 3), "p95_s": round(cuts[94], 3), "p99_s": round(cuts[98], 3),
        "healthz_after_load_s": recovered,
    }  # fmt: skip


def page_time(base: str, token: str, repeats: int = 40) -> float:
    """Median wall time of one list page (50 rows), one client, nothing else running."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers) as client:
        client.get("/api/v1/requests")
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            client.get("/api/v1/requests").raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def one_database(name: str, database_url: str | None, seconds: float) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix=f"saksi-load-{name}-"))
    try:
        with demo(scratch / "data", database_url) as base:
            token = operator_token(base, scratch / "data")
            log(f"{name}: registering 50 requests")
            seed_50 = register_until(base, token, 50)
            drained = drain(base)
            at_50 = page_time(base, token)
            log(f"{name}: registering up to {TARGET_REQUESTS}")
            seed_500 = register_until(base, token, TARGET_REQUESTS)
            drained += drain(base)
            at_500 = page_time(base, token)
            result: dict[str, Any] = {
                "seed_s": round(seed_50 + seed_500, 1),
                "backlog_drained_s": drained,
                "list_page_s": {"at_50": round(at_50, 4), "at_500": round(at_500, 4),
                                "ratio": round(at_500 / at_50, 2)},
            }  # fmt: skip
            for clients in (50, 500):
                drain(base)
                log(f"{name}: {clients} clients for {seconds:.0f} s")
                result[f"clients_{clients}"] = asyncio.run(load(base, token, clients, seconds))
                log(f"{name}: {result[f'clients_{clients}']}")
            return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def targets(results: dict[str, Any]) -> dict[str, Any]:
    met: dict[str, Any] = {}
    for name, result in results.items():
        fifty, many = result["clients_50"], result["clients_500"]
        met[name] = {
            "50_clients_no_5xx": fifty["server_errors_5xx"] == 0 and fifty["dropped"] == 0,
            "50_clients_p95_under_1s": fifty["p95_s"] < 1.0,
            "500_clients_no_5xx": many["server_errors_5xx"] == 0,
            "healthz_within_5s": many["healthz_after_load_s"] is not None
            and many["healthz_after_load_s"] < 5,
            "page_time_ratio_at_most_2": result["list_page_s"]["ratio"] <= 2,
        }
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.only in (None, "sqlite"):
        results["sqlite"] = one_database("sqlite", None, args.seconds)
    if args.only in (None, "postgresql"):
        with postgres_database() as url:
            results["postgresql"] = one_database("postgresql", url, args.seconds)
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.python_version()}",
        "cpu_count": os.cpu_count(), "load_average_after": os.getloadavg(),
        "settings": {"seconds": args.seconds, "requests_in_database": TARGET_REQUESTS,
                     "server": "saksi demo, one process (API + job workers + simulator)",
                     "generator": "asyncio + httpx in one process, no think time"},
        "results": results, "targets": targets(results),
    }  # fmt: skip
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report["targets"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
