"""RTP packets for H.264 (RFC 6184) and H.265 (RFC 7798) with the ONVIF replay header
extension 0xABAC.

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

H264_FU_A = 28
H265_AP, H265_FU = 48, 49
# NAL unit types of the parameter sets the SDP announces, in the order it lists them.
PARAMETER_SET_TYPES = {"h264": (7, 8), "h265": (32, 33, 34)}

_RTP_HEADER = struct.Struct("!BBHII")
# An RTP header behind its interleaved framing (`$`, channel, length: RFC 2326 §10.12).
_FRAMED_RTP_HEADER = struct.Struct("!cBHBBHII")
_FRAMING = struct.Struct("!cBH")
# The 0xABAC extension: profile, length in 32-bit words, NTP time, flags, CSeq, padding.
_EXTENSION = struct.Struct("!HHQBBH")
_EXTENSION_WORDS = (_EXTENSION.size - 4) // 4


def nal_type(codec: str, nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F if codec == "h265" else nal[0] & 0x1F


def ntp_timestamp(moment: datetime) -> int:
    """A 64-bit NTP timestamp (seconds since 1900 in the high word)."""
    stamp = moment.timestamp()
    seconds = int(stamp) + NTP_EPOCH_OFFSET
    fraction = round((stamp - int(stamp)) * (1 << 32)) & 0xFFFFFFFF
    return (seconds << 32) | fraction


def onvif_extension(moment: datetime, flags: int, cseq: int) -> bytes:
    return _EXTENSION.pack(
        ONVIF_EXTENSION, _EXTENSION_WORDS, ntp_timestamp(moment), flags, cseq & 0xFF, 0
    )


@dataclass
class Packetizer:
    ssrc: int
    sequence: int
    codec: str = "h264"

    def packets(
        self, nals: tuple[bytes, ...], timestamp: int, extension: bytes | None
    ) -> Iterator[bytes]:
        """Packetize one access unit: single NAL packets, fragments for large NAL units, and
        (H.265) small NAL units aggregated."""
        timestamp &= 0xFFFFFFFF
        for first, second, ext, payload in self._packets(nals, extension):
            header = _RTP_HEADER.pack(first, second, self._next(), timestamp, self.ssrc)
            yield header + ext + payload

    def framed(
        self, nals: tuple[bytes, ...], timestamp: int, extension: bytes | None, channel: int = 0
    ) -> bytes:
        """The packets of one access unit framed for the RTSP connection, in one string of bytes
        (one write for a whole frame instead of one per packet)."""
        return b"".join(self.framed_packets(nals, timestamp, extension, channel))

    def framed_packets(
        self, nals: tuple[bytes, ...], timestamp: int, extension: bytes | None, channel: int = 0
    ) -> list[bytes]:
        """The packets of one access unit, each behind its interleaved framing."""
        timestamp &= 0xFFFFFFFF
        packets: list[bytes] = []
        for first, second, ext, payload in self._packets(nals, extension):
            size = _RTP_HEADER.size + len(ext) + len(payload)
            header = _FRAMED_RTP_HEADER.pack(
                b"$", channel, size, first, second, self._next(), timestamp, self.ssrc
            )
            packets.append(header + ext + payload)
        return packets

    def _packets(
        self, nals: tuple[bytes, ...], extension: bytes | None
    ) -> Iterator[tuple[int, int, bytes, bytes]]:
        """The first two header bytes, the extension and the payload of each packet: the
        extension on the first packet, the marker on the last."""
        if self.codec == "h265":
            payloads = list(_h265_payloads(nals))
        else:
            payloads = [p for nal in nals for p in _h264_payloads(nal)]
        last = len(payloads) - 1
        for number, payload in enumerate(payloads):
            ext = extension if number == 0 and extension else b""
            first = 0x80 | (0x10 if ext else 0)  # version 2; X: a header extension follows
            second = (0x80 if number == last else 0) | PAYLOAD_TYPE
            yield first, second, ext, payload

    def _next(self) -> int:
        sequence = self.sequence & 0xFFFF
        self.sequence += 1
        return sequence


def _h264_payloads(nal: bytes) -> Iterator[bytes]:
    if len(nal) <= MAX_PAYLOAD:
        yield nal
        return
    indicator = (nal[0] & 0xE0) | H264_FU_A
    kind = nal[0] & 0x1F
    body = nal[1:]
    chunks = [body[i : i + MAX_PAYLOAD - 2] for i in range(0, len(body), MAX_PAYLOAD - 2)]
    for number, chunk in enumerate(chunks):
        start = 0x80 if number == 0 else 0
        end = 0x40 if number == len(chunks) - 1 else 0
        yield bytes([indicator, start | end | kind]) + chunk


def _h265_payloads(nals: tuple[bytes, ...]) -> Iterator[bytes]:
    """Consecutive small NAL units (VPS, SPS, PPS, SEI…) share an aggregation packet; a NAL unit
    too large for one packet goes in fragmentation units; any other goes alone."""
    group: list[bytes] = []
    for nal in nals:
        fits = len(nal) <= MAX_PAYLOAD
        if group and (not fits or 2 + sum(2 + len(n) for n in [*group, nal]) > MAX_PAYLOAD):
            yield _h265_aggregate(group)
            group = []
        if fits:
            group.append(nal)
        else:
            yield from _h265_fragments(nal)
    if group:
        yield _h265_aggregate(group)


def _h265_aggregate(nals: list[bytes]) -> bytes:
    if len(nals) == 1:
        return nals[0]
    # RFC 7798 §4.4.2: F is the OR of the units' F bits; LayerId and TID are their minimum.
    forbidden = any(n[0] & 0x80 for n in nals)
    layer = min(((n[0] & 1) << 5) | (n[1] >> 3) for n in nals)
    tid = min(n[1] & 0x07 for n in nals)
    first = (0x80 if forbidden else 0) | H265_AP << 1 | layer >> 5
    header = bytes([first, (layer & 0x1F) << 3 | tid])
    return header + b"".join(len(n).to_bytes(2, "big") + n for n in nals)


def _h265_fragments(nal: bytes) -> Iterator[bytes]:
    header = bytes([(nal[0] & 0x81) | H265_FU << 1, nal[1]])
    kind = nal_type("h265", nal)
    body = nal[2:]
    size = MAX_PAYLOAD - 3
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    for number, chunk in enumerate(chunks):
        start = 0x80 if number == 0 else 0
        end = 0x40 if number == len(chunks) - 1 else 0
        yield header + bytes([start | end | kind]) + chunk


def rtcp_sender_report(ssrc: int, moment: datetime, rtp_timestamp: int) -> bytes:
    """An RTCP SR tying an RTP timestamp to wall-clock time, so clients can set timestamps."""
    ntp = ntp_timestamp(moment)
    return struct.pack("!BBHIQIII", 0x80, 200, 6, ssrc, ntp, rtp_timestamp & 0xFFFFFFFF, 0, 0)


def rtcp_bye(ssrc: int) -> bytes:
    """An RTCP BYE: tells the client the stream has ended (ffmpeg then finishes)."""
    return struct.pack("!BBHI", 0x81, 203, 1, ssrc)


def interleaved(channel: int, packet: bytes) -> bytes:
    """Frame an RTP/RTCP packet on the RTSP connection (RFC 2326 §10.12)."""
    return _FRAMING.pack(b"$", channel, len(packet)) + packet
