"""H.264 over RTP (RFC 6184): single NAL unit packets, STAP-A and FU-A, into access units."""

from __future__ import annotations

from nvr_adapters._nal import NalCollector
from nvr_adapters.errors import ReplayError

STAP_A, FU_A = 24, 28
IDR, SPS, PPS = 5, 7, 8


def nal_type(nal: bytes) -> int:
    return nal[0] & 0x1F


class Depacketizer(NalCollector):
    """Collects the NAL units of RTP payloads; a lost FU-A fragment drops that NAL unit."""

    def push(self, payload: bytes, seq: int | None = None) -> None:
        self._sequence(seq)
        if not payload:
            return
        kind = payload[0] & 0x1F  # nal_type(), inline: once per packet
        if kind == FU_A:
            self._fu_a(payload)
        elif 1 <= kind <= 23:
            self.nals.append(payload)
        elif kind == STAP_A:
            self._stap_a(payload[1:])
        else:
            raise ReplayError(f"unsupported H.264 RTP payload type {kind}")

    def _stap_a(self, body: bytes) -> None:
        offset = 0
        while offset + 2 <= len(body):
            size = int.from_bytes(body[offset : offset + 2], "big")
            self.nals.append(body[offset + 2 : offset + 2 + size])
            offset += 2 + size

    def _fu_a(self, payload: bytes) -> None:
        header = payload[1]
        start = bytes([(payload[0] & 0xE0) | (header & 0x1F)]) if header & 0x80 else None
        self._fragment_part(start, payload[2:], end=bool(header & 0x40))
