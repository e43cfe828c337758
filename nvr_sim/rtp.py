"""RTP packets for H.264 (RFC 6184) with the ONVIF replay header extension 0xABAC.

The extension rides on the first packet of every access unit: a 64-bit NTP timestamp of the
frame's recording time, then a byte of flags — C (0x80) clean point, E (0x40) last unit before a
gap, D (0x20) first unit after a discontinuity, T (0x10) the end of the requested range — then
the low byte of the PLAY request's CSeq and two bytes of padding.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

NTP_EPOCH_OFFSET = 2_208_988_800
ONVIF_EXTENSION = 0xABAC
MAX_PAYLOAD = 1400
PAYLOAD_TYPE = 96

FLAG_CLEAN = 0x80
FLAG_END = 0x40
FLAG_DISCONTINUITY = 0x20
FLAG_TERMINATION = 0x10


def ntp_timestamp(moment: datetime) -> int:
    """A 64-bit NTP timestamp (seconds since 1900 in the high word)."""
    stamp = moment.timestamp()
    seconds = int(stamp) + NTP_EPOCH_OFFSET
    fraction = round((stamp - int(stamp)) * (1 << 32)) & 0xFFFFFFFF
    return (seconds << 32) | fraction


def onvif_extension(moment: datetime, flags: int, cseq: int) -> bytes:
    body = struct.pack("!QBBH", ntp_timestamp(moment), flags, cseq & 0xFF, 0)
    return struct.pack("!HH", ONVIF_EXTENSION, len(body) // 4) + body


@dataclass
class Packetizer:
    ssrc: int
    sequence: int

    def packets(
        self, nals: tuple[bytes, ...], timestamp: int, extension: bytes | None
    ) -> Iterator[bytes]:
        """Packetize one access unit: single NAL packets, FU-A for large NAL units."""
        payloads = [p for nal in nals for p in _payloads(nal)]
        for number, payload in enumerate(payloads):
            last = number == len(payloads) - 1
            ext = extension if number == 0 else None
            yield self._packet(payload, timestamp, marker=last, extension=ext)

    def _packet(
        self, payload: bytes, timestamp: int, *, marker: bool, extension: bytes | None
    ) -> bytes:
        first = 0x80 | (0x10 if extension else 0)
        second = (0x80 if marker else 0) | PAYLOAD_TYPE
        header = struct.pack(
            "!BBHII", first, second, self.sequence & 0xFFFF, timestamp & 0xFFFFFFFF, self.ssrc
        )
        self.sequence += 1
        return header + (extension or b"") + payload


def _payloads(nal: bytes) -> Iterator[bytes]:
    if len(nal) <= MAX_PAYLOAD:
        yield nal
        return
    indicator = (nal[0] & 0xE0) | 28  # FU-A
    kind = nal[0] & 0x1F
    body = nal[1:]
    chunks = [body[i : i + MAX_PAYLOAD - 2] for i in range(0, len(body), MAX_PAYLOAD - 2)]
    for number, chunk in enumerate(chunks):
        start = 0x80 if number == 0 else 0
        end = 0x40 if number == len(chunks) - 1 else 0
        yield bytes([indicator, start | end | kind]) + chunk


def rtcp_sender_report(ssrc: int, moment: datetime, rtp_timestamp: int) -> bytes:
    """An RTCP SR tying an RTP timestamp to wall-clock time, so clients can set timestamps."""
    ntp = ntp_timestamp(moment)
    return struct.pack("!BBHIQIII", 0x80, 200, 6, ssrc, ntp, rtp_timestamp & 0xFFFFFFFF, 0, 0)


def rtcp_bye(ssrc: int) -> bytes:
    """An RTCP BYE: tells the client the stream has ended (ffmpeg then finishes)."""
    return struct.pack("!BBHI", 0x81, 203, 1, ssrc)


def interleaved(channel: int, packet: bytes) -> bytes:
    """Frame an RTP/RTCP packet on the RTSP connection (RFC 2326 §10.12)."""
    return struct.pack("!cBH", b"$", channel, len(packet)) + packet
