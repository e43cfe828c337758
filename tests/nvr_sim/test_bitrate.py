"""The bitrate model: filler NAL units bring footage to a camera's bitrate, in the archive's own
units (so replays and downloads carry them), while the encoded cache stays as it was."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import av
import pytest

from nvr_sim import CameraConfig, Footage, default_cameras
from nvr_sim.archive import Archive
from nvr_sim.footage import AccessUnit, filler_nal
from nvr_sim.rtp import nal_type
from tests.nvr_sim.conftest import PASSWORD, USER, running, small_config
from tests.nvr_sim.replay_client import ReplayClient, clock

KBPS = 2000
FILLER_TYPE = {"h264": 12, "h265": 38}


def per_second(units: list[AccessUnit], fps: int) -> list[int]:
    """The Annex-B bytes of each whole second of units."""
    sizes = [len(unit.annexb()) for unit in units]
    return [sum(sizes[i : i + fps]) for i in range(0, len(sizes) - fps + 1, fps)]


def decoded_frames(units: list[AccessUnit], codec: str) -> int:
    decoder = av.CodecContext.create("hevc" if codec == "h265" else "h264", "r")
    frames = sum(len(decoder.decode(av.Packet(unit.annexb()))) for unit in units)
    return frames + len(decoder.decode(None))


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_each_second_carries_the_bitrate_and_still_decodes(
    tmp_path: Path, anchor: datetime, codec: str
) -> None:
    camera = CameraConfig(1, "Kamera 1", codec=codec)  # type: ignore[arg-type]
    config = small_config(tmp_path, (camera,), bitrate_kbps=KBPS)
    units = Footage(config).segment(camera, anchor)

    seconds = per_second(units, config.fps)
    assert len(seconds) == config.segment_seconds
    for carried in seconds:
        assert carried * 8 / 1000 == pytest.approx(KBPS, rel=0.05)
    header = b"\x0c" if codec == "h264" else b"\x4c\x01"
    for unit in units:
        filler = unit.nals[-1]
        assert nal_type(codec, filler) == FILLER_TYPE[codec]
        assert filler == header + b"\xff" * (len(filler) - len(header) - 1) + b"\x80"
    assert decoded_frames(units, codec) == len(units)


def test_the_cache_keeps_the_encoded_footage(tmp_path: Path, anchor: datetime) -> None:
    """The filler is added when a segment is loaded: the same each time, and not on disk."""
    camera = CameraConfig(1, "Kamera 1")
    plain = small_config(tmp_path, (camera,))
    padded = dataclasses.replace(plain, bitrate_kbps=KBPS)
    encoded = Footage(plain).segment(camera, anchor)
    cached = {f: f.read_bytes() for f in tmp_path.rglob("*") if f.is_file()}
    first = Footage(padded).segment(camera, anchor)
    again = Footage(padded).segment(camera, anchor)

    assert {f: f.read_bytes() for f in tmp_path.rglob("*") if f.is_file()} == cached
    assert [unit.nals[:-1] for unit in first] == [unit.nals for unit in encoded]
    assert first == again
    # Units share their few filler strings: a padded segment costs little more memory.
    assert len({id(unit.nals[-1]) for unit in first}) < len(first) // 4
    assert filler_nal("h264", 0) == b"\x0c\x80"


def test_the_archive_and_the_replay_carry_the_filler(sim_cache: Path, anchor: datetime) -> None:
    config = small_config(sim_cache, default_cameras(1), bitrate_kbps=KBPS)
    start, end = anchor, anchor + timedelta(seconds=4)
    camera = config.camera(1)
    expected = [item.unit for item in Archive(config).replay(camera, start, end)]
    with running(config) as sim:
        client = ReplayClient(sim.endpoints.rtsp_port, USER, PASSWORD)
        url = sim.endpoints.rtsp("/onvif/replay/Recording_1")
        try:
            client.setup(url)
            client.request(
                "PLAY", url, Range=f"clock={clock(start)}-{clock(end)}", Rate_Control="no"
            )
            units, ended = client.units()
        finally:
            client.close()

    assert ended
    assert all(nal_type("h264", unit.nals[-1]) == 12 for unit in expected)
    assert [unit.nals for unit in units] == [list(unit.nals) for unit in expected]
