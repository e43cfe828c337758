"""The replay client against an ONVIF server nobody here wrote: GStreamer's RTSPOnvifServer.

tests/peers/gst_onvif_server.py runs under Debian's /usr/bin/python3 (PyGObject is not in the
venv) and serves an MP4 made here as a camera recording that began at RECORDING_START. The client
asks for a `Range: clock=` window and must get the recording's own frames back: the same NAL
units, at the recording's times, from the key frame before the window to its end.
"""

from __future__ import annotations

import asyncio
import functools
import os
import select
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from nvr_adapters.errors import NvrAuthFailed
from nvr_adapters.h264 import PPS, SPS, nal_type
from nvr_adapters.replay import FetchStats, ReplayTarget, fetch
from nvr_adapters.types import AccessUnit, StreamInfo, TimeWindow
from nvr_adapters.writer import ClipWriter

SYSTEM_PYTHON = Path("/usr/bin/python3")
SERVER = Path(__file__).parents[1] / "peers" / "gst_onvif_server.py"
RECORDING_START = datetime(2026, 3, 14, 2, 30, 0, 250_000, tzinfo=UTC)
FPS, GOP_SECONDS, SECONDS, WIDTH, HEIGHT = 5, 2, 20, 320, 240
USER, PASSWORD = "penyidik", "sandi-rahasia"
MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True)
class SourceFrame:
    time: datetime
    key: bool
    nals: tuple[bytes, ...]


@dataclass(frozen=True)
class Footage:
    path: Path
    parameter_sets: tuple[bytes, ...]
    frames: list[SourceFrame]


@dataclass
class ListSink:
    info: StreamInfo | None = None
    units: list[AccessUnit] = field(default_factory=list)

    def start(self, info: StreamInfo) -> None:
        self.info = info

    def write(self, unit: AccessUnit) -> None:
        self.units.append(unit)


def _system_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


@functools.cache
def gstreamer_missing() -> str | None:
    """Why GStreamer's RTSP server cannot run here, or None when it can."""
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0');"
        "from gi.repository import GstRtspServer"
    )
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} does not exist"
    result = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", probe], capture_output=True, text=True, timeout=60,
        check=False, env=_system_env(),
    )  # fmt: skip
    if result.returncode == 0:
        return None
    why = (result.stderr.strip().splitlines() or ["?"])[-1]
    return (
        f"{SYSTEM_PYTHON} cannot import gi/GstRtspServer ({why}); "
        "install python3-gi and gir1.2-gst-rtsp-server-1.0 (scripts/setup --system)"
    )


def encode(path: Path) -> None:
    """A 20 s recording at 5 fps, a key frame every 2 s, something moving in every frame."""
    keyint = FPS * GOP_SECONDS
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.options = {
            "preset": "ultrafast",
            "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0",
        }
        for index in range(FPS * SECONDS):
            image = np.full((HEIGHT, WIDTH, 3), (40 + index) % 256, dtype=np.uint8)
            x = index * 3 % (WIDTH - 40)
            image[100:140, x : x + 40] = (255, 160, 0)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def split_avcc(data: bytes) -> tuple[bytes, ...]:
    nals = []
    while data:
        size = int.from_bytes(data[:4], "big")
        nals.append(data[4 : 4 + size])
        data = data[4 + size :]
    return tuple(nals)


def avcc_parameter_sets(avcc: bytes) -> tuple[bytes, ...]:
    """SPS and PPS from an MP4's avcC box (ISO/IEC 14496-15)."""
    sets, offset = [], 5
    for count_mask in (0x1F, 0xFF):
        count = avcc[offset] & count_mask
        offset += 1
        for _ in range(count):
            size = int.from_bytes(avcc[offset : offset + 2], "big")
            sets.append(avcc[offset + 2 : offset + 2 + size])
            offset += 2 + size
    return tuple(sets)


def read_back(path: Path) -> Footage:
    """The source as the ground truth: each sample's time (start + pts) and NAL units."""
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        extradata = stream.codec_context.extradata
        assert extradata is not None
        parameter_sets = avcc_parameter_sets(extradata)
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            seconds = Fraction(packet.pts) * packet.time_base
            time = RECORDING_START + timedelta(seconds=float(seconds))
            frames.append(SourceFrame(time, packet.is_keyframe, split_avcc(bytes(packet))))
    return Footage(path, parameter_sets, sorted(frames, key=lambda f: f.time))


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Footage:
    path = tmp_path_factory.mktemp("gst") / "recording.mp4"
    encode(path)
    return read_back(path)


def wait_ready(process: subprocess.Popen[str], log: Path, timeout: float = 30.0) -> int:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("READY "):
        raise RuntimeError(f"GStreamer server did not start: {line!r}\n{log.read_text()}")
    return int(line.split()[1])


@pytest.fixture(scope="module", params=["digest", "basic"])
def server(
    request: pytest.FixtureRequest, footage: Footage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """GStreamer's ONVIF server on a free loopback port; yields the replay URL."""
    if reason := gstreamer_missing():
        pytest.skip(reason)
    log = tmp_path_factory.mktemp("gst-log") / "server.log"
    argv = [
        str(SYSTEM_PYTHON), str(SERVER), str(footage.path), "--start", RECORDING_START.isoformat(),
        "--port", "0", "--mount", "/replay", "--auth", request.param,
        "--username", USER, "--password", PASSWORD,
    ]  # fmt: skip
    with log.open("w") as stderr:
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=_system_env()
        )
    try:
        port = wait_ready(process, log)
        yield f"rtsp://127.0.0.1:{port}/replay"
    finally:
        process.kill()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


def window_of(start_s: float, end_s: float) -> TimeWindow:
    return TimeWindow(
        RECORDING_START + timedelta(seconds=start_s), RECORDING_START + timedelta(seconds=end_s)
    )


def replay(url: str, window: TimeWindow, password: str = PASSWORD) -> tuple[FetchStats, ListSink]:
    sink = ListSink()
    target = ReplayTarget(url, USER, password, window, onvif=True)
    stats = asyncio.run(asyncio.wait_for(fetch(target, sink, max_resumes=0), 60))
    return stats, sink


def expected_frames(footage: Footage, window: TimeWindow) -> list[SourceFrame]:
    """From the last key frame at or before the window start, up to (not including) its end."""
    frames = footage.frames
    first = max(i for i, f in enumerate(frames) if f.key and f.time <= window.start)
    return [f for f in frames[first:] if f.time < window.end]


def split_parameter_sets(unit: AccessUnit) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(SPS/PPS, the picture's own NAL units): GStreamer repeats SPS/PPS in band."""
    sets = tuple(n for n in unit.nals if nal_type(n) in (SPS, PPS))
    return sets, tuple(n for n in unit.nals if nal_type(n) not in (SPS, PPS))


def test_a_clock_range_from_gstreamer_is_the_recording_bit_for_bit(
    server: str, footage: Footage, tmp_path: Path
) -> None:
    window = window_of(6.5, 12.5)

    stats, sink = replay(server, window)

    units, expected = sink.units, expected_frames(footage, window)
    assert units[0].key
    assert units[0].time <= window.start
    assert units[-1].time <= window.end
    assert len(units) == len(expected) == 33  # 6.0 s to 12.4 s at 5 fps
    for unit, frame in zip(units, expected, strict=True):
        assert abs(unit.time - frame.time) <= MILLISECOND
        parameter_sets, picture = split_parameter_sets(unit)
        assert picture == frame.nals
        assert parameter_sets in ((), footage.parameter_sets)
    assert sink.info is not None
    assert sink.info.parameter_sets == footage.parameter_sets
    assert stats.time_source == "onvif-extension"
    assert stats.frames == len(units)
    assert_clip_decodes(sink, tmp_path / "gstreamer.mp4")


def assert_clip_decodes(sink: ListSink, path: Path) -> None:
    assert sink.info is not None
    writer = ClipWriter(path)
    writer.start(sink.info)
    for unit in sink.units:
        writer.write(unit)
    facts = writer.close()
    with av.open(str(path)) as container:
        decoded = [frame for frame in container.decode(video=0)]
    assert len(decoded) == facts.frames == len(sink.units)
    assert (decoded[0].width, decoded[0].height) == (WIDTH, HEIGHT)
    assert facts.first_frame_utc == sink.units[0].time
    assert facts.last_frame_utc == sink.units[-1].time


def test_gstreamers_range_flags_reach_the_units(server: str) -> None:
    """GStreamer sets D (discontinuity) only on the first packet of the first unit and E/T on
    the last packet of the last; the client used to keep only a unit's last packet's flags and
    so lost the D flag."""
    _, sink = replay(server, window_of(2.5, 5.5))

    units = sink.units
    assert units[0].time == RECORDING_START + timedelta(seconds=2)
    assert [u.discontinuity for u in units] == [True] + [False] * (len(units) - 1)
    assert [u.end_of_section for u in units] == [False] * (len(units) - 1) + [True]


def test_gstreamer_refuses_a_wrong_password(server: str) -> None:
    with pytest.raises(NvrAuthFailed, match="refused the credentials"):
        replay(server, window_of(0, 4), password="salah")
