"""H.265 end to end: the simulator's HEVC camera through the replay client into an hvc1 MP4, and
the same stream read by ffmpeg, a depacketiser nobody here wrote."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import av
import pytest

from nvr_adapters import (
    AccessUnit,
    ClipFacts,
    ClipWriter,
    FetchStats,
    ReplayError,
    ReplayTarget,
    StreamInfo,
    TimeWindow,
    fetch,
    h264,
    h265,
)
from nvr_adapters.verify import check_clip, frame_times
from nvr_sim import NvrSimulator
from nvr_sim.config import CameraConfig
from nvr_sim.footage import AccessUnit as RecordedUnit
from tests.nvr_adapters.test_replay_against_simulator import mp4_nals
from tests.nvr_sim.conftest import PASSWORD, USER, running, small_config

pytestmark = pytest.mark.skipif(
    "libx265" not in av.codecs_available, reason="this PyAV build has no libx265 to make footage"
)
HEVC, AVC = 1, 2  # channels


@pytest.fixture(scope="module")
def hevc_simulator(sim_cache: Path) -> Iterator[NvrSimulator]:
    """320×240 at 5 fps like the module simulator; channel 1 records H.265, channel 2 H.264."""
    cameras = (CameraConfig(HEVC, "Kamera 1 H.265", codec="h265"), CameraConfig(AVC, "Kamera 2"))
    with running(small_config(sim_cache, cameras)) as simulator:
        yield simulator


def truth(
    simulator: NvrSimulator, channel: int, start: datetime, end: datetime
) -> list[RecordedUnit]:
    camera = simulator.config.camera(channel)
    return [item.unit for item in simulator.archive.replay(camera, start, end)]


def replay(
    simulator: NvrSimulator, channel: int, window: TimeWindow, out: Path
) -> tuple[FetchStats, ClipFacts]:
    url = simulator.endpoints.rtsp(f"/onvif/replay/Recording_{channel}")
    writer = ClipWriter(out)
    stats = asyncio.run(fetch(ReplayTarget(url, USER, PASSWORD, window), writer))
    return stats, writer.close()


def sample_entry(path: Path) -> tuple[str, list[bytes]]:
    """The sample entry's four-character code and the parameter sets in its hvcC or avcC box."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tag, box = stream.codec_tag, stream.codec_context.extradata
    assert box is not None
    if tag == "hvc1":  # hvcC: 22 bytes of profile and sizes, then arrays of NAL units
        offset, arrays, nals = 23, box[22], []
        for _ in range(arrays):
            offset += 3
            for _ in range(int.from_bytes(box[offset - 2 : offset], "big")):
                size = int.from_bytes(box[offset : offset + 2], "big")
                nals.append(box[offset + 2 : offset + 2 + size])
                offset += 2 + size
        return tag, nals
    # avcC: 5 bytes of profile and sizes, then the SPSs and the PPSs, each list counted
    offset, nals = 5, []
    for mask in (0x1F, 0xFF):
        count, offset = box[offset] & mask, offset + 1
        for _ in range(count):
            size = int.from_bytes(box[offset : offset + 2], "big")
            nals.append(box[offset + 2 : offset + 2 + size])
            offset += 2 + size
    return tag, nals


def is_parameter_set(nal: bytes) -> bool:
    return h265.nal_type(nal) in h265.PARAMETER_SETS


def test_an_h265_replay_decodes_completely_is_bit_exact_and_on_time(
    hevc_simulator: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    window = TimeWindow(anchor + timedelta(seconds=3), anchor + timedelta(seconds=7))
    out = tmp_path / "hevc.mp4"

    stats, facts = replay(hevc_simulator, HEVC, window, out)

    expected = truth(hevc_simulator, HEVC, window.start, window.end)
    assert len(expected) == 25  # from the key frame at +2 s to +6.8 s, at 5 fps
    assert facts.raw_sha256 == hashlib.sha256(b"".join(u.annexb() for u in expected)).hexdigest()
    assert facts.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    # hvc1 keeps the parameter sets in the sample entry; every other NAL unit is in the samples.
    tag, parameter_sets = sample_entry(out)
    assert tag == "hvc1"
    assert parameter_sets == [n for n in expected[0].nals if is_parameter_set(n)]
    assert mp4_nals(out) == [[n for n in u.nals if not is_parameter_set(n)] for u in expected]
    times, packets = frame_times(out)  # decodes every frame
    assert times == [u.time for u in expected]
    assert packets == facts.frames == len(expected)
    check = check_clip(out, window)
    assert check.complete
    assert check.decoded == check.frames == len(expected)
    assert (stats.first, stats.last) == (expected[0].time, expected[-1].time)
    assert stats.first == anchor + timedelta(seconds=2)
    assert stats.time_source == "onvif-extension"


@pytest.mark.parametrize(("channel", "tag"), [(HEVC, "hvc1"), (AVC, "avc1")])
def test_the_sample_entry_carries_the_cameras_own_parameter_sets(
    hevc_simulator: NvrSimulator, anchor: datetime, tmp_path: Path, channel: int, tag: str
) -> None:
    """Guards against PyAV's encoder: opened to mux, it put its own parameter sets in the sample
    entry (an H.264 avcC said High profile for a Baseline camera; an H.265 clip did not decode)."""
    window = TimeWindow(anchor, anchor + timedelta(seconds=1))
    out = tmp_path / "entry.mp4"

    replay(hevc_simulator, channel, window, out)

    first = truth(hevc_simulator, channel, window.start, window.end)[0]
    kinds = h265.PARAMETER_SETS if channel == HEVC else (h264.SPS, h264.PPS)
    nal_type = h265.nal_type if channel == HEVC else h264.nal_type
    assert sample_entry(out) == (tag, [n for n in first.nals if nal_type(n) in kinds])


def test_an_hvc1_clip_refuses_parameter_sets_that_change_midway(
    hevc_simulator: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    """The muxer keeps only the sample entry's sets in an hvc1 track: new ones would be lost."""
    units = truth(hevc_simulator, HEVC, anchor, anchor + timedelta(seconds=3))
    first, later = units[0], units[10]
    assert (first.key, later.key) == (True, True)
    changed = tuple(n + b"\x80" if h265.nal_type(n) == h265.PPS else n for n in later.nals)
    writer = ClipWriter(tmp_path / "changed.mp4")
    writer.start(StreamInfo("hevc", ()))
    writer.write(AccessUnit(first.time, first.nals, key=True))

    with pytest.raises(ReplayError, match="parameter sets changed mid-clip"):
        writer.write(AccessUnit(later.time, changed, key=True))
    assert writer.close().frames == 1


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg CLI")
def test_ffmpeg_reads_the_simulators_h265_stream_byte_for_byte(
    hevc_simulator: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    """ffmpeg's own RFC 7798 depacketiser on Hikvision-style playback: checks the packetiser."""
    start, end = anchor + timedelta(seconds=4), anchor + timedelta(seconds=8)
    port = hevc_simulator.endpoints.rtsp_port
    query = f"starttime={start:%Y%m%dT%H%M%SZ}&endtime={end:%Y%m%dT%H%M%SZ}"
    url = f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{port}/Streaming/tracks/{HEVC}01?{query}"
    mp4, annexb = tmp_path / "ffmpeg.mp4", tmp_path / "ffmpeg.hevc"

    result = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
         "-i", url, "-map", "0", "-c", "copy", str(mp4), "-map", "0", "-c", "copy", "-f", "hevc",
         str(annexb)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    expected = truth(hevc_simulator, HEVC, start, end)
    assert len(expected) == 20
    assert annexb.read_bytes() == b"".join(u.annexb() for u in expected)
    # ffmpeg's parser leaves a 4-byte start code's first zero at the end of the unit before it.
    samples = [[n.rstrip(b"\0") for n in nals] for nals in mp4_nals(mp4)]
    assert samples == [list(u.nals) for u in expected]
    with av.open(str(mp4)) as container:
        assert sum(1 for _ in container.decode(video=0)) == len(expected)
