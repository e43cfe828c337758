"""Simulator replay speed: 60 s of 720p25 footage over ONVIF replay with `Rate-Control: no`.

    .venv/bin/python benchmarks/nvr_sim_replay.py

Encodes (or reuses from the cache) one minute of 1280×720 25 fps footage, then measures, from
PLAY to the RTCP BYE over loopback: wall time, the process's CPU time (server and the reading
client share it), access units and bytes; and, as a peer in the same run, the time to send the
same number of bytes over a plain loopback socket. The replay runs twice: the first frames the
segment for the wire (`nvr_sim/wire.py`), the second sends the kept framing with only its own
header fields filled in, as every later replay of that segment does.
Writes benchmarks/results/nvr_sim_replay.json.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nvr_sim import NvrSimulator, SimConfig, SimulatorThread, default_cameras  # noqa: E402
from nvr_sim.config import segment_start  # noqa: E402
from tests.nvr_sim.replay_client import ReplayClient, clock  # noqa: E402


def loopback_copy_seconds(size: int) -> float:
    """The peer: push `size` bytes through a loopback TCP socket and read them back."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    block = b"\x00" * 65536

    def send() -> None:
        connection, _ = server.accept()
        with connection:
            remaining = size
            while remaining > 0:
                connection.sendall(block[: min(len(block), remaining)])
                remaining -= len(block)

    sender = threading.Thread(target=send)
    sender.start()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as client:
        received = 0
        while received < size:
            received += len(client.recv(1 << 20))
    elapsed = time.perf_counter() - started
    sender.join()
    server.close()
    return elapsed


def main() -> int:
    cache = ROOT / "saksi-data" / "bench-nvr-sim-cache"
    config = SimConfig(cameras=default_cameras(1), cache_dir=cache, retention=timedelta(hours=1))
    simulator = NvrSimulator(config)
    start = segment_start(datetime.now(UTC) - timedelta(minutes=5), config.segment_seconds)
    end = start + timedelta(seconds=60)
    encode_started = time.perf_counter()
    simulator.archive.footage.segment(config.cameras[0], start)
    encode_s = time.perf_counter() - encode_started
    thread = SimulatorThread(simulator)
    endpoints = thread.start()
    url = endpoints.rtsp("/onvif/replay/Recording_1")
    runs = []
    for _ in ("first", "kept"):
        client = ReplayClient(endpoints.rtsp_port, config.username, config.password)
        client.setup(url)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        client.request("PLAY", url, Range=f"clock={clock(start)}-{clock(end)}", Rate_Control="no")
        units, ended = client.units()
        runs.append((time.perf_counter() - wall0, time.process_time() - cpu0))
        client.close()
    thread.stop()
    (wall, cpu), (kept_wall, kept_cpu) = runs
    size = sum(len(n) for u in units for n in u.nals)
    peer = loopback_copy_seconds(size)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "footage": "1280x720 25 fps H.264, 60 s",
        "first_encode_s": round(encode_s, 2),
        "access_units": len(units),
        "payload_bytes": size,
        "ended_with_bye": ended,
        "delivery_wall_s": round(wall, 3),
        "delivery_cpu_s": round(cpu, 3),
        "media_seconds_per_wall_second": round(60 / wall, 1),
        "kept_framing_delivery_wall_s": round(kept_wall, 3),
        "kept_framing_delivery_cpu_s": round(kept_cpu, 3),
        "kept_framing_media_seconds_per_wall_second": round(60 / kept_wall, 1),
        "peer_loopback_copy_s": round(peer, 4),
        "delivery_vs_loopback_copy_ratio": round(wall / peer, 1),
        "kept_framing_delivery_vs_loopback_copy_ratio": round(kept_wall / peer, 1),
    }
    out = ROOT / "benchmarks" / "results" / "nvr_sim_replay.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
