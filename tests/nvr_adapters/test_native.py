"""The master of a vendor download: written once and hashed as written, then read back with
FFmpeg's demuxers into exactly the units the simulated device sent, at their exact times."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nvr_adapters.errors import ReplayError
from nvr_adapters.native import MasterWriter, NativeFormat, read_units
from nvr_adapters.types import AccessUnit
from nvr_sim.archive import Archive
from nvr_sim.config import CameraConfig
from nvr_sim.footage import AccessUnit as SourceUnit
from nvr_sim.native import PACK_START, dav_stream, ps_stream, pts_of
from tests.nvr_sim.conftest import small_config

WIB = ZoneInfo("Asia/Jakarta")
PARAMETER_SETS = {"h264": {7, 8}, "h265": {32, 33, 34}}
FORMATS: list[NativeFormat] = ["mpeg-ps", "dav"]


def replayed(cache: Path, codec: str, start: datetime, seconds: int = 20) -> list[SourceUnit]:
    camera = CameraConfig(1, "Kamera 1", codec=codec)  # type: ignore[arg-type]
    archive = Archive(small_config(cache, (camera,)))
    end = start + timedelta(seconds=seconds)
    return [replay.unit for replay in archive.replay(camera, start, end)]


def chunks(
    fmt: NativeFormat, units: list[SourceUnit], codec: str, zone: ZoneInfo = WIB
) -> list[bytes]:
    """The download as the simulator sends it: for PS, the IMKH header then one pack per unit."""
    if fmt == "mpeg-ps":
        return list(ps_stream(units, codec))
    return list(dav_stream(units, codec, zone, 1))


def master(tmp_path: Path, fmt: NativeFormat, data: bytes) -> Path:
    path = tmp_path / f"master.{'ps' if fmt == 'mpeg-ps' else 'dav'}"
    writer = MasterWriter(path, fmt)
    writer.write(data)
    writer.close()
    return path


def as_read(
    units: Iterable[SourceUnit | AccessUnit],
) -> list[tuple[datetime, tuple[bytes, ...], bool]]:
    """Time, NAL units and key flag: what a unit read back must have of the unit sent."""
    return [(unit.time, unit.nals, unit.key) for unit in units]


def nal_type(codec: str, nal: bytes) -> int:
    return nal[0] & 0x1F if codec == "h264" else nal[0] >> 1 & 0x3F


def retimed(units: list[SourceUnit], start: datetime) -> list[SourceUnit]:
    """The same units recorded from `start` on, 5 per second."""
    return [SourceUnit(start + timedelta(milliseconds=200 * n), u.key, u.nals)
            for n, u in enumerate(units)]  # fmt: skip


def test_the_master_hash_is_the_hash_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "master.ps"
    writer = MasterWriter(path, "mpeg-ps")
    pieces = [b"IMKH" + bytes(36), b"\x00\x00\x01\xba" * 1000, b"tail"]
    for piece in pieces:
        writer.write(piece)

    assert writer.bytes_written == sum(map(len, pieces))
    facts = writer.close()

    content = path.read_bytes()
    assert facts.sha256 == hashlib.sha256(content).hexdigest()
    assert (facts.path, facts.format, facts.size) == (path, "mpeg-ps", len(content))


def test_the_master_writer_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "master.dav"
    path.write_bytes(b"an earlier attempt")

    with pytest.raises(FileExistsError):
        MasterWriter(path, "dav")

    assert path.read_bytes() == b"an earlier attempt"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_the_units_come_back_exactly_at_their_times(
    sim_cache: Path, anchor: datetime, tmp_path: Path, codec: str, fmt: NativeFormat
) -> None:
    units = replayed(sim_cache, codec, anchor)
    path = master(tmp_path, fmt, b"".join(chunks(fmt, units, codec)))

    info, read = read_units(path, fmt, zone=WIB, anchor=anchor + timedelta(hours=11))

    assert as_read(read) == as_read(units)
    assert info.codec == {"h264": "h264", "h265": "hevc"}[codec]
    assert info.parameter_sets == tuple(n for n in units[0].nals
                                        if nal_type(codec, n) in PARAMETER_SETS[codec])  # fmt: skip
    assert len(info.parameter_sets) == len(PARAMETER_SETS[codec])


# Where a cut falls in the chunk of unit 37: inside its header, or inside its payload.
CUTS = {"header": 10, "payload": -20}


@pytest.mark.parametrize("where", list(CUTS))
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_a_cut_master_yields_the_whole_units_before_the_cut(
    sim_cache: Path, anchor: datetime, tmp_path: Path, codec: str, fmt: NativeFormat, where: str
) -> None:
    """A dropped download leaves a file ending mid-frame. FFmpeg's PS parser would hand out the
    cut unit's first bytes (glued to the unit before, when the cut leaves no slice header), and
    its dhav demuxer fails on a header cut in two: neither may reach the clip."""
    units = replayed(sim_cache, codec, anchor)
    pieces = chunks(fmt, units, codec)
    before = pieces[: 38 if fmt == "mpeg-ps" else 37]  # the PS header, then units 0..36
    cut = pieces[len(before)]
    data = b"".join(before) + cut[: CUTS[where] % len(cut)]
    path = master(tmp_path, fmt, data)

    _info, read = read_units(path, fmt, zone=WIB, anchor=anchor)

    assert as_read(read) == as_read(units[:37])


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_cut_after_a_whole_unit_loses_nothing(
    sim_cache: Path, anchor: datetime, tmp_path: Path, fmt: NativeFormat
) -> None:
    """Cut two bytes into the next pack's start code, the units before it are all there."""
    units = replayed(sim_cache, "h264", anchor)
    pieces = chunks(fmt, units, "h264")
    whole = pieces[: 38 if fmt == "mpeg-ps" else 37]
    path = master(tmp_path, fmt, b"".join(whole) + pieces[len(whole)][:2])

    _info, read = read_units(path, fmt, zone=WIB, anchor=anchor)

    assert as_read(read) == as_read(units[:37])


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("mpeg-ps", b""),
        ("mpeg-ps", b"\x00\x00\x00\x18ftypisom" + bytes(2000)),  # an MP4
        ("dav", b"<html>404 Not Found</html>"),
        ("mpeg-ps", b"IMKH" + bytes(36) + b"no packs, only words" * 100),
        ("dav", b"DHAV" + b"\xfd" + bytes(2000)),
    ],
)
def test_a_file_not_of_the_format_is_refused(
    tmp_path: Path, anchor: datetime, fmt: NativeFormat, content: bytes
) -> None:
    path = tmp_path / "download"
    path.write_bytes(content)

    with pytest.raises(ReplayError, match="download"):
        read_units(path, fmt, zone=WIB, anchor=anchor)


@pytest.mark.parametrize(("fmt", "other"), [("mpeg-ps", "dav"), ("dav", "mpeg-ps")])
def test_the_other_vendor_s_file_is_refused(
    sim_cache: Path, anchor: datetime, tmp_path: Path, fmt: NativeFormat, other: NativeFormat
) -> None:
    units = replayed(sim_cache, "h264", anchor, seconds=2)
    path = master(tmp_path, other, b"".join(chunks(other, units, "h264")))

    with pytest.raises(ReplayError, match="is not"):
        read_units(path, fmt, zone=WIB, anchor=anchor)


def test_ps_times_cross_the_33_bit_wrap(sim_cache: Path, anchor: datetime, tmp_path: Path) -> None:
    """The PTS wraps every 2^33 / 90 kHz (26.5 h): resolved against the anchor, then unit by
    unit, the times run on across the wrap."""
    wraps = int(anchor.timestamp() * 90_000) >> 33
    at_wrap = datetime.fromtimestamp(((wraps + 1) << 33) // 90_000, tz=UTC)
    units = retimed(replayed(sim_cache, "h264", anchor, seconds=4), at_wrap - timedelta(seconds=2))
    path = master(tmp_path, "mpeg-ps", b"".join(chunks("mpeg-ps", units, "h264")))
    assert pts_of(units[-1].time) < pts_of(units[0].time)  # the PTS did wrap

    _info, read = read_units(path, "mpeg-ps", zone=WIB, anchor=at_wrap - timedelta(hours=12))

    assert as_read(read) == as_read(units)


def test_dav_times_cross_the_hour_that_repeats(
    sim_cache: Path, anchor: datetime, tmp_path: Path
) -> None:
    """A DAV header's local time runs back an hour when DST ends; the units' times do not."""
    berlin = ZoneInfo("Europe/Berlin")
    fall_back = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 03:00 CEST becomes 02:00 CET
    units = retimed(
        replayed(sim_cache, "h264", anchor, seconds=4), fall_back - timedelta(seconds=2)
    )
    path = master(tmp_path, "dav", b"".join(chunks("dav", units, "h264", berlin)))

    _info, read = read_units(path, "dav", zone=berlin, anchor=fall_back - timedelta(minutes=5))

    assert as_read(read) == as_read(units)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_without_a_key_frame_is_refused(
    sim_cache: Path, anchor: datetime, tmp_path: Path, fmt: NativeFormat
) -> None:
    units = [u for u in replayed(sim_cache, "h264", anchor, seconds=2) if not u.key]
    path = master(tmp_path, fmt, b"".join(chunks(fmt, units, "h264")))

    with pytest.raises(ReplayError, match="master"):
        read_units(path, fmt, zone=WIB, anchor=anchor)


def test_a_ps_ending_with_the_program_end_code_is_read_whole(
    sim_cache: Path, anchor: datetime, tmp_path: Path
) -> None:
    units = replayed(sim_cache, "h264", anchor, seconds=4)
    path = master(
        tmp_path, "mpeg-ps", b"".join(chunks("mpeg-ps", units, "h264")) + b"\x00\x00\x01\xb9"
    )

    _info, read = read_units(path, "mpeg-ps", zone=WIB, anchor=anchor)

    assert as_read(read) == as_read(units)


def test_a_unit_cut_in_its_second_pack_is_left_out(
    sim_cache: Path, anchor: datetime, tmp_path: Path
) -> None:
    """Devices may split a large unit over several packs: the cut one's later pack carries no
    PTS, and the unit is left out from its first pack on."""
    units = replayed(sim_cache, "h264", anchor, seconds=4)
    big = SourceUnit(
        units[5].time, units[5].key, (*units[5].nals, b"\x0c" + b"\xff" * 150_000 + b"\x80")
    )
    pieces = chunks("mpeg-ps", [*units[:5], big], "h264")
    pack = pieces[-1]
    second = pack.index(b"\x00\x00\x01\xe0", 20)  # the unit's second PES packet
    split = pack[:second] + pack[:14] + pack[second:]  # a pack header before it
    path = master(tmp_path, "mpeg-ps", b"".join(pieces[:-1]) + split[: second + 14 + 1000])
    assert split.count(PACK_START) == 2

    _info, read = read_units(path, "mpeg-ps", zone=WIB, anchor=anchor)

    assert as_read(read) == as_read(units[:5])


def test_an_unknown_format_is_a_programming_error(tmp_path: Path, anchor: datetime) -> None:
    path = tmp_path / "master.mp4"
    path.write_bytes(b"IMKH")

    with pytest.raises(ValueError, match="unknown"):
        read_units(path, "mp4", zone=WIB, anchor=anchor)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown"):
        MasterWriter(tmp_path / "other.mp4", "mp4")  # type: ignore[arg-type]
