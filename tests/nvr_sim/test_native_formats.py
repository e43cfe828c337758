"""The simulator's native download files, read by demuxers nobody here wrote: the ffmpeg CLI
(`-f mpeg`, `-f dhav`) and FFmpeg's libavformat through PyAV, compared with the source units."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av
import pytest

from nvr_sim.archive import Archive
from nvr_sim.config import CameraConfig
from nvr_sim.footage import AccessUnit
from nvr_sim.native import dav_stream, ps_stream
from tests.nvr_sim.conftest import small_config

WIB = ZoneInfo("Asia/Jakarta")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEMUXERS = {"ps": "mpeg", "dav": "dhav"}
RAW = {"h264": "h264", "h265": "hevc"}
# A filler NAL unit (H.264 type 12, H.265 type 38) of 200 kB: more than three PES packets.
FILLER = {"h264": b"\x0c" + b"\xff" * 200_000 + b"\x80",
          "h265": b"\x4c\x01" + b"\xff" * 200_000 + b"\x80"}  # fmt: skip

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="needs ffmpeg"
)


def replayed(cache: Path, codec: str, start: datetime, seconds: int = 20) -> list[AccessUnit]:
    """The units a 20-second replay of an archive camera recording `codec` sends."""
    camera = CameraConfig(1, "Kamera 1", codec=codec)  # type: ignore[arg-type]
    archive = Archive(small_config(cache, (camera,)))
    end = start + timedelta(seconds=seconds)
    return [replay.unit for replay in archive.replay(camera, start, end)]


def written(kind: str, units: list[AccessUnit], codec: str) -> list[bytes]:
    if kind == "ps":
        return list(ps_stream(units, codec))
    return list(dav_stream(units, codec, WIB, 1))


def ticks(moment: datetime) -> int:
    """90 kHz ticks since the epoch, modulo 2^33: the PTS convention of the simulator's PS."""
    return (moment - EPOCH) // timedelta(microseconds=1) * 9 // 100 % (1 << 33)


def local_millis(moment: datetime) -> int:
    """FFmpeg's dhav time: milliseconds of the local wall clock, counted as if it were UTC."""
    wall = moment.astimezone(WIB).replace(tzinfo=UTC)
    return (wall - EPOCH) // timedelta(milliseconds=1)


def ffprobe_packets(path: Path, demuxer: str) -> list[tuple[int, int, bool]]:
    """(pts, size, key) of every video packet, as the ffprobe CLI demuxes the file."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-f", demuxer, "-select_streams", "v:0", "-show_packets",
         "-show_entries", "packet=pts,size,flags", "-of", "json", str(path)],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return [(int(p["pts"]), int(p["size"]), p["flags"].startswith("K"))
            for p in json.loads(out)["packets"]]  # fmt: skip


def ffmpeg_copy(path: Path, demuxer: str, raw: str) -> bytes:
    """The elementary stream the ffmpeg CLI copies out of the file (`-c copy -f h264|hevc`)."""
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", demuxer, "-i", str(path),
         "-c", "copy", "-f", raw, "-"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of Annex-B bytes; zeros after a NAL unit belong to the next start code."""
    return [nal for piece in data.split(b"\x00\x00\x01")[1:] if (nal := piece.rstrip(b"\x00"))]


def pyav_packets(path: Path, demuxer: str) -> list[Any]:
    with av.open(str(path), format=demuxer) as container:
        stream = container.streams.video[0]
        return [packet for packet in container.demux(stream) if packet.size]


def mpeg_crc32(data: bytes) -> int:
    """CRC-32/MPEG-2 by way of zlib's reflected CRC-32: reflect the input bytes, undo the final
    inversion, reflect the result (an implementation independent of the simulator's)."""
    reflect = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))
    crc = zlib.crc32(data.translate(reflect)) ^ 0xFFFFFFFF
    return int(f"{crc:032b}"[::-1], 2)


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_the_ps_download_has_the_hikvision_layout(
    sim_cache: Path, anchor: datetime, codec: str
) -> None:
    units = replayed(sim_cache, codec, anchor)
    chunks = written("ps", units, codec)
    stream_type = {"h264": 0x1B, "h265": 0x24}[codec]

    header, packs = chunks[0], chunks[1:]
    assert len(header) == 40
    assert header[:4] == b"IMKH"
    assert struct.unpack_from("<HHHH", header, 4) == (
        0x0101,
        0,
        2,
        0x0100 if codec == "h264" else 5,
    )
    assert len(packs) == len(units)
    for unit, pack in zip(units, packs, strict=True):
        assert pack.startswith(b"\x00\x00\x01\xba")
        has_map = pack[14:18] == b"\x00\x00\x01\xbb"
        assert has_map == unit.key  # system header and PSM at, and only at, key frames
        if unit.key:
            psm = pack[29 : 29 + 6 + int.from_bytes(pack[33:35], "big")]
            assert psm[:4] == b"\x00\x00\x01\xbc"
            assert psm[12:14] == bytes((stream_type, 0xE0))  # the video stream's type
            assert int.from_bytes(psm[-4:], "big") == mpeg_crc32(psm[:-4])


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_the_dav_download_is_dhav_frames(sim_cache: Path, anchor: datetime, codec: str) -> None:
    units = replayed(sim_cache, codec, anchor)
    frames = written("dav", units, codec)

    assert len(frames) == len(units)
    for number, (unit, frame) in enumerate(zip(units, frames, strict=True)):
        kind, channel, sequence, length, date, millis, ext = struct.unpack_from(
            "<4xBxBxIIIHB", frame
        )
        local = unit.time.astimezone(WIB)
        assert frame[:4] == b"DHAV"
        assert frame[-8:] == b"dhav" + len(frame).to_bytes(4, "little")
        assert length == len(frame)
        assert kind == (0xFD if unit.key else 0xFC)
        assert (channel, sequence, frame[23]) == (0, number, sum(frame[:23]) & 0xFF)
        assert date == ((local.year - 2000) << 26 | local.month << 22 | local.day << 17
                        | local.hour << 12 | local.minute << 6 | local.second)  # fmt: skip
        assert millis == local.second * 1000 + local.microsecond // 1000
        # I-frames: picture size in 8-pixel units (0x80), codec and frame rate (0x81).
        codec_id = 0x08 if codec == "h264" else 0x0C
        expected_ext = bytes((0x80, 0, 40, 30, 0x81, 0, codec_id, 5)) if unit.key else b""
        assert frame[24 : 24 + ext] == expected_ext
        assert frame[24 + ext : -8] == unit.annexb()


@needs_ffmpeg
@pytest.mark.parametrize("kind", ["ps", "dav"])
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_the_ffmpeg_cli_reads_every_unit_back(
    sim_cache: Path, anchor: datetime, tmp_path: Path, codec: str, kind: str
) -> None:
    """Same count, same NAL units, same stream bytes, times that map back to the source.

    What differs: the ffmpeg 5.1 CLI's HEVC parser, behind its `mpeg` demuxer, cuts between
    units one byte early, so a packet ends with the first zero of the next unit's 4-byte start
    code and the next begins with a 3-byte one. The NAL units of each packet and the bytes of the
    whole stream are the source's exactly. (PyAV's newer FFmpeg cuts where the units end.)
    """
    units = replayed(sim_cache, codec, anchor)
    path = tmp_path / f"download.{kind}"
    path.write_bytes(b"".join(written(kind, units, codec)))

    packets = ffprobe_packets(path, DEMUXERS[kind])
    stream = ffmpeg_copy(path, DEMUXERS[kind], RAW[codec])

    assert len(packets) == len(units) == 100
    assert stream == b"".join(unit.annexb() for unit in units)
    offset = 0
    for (pts, size, key), unit in zip(packets, units, strict=True):
        assert nal_units(stream[offset : offset + size]) == list(unit.nals)
        offset += size
        assert key == unit.key
        assert pts == (ticks(unit.time) if kind == "ps" else local_millis(unit.time))


@pytest.mark.parametrize("kind", ["ps", "dav"])
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_libavformat_hands_out_the_units_byte_for_byte(
    sim_cache: Path, anchor: datetime, tmp_path: Path, codec: str, kind: str
) -> None:
    units = replayed(sim_cache, codec, anchor)
    path = tmp_path / f"download.{kind}"
    path.write_bytes(b"".join(written(kind, units, codec)))

    packets = pyav_packets(path, DEMUXERS[kind])

    assert [bytes(packet) for packet in packets] == [unit.annexb() for unit in units]
    expected = [ticks(u.time) if kind == "ps" else local_millis(u.time) for u in units]
    assert [packet.pts for packet in packets] == expected
    assert packets[0].is_keyframe


@needs_ffmpeg
@pytest.mark.parametrize("kind", ["ps", "dav"])
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_a_large_filler_unit_is_carried_like_any_other(
    sim_cache: Path, anchor: datetime, tmp_path: Path, codec: str, kind: str
) -> None:
    """A unit of 200 kB (padded with a filler NAL unit) spans four PES packets of the PS."""
    first, *rest = replayed(sim_cache, codec, anchor, seconds=1)
    padded = AccessUnit(first.time, first.key, (*first.nals, FILLER[codec]))
    units = [padded, *rest]
    path = tmp_path / f"padded.{kind}"
    path.write_bytes(b"".join(written(kind, units, codec)))

    packets = pyav_packets(path, DEMUXERS[kind])
    stream = ffmpeg_copy(path, DEMUXERS[kind], RAW[codec])

    assert [bytes(packet) for packet in packets] == [unit.annexb() for unit in units]
    assert stream == b"".join(unit.annexb() for unit in units)
    if kind == "ps":
        assert path.read_bytes().count(b"\x00\x00\x01\xe0") == 4 + len(rest)
