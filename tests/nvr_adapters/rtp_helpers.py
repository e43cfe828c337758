"""Feeding RTP packets to the replay client's assembler, framed as the session hands them on."""

from __future__ import annotations

from nvr_adapters.replay import Assembler
from nvr_adapters.rtsp import FrameRun, Packet
from nvr_adapters.types import AccessUnit


def run(packets: list[Packet]) -> FrameRun:
    """The packets as one run of interleaved frames (`$`, channel, length, packet)."""
    wire = b"".join(b"$" + bytes([c]) + len(p).to_bytes(2, "big") + p for c, p in packets)
    return FrameRun(wire, 0, len(wire))


def add(assembler: Assembler, packet: bytes) -> tuple[AccessUnit, str, bool] | None:
    """One RTP packet (interleaved channel 0); the unit it completes, if any."""
    units = list(assembler.units(run([(0, packet)])))
    assert len(units) <= 1
    return units[0] if units else None
