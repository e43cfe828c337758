"""Feeding single RTP packets to the replay client's assembler, as the session does by batch."""

from __future__ import annotations

from nvr_adapters.replay import Assembler
from nvr_adapters.types import AccessUnit


def add(assembler: Assembler, packet: bytes) -> tuple[AccessUnit, str, bool] | None:
    """One RTP packet (interleaved channel 0); the unit it completes, if any."""
    units = list(assembler.units([(0, packet)]))
    assert len(units) <= 1
    return units[0] if units else None
