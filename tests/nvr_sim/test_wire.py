"""Segments framed once for the wire: a replay's batch is byte for byte what packetising each
unit for that replay makes, and the runs carry the flags `Archive.replay` gives each unit."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from nvr_sim.archive import Archive
from nvr_sim.config import CameraConfig, SimConfig
from nvr_sim.rtp import (
    FLAG_CLEAN,
    FLAG_DISCONTINUITY,
    FLAG_END,
    FLAG_TERMINATION,
    Packetizer,
    onvif_extension,
)
from nvr_sim.rtsp_server import Play, _edge_flags
from nvr_sim.wire import Fill, WireSegment, microseconds, ticks
from tests.nvr_sim.conftest import small_config

CAMERAS = (
    CameraConfig(1, "Kamera 1"),
    CameraConfig(2, "Kamera 2", codec="h265"),
    CameraConfig(3, "Kamera 3", schedule="motion"),
)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> SimConfig:
    return small_config(tmp_path_factory.mktemp("wire"), CAMERAS)


def expected_bytes(
    archive: Archive, camera: CameraConfig, start: datetime, end: datetime, fill: Fill, onvif: bool
) -> bytes:
    """What the server sent before segments were framed once: each unit packetised anew."""
    items = list(archive.replay(camera, start, end))
    packetizer = Packetizer(fill.ssrc, fill.sequence, camera.codec)
    out = []
    for number, item in enumerate(items):
        unit, last = item.unit, number == len(items) - 1
        flags = (FLAG_CLEAN if unit.key else 0) | (FLAG_DISCONTINUITY if item.discontinuity else 0)
        flags |= FLAG_TERMINATION if last else (FLAG_END if item.end_of_section else 0)
        extension = onvif_extension(unit.time, flags, fill.cseq) if onvif else None
        timestamp = fill.base + int(ticks(microseconds(unit.time) - fill.origin_us))
        out.append(packetizer.framed(unit.nals, timestamp, extension))
    return b"".join(out)


def wire_bytes(
    archive: Archive, camera: CameraConfig, start: datetime, end: datetime, fill: Fill, onvif: bool
) -> bytes:
    """The same range through `replay_runs` and `WireSegment.batch`, in batches of 7 units."""
    runs = list(archive.replay_runs(camera, start, end, onvif=onvif))
    play = Play(start, fill.base, start, fill.cseq, onvif, realtime=False, faults={})
    sequence, out = fill.sequence, []
    for number, run in enumerate(runs):
        for lo in range(run.lo, run.hi, 7):
            hi = min(lo + 7, run.hi)
            flags = _edge_flags(run, lo, hi, play, ends=number == len(runs) - 1)
            step = Fill(sequence, fill.ssrc, fill.origin_us, fill.base, fill.cseq)
            batch = run.wire.batch(lo, hi, step, flags)
            assert batch.unit_ends[-1] == len(batch.data)
            sequence += batch.packets
            out.append(batch.data)
    return b"".join(out)


@pytest.mark.parametrize("channel", [1, 2, 3])
@pytest.mark.parametrize("onvif", [True, False])
def test_batches_are_the_units_packetised_for_this_replay(
    config: SimConfig, channel: int, onvif: bool
) -> None:
    """Over 50 s: a start between key frames, several segments, the motion camera's gap (D, E),
    the T flag at the end, sequence numbers wrapping and timestamps past 2^32."""
    archive = Archive(config)
    newest = archive.newest()
    start = newest - timedelta(seconds=60) + timedelta(seconds=3.3)
    end = start + timedelta(seconds=50)
    fill = Fill(sequence=65_500, ssrc=0xDEADBEEF, origin_us=microseconds(start),
                base=(1 << 32) - 2000, cseq=0x1234)  # fmt: skip
    camera = config.camera(channel)

    wire = wire_bytes(archive, camera, start, end, fill, onvif)

    assert wire == expected_bytes(archive, camera, start, end, fill, onvif)
    assert len(wire) > 10_000


def test_a_framed_segment_is_kept_and_reused(config: SimConfig) -> None:
    archive = Archive(config)
    camera, start = config.camera(1), archive.newest() - timedelta(seconds=30)

    first = archive.wire.segment(camera, start, onvif=True)

    assert archive.wire.segment(camera, start, onvif=True) is first
    assert archive.wire.segment(camera, start, onvif=False) is not first
    assert len(first) == config.segment_seconds * config.fps


def test_the_cache_drops_the_least_recently_used_past_its_budget(config: SimConfig) -> None:
    archive = Archive(config)
    camera, newest = config.camera(1), archive.newest()
    starts = [newest - timedelta(seconds=10 * n) for n in range(1, 4)]
    size = len(archive.wire.segment(camera, starts[0], onvif=True).data)
    archive.wire.budget = int(2.5 * size)

    kept = [archive.wire.segment(camera, s, onvif=True) for s in starts]

    assert archive.wire.segment(camera, starts[2], onvif=True) is kept[2]
    assert archive.wire.segment(camera, starts[0], onvif=True) is not kept[0]  # dropped


def test_a_segment_knows_its_clean_points(config: SimConfig) -> None:
    archive = Archive(config)
    camera, seg = config.camera(1), archive.newest() - timedelta(seconds=40)
    units = archive.footage.segment(camera, seg)
    wire = WireSegment(units, camera.codec, onvif=True)

    middle = seg + timedelta(seconds=3.1)
    assert wire.time(wire.clean_point(middle)) == seg + timedelta(seconds=2)
    assert wire.clean_point(seg - timedelta(seconds=1)) == 0
    assert wire.count_before(middle) == sum(u.time < middle for u in units)
    assert [wire.time(i) for i in range(len(wire))] == [u.time for u in units]
