"""The devices' native recording files, as the simulator's downloads send them.

Hikvision answers an ISAPI download with an MPEG-2 program stream (ISO/IEC 13818-1 §2.5.3)
behind its 40-byte `IMKH` media-information header; Dahua answers `loadfile.cgi` with DAV:
`DHAV` frames, one per coded picture. Both are written here from the simulator's access units,
byte for byte the way FFmpeg's own demuxers (`mpeg`, `dhav`) read them. The layouts, the sources
they come from, and the time conventions (which are the simulator's where no public source says
what a device does) are in docs/native-formats.md.

Time: a PS unit's PTS is its UTC time in 90 kHz ticks modulo 2^33 (a reader resolves the wrap
against a time it knows to be near); a DAV frame carries its local date-time to the second and
the milliseconds since the start of that local minute. Both are exact for units at whole
milliseconds.
"""

from __future__ import annotations

import functools
import itertools
import struct
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import av

from nvr_sim.footage import AccessUnit

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PTS_WRAP = 1 << 33  # PTS and SCR are 33-bit fields
US = timedelta(microseconds=1)

# --- MPEG-2 PS (Hikvision) ----------------------------------------------------------------

# HIK_MEDIAINFO (PlayM4 `plaympeg4.h`): fourcc "IMKH" on disk, version 1.01, device id,
# system format 2 (MPEG-2 PS), video format, audio format 0 (none), then audio fields and 16
# reserved bytes, little-endian, 40 bytes in all.
IMKH = struct.Struct("<4sHHHHHBBII16x")
SYSTEM_MPEG2_PS = 0x0002
# codec: (PSM stream_type per ISO/IEC 13818-1 table 2-34, HIK_MEDIAINFO video_format)
PS_CODECS = {"h264": (0x1B, 0x0100), "h265": (0x24, 0x0005)}
VIDEO_STREAM_ID = 0xE0
PACK_START, SYSTEM_START, PSM_START = b"\x00\x00\x01\xba", b"\x00\x00\x01\xbb", b"\x00\x00\x01\xbc"
PES_START = b"\x00\x00\x01" + bytes([VIDEO_STREAM_ID])
# program_mux_rate in units of 50 bytes/s: 4 Mbit/s, what a camera of the simulator sends.
MUX_RATE = 10_000
# The system clock reference runs 40 ms ahead of the PTS, as the packet must arrive before
# it is presented (the same lead the public PS muxers use).
SCR_LEAD = 3600
# PES_packet_length is 16 bits: what follows it fits 65535 bytes, headers included.
PES_MAX = 0xFFFF
FIRST_PES_PAYLOAD = PES_MAX - 13  # flags (3) and PTS+DTS (10)
NEXT_PES_PAYLOAD = PES_MAX - 3  # flags only

# --- DAV (Dahua) ------------------------------------------------------------------------------

DHAV_HEADER = struct.Struct("<4sBBBBIIIHB")  # 23 bytes; the checksum byte follows
DHAV_TRAILER = struct.Struct("<4sI")
I_FRAME, P_FRAME = 0xFD, 0xFC
# Video codec byte of the 0x81 extension, as FFmpeg's dhav demuxer maps it (2, 4, 8: H.264).
DAV_CODECS = {"h264": 0x08, "h265": 0x0C}


def ps_stream(units: Iterable[AccessUnit], codec: str) -> Iterator[bytes]:
    """Yield a Hikvision download of `units`: the IMKH header, then one pack per access unit."""
    stream_type, video_format = _ps_codec(codec)
    yield IMKH.pack(b"IMKH", 0x0101, 0, SYSTEM_MPEG2_PS, video_format, 0, 0, 0, 0, 0)
    for unit in units:
        yield ps_unit(unit, stream_type)


def ps_unit(unit: AccessUnit, stream_type: int) -> bytes:
    """One access unit as a pack: system header and PSM at key frames, then its PES packets."""
    pts = pts_of(unit.time)
    parts: list[bytes | memoryview] = [_pack_header((pts - SCR_LEAD) % PTS_WRAP)]
    if unit.key:
        parts += (_system_header(), _psm(stream_type))
    parts += _pes_packets(unit.annexb(), pts)
    return b"".join(parts)


def pts_of(moment: datetime) -> int:
    """The simulator's PTS of a moment: its UTC time in 90 kHz ticks, modulo 2^33."""
    micros = (moment - EPOCH) // US
    return micros * 9 // 100 % PTS_WRAP


def _ps_codec(codec: str) -> tuple[int, int]:
    if codec not in PS_CODECS:
        raise ValueError(f"a PS download carries h264 or h265, not {codec!r}")
    return PS_CODECS[codec]


def _pack_header(scr: int) -> bytes:
    """An MPEG-2 pack header (14 bytes, no stuffing) with system clock reference `scr`."""
    clock = bytes(
        (
            0x44 | (scr >> 27) & 0x38 | (scr >> 28) & 0x03,
            (scr >> 20) & 0xFF,
            0x04 | (scr >> 12) & 0xF8 | (scr >> 13) & 0x03,
            (scr >> 5) & 0xFF,
            0x04 | (scr << 3) & 0xF8,  # the 9-bit extension is 0
            0x01,
        )
    )
    return PACK_START + clock + (MUX_RATE << 2 | 0x03).to_bytes(3, "big") + b"\xf8"


@functools.cache
def _system_header() -> bytes:
    """The system header: rate bound, one video stream, its buffer bound (scale 1 KiB)."""
    rate = (1 << 23 | MUX_RATE << 1 | 1).to_bytes(3, "big")
    # audio_bound 0, video_bound 1, both locks set; P-STD buffer bound 1 MiB for stream 0xE0.
    body = rate + b"\x00\xe1\x7f" + bytes((VIDEO_STREAM_ID, 0xE0 | 0x20 | 0x04, 0x00))
    return SYSTEM_START + len(body).to_bytes(2, "big") + body


@functools.cache
def _psm(stream_type: int) -> bytes:
    """The program stream map naming the video stream's type, with its CRC-32."""
    entry = bytes((stream_type, VIDEO_STREAM_ID)) + b"\x00\x00"  # no descriptors
    # current_next_indicator 1, version 0; no program_stream_info.
    body = b"\xa0\xff" + b"\x00\x00" + len(entry).to_bytes(2, "big") + entry
    head = PSM_START + (len(body) + 4).to_bytes(2, "big") + body
    return head + mpeg_crc32(head).to_bytes(4, "big")


def _pes_packets(payload: bytes, pts: int) -> list[bytes | memoryview]:
    """The PES packets of one access unit; the first carries PTS and DTS (equal: no B-frames)."""
    view = memoryview(payload)
    first = view[:FIRST_PES_PAYLOAD]
    stamps = _timestamp(0x30, pts) + _timestamp(0x10, pts)
    # data_alignment_indicator on the first: its payload starts with an access unit.
    parts: list[bytes | memoryview] = [
        PES_START + struct.pack(">HBBB", len(first) + 13, 0x84, 0xC0, 10) + stamps,
        first,
    ]
    for offset in range(FIRST_PES_PAYLOAD, len(view), NEXT_PES_PAYLOAD):
        piece = view[offset : offset + NEXT_PES_PAYLOAD]
        parts += (PES_START + struct.pack(">HBBB", len(piece) + 3, 0x80, 0x00, 0), piece)
    return parts


def _timestamp(prefix: int, ticks: int) -> bytes:
    """A 33-bit PTS or DTS in its five bytes, with the marker bits."""
    return bytes(
        (
            prefix | (ticks >> 29) & 0x0E | 0x01,
            (ticks >> 22) & 0xFF,
            (ticks >> 14) & 0xFE | 0x01,
            (ticks >> 7) & 0xFF,
            (ticks << 1) & 0xFE | 0x01,
        )
    )


@functools.cache
def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


def mpeg_crc32(data: bytes) -> int:
    """CRC-32/MPEG-2 (polynomial 0x04C11DB7, not reflected, initial all ones) of `data`."""
    table, crc = _crc_table(), 0xFFFFFFFF
    for byte in data:  # only the PSM's few bytes, once per codec
        crc = (crc << 8 & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return crc


def dav_stream(
    units: Iterable[AccessUnit], codec: str, zone: ZoneInfo, channel: int
) -> Iterator[bytes]:
    """Yield a Dahua download of `units`: one DHAV frame per access unit."""
    if codec not in DAV_CODECS:
        raise ValueError(f"a DAV download carries h264 or h265, not {codec!r}")
    ahead = iter(units)
    head = list(itertools.islice(ahead, 2))  # the frame rate, in every I-frame's header
    extension = b""
    for number, unit in enumerate(itertools.chain(head, ahead)):
        if unit.key and not extension:
            extension = _dav_extension(unit, codec, _frame_rate(head))
        local = unit.time.astimezone(zone)
        yield dav_frame(unit, number, local, extension if unit.key else b"", channel)


def _frame_rate(head: list[AccessUnit]) -> int:
    step = (head[1].time - head[0].time).total_seconds() if len(head) == 2 else 0
    return min(round(1 / step), 255) if step > 0 else 25


def dav_frame(unit: AccessUnit, number: int, local: datetime, ext: bytes, channel: int) -> bytes:
    """One DHAV frame: header (with extension), the unit in Annex-B form, `dhav` trailer."""
    payload = unit.annexb()
    length = DHAV_HEADER.size + 1 + len(ext) + len(payload) + DHAV_TRAILER.size
    millis = local.second * 1000 + local.microsecond // 1000  # since the local minute began
    head = DHAV_HEADER.pack(
        b"DHAV", I_FRAME if unit.key else P_FRAME, 0, max(channel - 1, 0), 0,
        number & 0xFFFFFFFF, length, dav_date(local), millis, len(ext),
    )  # fmt: skip
    checksum = bytes((sum(head) & 0xFF,))
    return b"".join((head, checksum, ext, payload, DHAV_TRAILER.pack(b"dhav", length)))


def dav_date(local: datetime) -> int:
    """The packed local date-time of a DHAV header (to the second; years 2000-2063)."""
    return (
        (local.year - 2000) << 26
        | local.month << 22
        | local.day << 17
        | local.hour << 12
        | local.minute << 6
        | local.second
    )


def _dav_extension(unit: AccessUnit, codec: str, fps: int) -> bytes:
    """The I-frame header extension: picture size (0x80, or 0x82 beyond 2040), codec and rate."""
    width, height = picture_size(unit, codec)
    if width % 8 or height % 8 or max(width, height) > 2040:
        size = struct.pack("<BxxxHH", 0x82, width, height)
    else:
        size = bytes((0x80, 0, width // 8, height // 8))
    return size + bytes((0x81, 0, DAV_CODECS[codec], fps))


def picture_size(unit: AccessUnit, codec: str) -> tuple[int, int]:
    """The coded picture size of a key unit, by decoding it once (its SPS would tell the same)."""
    decoder = av.CodecContext.create("hevc" if codec == "h265" else "h264", "r")
    for frame in (*decoder.decode(av.Packet(unit.annexb())), *decoder.decode(None)):
        return int(frame.width), int(frame.height)
    raise ValueError("the first key unit does not decode")
