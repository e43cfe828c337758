"""The simulator against a client nobody here wrote: the ffmpeg CLI on vendor playback URLs."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import pytest

from nvr_sim.simulator import NvrSimulator
from tests.nvr_sim.conftest import PASSWORD, USER

WIB = ZoneInfo("Asia/Jakarta")


def ffmpeg_copy(url: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
         "-i", url, "-c", "copy", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def decoded(path: Path) -> tuple[int, float]:
    """Decode every frame; return the count and the span of their timestamps in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(f.time) for f in container.decode(stream) if f.time is not None]
    return len(times), max(times) - min(times)


@pytest.mark.parametrize("style", ["hikvision", "dahua"])
def test_ffmpeg_records_the_requested_length(
    simulator: NvrSimulator, anchor: datetime, tmp_path: Path, style: str
) -> None:
    start, end = anchor + timedelta(seconds=4), anchor + timedelta(seconds=24)
    port = simulator.endpoints.rtsp_port
    if style == "hikvision":
        path = (
            f"/Streaming/tracks/101?starttime={start:%Y%m%dT%H%M%SZ}&endtime={end:%Y%m%dT%H%M%SZ}"
        )
    else:  # Dahua playback is in the device's local time
        s, e = start.astimezone(WIB), end.astimezone(WIB)
        path = (
            f"/cam/playback?channel=1&subtype=0&starttime={s:%Y_%m_%d_%H_%M_%S}"
            f"&endtime={e:%Y_%m_%d_%H_%M_%S}"
        )
    out = tmp_path / "out.mp4"

    result = ffmpeg_copy(f"rtsp://{USER}:{PASSWORD}@127.0.0.1:{port}{path}", out)

    assert result.returncode == 0, result.stderr
    frames, span = decoded(out)
    camera = simulator.config.camera(1)
    expected = list(simulator.archive.replay(camera, start, end))
    assert frames == len(expected) == 100  # 20 s at 5 fps, from the key frame at +4 s
    # ffmpeg leaves the first RTSP packet without a timestamp and muxes it one frame late,
    # so the span may be one frame (0.2 s) short of the 19.8 s between first and last frame.
    assert span == pytest.approx(19.8, abs=0.21)


def test_ffmpeg_is_refused_with_a_wrong_password(
    simulator: NvrSimulator, anchor: datetime, tmp_path: Path
) -> None:
    port = simulator.endpoints.rtsp_port
    url = f"rtsp://{USER}:salah@127.0.0.1:{port}/Streaming/tracks/101?starttime={anchor:%Y%m%dT%H%M%SZ}"

    result = ffmpeg_copy(url, tmp_path / "never.mp4")

    assert result.returncode != 0
    assert "401" in result.stderr
