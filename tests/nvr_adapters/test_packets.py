"""Hand-built RTP packets: H.264 depacketisation, the ONVIF 0xABAC extension, replay ranges."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

from nvr_adapters.h264 import Depacketizer
from nvr_adapters.replay import CODECS, NTP_EPOCH_OFFSET, Assembler, _Clock, _clock
from tests.nvr_adapters.rtp_helpers import add, run

SPS = bytes([0x67, 0x42, 0xC0, 0x1E, 0xD9])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
IDR = bytes([0x65]) + bytes(range(1, 200))
SLICE = bytes([0x41, 0x9A, 0x02, 0x03])


def fu_a(nal: bytes, size: int) -> list[bytes]:
    """Split one NAL unit into FU-A payloads of at most `size` body bytes."""
    indicator = (nal[0] & 0xE0) | 28
    body = nal[1:]
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    payloads = []
    for index, chunk in enumerate(chunks):
        header = nal[0] & 0x1F
        header |= 0x80 if index == 0 else 0
        header |= 0x40 if index == len(chunks) - 1 else 0
        payloads.append(bytes([indicator, header]) + chunk)
    return payloads


def stap_a(*nals: bytes) -> bytes:
    return bytes([24]) + b"".join(len(n).to_bytes(2, "big") + n for n in nals)


def test_single_nal_unit_packets_pass_through() -> None:
    depacketizer = Depacketizer()
    depacketizer.push(SLICE, 1)
    depacketizer.push(PPS, 2)
    assert depacketizer.take() == (SLICE, PPS)
    assert depacketizer.take() == ()


def test_stap_a_yields_each_aggregated_unit() -> None:
    depacketizer = Depacketizer()
    depacketizer.push(stap_a(SPS, PPS, SLICE))
    assert depacketizer.take() == (SPS, PPS, SLICE)


def test_fu_a_fragments_are_reassembled_with_the_original_header() -> None:
    depacketizer = Depacketizer()
    for seq, payload in enumerate(fu_a(IDR, 50)):
        depacketizer.push(payload, seq)
    assert depacketizer.take() == (IDR,)


def test_fu_a_without_its_start_fragment_is_dropped() -> None:
    depacketizer = Depacketizer()
    for seq, payload in enumerate(fu_a(IDR, 50)[1:], start=1):
        depacketizer.push(payload, seq)
    depacketizer.push(SLICE, 9)
    assert depacketizer.take() == (SLICE,)


def test_fu_a_with_a_lost_middle_fragment_is_dropped() -> None:
    """Guards against splicing the fragments around a lost packet into a corrupt NAL unit."""
    fragments = fu_a(IDR, 40)
    depacketizer = Depacketizer()
    for seq, payload in enumerate(fragments):
        if seq != 2:
            depacketizer.push(payload, seq)
    assert depacketizer.take() == ()


def rtp(payload: bytes, *, seq: int, ts: int, marker: bool, extension: bytes = b"") -> bytes:
    first = 0x80 | (0x10 if extension else 0)
    header = struct.pack("!BBHII", first, (0x80 if marker else 0) | 96, seq, ts, 0x1234)
    if extension:
        header += struct.pack("!HH", 0xABAC, len(extension) // 4) + extension
    return header + payload


def abac(moment: datetime, flags: int, cseq: int = 7) -> bytes:
    seconds = moment.timestamp() + NTP_EPOCH_OFFSET
    whole = int(seconds)
    fraction = round((seconds - whole) * 2**32)
    return struct.pack("!QBBxx", (whole << 32) | fraction, flags, cseq)


def test_onvif_extension_gives_utc_time_and_flags() -> None:
    moment = datetime(2026, 11, 20, 1, 2, 3, 250000, tzinfo=UTC)
    assembler = Assembler(CODECS["H264"], _Clock(fallback=datetime(2000, 1, 1, tzinfo=UTC)))
    fragments = fu_a(IDR, 80)
    assembled = None
    for seq, payload in enumerate(fragments):
        ext = abac(moment, 0x80 | 0x40 | 0x10) if seq == 0 else b""
        last = seq == len(fragments) - 1
        assembled = add(assembler, rtp(payload, seq=seq, ts=900, marker=last, extension=ext))
        assert (assembled is None) is not last
    assert assembled is not None
    unit, source, terminated = assembled
    assert source == "onvif-extension"
    assert abs((unit.time - moment).total_seconds()) < 1e-5
    assert unit.key
    assert unit.end_of_section
    assert not unit.discontinuity
    assert terminated
    assert unit.annexb() == b"\x00\x00\x00\x01" + IDR


def test_discontinuity_flag_is_kept() -> None:
    moment = datetime(2026, 11, 20, 1, 2, 3, tzinfo=UTC)
    packet = rtp(SLICE, seq=1, ts=0, marker=True, extension=abac(moment, 0x20))
    assembled = add(Assembler(CODECS["H264"], _Clock(fallback=moment)), packet)
    assert assembled is not None
    assert assembled[0].discontinuity
    assert not assembled[0].key
    assert not assembled[2]


def test_without_extension_time_follows_rtp_timestamps_from_the_requested_start() -> None:
    start = datetime(2026, 11, 20, 1, 0, 0, tzinfo=UTC)
    clock = _Clock(fallback=start)
    times = []
    for seq, ts in enumerate([4_294_963_296, 3_704]):  # wraps around 2**32 between frames
        assembled = add(Assembler(CODECS["H264"], clock), rtp(SLICE, seq=seq, ts=ts, marker=True))
        assert assembled is not None
        times.append(assembled[0].time)
        assert assembled[1] == "requested-start"
    assert times[0] == start
    assert (times[1] - start).total_seconds() == 7_704 / 90000


def test_range_clock_format_is_utc_with_milliseconds() -> None:
    moment = datetime(2026, 11, 20, 8, 2, 3, 456789, tzinfo=UTC)
    assert _clock(moment) == "20261120T080203.456Z"


def test_a_batch_is_read_in_order_until_the_devices_bye() -> None:
    """RTCP (channel 1) sets the clock and a BYE ends the replay; other channels are not ours."""
    moment = datetime(2026, 11, 20, 1, 0, 0, tzinfo=UTC)
    ntp = round((moment.timestamp() + NTP_EPOCH_OFFSET) * 2**32)
    sender_report = struct.pack("!BBHIQIII", 0x80, 200, 6, 0x1234, ntp, 9000, 0, 0)
    bye = struct.pack("!BBHI", 0x81, 203, 1, 0x1234)
    assembler = Assembler(CODECS["H264"], _Clock(fallback=datetime(2000, 1, 1, tzinfo=UTC)))
    batch = [
        (1, sender_report),
        (0, rtp(SLICE, seq=1, ts=9000 + 90000, marker=True)),
        (2, rtp(IDR, seq=9, ts=0, marker=True)),  # an audio track nobody set up: ignored
        (1, bye),
        (0, rtp(SLICE, seq=2, ts=9000 + 2 * 90000, marker=True)),  # after the BYE: not read
    ]
    units = list(assembler.units(run(batch)))
    assert [(u.time, source, u.key) for u, source, _ in units] == [
        (moment + timedelta(seconds=1), "rtcp-sender-report", False)
    ]
    assert assembler.ended
