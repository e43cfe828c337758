"""Drive delivery: a large file through the fake Drive, against a plain loopback copy.

    .venv/bin/python benchmarks/delivery_bench.py [--sizes-mib 256 2048] [--repeats 5]

Three kinds of process, so that each one's memory is its own: the protocol-level fake Drive
(tests/fakes/drive.py, bytes stored on disk) serves in one; every upload runs in a fresh child
through the real path (`DriveBackend.upload`: resumable session persisted in a
`JsonFileStateStore`, 8 MiB chunks, then Drive's checksum compared with ours), which reports its
peak RSS (VmHWM) and the parent also reads its `ru_maxrss` from wait4. The peer, in the same run
and the same process layout: a child reads the same file in 8 MiB blocks and sends it over a
loopback TCP socket to a receiver process that writes it to disk. Runs alternate Saksi and peer.
Besides wall-clock throughput, the CPU seconds per GiB of both ends (sender + receiver) are
recorded: on a shared machine they move less than wall time. A 1 MiB upload gives the baseline
RSS (interpreter, google-api-python-client, discovery document). Writes
benchmarks/results/delivery.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
BLOCK = 8 * MIB  # Saksi's upload chunk, and the peer's read size
RSS_LIMIT_MIB = 200
RSS_GROWTH_ALLOWED_MIB = 16  # two chunks: more would mean memory follows the file size
BASELINE_MIB = 1


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM), counted from its own exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def emit(doc: dict[str, Any]) -> None:
    print(json.dumps(doc), flush=True)


def answer_until_eof() -> None:
    """Serve the parent: each line on stdin asks for CPU time so far; EOF asks for peak RSS."""
    for _ in sys.stdin:
        emit({"cpu_s": time.process_time()})
    emit({"peak_rss_mib": peak_rss_mib()})


# -- roles run in child processes ------------------------------------------------------------
def serve_drive(root: str, key_path: str) -> None:
    """Run the fake Drive until stdin closes; announce its endpoint and credentials."""
    from tests.fakes.drive import FakeDrive  # noqa: PLC0415

    with FakeDrive(Path(root)) as fake:
        Path(key_path).write_text(json.dumps(fake.service_account_info()))
        emit({"url": fake.url, "shared_drive_id": fake.add_shared_drive()})
        answer_until_eof()


def upload(key_path: str, url: str, shared_drive_id: str, source: str, state: str) -> None:
    """Upload one file the way the app does, verify it, report time and memory, purge it."""
    from drive_sync import (  # noqa: PLC0415
        DeliveryRecord,
        DriveBackend,
        DriveConfig,
        JsonFileStateStore,
        load_credentials,
    )

    path = Path(source)
    config = DriveConfig(api_endpoint=url, shared_drive_id=shared_drive_id)
    store = JsonFileStateStore(Path(state))
    with DriveBackend(load_credentials(Path(key_path)), config, store) as backend:
        folder = backend.create_container(f"BENCH-{path.stat().st_size}")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = backend.upload(folder, path)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        peak = peak_rss_mib()
        backend.purge(DeliveryRecord("drive", folder.id, (result.file_id,)))
    emit({
        "wall_s": wall, "cpu_s": cpu, "peak_rss_mib": peak, "sha256": result.local_sha256,
        "remote_checksum": result.remote_checksum, "algorithm": result.remote_algorithm,
        "attempts": result.attempts, "bytes_sent": result.bytes_sent,
    })  # fmt: skip


def serve_peer(scratch: str) -> None:
    """Receive each connection's bytes into a file on disk, acknowledge the count, delete it."""
    server = socket.create_server(("127.0.0.1", 0))
    dest = Path(scratch) / "peer-copy.bin"

    def loop() -> None:
        while True:
            connection, _ = server.accept()
            receive(connection, dest)

    threading.Thread(target=loop, daemon=True).start()
    emit({"port": server.getsockname()[1]})
    answer_until_eof()


def receive(connection: socket.socket, dest: Path) -> None:
    buffer = bytearray(MIB)
    view, total = memoryview(buffer), 0
    with connection, dest.open("wb") as fh:
        while count := connection.recv_into(buffer):
            fh.write(view[:count])
            total += count
        connection.sendall(total.to_bytes(8, "big"))
    dest.unlink()


def send_peer(port: str, source: str) -> None:
    """The peer copy: read the file in 8 MiB blocks and push it through the loopback socket."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with socket.create_connection(("127.0.0.1", int(port))) as sock, open(source, "rb") as fh:
        while block := fh.read(BLOCK):
            sock.sendall(block)
        sock.shutdown(socket.SHUT_WR)
        received = int.from_bytes(sock.recv(8), "big")
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    emit({"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": peak_rss_mib(), "bytes_sent": received})


ROLES = {
    "serve-drive": serve_drive,
    "upload": upload,
    "serve-peer": serve_peer,
    "send-peer": send_peer,
}


# -- the parent: files, processes, figures ---------------------------------------------------
def spawn(*args: str, stdin: int = subprocess.PIPE) -> subprocess.Popen[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), *args]
    return subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, text=True)


def read_line(stream: IO[str] | None) -> dict[str, Any]:
    assert stream is not None
    doc: dict[str, Any] = json.loads(stream.readline())
    return doc


def run_child(*args: str) -> dict[str, Any]:
    """Run one measured child to completion; add the kernel's ru_maxrss from wait4."""
    proc = spawn(*args, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{args[0]} child failed with {proc.returncode}")
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    report["ru_maxrss_mib"] = usage.ru_maxrss / 1024
    return report


def server_cpu(proc: subprocess.Popen[str]) -> float:
    assert proc.stdin is not None
    proc.stdin.write("cpu\n")
    proc.stdin.flush()
    return float(read_line(proc.stdout)["cpu_s"])


def stop_server(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdin is not None
    proc.stdin.close()
    final = read_line(proc.stdout)
    proc.wait(30)
    return final


def make_file(path: Path, size: int) -> str:
    """Write `size` random bytes in 8 MiB blocks; return their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        for offset in range(0, size, BLOCK):
            block = os.urandom(min(BLOCK, size - offset))
            digest.update(block)
            fh.write(block)
    return digest.hexdigest()


class Bench:
    """The two servers and the scratch directory of one benchmark run."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        (scratch / "fake-drive").mkdir()
        self.key = scratch / "service-account.json"
        self.drive = spawn("serve-drive", str(scratch / "fake-drive"), str(self.key))
        self.endpoint = read_line(self.drive.stdout)
        self.peer = spawn("serve-peer", str(scratch))
        self.peer_port = str(read_line(self.peer.stdout)["port"])

    def saksi(self, source: Path, expected_sha256: str) -> dict[str, Any]:
        state = self.scratch / "drive-uploads.json"
        endpoint = self.endpoint
        args = (str(self.key), endpoint["url"], endpoint["shared_drive_id"], str(source))
        server_cpu0 = server_cpu(self.drive)
        report = run_child("upload", *args, str(state))
        report["server_cpu_s"] = server_cpu(self.drive) - server_cpu0
        size = source.stat().st_size
        if not report["sha256"] == report["remote_checksum"] == expected_sha256:
            raise RuntimeError(f"upload of {size} bytes arrived altered: {report}")
        if report["bytes_sent"] != size:
            raise RuntimeError(f"sent {report['bytes_sent']} bytes of {size}")
        return report

    def plain_copy(self, source: Path) -> dict[str, Any]:
        server_cpu0 = server_cpu(self.peer)
        report = run_child("send-peer", self.peer_port, str(source))
        report["server_cpu_s"] = server_cpu(self.peer) - server_cpu0
        if report["bytes_sent"] != source.stat().st_size:
            raise RuntimeError(f"peer received {report['bytes_sent']} bytes")
        return report

    def close(self) -> dict[str, float]:
        return {
            "fake_drive_server_peak_rss_mib": round(stop_server(self.drive)["peak_rss_mib"], 1),
            "peer_receiver_peak_rss_mib": round(stop_server(self.peer)["peak_rss_mib"], 1),
        }


def mib_s(size: int, seconds: float) -> float:
    return size / MIB / seconds


def measure_size(bench: Bench, size_mib: int, repeats: int) -> dict[str, Any]:
    source = bench.scratch / f"export-{size_mib}.bin"
    size = size_mib * MIB
    expected = make_file(source, size)
    saksi, peer = [], []
    try:
        for _ in range(repeats):
            saksi.append(bench.saksi(source, expected))
            peer.append(bench.plain_copy(source))
    finally:
        source.unlink()
    return summarise(size, saksi, peer)


def throughput(
    size: int, saksi: list[dict[str, Any]], peer: list[dict[str, Any]]
) -> dict[str, float]:
    """Median and best MiB/s of each side; best is the run least disturbed by other jobs."""
    ours = [mib_s(size, r["wall_s"]) for r in saksi]
    theirs = [mib_s(size, r["wall_s"]) for r in peer]
    median = statistics.median(ours), statistics.median(theirs)
    return {
        "saksi_mib_s_median": round(median[0], 1),
        "peer_mib_s_median": round(median[1], 1),
        "saksi_vs_peer_throughput_ratio": round(median[0] / median[1], 3),
        "saksi_mib_s_best": round(max(ours), 1),
        "peer_mib_s_best": round(max(theirs), 1),
        "saksi_vs_peer_throughput_ratio_best": round(max(ours) / max(theirs), 3),
    }


def cpu_per_gib(
    size: int, saksi: list[dict[str, Any]], peer: list[dict[str, Any]]
) -> dict[str, float]:
    """CPU seconds per GiB, sender plus receiver: steadier than wall time on a busy machine."""
    gib = size / (1024 * MIB)
    ours = statistics.median((r["cpu_s"] + r["server_cpu_s"]) / gib for r in saksi)
    theirs = statistics.median((r["cpu_s"] + r["server_cpu_s"]) / gib for r in peer)
    return {
        "saksi_client_cpu_s_per_gib": round(statistics.median(r["cpu_s"] / gib for r in saksi), 2),
        "fake_drive_cpu_s_per_gib": round(
            statistics.median(r["server_cpu_s"] / gib for r in saksi), 2
        ),
        "saksi_total_cpu_s_per_gib": round(ours, 2),
        "peer_total_cpu_s_per_gib": round(theirs, 2),
        "saksi_vs_peer_cpu_ratio": round(ours / theirs, 1),
    }


def summarise(size: int, saksi: list[dict[str, Any]], peer: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "size_mib": size // MIB,
        **throughput(size, saksi, peer),
        **cpu_per_gib(size, saksi, peer),
        "saksi_peak_rss_mib_max": round(max(r["peak_rss_mib"] for r in saksi), 1),
        "saksi_ru_maxrss_mib_max": round(max(r["ru_maxrss_mib"] for r in saksi), 1),
        "peer_peak_rss_mib_max": round(max(r["peak_rss_mib"] for r in peer), 1),
        "remote_checksum_algorithm": saksi[0]["algorithm"],
        "upload_attempts": [r["attempts"] for r in saksi],
        "raw": {
            "saksi_wall_s": [round(r["wall_s"], 3) for r in saksi],
            "saksi_client_cpu_s": [round(r["cpu_s"], 3) for r in saksi],
            "fake_drive_cpu_s": [round(r["server_cpu_s"], 3) for r in saksi],
            "saksi_peak_rss_mib": [round(r["peak_rss_mib"], 1) for r in saksi],
            "saksi_ru_maxrss_mib": [round(r["ru_maxrss_mib"], 1) for r in saksi],
            "peer_wall_s": [round(r["wall_s"], 3) for r in peer],
            "peer_sender_cpu_s": [round(r["cpu_s"], 3) for r in peer],
            "peer_receiver_cpu_s": [round(r["server_cpu_s"], 3) for r in peer],
            "peer_peak_rss_mib": [round(r["peak_rss_mib"], 1) for r in peer],
        },
    }


def targets(runs: list[dict[str, Any]]) -> dict[str, Any]:
    worst = max(max(r["saksi_peak_rss_mib_max"], r["saksi_ru_maxrss_mib_max"]) for r in runs)
    smallest, largest = runs[0], runs[-1]
    growth = largest["saksi_peak_rss_mib_max"] - smallest["saksi_peak_rss_mib_max"]
    return {
        "peak_rss_under_200_mib": {
            "limit_mib": RSS_LIMIT_MIB,
            "worst_mib": worst,
            "met": worst < RSS_LIMIT_MIB,
        },
        "peak_rss_independent_of_size": {
            "from_mib": smallest["size_mib"],
            "to_mib": largest["size_mib"],
            "growth_mib": round(growth, 1),
            "allowed_mib": RSS_GROWTH_ALLOWED_MIB,
            "met": growth <= RSS_GROWTH_ALLOWED_MIB,
        },
    }


def ratios(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys = (
        "saksi_vs_peer_throughput_ratio",
        "saksi_vs_peer_throughput_ratio_best",
        "saksi_vs_peer_cpu_ratio",
    )
    return {f"{key}_{r['size_mib']}_mib": r[key] for r in runs for key in keys}


def run_all(scratch: Path, sizes_mib: list[int], repeats: int) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    bench = Bench(scratch)
    try:
        baseline = measure_size(bench, BASELINE_MIB, 1)
        runs = [measure_size(bench, size, repeats) for size in sizes_mib]
    finally:
        servers = bench.close()
    return {
        "machine": f"{platform.machine()} {platform.python_version()} {os.cpu_count()} cpus",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "chunk_mib": BLOCK // MIB,
        "repeats": repeats,
        "baseline_1_mib_upload_peak_rss_mib": baseline["saksi_peak_rss_mib_max"],
        "runs": runs,
        "ratios": ratios(runs),
        **servers,
        "targets": targets(runs),
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in ROLES:
        ROLES[sys.argv[1]](*sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[256, 2048])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/delivery.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="saksi-delivery-bench-") as scratch:
        result = run_all(Path(scratch), sorted(args.sizes_mib), args.repeats)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
