"""Measuring clients against the simulator run as its own process (`python -m nvr_sim`).

A client's wall time and CPU time come from `os.wait4` on its pid, its peak RSS from GNU time
(wait4's would include this process's own); the simulator's CPU time from /proc. Footage is
encoded ahead of the measurements, one process per core, into the simulator's own cache.
"""

from __future__ import annotations

import compileall
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nvr_adapters import TimeWindow
from nvr_sim import Footage, SimConfig

ROOT = Path(__file__).resolve().parents[1]


def progress(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def compile_project() -> None:
    """Bytecode for the project's modules, as `scripts/setup` (and `pip install .`) leaves them:
    a module edited since would otherwise be compiled from source at every start of a client
    (PYTHONDONTWRITEBYTECODE is set on these machines), which is not what an install runs."""
    packages = ("app", "custody", "drive_sync", "nvr_adapters", "nvr_sim")
    for package in packages:
        compileall.compile_dir(ROOT / package, quiet=1)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    stdout: str
    server_cpu_s: float = 0.0


def run_child(argv: list[str], stdin: str = "") -> Run:
    """Run a program to its end and return its own figures.

    Peak RSS comes from GNU time, not from wait4: Linux carries a process's high-water RSS across
    exec, so a child forked from this (large) process reports at least this process's RSS."""
    started = time.perf_counter()
    with tempfile.NamedTemporaryFile() as peak, tempfile.TemporaryFile() as errors:
        timed = ["/usr/bin/time", "-f", "%M", "-o", peak.name, *argv]
        with subprocess.Popen(
            timed, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
        ) as process:  # fmt: skip
            assert process.stdin is not None
            assert process.stdout is not None
            process.stdin.write(stdin.encode())
            process.stdin.close()
            out = process.stdout.read().decode()
            _pid, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                errors.seek(0)
                raise RuntimeError(f"{argv[:2]} failed: {errors.read().decode()[-2000:]}")
        max_rss_kib = int(Path(peak.name).read_text().split()[-1])
    return Run(wall, usage.ru_utime + usage.ru_stime, max_rss_kib / 1024, out)


def summary(runs: list[Run]) -> dict[str, Any]:
    return {
        "wall_s": [round(r.wall_s, 3) for r in runs],
        "cpu_s": [round(r.cpu_s, 3) for r in runs],
        "max_rss_mb": [round(r.max_rss_mb, 1) for r in runs],
        "server_cpu_s": [round(r.server_cpu_s, 3) for r in runs],
        "wall_s_median": median([r.wall_s for r in runs]),
        "cpu_s_median": median([r.cpu_s for r in runs]),
        "max_rss_mb_median": median([r.max_rss_mb for r in runs]),
        "server_cpu_s_median": median([r.server_cpu_s for r in runs]),
    }


def frames(path: Path) -> int:
    """The number of video packets in a file, counted by ffprobe."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
         "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(result.stdout.strip())


# --- footage ------------------------------------------------------------------------------


def segment_files(footage: Footage, channel: int, start: datetime) -> tuple[Path, Path]:
    # The cache layout is the simulator's own (a private method, read-only use).
    path = footage._path(footage.config.camera(channel), start)  # noqa: SLF001
    return path, path.with_suffix(".json")


def _encode(job: tuple[SimConfig, int, datetime]) -> None:
    config, channel, start = job
    Footage(config).segment(config.camera(channel), start)


def encode_missing(config: SimConfig, wanted: list[tuple[int, datetime]]) -> tuple[int, float]:
    """Encode the (channel, segment start) not cached yet; return (how many, seconds)."""
    footage = Footage(config)
    missing = [
        (config, channel, start)
        for channel, start in wanted
        if not segment_files(footage, channel, start)[1].exists()
    ]
    started = time.perf_counter()
    if missing:
        progress(f"encoding {len(missing)} segments of footage (cached for later runs)")
        with ProcessPoolExecutor(os.cpu_count()) as pool:
            list(pool.map(_encode, missing))
    return len(missing), time.perf_counter() - started


# --- the simulator ------------------------------------------------------------------------


class Simulator:
    """`python -m nvr_sim` serving `config` (retention in whole hours) on free ports."""

    def __init__(
        self, config: SimConfig, scratch: Path, *, extra_args: list[str] | None = None
    ) -> None:
        """`extra_args` go after the rest (profile, link, bitrate): by default the `simulator`
        profile, unpaced and uncapped, which is what the command line ran before it defaulted to
        a real device (docs/nvr-sim.md)."""
        self.config = config
        hours, rest = divmod(config.retention, timedelta(hours=1))
        assert not rest, "the simulator's command line takes whole hours of retention"
        cameras = [{"channel": c.channel, "name": c.name, "schedule": c.schedule}
                   for c in config.cameras]  # fmt: skip
        settings = scratch / "sim.json"
        body = {"cameras": cameras, "username": config.username, "password": config.password}
        settings.write_text(json.dumps(body))
        self._log = (scratch / "sim.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "nvr_sim", "--config", str(settings), "--cache-dir",
             str(config.cache_dir), "--retention-hours", str(hours), "--width", str(config.width),
             "--height", str(config.height), "--fps", str(config.fps), "--rtsp-port", "0",
             "--http-port", "0",
             *(["--profile", "simulator"] if extra_args is None else extra_args)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log, text=True,
        )  # fmt: skip
        self.http_port, self.rtsp_port = self._read_ports()

    def _read_ports(self) -> tuple[int, int]:
        """The HTTP port (printed first, with the ONVIF device service) and the RTSP port."""
        assert self.process.stdout is not None
        http = None
        for line in self.process.stdout:
            if match := re.search(r"http://127\.0\.0\.1:(\d+)/onvif/device_service", line):
                http = int(match[1])
            if match := re.search(r"rtsp://127\.0\.0\.1:(\d+)/onvif/replay/", line):
                assert http is not None, "the simulator printed its RTSP port first"
                return http, int(match[1])
        raise RuntimeError("the simulator exited before serving")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def onvif_url(self, channel: int) -> str:
        return f"rtsp://127.0.0.1:{self.rtsp_port}/onvif/replay/Recording_{channel}"

    def hikvision_url(self, channel: int, window: TimeWindow) -> str:
        s, e = window.start, window.end
        query = f"starttime={s:%Y%m%dT%H%M%SZ}&endtime={e:%Y%m%dT%H%M%SZ}"
        path = f"/Streaming/tracks/{channel}01?{query}"
        user, password = self.config.username, self.config.password
        return f"rtsp://{user}:{password}@127.0.0.1:{self.rtsp_port}{path}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@contextmanager
def serving(
    config: SimConfig, scratch: Path, *, extra_args: list[str] | None = None
) -> Iterator[Simulator]:
    simulator = Simulator(config, scratch, extra_args=extra_args)
    try:
        yield simulator
    finally:
        simulator.stop()
