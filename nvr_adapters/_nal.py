"""What the H.264 (RFC 6184) and H.265 (RFC 7798) depacketisers share: NAL units collected per
access unit, and fragments rebuilt only when no packet of theirs went missing."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class NalCollector:
    nals: list[bytes] = field(default_factory=list)
    _fragment: list[bytes] | None = None  # the parts so far, joined once at its end
    _seq: int | None = None

    def _sequence(self, seq: int | None) -> None:
        if seq is not None:
            if self._seq is not None and seq != (self._seq + 1) & 0xFFFF:
                self._fragment = None  # a packet went missing: a half-built NAL unit is garbage
            self._seq = seq

    def _fragment_part(self, header: bytes | None, data: bytes, end: bool) -> None:
        """Add one fragment: `header` (the rebuilt NAL header) starts a unit, `end` closes it."""
        if header is not None:
            self._fragment = [header]
        if self._fragment is None:
            return  # the start was lost: this NAL unit cannot be rebuilt
        self._fragment.append(data)
        if end:
            self.nals.append(b"".join(self._fragment))
            self._fragment = None

    def take(self) -> tuple[bytes, ...]:
        """Return and clear the NAL units of the access unit just completed."""
        nals, self.nals, self._fragment = tuple(self.nals), [], None
        return nals
