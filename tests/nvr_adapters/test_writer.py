"""The clip writer's hashes against hashlib over what it wrote, across many digest batches."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from nvr_adapters.types import AccessUnit, StreamInfo
from nvr_adapters.writer import ClipWriter

START = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def encoded_units(count: int) -> list[AccessUnit]:
    """`count` frames of 320x240 H.264 (a key frame every 10), as a camera's access units."""
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuv420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = {"preset": "ultrafast", "g": "10", "bframes": "0"}
    rng = np.random.default_rng(7)
    packets = []
    for number in range(count):
        picture = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = number
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    units = []
    for number, packet in enumerate(packets):
        nals = tuple(n for n in bytes(packet).split(b"\x00\x00\x00\x01") if n)
        time = START + timedelta(milliseconds=40 * number)
        units.append(AccessUnit(time, nals, packet.is_keyframe))
    return units


def test_both_hashes_are_those_of_the_bytes_written(tmp_path: Path) -> None:
    """The file's SHA-256, computed as it was written, is that of the file on disk; the raw one
    is that of the units given, in Annex-B; and every unit is in the file."""
    units = encoded_units(40)
    writer = ClipWriter(tmp_path / "clip.mp4")
    writer.start(StreamInfo("h264", ()))
    for unit in units:
        writer.write(unit)
    facts = writer.close()

    assert facts.sha256 == hashlib.sha256((tmp_path / "clip.mp4").read_bytes()).hexdigest()
    assert facts.raw_sha256 == hashlib.sha256(b"".join(u.annexb() for u in units)).hexdigest()
    with av.open(str(tmp_path / "clip.mp4")) as clip:
        copied = [bytes(p) for p in clip.demux(video=0) if p.size]
    assert len(copied) == len(units)
