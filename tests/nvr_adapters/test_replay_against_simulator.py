"""The replay client and writer against the simulator: bit-exact clips, true times, faults."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av
import cv2
import pytest

from nvr_adapters import (
    ClipFacts,
    ClipWriter,
    FetchStats,
    NvrAuthFailed,
    NvrBusy,
    NvrUnreachable,
    ReplayTarget,
    TimeWindow,
    fetch,
)
from nvr_adapters.verify import check_clip, contact_sheet
from nvr_sim import NvrSimulator, SimulatorThread
from tests.nvr_sim.conftest import PASSWORD, USER


def truth(simulator: NvrSimulator, channel: int, window: TimeWindow) -> list[Any]:
    camera = simulator.config.camera(channel)
    return [item.unit for item in simulator.archive.replay(camera, window.start, window.end)]


def mp4_nals(path: Path) -> list[list[bytes]]:
    """The NAL units of every sample of an MP4 (AVCC length-prefixed), in order."""
    samples = []
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            data, nals = bytes(packet), []
            while data:
                size = int.from_bytes(data[:4], "big")
                nals.append(data[4 : 4 + size])
                data = data[4 + size :]
            if nals:
                samples.append(nals)
    return samples


def replay(
    simulator: NvrSimulator, window: TimeWindow, out: Path, *, password: str = PASSWORD,
    path: str = "/onvif/replay/Recording_1", onvif: bool = True,
) -> tuple[FetchStats, ClipFacts]:  # fmt: skip
    target = ReplayTarget(simulator.endpoints.rtsp(path), USER, password, window, onvif=onvif)
    writer = ClipWriter(out)
    stats = asyncio.run(fetch(target, writer, max_resumes=8))
    return stats, writer.close()


def test_an_onvif_replay_is_bit_exact_and_hashed_while_written(
    simulator: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    window = TimeWindow(anchor + timedelta(seconds=3), anchor + timedelta(seconds=23))
    out = tmp_path / "clip.mp4"

    stats, facts = replay(simulator, window, out)

    expected = truth(simulator, 1, window)
    assert facts.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert facts.raw_sha256 == hashlib.sha256(b"".join(u.annexb() for u in expected)).hexdigest()
    assert mp4_nals(out) == [list(u.nals) for u in expected]
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == len(expected) == 105
    assert stats.first == anchor + timedelta(seconds=2)
    assert stats.time_source == "onvif-extension"


@pytest.fixture
def faulty(simulator: NvrSimulator) -> Iterator[NvrSimulator]:
    """A second simulator on the same cached footage, whose faults the test sets."""
    config = dataclasses.replace(simulator.config, faults={})
    faulty = NvrSimulator(config)
    thread = SimulatorThread(faulty)
    thread.start()
    yield faulty
    thread.stop()


def test_a_dropped_connection_resumes_without_loss_or_duplicates(
    faulty: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    faulty.config.faults[1] = {"drop_after_bytes": 30_000}
    window = TimeWindow(anchor + timedelta(seconds=3), anchor + timedelta(seconds=33))
    out = tmp_path / "resumed.mp4"

    stats, facts = replay(faulty, window, out)

    expected = truth(faulty, 1, window)
    assert stats.resumes >= 2
    assert mp4_nals(out) == [list(u.nals) for u in expected]
    assert facts.frames == len(expected)


def test_a_busy_nvr_and_a_wrong_password_are_clear_errors(
    faulty: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    window = TimeWindow(anchor, anchor + timedelta(seconds=5))
    with pytest.raises(NvrAuthFailed, match="refused the credentials"):
        replay(faulty, window, tmp_path / "a.mp4", password="salah")
    faulty.config.faults[1] = {"status": 503}
    with pytest.raises(NvrBusy, match="503"):
        replay(faulty, window, tmp_path / "b.mp4")


def test_vendor_playback_times_come_from_the_sender_report(
    simulator: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    window = TimeWindow(anchor + timedelta(seconds=3), anchor + timedelta(seconds=13))
    s, e = window.start, window.end
    path = f"/Streaming/tracks/101?starttime={s:%Y%m%dT%H%M%SZ}&endtime={e:%Y%m%dT%H%M%SZ}"

    stats, facts = replay(simulator, window, tmp_path / "hik.mp4", path=path, onvif=False)

    assert stats.time_source == "rtcp-sender-report"
    assert facts.first_frame_utc == anchor + timedelta(seconds=2)
    assert facts.frames == len(truth(simulator, 1, window))


def test_saksi_replay_prints_one_json_object(
    simulator: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    start, end = anchor + timedelta(seconds=1), anchor + timedelta(seconds=9)
    out = tmp_path / "cli.mp4"
    url = simulator.endpoints.rtsp("/onvif/replay/Recording_1")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "replay", url,
         "--start", start.isoformat(), "--end", end.isoformat(), "-o", str(out),
         "--username", USER, "--password-stdin"],
        input=PASSWORD + "\n", capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["frames"] == 45  # from the key frame at 0 s to 8.8 s, at 5 fps
    assert summary["first_frame_utc"] == anchor.isoformat()
    assert summary["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert summary["bytes"] == out.stat().st_size
    assert set(summary) >= {"duration_s", "last_frame_utc", "elapsed_s"}


def test_a_clip_is_checked_and_its_gaps_listed(
    simulator: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    """Camera 2 is motion-only: the segment at +30 s is missing from the archive."""
    gap = anchor + timedelta(seconds=30)
    window = TimeWindow(gap - timedelta(seconds=6), gap + timedelta(seconds=16))
    out = tmp_path / "motion.mp4"
    replay(simulator, window, out, path="/onvif/replay/Recording_2")

    check = check_clip(out, window)

    assert check.decoded == check.frames == len(truth(simulator, 2, window))
    assert [(g.start, g.end) for g in check.gaps] == [
        (gap - timedelta(seconds=0.2), gap + timedelta(seconds=10))
    ]
    assert check.first_frame_utc == gap - timedelta(seconds=6)
    assert not check.complete


def test_a_contact_sheet_labels_thumbnails_in_office_time(
    simulator: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    window = TimeWindow(anchor, anchor + timedelta(seconds=10))
    out = tmp_path / "clip.mp4"
    replay(simulator, window, out)

    count = contact_sheet(out, tmp_path / "sheet.jpg", 2.0, ZoneInfo("Asia/Jakarta"))

    image = cv2.imread(str(tmp_path / "sheet.jpg"))
    assert count == 5
    assert image is not None
    assert image.shape == (240 * 2, 320 * 4, 3)  # 5 thumbnails in a 4-column grid
    assert check_clip(out, window).complete


def test_a_stalled_replay_is_given_up_instead_of_waited_for_for_ever(
    faulty: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    """A device that answers PLAY and then sends nothing: resumed, then a clear error."""
    faulty.config.faults[1] = {"stall_seconds": 5}
    window = TimeWindow(anchor, anchor + timedelta(seconds=4))
    url = faulty.endpoints.rtsp("/onvif/replay/Recording_1")
    target = ReplayTarget(url, USER, PASSWORD, window, stall_timeout=0.3)

    try:
        with pytest.raises(NvrUnreachable, match="sent nothing for 0.3 s"):
            asyncio.run(fetch(target, ClipWriter(tmp_path / "stalled.mp4"), max_resumes=1))
    finally:
        faulty.config.faults.pop(1)
