"""Vendor download at link speed against RTSP playback: `saksi fetch` on device profiles.

    .venv/bin/python benchmarks/vendor_bench.py [--repeats 2]

The simulator (`python -m nvr_sim`) runs in its own processes as a Hikvision DS-7608NI-K2
(`--profile hikvision-ds7608`), a Dahua NVR4108 (`dahua-nvr4108`) and a generic ONVIF Profile G
recorder (`onvif-generic`), each behind a 100 Mbit/s link (`--link-mbps 100`, one cap shared by
all its connections) with four continuous cameras padded to 4000 kbit/s (`--bitrate-kbps 4000`:
filler NAL units, so 320x240 footage is cheap to encode yet streams a camera's bytes). Every
client is `saksi fetch` in its own process: its wall time, CPU time (wait4) and peak RSS (GNU
time), its own JSON (`transfer_s`, `throughput_mbps`), and, sampled every 0.1 s while its bytes
arrive, the CPU of the clients, of the simulators and of the whole machine, which tells a
link-bound transfer from a CPU-bound one. Repeats interleaved, medians taken:

(a) per vendor, 20 minutes of camera 1 by vendor download (ISAPI MPEG-PS, Dahua DAV): throughput
    against the link; the result checked (method, master format, the master's raw hash equal to
    the clip's, 30 000 frames, counted again by ffprobe, no gaps);
(b) per vendor, 2 minutes of the same camera by the vendor's RTSP playback (`--method playback`,
    paced at real time by the profile), scaled to 20 minutes (the transfer x 10, the fixed
    costs once), against (a); every playback at once: a paced stream is 4 Mbit/s and little
    CPU, and the CPU they took is recorded;
(c) per vendor, 4 cameras sharing the NVR's link: 4 `saksi fetch` at once, channels 1-4,
    5 minutes each (600 MB in all, like one 20-minute window);
(d) context: the same 20 minutes over ONVIF replay with `Rate-Control: no`, which
    onvif-generic honours.

Once per vendor, the steps after a download's transfer are timed again in this process on its
master (deriving the MP4, the raw hash, the clip check): what the whole command adds to the
transfer. The footage lies at a fixed hour (ANCHOR); the first run encodes 35 camera-minutes of
320x240 (~3 CPU-s each) into saksi-data/bench-vendor-cache. A run takes about 14 minutes and
~2.5 GB of $TMPDIR. Writes benchmarks/results/vendor.json; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.nvr.fetching import derive_working_copy, units_sha256  # noqa: E402
from benchmarks._measure import (  # noqa: E402
    Run,
    Simulator,
    compile_project,
    encode_missing,
    frames,
    median,
    progress,
    run_child,
    serving,
)
from nvr_adapters import TimeWindow  # noqa: E402
from nvr_adapters.native import MasterFacts, NativeFormat  # noqa: E402
from nvr_adapters.verify import check_clip  # noqa: E402
from nvr_sim import CameraConfig, SimConfig  # noqa: E402

ANCHOR = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
CACHE = ROOT / "saksi-data" / "bench-vendor-cache"
CAMERAS = 4
USER, PASSWORD = "admin", "saksi-sim"
ZONE = "Asia/Jakarta"  # the simulator's own zone (SimConfig.timezone)
LINK_MBPS, BITRATE_KBPS = 100, 4000
WIDTH, HEIGHT, FPS, SEGMENT_S = 320, 240, 25, 60
WINDOW, PLAYBACK, GROUP = timedelta(minutes=20), timedelta(minutes=2), timedelta(minutes=5)
# vendor -> (simulator profile, the master's format)
VENDORS: dict[str, tuple[str, NativeFormat]] = {
    "hikvision": ("hikvision-ds7608", "mpeg-ps"),
    "dahua": ("dahua-nvr4108", "dav"),
}
ONVIF_PROFILE = "onvif-generic"
MASTERS, CLIPS = ("*.ps", "*.dav"), ("*.mp4",)
SAMPLE_S = 0.1
OTHER_LOAD_CORES = 0.3  # cores busy beyond the fetches and the simulator worth a note
SAKSI = str(Path(sys.executable).with_name("saksi"))
TICK = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


# --- footage and devices ------------------------------------------------------------------


def sim_config(retention: timedelta) -> SimConfig:
    """Four continuous cameras (the CLI's default makes the last motion-only, with gaps)."""
    cameras = tuple(CameraConfig(n, f"Kamera {n}") for n in range(1, CAMERAS + 1))
    return SimConfig(
        cameras=cameras, cache_dir=CACHE, width=WIDTH, height=HEIGHT, fps=FPS,
        segment_seconds=SEGMENT_S, retention=retention, username=USER, password=PASSWORD,
    )  # fmt: skip


def wanted_segments() -> list[tuple[int, datetime]]:
    """Camera 1: the 20-minute window (the others lie inside it); cameras 2-4: 5 minutes."""
    minutes = [(1, int(WINDOW.total_seconds()) // 60)]
    minutes += [(c, int(GROUP.total_seconds()) // 60) for c in range(2, CAMERAS + 1)]
    return [(c, ANCHOR + timedelta(minutes=m)) for c, count in minutes for m in range(count)]


def device_args(profile: str) -> list[str]:
    return ["--profile", profile, "--link-mbps", str(LINK_MBPS),
            "--bitrate-kbps", str(BITRATE_KBPS)]  # fmt: skip


def window(length: timedelta) -> TimeWindow:
    return TimeWindow(ANCHOR, ANCHOR + length)


def fetch_argv(
    sim: Simulator, vendor: str, channel: str, span: TimeWindow, out: Path, method: str
) -> list[str]:
    return [
        SAKSI, "fetch", "--vendor", vendor, "--host", "127.0.0.1",
        "--http-port", str(sim.http_port), "--rtsp-port", str(sim.rtsp_port),
        "--channel", channel, "--start", span.start.isoformat(), "--end", span.end.isoformat(),
        "-o", str(out), "--username", USER, "--password-stdin", "--method", method,
        "--timezone", ZONE,
    ]  # fmt: skip


# --- sampling CPU while the bytes arrive --------------------------------------------------


def _cpu_of(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all but idle and iowait), over all cores."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK


@dataclass(frozen=True)
class Sample:
    at: float
    bytes: int
    clients_cpu_s: float
    server_cpu_s: float
    machine_busy_s: float


class Sampler:
    """Every SAMPLE_S while a group of fetches runs: the bytes in their output files, the CPU
    time of the `saksi fetch` processes writing under `folder`, of the simulators, and of the
    machine. The fetch processes are found by their command line (they run under GNU time)."""

    def __init__(self, folder: Path, patterns: tuple[str, ...], servers: list[Simulator]) -> None:
        self.folder, self.patterns, self.servers = folder, patterns, servers
        self.samples: list[Sample] = []
        self._clients: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._find_clients()
            for pid in self._clients:
                cpu = _cpu_of(pid)
                self._clients[pid] = self._clients[pid] if cpu is None else cpu
            self.samples.append(Sample(
                time.perf_counter(), self._bytes(), sum(self._clients.values()),
                sum(s.cpu_seconds() for s in self.servers), _machine_busy_s(),
            ))  # fmt: skip

    def _bytes(self) -> int:
        files = [f for pattern in self.patterns for f in self.folder.rglob(pattern)]
        return sum(f.stat().st_size for f in files if f.exists())

    def _find_clients(self) -> None:
        marker = str(self.folder).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in self._clients:
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"fetch" in argv and marker in b" ".join(argv) and b"python" in argv[0]:
                self._clients[int(entry.name)] = 0.0

    def transfer(self) -> dict[str, Any]:
        """From the first sample with bytes on disk to the first with all of them: the bytes
        over that span, and the CPU (in cores busy) of clients, simulators and machine."""
        final = self.samples[-1].bytes
        begin = next(s for s in self.samples if s.bytes > 0)
        end = next(s for s in self.samples if s.bytes >= final)
        span = end.at - begin.at
        return {
            "span_s": round(span, 2),
            "mbps": round((end.bytes - begin.bytes) * 8 / span / 1e6, 2),
            "clients_cores_busy": round((end.clients_cpu_s - begin.clients_cpu_s) / span, 3),
            "server_cores_busy": round((end.server_cpu_s - begin.server_cpu_s) / span, 3),
            "machine_cores_busy": round((end.machine_busy_s - begin.machine_busy_s) / span, 3),
        }


# --- running fetches ----------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """One or more `saksi fetch` run at once, and what they printed."""

    wall_s: float
    runs: list[Run]
    answers: list[dict[str, Any]]
    server_cpu_s: float
    transfer: dict[str, Any]


def run_group(
    argvs: list[list[str]], servers: list[Simulator], folder: Path, patterns: tuple[str, ...]
) -> Group:
    """Run the fetches at once (their outputs under `folder`); sample while they run."""
    before = sum(s.cpu_seconds() for s in servers)
    with Sampler(folder, patterns, servers) as sampler:
        started = time.perf_counter()
        with ThreadPoolExecutor(len(argvs)) as pool:
            runs = list(pool.map(lambda argv: run_child(argv, PASSWORD + "\n"), argvs))
        wall = time.perf_counter() - started
    server = sum(s.cpu_seconds() for s in servers) - before
    answers = [json.loads(r.stdout.strip().splitlines()[-1]) for r in runs]
    return Group(wall, runs, answers, server, sampler.transfer())


def run_figures(run: Run, answer: dict[str, Any]) -> dict[str, Any]:
    master = answer["master"]
    return {
        "wall_s": round(run.wall_s, 3),
        "cpu_s": round(run.cpu_s, 3),
        "max_rss_mb": round(run.max_rss_mb, 1),
        "elapsed_s": answer["elapsed_s"],
        "transfer_s": answer["transfer_s"],
        "throughput_mbps": answer["throughput_mbps"],
        "bytes": master["bytes"] if master else answer["clip"]["bytes"],
        "method": answer["method"],
        "method_detail": answer["method_detail"],
        "frames": answer["clip"]["frames"],
        "raw_sha256": answer["raw_sha256"],
    }


def checks(answer: dict[str, Any], fmt: str | None, span: TimeWindow) -> dict[str, bool]:
    """What the result must be: the method, the master, the frames, no gaps."""
    want_frames = int((span.end - span.start).total_seconds()) * FPS
    master = answer["master"]
    found = {
        "method": answer["method"] == ("download" if fmt else "playback"),
        "frames": answer["clip"]["frames"] == want_frames,
        "no_gaps": answer["gaps"] == [],
    }
    if fmt:
        found["master_format"] = master is not None and master["format"] == fmt
        found["raw_sha256_master_equals_clip"] = (
            master is not None and master["raw_sha256"] == answer["raw_sha256"]
        )
    return found


def remove_outputs(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()


# --- (a) downloads ------------------------------------------------------------------------


def one_download(sim: Simulator, vendor: str, scratch: Path, number: int) -> dict[str, Any]:
    folder = scratch / f"a-{vendor}-{number}"
    argv = fetch_argv(sim, vendor, "1", window(WINDOW), folder, "download")
    group = run_group([argv], [sim], folder, MASTERS)
    answer = group.answers[0]
    counted = frames(Path(answer["clip"]["file"]))
    # Once per vendor: the steps after the transfer, again, on this fetch's own master.
    after = after_transfer(answer, VENDORS[vendor][1], window(WINDOW)) if number == 0 else None
    remove_outputs(folder)
    found = checks(answer, VENDORS[vendor][1], window(WINDOW))
    found["ffprobe_frames"] = counted == answer["clip"]["frames"]
    progress(f"(a) {vendor} download {number + 1}: {answer['throughput_mbps']} Mbit/s, "
             f"transfer {answer['transfer_s']} s, command {group.wall_s:.1f} s")  # fmt: skip
    figures = {
        **run_figures(group.runs[0], answer),
        "server_cpu_s": round(group.server_cpu_s, 3),
        "during_transfer": group.transfer,
        "checks": found,
    }
    return figures | ({"after_transfer_in_process": after} if after else {})


def after_transfer(answer: dict[str, Any], fmt: NativeFormat, span: TimeWindow) -> dict[str, Any]:
    """What a download's `elapsed_s` holds besides `transfer_s`, step by step: the same calls
    `saksi fetch` (and an export) make once the bytes are in, timed here, in this process, on
    the fetch's own master (the OS has it cached, as the fetch had)."""
    master = answer["master"]
    path, zone = Path(master["file"]), ZoneInfo(ZONE)
    facts = MasterFacts(path=path, format=fmt, sha256=master["sha256"], size=master["bytes"])
    copy = path.with_name("derived.mp4")
    steps: dict[str, Any] = {}
    clip = timed(steps, "derive_working_copy", lambda: derive_working_copy(facts, zone, span, copy))
    first, last = clip.first_frame_utc, clip.last_frame_utc
    timed(steps, "units_sha256", lambda: units_sha256(facts, zone, first, last))
    timed(steps, "check_clip", lambda: check_clip(copy, span))
    steps["same_clip_sha256"] = clip.sha256 == answer["clip"]["sha256"]
    return steps


def timed(steps: dict[str, Any], name: str, call: Callable[[], T]) -> T:
    cpu, wall = time.process_time(), time.perf_counter()
    result = call()
    steps[name] = {"wall_s": round(time.perf_counter() - wall, 3),
                   "cpu_s": round(time.process_time() - cpu, 3)}  # fmt: skip
    return result


def interleaved(repeats: int, call: Callable[[str, int], dict[str, Any]]) -> dict[str, Any]:
    """`call(vendor, number)` `repeats` times per vendor, each vendor first in turn."""
    runs: dict[str, Any] = {vendor: [] for vendor in VENDORS}
    names = list(VENDORS)
    for number in range(repeats):
        first = number % len(names)
        for vendor in names[first:] + names[:first]:
            runs[vendor].append(call(vendor, number))
    return runs


def downloads(sims: dict[str, Simulator], scratch: Path, repeats: int) -> dict[str, Any]:
    runs = interleaved(repeats, lambda v, n: one_download(sims[v], v, scratch, n))
    return {vendor: summarise(found) for vendor, found in runs.items()}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def of(key: str) -> float:
        return median([r[key] for r in runs])

    return {
        "runs": runs,
        "throughput_mbps_median": of("throughput_mbps"),
        "throughput_vs_link_median": round(of("throughput_mbps") / LINK_MBPS, 3),
        "transfer_s_median": of("transfer_s"),
        "elapsed_s_median": of("elapsed_s"),
        "cpu_s_median": of("cpu_s"),
        "server_cpu_s_median": of("server_cpu_s"),
        "all_checks_passed": all(all(r["checks"].values()) for r in runs),
        "raw_sha256": sorted({r["raw_sha256"] for r in runs}),
    }


# --- (b) paced playback -------------------------------------------------------------------


def playbacks(sims: dict[str, Simulator], scratch: Path, repeats: int) -> dict[str, Any]:
    """Every vendor's playback, `repeats` each, all at once (paced: the link and CPU idle)."""
    folder = scratch / "b"
    jobs = [(vendor, n) for vendor in VENDORS for n in range(repeats)]
    argvs = [fetch_argv(sims[vendor], vendor, "1", window(PLAYBACK), folder / f"{vendor}-{n}",
                        "playback") for vendor, n in jobs]  # fmt: skip
    group = run_group(argvs, [sims[vendor] for vendor in VENDORS], folder, CLIPS)
    remove_outputs(folder)
    found: dict[str, Any] = {vendor: [] for vendor in VENDORS}
    for (vendor, _n), run, answer in zip(jobs, group.runs, group.answers, strict=True):
        figures = run_figures(run, answer)
        found[vendor].append({**figures, "checks": checks(answer, None, window(PLAYBACK))})
    progress(f"(b) {len(jobs)} paced playbacks of {PLAYBACK} at once: {group.wall_s:.1f} s")
    return {
        **{vendor: playback_summary(runs) for vendor, runs in found.items()},
        "group_wall_s": round(group.wall_s, 3),
        "servers_cpu_s": round(group.server_cpu_s, 3),
        "during_transfer": group.transfer,
    }


def playback_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    transfer, elapsed = (
        median([r["transfer_s"] for r in runs]),
        median([r["elapsed_s"] for r in runs]),
    )
    scale = WINDOW / PLAYBACK
    return {
        "runs": runs,
        "transfer_s_median": transfer,
        "elapsed_s_median": elapsed,
        "all_checks_passed": all(all(r["checks"].values()) for r in runs),
        # The transfer scales with the window at real time; probe, search and start-up do not.
        "scaled_20_min_transfer_s": round(transfer * scale, 3),
        "scaled_20_min_elapsed_s": round(transfer * scale + (elapsed - transfer), 3),
    }


def ratios(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """How many times faster the download is than the paced playback of the same 20 minutes."""
    return {
        vendor: {
            "transfer_only": round(
                b[vendor]["scaled_20_min_transfer_s"] / a[vendor]["transfer_s_median"], 2
            ),
            "whole_command": round(
                b[vendor]["scaled_20_min_elapsed_s"] / a[vendor]["elapsed_s_median"], 2
            ),
        }
        for vendor in VENDORS
    }


# --- (c) four cameras on one link ---------------------------------------------------------


def four_cameras(sims: dict[str, Simulator], scratch: Path, repeats: int) -> dict[str, Any]:
    runs = interleaved(repeats, lambda v, n: one_group(sims[v], v, scratch, n))
    return {vendor: group_summary(found) for vendor, found in runs.items()}


def one_group(sim: Simulator, vendor: str, scratch: Path, number: int) -> dict[str, Any]:
    folder = scratch / f"c-{vendor}-{number}"
    channels = range(1, CAMERAS + 1)
    argvs = [fetch_argv(sim, vendor, str(c), window(GROUP), folder / f"ch{c}", "download")
             for c in channels]  # fmt: skip
    group = run_group(argvs, [sim], folder, MASTERS)
    remove_outputs(folder)
    total = sum(a["master"]["bytes"] for a in group.answers)
    whole = total * 8 / group.wall_s / 1e6
    progress(f"(c) {vendor} 4 cameras {number + 1}: {whole:.1f} Mbit/s over the whole group, "
             f"{group.transfer['mbps']} Mbit/s while transferring")  # fmt: skip
    return {
        "wall_s": round(group.wall_s, 3),
        "bytes": total,
        "group_mbps": round(whole, 2),
        "transfer_span_mbps": group.transfer["mbps"],
        "per_camera_throughput_mbps": [a["throughput_mbps"] for a in group.answers],
        "per_camera_transfer_s": [a["transfer_s"] for a in group.answers],
        "per_camera_elapsed_s": [a["elapsed_s"] for a in group.answers],
        "clients_cpu_s": round(sum(r.cpu_s for r in group.runs), 3),
        "server_cpu_s": round(group.server_cpu_s, 3),
        "during_transfer": group.transfer,
        "checks": [checks(a, VENDORS[vendor][1], window(GROUP)) for a in group.answers],
    }


def group_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    whole = median([r["group_mbps"] for r in runs])
    span = median([r["transfer_span_mbps"] for r in runs])
    return {
        "runs": runs,
        "group_mbps_median": whole,
        "group_vs_link_median": round(whole / LINK_MBPS, 3),
        "transfer_span_mbps_median": span,
        "transfer_span_vs_link_median": round(span / LINK_MBPS, 3),
        "all_checks_passed": all(all(c.values()) for r in runs for c in r["checks"]),
    }


# --- (d) ONVIF replay, as context ---------------------------------------------------------


def onvif_replay(sim: Simulator, scratch: Path, repeats: int) -> dict[str, Any]:
    runs = []
    for number in range(repeats):
        folder = scratch / f"d-{number}"
        argv = fetch_argv(sim, "onvif", "Recording_1", window(WINDOW), folder, "auto")
        group = run_group([argv], [sim], folder, CLIPS)
        answer = group.answers[0]
        remove_outputs(folder)
        progress(f"(d) ONVIF replay {number + 1}: {answer['throughput_mbps']} Mbit/s")
        runs.append({
            **run_figures(group.runs[0], answer),
            "server_cpu_s": round(group.server_cpu_s, 3),
            "during_transfer": group.transfer,
            "checks": {**checks(answer, None, window(WINDOW)),
                       "rate_control_no": answer["method_detail"].get("rate_control") == "no"},
        })  # fmt: skip
    return summarise(runs)


# --- the run ------------------------------------------------------------------------------


def targets(results: dict[str, Any]) -> dict[str, Any]:
    a, ratio, c = results["download"], results["download_vs_playback"], results["four_cameras"]
    found: dict[str, tuple[Any, str, Any]] = {}
    for vendor in VENDORS:
        found[f"{vendor}_throughput_vs_link"] = (a[vendor]["throughput_vs_link_median"], ">=", 0.8)
        found[f"{vendor}_result_checked"] = (a[vendor]["all_checks_passed"], "==", True)
        found[f"{vendor}_faster_than_playback_x"] = (ratio[vendor]["transfer_only"], ">=", 20)
        found[f"{vendor}_faster_than_playback_whole_command_x"] = (
            ratio[vendor]["whole_command"], ">=", 20,
        )  # fmt: skip
        # As the issue puts it: sum of bytes over the whole group's wall time.
        found[f"{vendor}_4_cameras_vs_link"] = (c[vendor]["group_vs_link_median"], ">=", 0.8)
    return {
        name: {"value": value, "target": f"{op} {bound}",
               "met": value == bound if op == "==" else value >= bound}
        for name, (value, op, bound) in found.items()
    }  # fmt: skip


def notes(results: dict[str, Any]) -> list[str]:
    """What the figures mean and, where a target is not met, what limited it."""
    b = results["playback"]["during_transfer"]
    return [
        "Windows: 20 min of camera 1 (30 000 frames, ~600 MB) for downloads and ONVIF replay; "
        "vendor playback 2 min, scaled to 20 (transfer x 10, the fixed costs once); 4 cameras "
        "5 min each (4 x 150 MB), to keep the run near 14 minutes.",
        f"The paced playbacks ran all at once ({results['settings']['repeats']} per vendor, one "
        f"simulator per vendor): {b['mbps']} Mbit/s in all, the machine {b['machine_cores_busy']} "
        "cores busy; speed_x 0.99 is the pacing alone.",
        "throughput_mbps is saksi fetch's: master bytes over transfer_s for a download, but the "
        "MP4's bytes (not those received) for a playback; the wire carries ~2.3 % more there "
        "(RTP 12 + interleaving 4 + ONVIF extension 16 bytes per <= 1400-byte payload). "
        "during_transfer: sampled every 0.1 s while the outputs grow (master, or MP4 for "
        "playback): Mbit/s onto disk, cores busy of the fetches, simulator(s) and machine.",
        *[download_note(vendor, results) for vendor in VENDORS],
        "4 cameras: the target counts the group's whole wall time: each process's start-up "
        "(~2 s) and the 4 derive-and-check passes after the transfers, on 2 cores, are what "
        "separates group_mbps from transfer_span_mbps (the link, shared, saturated).",
        onvif_note(results),
        other_load_note(results),
        "320x240 footage padded to a camera's bitrate carries a camera's bytes, but check_clip "
        "decodes every frame: on a real 2 MP camera (27x the pixels) that step costs far more, "
        "and the whole-command ratio falls further.",
    ]


def download_note(vendor: str, results: dict[str, Any]) -> str:
    a, ratio = results["download"][vendor], results["download_vs_playback"][vendor]
    during, after = a["runs"][0]["during_transfer"], a["runs"][0]["after_transfer_in_process"]
    steps = ", ".join(f"{name} {after[name]['wall_s']} s" for name in
                      ("derive_working_copy", "units_sha256", "check_clip"))  # fmt: skip
    scaled = results["playback"][vendor]["scaled_20_min_elapsed_s"]
    per_run = [round(scaled / r["elapsed_s"], 2) for r in a["runs"]]
    return (
        f"{vendor}: {a['throughput_vs_link_median']} of the link, the client "
        f"{during['clients_cores_busy']} cores busy, the simulator {during['server_cores_busy']}: "
        f"link-bound. Against paced playback {ratio['transfer_only']}x (transfer), "
        f"{ratio['whole_command']}x (whole command; per run {per_run}): elapsed_s "
        f"{a['elapsed_s_median']} s holds "
        f"{a['transfer_s_median']} s of transfer, then serial work on one core, none of it "
        f"overlapping the download (timed again on run 1's master: {steps})."
    )


def other_load_note(results: dict[str, Any]) -> str:
    """Runs during which something besides the fetches and the simulator kept a core busy."""
    runs = [(f"{v} download {n + 1}", r) for v in VENDORS
            for n, r in enumerate(results["download"][v]["runs"])]  # fmt: skip
    runs += [(f"{v} 4 cameras {n + 1}", r) for v in VENDORS
             for n, r in enumerate(results["four_cameras"][v]["runs"])]  # fmt: skip
    runs += [(f"ONVIF {n + 1}", r) for n, r in enumerate(results["onvif_replay"]["runs"])]
    loaded, most = [], 0.0
    for name, run in runs:
        d = run["during_transfer"]
        ours = d["clients_cores_busy"] + d["server_cores_busy"]
        most = max(most, ours)
        if d["machine_cores_busy"] - ours > OTHER_LOAD_CORES:
            loaded.append(f"{name} {d['machine_cores_busy'] - ours:.2f}")
    return (
        "machine_cores_busy includes this script's sampling (~0.05 core) and whatever else ran; "
        f"cores busy beyond the fetches and the simulator (over {OTHER_LOAD_CORES}): "
        f"{', '.join(loaded) or 'none'}. No transfer was CPU-bound: fetches and simulator "
        f"together took at most {most:.2f} of {results['cpu_count']} cores while bytes arrived."
    )


def onvif_note(results: dict[str, Any]) -> str:
    d = results["onvif_replay"]
    during = d["runs"][0]["during_transfer"]
    return (
        f"Context, onvif-generic: ONVIF replay (Rate-Control: no) {d['throughput_mbps_median']} "
        f"Mbit/s of MP4 ({during['mbps']} onto disk while it ran), the client "
        f"{during['clients_cores_busy']} cores busy, the simulator {during['server_cores_busy']} "
        f"({d['server_cpu_s_median']} CPU-s a replay): not CPU-bound. 600 MB exceed the "
        "simulator's 512 MiB framed-segment cache, so each replay frames every segment anew, "
        "and it frames the next segment before sending the current one (rtsp_server._send): "
        "the likely cause of what the RTP framing does not explain."
    )


def cpu_model() -> str:
    """The processor as /proc/cpuinfo names it, to tell machines apart in committed results."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return platform.processor()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor()


def settings(repeats: int) -> dict[str, Any]:
    return {
        "link_mbps": LINK_MBPS,
        "bitrate_kbps": BITRATE_KBPS,
        "footage": f"{WIDTH}x{HEIGHT} {FPS} fps H.264 (x264 ultrafast, 2 s GOP), "
        f"{SEGMENT_S} s segments, padded to {BITRATE_KBPS} kbit/s with filler NAL units",
        "profiles": {**{v: p for v, (p, _f) in VENDORS.items()}, "onvif": ONVIF_PROFILE},
        "window_start_utc": ANCHOR.isoformat(),
        "download_window_minutes": WINDOW / timedelta(minutes=1),
        "playback_window_minutes": PLAYBACK / timedelta(minutes=1),
        "four_cameras_window_minutes_each": GROUP / timedelta(minutes=1),
        "onvif_window_minutes": WINDOW / timedelta(minutes=1),
        "repeats": repeats,
        "client": "saksi fetch, one process per fetch, --timezone " + ZONE,
    }


@contextmanager
def devices(config: SimConfig, scratch: Path) -> Iterator[dict[str, Simulator]]:
    """The three simulated devices (vendor -> its simulator), each its own process, at once."""
    profiles = {**{vendor: profile for vendor, (profile, _f) in VENDORS.items()},
                "onvif": ONVIF_PROFILE}  # fmt: skip
    with ExitStack() as stack:
        sims = {}
        for vendor, profile in profiles.items():
            (scratch / f"sim-{vendor}").mkdir()
            device = serving(config, scratch / f"sim-{vendor}", extra_args=device_args(profile))
            sims[vendor] = stack.enter_context(device)
        yield sims


def measure_sections(config: SimConfig, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch_dir, devices(config, Path(scratch_dir)) as sims:
        scratch = Path(scratch_dir)
        a = downloads(sims, scratch, repeats)
        b = playbacks(sims, scratch, repeats)
        return {
            "download": a,
            "playback": b,
            "download_vs_playback": ratios(a, b),
            "four_cameras": four_cameras(sims, scratch, repeats),
            "onvif_replay": onvif_replay(sims["onvif"], scratch, repeats),
        }


def measure(repeats: int) -> dict[str, Any]:
    # Whole hours of retention reaching back past ANCHOR, so the archive covers the windows.
    retention = timedelta(hours=math.ceil((datetime.now(UTC) - ANCHOR) / timedelta(hours=1)) + 24)
    config = sim_config(retention)
    encoded, encode_s = encode_missing(config, wanted_segments())
    compile_project()
    load_before = os.getloadavg()
    started = time.perf_counter()
    sections = measure_sections(config, repeats)
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.python_version()}",
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15_before": [round(x, 2) for x in load_before],
        "load_average_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        "settings": settings(repeats),
        "minutes_encoded_this_run": encoded,
        "encode_s_this_run": round(encode_s, 1),
        "measure_s": round(time.perf_counter() - started, 1),
        **sections,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    results = measure(args.repeats)
    results["targets"] = targets(results)
    results["notes"] = notes(results)
    out = ROOT / "benchmarks" / "results" / "vendor.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["targets"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
