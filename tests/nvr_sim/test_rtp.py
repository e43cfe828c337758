"""The simulator's packetiser: a whole frame framed in one string is its packets, one by one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nvr_sim.rtp import MAX_PAYLOAD, Packetizer, interleaved, onvif_extension

H264_UNIT = (b"\x67" + b"\x42" * 20, b"\x68\xce\x3c\x80", b"\x65" + bytes(range(256)) * 12)
H265_UNIT = (
    b"\x40\x01" + b"\x0c" * 22,
    b"\x42\x01" + b"\x01" * 40,
    b"\x44\x01\xc0\x73",
    b"\x26\x01" + bytes(range(256)) * 12,
    b"\x02\x01" + b"\x55" * 300,
)


@pytest.mark.parametrize(("codec", "nals"), [("h264", H264_UNIT), ("h265", H265_UNIT)])
@pytest.mark.parametrize("extended", [True, False])
def test_a_framed_unit_is_its_packets_interleaved(
    codec: str, nals: tuple[bytes, ...], extended: bool
) -> None:
    """One write per frame: the joined bytes must be exactly what a write per packet sent,
    sequence numbers wrapping past 65535 and timestamps past 2^32 included."""
    extension = onvif_extension(datetime(2026, 11, 30, tzinfo=UTC), 0x80, 7) if extended else None
    timestamp = (1 << 32) + 1234
    one_by_one = Packetizer(ssrc=0xDEADBEEF, sequence=65_534, codec=codec)
    framed = Packetizer(ssrc=0xDEADBEEF, sequence=65_534, codec=codec)

    packets = list(one_by_one.packets(nals, timestamp, extension))

    assert len(packets) > 3  # fragments, so the sequence wraps within the frame
    assert max(len(p) for p in packets) <= 12 + 16 + MAX_PAYLOAD
    assert framed.framed(nals, timestamp, extension) == b"".join(
        interleaved(0, packet) for packet in packets
    )
    assert framed.sequence == one_by_one.sequence
