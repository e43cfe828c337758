"""The clip's elementary-stream hash is what stock FFmpeg prints (issue 20): the recipient's
command, run here for real, against clips Saksi wrote (H.264 and H.265 from replays of the
simulator) and MP4s another muxer wrote (parameter sets only in avcC/hvcC, so the filters'
insertion paths are exercised)."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from nvr_adapters import TimeWindow
from nvr_adapters.annexb import elementary_stream_sha256
from nvr_sim import NvrSimulator
from tests.nvr_adapters.test_replay_h265 import AVC, HEVC, hevc_simulator, replay
from tests.nvr_sim.conftest import anchor, sim_cache

__all__ = ["anchor", "hevc_simulator", "sim_cache"]


def stock_ffmpeg(clip: Path, codec: str) -> str:
    """Run the command VERIFIKASI.txt gives the recipient; return the hash it prints."""
    command = elementary_stream_sha256(clip).command(str(clip))
    done = subprocess.run(command, shell=True, capture_output=True, text=True, check=True)  # noqa: S602
    assert f"{codec}_mp4toannexb" in command
    return done.stdout.split()[0]


@pytest.mark.parametrize(("channel", "codec"), [(AVC, "h264"), (HEVC, "hevc")])
def test_clips_saksi_wrote_hash_as_ffmpeg_writes_them(
    hevc_simulator: NvrSimulator, anchor: datetime, tmp_path: Path, channel: int, codec: str
) -> None:
    window = TimeWindow(anchor + timedelta(seconds=3), anchor + timedelta(seconds=13))
    clip = tmp_path / f"{codec}.mp4"
    _stats, facts = replay(hevc_simulator, channel, window, clip)
    ours = elementary_stream_sha256(clip)
    assert ours.codec == codec
    assert ours.sha256 == stock_ffmpeg(clip, codec)
    assert ours.sha256 != facts.raw_sha256  # a different byte form, both recorded


@pytest.mark.parametrize(("encoder", "codec"), [("libx264", "h264"), ("libx265", "hevc")])
def test_mp4s_with_parameter_sets_only_in_the_sample_entry(
    tmp_path: Path, encoder: str, codec: str
) -> None:
    if encoder not in av.codecs_available:
        pytest.skip(f"this PyAV build has no {encoder}")
    clip = tmp_path / f"{encoder}.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream(encoder, rate=5)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 5)
        stream.options = {"g": "4"}  # several IDR/IRAP pictures
        for n in range(12):
            pixels = np.full((120, 160, 3), n * 20 % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = n
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert elementary_stream_sha256(clip).sha256 == stock_ffmpeg(clip, codec)
    assert hashlib.sha256(clip.read_bytes()).hexdigest()  # the file itself is another matter
