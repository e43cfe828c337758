"""Hand-built RTP payloads: H.265 depacketisation (RFC 7798) and choosing the codec from the SDP."""

from __future__ import annotations

import base64
import struct
from datetime import UTC, datetime

import pytest

from nvr_adapters.errors import ReplayError
from nvr_adapters.h265 import Depacketizer, is_key, nal_type
from nvr_adapters.replay import CODECS, Assembler, _Clock, stream_info
from nvr_sim.rtp import Packetizer
from tests.nvr_adapters.rtp_helpers import add

VPS = bytes([0x40, 0x01, 0x0C, 0x01, 0xFF, 0xFF])
SPS = bytes([0x42, 0x01, 0x01, 0x01, 0x60])
PPS = bytes([0x44, 0x01, 0xC1, 0x72])
IDR = bytes([0x26, 0x01]) + bytes(range(256)) * 12  # IDR_W_RADL, 3 kB: needs fragments
TRAIL = bytes([0x02, 0x01, 0xD0, 0x2F])
# A NAL unit header with every bit of F, LayerId and TID set, which a fragment must carry over.
ODD_HEADER = bytes([0x80 | (1 << 1) | 0x01, 0xFF]) + bytes(range(100))


def ap(*nals: bytes) -> bytes:
    return bytes([48 << 1, 0x01]) + b"".join(len(n).to_bytes(2, "big") + n for n in nals)


def fu(nal: bytes, size: int) -> list[bytes]:
    """Split one NAL unit into FU payloads of at most `size` body bytes."""
    header = bytes([(nal[0] & 0x81) | 49 << 1, nal[1]])
    body = nal[2:]
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    payloads = []
    for index, chunk in enumerate(chunks):
        fu_header = nal_type(nal)
        fu_header |= 0x80 if index == 0 else 0
        fu_header |= 0x40 if index == len(chunks) - 1 else 0
        payloads.append(header + bytes([fu_header]) + chunk)
    return payloads


def test_single_nal_unit_packets_pass_through() -> None:
    depacketizer = Depacketizer()
    depacketizer.push(TRAIL, 1)
    depacketizer.push(PPS, 2)
    assert depacketizer.take() == (TRAIL, PPS)
    assert depacketizer.take() == ()


def test_an_aggregation_packet_yields_each_unit() -> None:
    depacketizer = Depacketizer()
    depacketizer.push(ap(VPS, SPS, PPS), 1)
    depacketizer.push(TRAIL, 2)
    assert depacketizer.take() == (VPS, SPS, PPS, TRAIL)


@pytest.mark.parametrize("nal", [IDR, ODD_HEADER], ids=["idr", "all-header-bits"])
def test_fragments_are_reassembled_with_the_original_header(nal: bytes) -> None:
    depacketizer = Depacketizer()
    for seq, payload in enumerate(fu(nal, 40), start=65_530):  # across the 16-bit wrap
        depacketizer.push(payload, seq & 0xFFFF)
    assert depacketizer.take() == (nal,)


def test_fragments_without_their_start_are_dropped() -> None:
    depacketizer = Depacketizer()
    for seq, payload in enumerate(fu(IDR, 500)[1:], start=1):
        depacketizer.push(payload, seq)
    depacketizer.push(TRAIL, 9)
    assert depacketizer.take() == (TRAIL,)


def test_a_nal_unit_with_a_lost_middle_fragment_is_dropped() -> None:
    """Guards against splicing the fragments around a lost packet into a corrupt NAL unit."""
    depacketizer = Depacketizer()
    for seq, payload in enumerate(fu(IDR, 500)):
        if seq != 2:
            depacketizer.push(payload, seq)
    depacketizer.push(TRAIL, 8)
    assert depacketizer.take() == (TRAIL,)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (ap(VPS, SPS)[:-1], "malformed H.265 aggregation packet"),
        (bytes([48 << 1, 0x01, 0x00, 0x01, 0x40]), "malformed H.265 aggregation packet"),
        (bytes([50 << 1, 0x01, 0x00, 0x00]), "unsupported H.265 RTP payload type 50"),
        (bytes([0x40]), "too short"),
    ],
    ids=["truncated-ap", "ap-unit-without-header", "paci", "one-byte"],
)
def test_payloads_this_client_cannot_read_are_clear_errors(payload: bytes, message: str) -> None:
    with pytest.raises(ReplayError, match=message):
        Depacketizer().push(payload, 1)


def test_random_access_points_are_key_units() -> None:
    cra = bytes([21 << 1, 0x01, 0x00])
    assert is_key((VPS, SPS, PPS, IDR))
    assert is_key((cra,))
    assert not is_key((TRAIL,))
    assert not is_key((VPS, SPS, PPS))


def sdp(rtpmap: str, fmtp: str) -> str:
    lines = [
        "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=Kamera", "t=0 0",
        "m=audio 0 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=fmtp:0 sprop-max-don-diff=9",
        "m=video 0 RTP/AVP 96", f"a=rtpmap:96 {rtpmap}", f"a=fmtp:96 {fmtp}",
        "a=control:trackID=0",
    ]  # fmt: skip
    return "\r\n".join(lines) + "\r\n"


def b64(*nals: bytes) -> str:
    return ",".join(base64.b64encode(n).decode() for n in nals)


def test_an_h265_sdp_picks_the_h265_depacketizer_and_its_parameter_sets() -> None:
    fmtp = f"sprop-max-don-diff=0; sprop-vps={b64(VPS)}; sprop-sps={b64(SPS)}; sprop-pps={b64(PPS)}"

    info, codec = stream_info(sdp("H265/90000", fmtp))

    assert (info.codec, info.clock_rate) == ("hevc", 90000)
    assert info.parameter_sets == (VPS, SPS, PPS)
    assert codec is CODECS["H265"]
    assert isinstance(codec.depacketizer(), Depacketizer)


def test_an_h264_sdp_still_gives_h264() -> None:
    sps, pps = bytes([0x67, 0x42, 0xC0, 0x1E]), bytes([0x68, 0xCE, 0x3C, 0x80])
    fmtp = f"packetization-mode=1;sprop-parameter-sets={b64(sps, pps)}"

    info, codec = stream_info(sdp("H264/90000", fmtp))

    assert (info.codec, info.parameter_sets) == ("h264", (sps, pps))
    assert codec is CODECS["H264"]


def test_decoding_order_numbers_are_refused_at_describe() -> None:
    fmtp = f"sprop-vps={b64(VPS)};sprop-sps={b64(SPS)};sprop-pps={b64(PPS)};sprop-max-don-diff=2"
    with pytest.raises(ReplayError, match=r"decoding order numbers \(sprop-max-don-diff=2\)"):
        stream_info(sdp("H265/90000", fmtp))


def test_a_codec_this_client_cannot_read_is_named() -> None:
    with pytest.raises(ReplayError, match="offers MP4V-ES for this recording, not H.264 or H.265"):
        stream_info(sdp("MP4V-ES/90000", "profile-level-id=1"))


def rtp(payload: bytes, *, seq: int, marker: bool) -> bytes:
    header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 96, seq, 9000, 0x1234)
    return header + payload


def test_an_h265_unit_is_assembled_at_its_marker_and_keyed_by_its_irap() -> None:
    moment = datetime(2026, 11, 20, 1, 0, 0, tzinfo=UTC)
    assembler = Assembler(CODECS["H265"], _Clock(fallback=moment))
    payloads = [ap(VPS, SPS, PPS), *fu(IDR, 1000)]
    assembled = None
    for seq, payload in enumerate(payloads):
        assembled = add(assembler, rtp(payload, seq=seq, marker=seq == len(payloads) - 1))
    assert assembled is not None
    unit, source, terminated = assembled
    assert unit.nals == (VPS, SPS, PPS, IDR)
    assert unit.key
    assert (unit.time, source, terminated) == (moment, "requested-start", False)


def test_the_simulators_packetizer_aggregates_small_and_fragments_large_units() -> None:
    """The simulator's RFC 7798 packetiser against this depacketiser, packet by packet."""
    packets = list(Packetizer(ssrc=1, sequence=65_534, codec="h265").packets(
        (VPS, SPS, PPS, IDR, TRAIL), timestamp=0, extension=b"\xab\xac\x00\x00",
    ))  # fmt: skip

    payloads = [p[16:] if p[0] & 0x10 else p[12:] for p in packets]
    assert [nal_type(p) for p in payloads] == [48, 49, 49, 49, 1]
    assert [bool(p[0] & 0x10) for p in packets] == [True] + [False] * 4  # 0xABAC on the first
    assert [bool(p[1] & 0x80) for p in packets] == [False] * 4 + [True]  # marker on the last
    depacketizer = Depacketizer()
    for packet, payload in zip(packets, payloads, strict=True):
        depacketizer.push(payload, int.from_bytes(packet[2:4], "big"))
    assert depacketizer.take() == (VPS, SPS, PPS, IDR, TRAIL)
