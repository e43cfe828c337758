"""H.265 over RTP (RFC 7798): single NAL unit packets, aggregation packets (AP) and
fragmentation units (FU), into access units.

Only streams without decoding order numbers are understood: `sprop-max-don-diff` absent or 0, so
no DONL/DOND fields precede the NAL units. A device that announces otherwise may send pictures
out of decoding order, and is refused at DESCRIBE rather than written as a scrambled clip.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from nvr_adapters._nal import NalCollector
from nvr_adapters.errors import ReplayError

AP, FU, PACI = 48, 49, 50
VPS, SPS, PPS = 32, 33, 34
PARAMETER_SETS = (VPS, SPS, PPS)
# Intra random access points (BLA, IDR, CRA and the reserved IRAP types): a decoder can start here.
IRAP = range(16, 24)


def nal_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F


def is_key(nals: tuple[bytes, ...]) -> bool:
    """Whether the access unit is a random access point (a clip may start at it)."""
    return any(nal_type(n) in IRAP for n in nals)


def sdp_parameter_sets(fmtp: Mapping[str, str]) -> tuple[bytes, ...]:
    """VPS, SPS and PPS from the SDP's fmtp; refuse streams that carry decoding order numbers."""
    don_diff = fmtp.get("sprop-max-don-diff", "0").strip() or "0"
    if not don_diff.isdigit():
        raise ReplayError(f"unreadable H.265 sprop-max-don-diff={don_diff!r} in the SDP")
    if int(don_diff) > 0:
        raise ReplayError(
            f"the device sends H.265 with decoding order numbers (sprop-max-don-diff={don_diff}),"
            " which this client does not support"
        )
    sets = []
    for name in ("sprop-vps", "sprop-sps", "sprop-pps"):
        sets += [base64.b64decode(p) for p in fmtp.get(name, "").split(",") if p.strip()]
    return tuple(sets)


class Depacketizer(NalCollector):
    """Collects the NAL units of RTP payloads; a lost FU fragment drops that NAL unit."""

    def push(self, payload: bytes, seq: int | None = None) -> None:
        self._sequence(seq)
        if not payload:
            return
        if len(payload) < 3:
            raise ReplayError(f"H.265 RTP payload of {len(payload)} bytes is too short")
        kind = nal_type(payload)
        if kind == AP:
            self._aggregation(payload[2:])
        elif kind == FU:
            self._fragmentation(payload)
        elif kind < AP:
            self.nals.append(payload)
        else:
            raise ReplayError(f"unsupported H.265 RTP payload type {kind}")

    def _aggregation(self, body: bytes) -> None:
        offset, units = 0, []
        while offset < len(body):
            size = int.from_bytes(body[offset : offset + 2], "big")
            if size < 2 or offset + 2 + size > len(body):
                raise ReplayError("malformed H.265 aggregation packet")
            units.append(body[offset + 2 : offset + 2 + size])
            offset += 2 + size
        self.nals += units

    def _fragmentation(self, payload: bytes) -> None:
        header = payload[2]
        start = None
        if header & 0x80:
            # The NAL header is the payload header with the fragment's own type put back.
            start = bytes([(payload[0] & 0x81) | ((header & 0x3F) << 1), payload[1]])
        self._fragment_part(start, payload[3:], end=bool(header & 0x40))
