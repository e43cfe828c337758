"""The devices' native recording files: kept as downloaded (the master), read with FFmpeg.

A vendor download (Hikvision ISAPI, Dahua loadfile) arrives as the device's own file: an MPEG-2
program stream behind Hikvision's 40-byte `IMKH` header, or Dahua's DAV. `MasterWriter` keeps
those bytes exactly as received, hashing them as they are written. `read_units` reads a master
back with FFmpeg's own demuxers (`mpeg`, `dhav`, through PyAV) into access units with their
recording time in UTC, for the stream-copied working MP4 and for hashing the bitstream.

Time on the device timeline (the conventions and their sources are in docs/native-formats.md):

- PS: the PTS, 90 kHz, modulo 2^33, is the unit's UTC time (the simulator's convention; no
  public source says a Hikvision device does so). The wrap is resolved against `anchor` for
  the first unit and against the previous unit after that, so a file may run for days.
- DAV: FFmpeg's `dhav` demuxer times the first frame of each second by its header's local
  date-time (to the second) and the frames after it in that second by the differences of their
  millisecond counters; that local time is read in the device's zone.

A master cut short (a dropped download) yields the units it holds whole and none of the
partial one at its end.
"""

from __future__ import annotations

import io
import itertools
import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal
from zoneinfo import ZoneInfo

import av

from nvr_adapters import h264, h265
from nvr_adapters.errors import ReplayError
from nvr_adapters.types import AccessUnit, StreamInfo
from nvr_adapters.writer import HashingFile

NativeFormat = Literal["mpeg-ps", "dav"]

# FFmpeg's demuxers, by their PyAV names: `mpeg` is libavformat/mpeg.c's mpegps demuxer, which
# recognises the IMKH header itself (mpegps_read_header reads its first bytes and sets
# `imkh_cctv` without seeking back; the start-code search then steps over the rest of the 40
# bytes), so the file goes to it whole. `dhav` is libavformat/dhav.c.
DEMUXERS: dict[NativeFormat, str] = {"mpeg-ps": "mpeg", "dav": "dhav"}
MAGICS: dict[NativeFormat, tuple[bytes, ...]] = {
    "mpeg-ps": (b"IMKH", b"\x00\x00\x01\xba"),  # Hikvision's header, or a bare pack header
    "dav": (b"DHAV", b"DAHUA"),  # a frame, or the 1 KiB file header of an exported .dav
}
NAMES: dict[NativeFormat, str] = {"mpeg-ps": "an MPEG-2 program stream", "dav": "a DAV file"}
VIDEO_CODECS = frozenset({"h264", "hevc"})  # FFmpeg's names, and ours
PARAMETER_SETS = {"h264": (h264.nal_type, (h264.SPS, h264.PPS)),
                  "hevc": (h265.nal_type, h265.PARAMETER_SETS)}  # fmt: skip

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NAIVE_EPOCH = datetime(1970, 1, 1)  # FFmpeg's dhav PTS count local wall-clock milliseconds
PTS_WRAP = 1 << 33
PACK_START = b"\x00\x00\x01\xba"
END_CODE = b"\x00\x00\x01\xb9"
DHAV_HEADER = 24  # through the checksum byte; frame_length is at offset 12

Clock = Callable[[int | None], datetime]


@dataclass(frozen=True)
class MasterFacts:
    path: Path
    format: NativeFormat
    sha256: str
    size: int


class MasterWriter:
    """The device's file as it arrives, written once (never over an existing file), hashed as
    it is written."""

    def __init__(self, path: Path, fmt: NativeFormat) -> None:
        if fmt not in DEMUXERS:
            raise ValueError(f"unknown native format {fmt!r}")
        self.path = path
        self.format: NativeFormat = fmt
        self._file: IO[bytes] = path.open("xb")
        self._hashing = HashingFile(self._file)

    @property
    def bytes_written(self) -> int:
        return self._hashing.size

    def write(self, data: bytes) -> None:
        """Append `data` to the file and to its hash."""
        self._hashing.write(data)

    def close(self) -> MasterFacts:
        """Finish the file (on disk before its hash goes on record) and return its facts."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        digest = self._hashing.sha256.hexdigest()
        return MasterFacts(self.path, self.format, digest, self._hashing.size)


def read_units(
    path: Path, fmt: NativeFormat, *, zone: ZoneInfo, anchor: datetime
) -> tuple[StreamInfo, Iterator[AccessUnit]]:
    """Open a native file with FFmpeg's demuxer: its stream facts and its access units in order.

    `zone` is the device's (DAV headers carry local time); `anchor` is a time near the first
    unit, such as the window asked for, against which a PS file's PTS wrap is resolved.
    """
    if anchor.tzinfo is None:
        raise ValueError("the anchor must be a tz-aware datetime")
    demuxed = _Demuxed(path, fmt)
    try:
        clock = _ps_clock(anchor) if fmt == "mpeg-ps" else _dav_clock(zone, anchor)
        codec = demuxed.codec
        units = (_unit(codec, bytes(packet), clock(packet.pts)) for packet in demuxed.packets())
        head = _through_first_key(units, path)
    except BaseException:
        demuxed.close()
        raise
    info = StreamInfo(codec=codec, parameter_sets=_parameter_sets(codec, head[-1]))
    return info, _closing(demuxed, itertools.chain(head, units))


class _Demuxed:
    """FFmpeg's demuxer on a native file: on all of it, or on the part of a cut PS file that
    ends with a whole unit (FFmpeg's parser would glue the start of a cut unit to the one
    before)."""

    def __init__(self, path: Path, fmt: NativeFormat) -> None:
        _check_magic(path, fmt)
        self.path, self.format = path, fmt
        whole = _ps_whole_part(path) if fmt == "mpeg-ps" else None
        self._source = _Prefix(path, whole) if whole is not None else None
        self._container: Any = None
        try:
            self._container = av.open(self._source or str(path), "r", format=DEMUXERS[fmt])
            self._stream = self._video_stream()
        except av.error.FFmpegError as exc:
            self.close()
            raise ReplayError(f"FFmpeg cannot read {path.name} as {NAMES[fmt]}: {exc}") from exc
        except BaseException:
            self.close()
            raise
        self.codec: str = self._stream.codec_context.name

    def _video_stream(self) -> Any:
        streams = self._container.streams.video
        context = streams[0].codec_context if streams else None
        name = context.name if context is not None else None  # None: a codec it cannot tell
        if name not in VIDEO_CODECS:
            what = f"{name} video, not H.264 or H.265" if name else "no video stream"
            raise ReplayError(f"{self.path.name} holds {what} FFmpeg reads as {NAMES[self.format]}")
        return streams[0]

    def packets(self) -> Iterator[Any]:
        """FFmpeg's packets: whole access units (the PS parser regroups PES payloads)."""
        if self.format == "dav":
            yield from _dav_packets(self._container, self._stream, self.path)
            return
        try:
            yield from (p for p in self._container.demux(self._stream) if p.size)
        except av.error.InvalidDataError as exc:
            raise ReplayError(f"FFmpeg cannot read {self.path.name} to its end: {exc}") from exc

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        if self._source is not None:
            self._source.close()


class _Prefix(io.RawIOBase):
    """The first `size` bytes of a file, read as if the file ended there."""

    def __init__(self, path: Path, size: int) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._size = size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        room = min(len(buffer), self._size - self._file.tell())
        return self._file.readinto(memoryview(buffer)[:room]) if room > 0 else 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            offset, whence = self._size + offset, io.SEEK_SET
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()
        super().close()


def _check_magic(path: Path, fmt: NativeFormat) -> None:
    if fmt not in DEMUXERS:
        raise ValueError(f"unknown native format {fmt!r}")
    with path.open("rb") as file:
        start = file.read(8)
    if not start.startswith(MAGICS[fmt]):
        seen = start.hex(" ") if start else "nothing"
        raise ReplayError(f"{path.name} is not {NAMES[fmt]}: it starts with {seen}")


def _through_first_key(units: Iterator[AccessUnit], path: Path) -> list[AccessUnit]:
    """The units up to the first key unit, whose parameter sets describe the stream."""
    head = []
    for unit in units:
        head.append(unit)
        if unit.key:
            return head
    what = "no key frame" if head else "no whole access unit"
    raise ReplayError(f"{path.name} holds {what}: nothing can be decoded from it")


def _closing(demuxed: _Demuxed, units: Iterator[AccessUnit]) -> Iterator[AccessUnit]:
    try:
        yield from units
    finally:
        demuxed.close()


def _unit(codec: str, data: bytes, time: datetime) -> AccessUnit:
    nals = tuple(split_annexb(data))
    key = any(h264.nal_type(n) == h264.IDR for n in nals) if codec == "h264" else h265.is_key(nals)
    return AccessUnit(time, nals, key)


def split_annexb(data: bytes) -> Iterator[bytes]:
    """The NAL units of Annex-B bytes (3- or 4-byte start codes). A NAL unit never ends in a
    zero byte (H.264 7.4.1, H.265 7.4.2.1), so zeros after one belong to the next start code,
    wherever a demuxer's parser cut between units."""
    for piece in data.split(b"\x00\x00\x01")[1:]:  # what precedes the first start code is none
        nal = piece.rstrip(b"\x00")
        if nal:
            yield nal


def _parameter_sets(codec: str, unit: AccessUnit) -> tuple[bytes, ...]:
    nal_type, kinds = PARAMETER_SETS[codec]
    return tuple(nal for nal in unit.nals if nal_type(nal) in kinds)


# --- MPEG-2 PS -----------------------------------------------------------------------------


def _ps_clock(anchor: datetime) -> Clock:
    """PTS to UTC: 90 kHz ticks since the epoch modulo 2^33, unwrapped to the nearest of the
    previous unit's time (the anchor's, for the first)."""
    near = (anchor - EPOCH) // timedelta(microseconds=1) * 9 // 100

    def clock(pts: int | None) -> datetime:
        nonlocal near
        if pts is None:
            raise ReplayError("a unit of the program stream has no PTS")
        wrapped = pts % PTS_WRAP
        near = wrapped + (near - wrapped + PTS_WRAP // 2) // PTS_WRAP * PTS_WRAP
        return EPOCH + timedelta(microseconds=near * 100 // 9)

    return clock


def _ps_whole_part(path: Path) -> int | None:
    """Where the last unit of a PS file cut short starts (the length of its whole part), or
    None when the file ends where its last pack does.

    Each system header, map and PES packet states its length after its start code, so the
    walk over the last pack's contents lands on the end of the file unless the file was cut.
    `00 00 01 BA` is no H.264 or H.265 start code (its forbidden bit is set): the last in the
    file is the last pack header.
    """
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        last = data.rfind(PACK_START)
        end, starts_unit = _walk_pack(data, last)
        if last < 0 or end == len(data):
            return None
        if end < len(data):  # whole, and what follows is the start of a pack cut inside 00 00 01 BA
            return end if PACK_START.startswith(data[end:]) else None
        while last > 0 and starts_unit is False:  # the pack continues a unit: go back
            last = data.rfind(PACK_START, 0, last)
            starts_unit = _walk_pack(data, last)[1] if last >= 0 else None
        return max(last, 0)


def _walk_pack(data: mmap.mmap, pack: int) -> tuple[int, bool | None]:
    """Where the walk over a pack's packets ends, and whether its video PES carries a PTS (it
    starts a unit); None when the file ends before that shows."""
    pos = pack + 14 + (data[pack + 13] & 0x07 if pack + 14 <= len(data) else 0)
    starts_unit = None
    while pos + 6 <= len(data) and data[pos : pos + 3] == b"\x00\x00\x01":
        if data[pos : pos + 4] == END_CODE:
            pos += 4
            continue
        if data[pos + 3] & 0xF0 == 0xE0 and pos + 8 <= len(data) and starts_unit is None:
            starts_unit = bool(data[pos + 7] & 0x80)  # PTS_DTS_flags
        pos += 6 + int.from_bytes(data[pos + 4 : pos + 6], "big")
    return pos, starts_unit


# --- DAV -------------------------------------------------------------------------------------


def _dav_clock(zone: ZoneInfo, anchor: datetime) -> Clock:
    """FFmpeg's dhav PTS (local wall-clock milliseconds) to UTC in the device's zone; an hour
    that occurs twice (DST ends) is read as the one nearest the previous unit."""
    near = anchor

    def clock(pts: int | None) -> datetime:
        nonlocal near
        if pts is None:
            raise ReplayError("a frame of the DAV file has no time")
        wall = NAIVE_EPOCH + timedelta(milliseconds=pts)
        readings = (wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
        near = min(readings, key=lambda moment: abs(moment - near))
        return near

    return clock


def _dav_packets(container: Any, stream: Any, path: Path) -> Iterator[Any]:
    """FFmpeg's packets, one per DHAV frame, up to a frame the file cuts short: FFmpeg marks
    its packet corrupt, or fails on its header cut in two."""
    last = None
    try:
        for packet in container.demux(stream):
            if packet.is_corrupt:
                return
            if packet.size:  # the demuxer's end-of-stream flush packet is empty
                last = packet
                yield packet
    except av.error.InvalidDataError as exc:
        if last is None or not _dav_cut_after(path, last.pos):
            raise ReplayError(f"FFmpeg cannot read {path.name} as a DAV file: {exc}") from exc


def _dav_cut_after(path: Path, pos: int) -> bool:
    """Whether the file ends inside the frame that follows the frame at `pos`."""
    size = path.stat().st_size
    with path.open("rb") as file:
        file.seek(pos + 12)  # frame_length
        following = pos + int.from_bytes(file.read(4), "little")
        if following + DHAV_HEADER > size:
            return True
        file.seek(following + 12)
        return following + int.from_bytes(file.read(4), "little") > size


__all__ = ["MasterFacts", "MasterWriter", "NativeFormat", "read_units", "split_annexb"]
