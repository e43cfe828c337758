"""The canonical bytes of an event: pinned, because every verifier recomputes them forever."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from custody import CustodyEvent, Instrument, Performer, canonical_bytes, format_time
from custody.merkle import leaf_hash

WIB = timezone(timedelta(hours=7))

PINNED = (
    '{"action":"export.file_written","authorization":"B/123/XI/2026",'
    '"end_time":"2026-11-22T03:00:05.000000Z","instrument":{"tool":"saksi","version":"1.0"},'
    '"object":{"camera":"Kamera Simpang Empat","nvr":"SIM-0001",'
    '"window":["2026-11-21T02:00:00Z","2026-11-21T03:00:00Z"]},'
    '"performer":{"id":"7","kind":"user","name":"Dewi Lestari","role":"operator"},'
    '"prev":"' + "cd" * 32 + '","request_id":42,'
    '"result":{"file":"clips/01.mp4","sha256":"' + "ab" * 32 + '"},'
    '"seq":5,"start_time":"2026-11-22T03:00:01.500000Z"}'
)


def exported(**changes: object) -> CustodyEvent:
    fields: dict[str, object] = {
        "action": "export.file_written",
        "performer": Performer("user", "7", "Dewi Lestari", "operator"),
        "instrument": Instrument("saksi", "1.0"),
        "start_time": datetime(2026, 11, 22, 10, 0, 1, 500_000, tzinfo=WIB),
        "end_time": datetime(2026, 11, 22, 3, 0, 5, tzinfo=UTC),
        "object": {
            "nvr": "SIM-0001",
            "camera": "Kamera Simpang Empat",
            "window": ["2026-11-21T02:00:00Z", "2026-11-21T03:00:00Z"],
        },
        "result": {"sha256": "ab" * 32, "file": "clips/01.mp4"},
        "authorization": "B/123/XI/2026",
        "request_id": 42,
    }
    fields.update(changes)
    return CustodyEvent(**fields)  # type: ignore[arg-type]


def test_the_canonical_bytes_are_pinned() -> None:
    """Guards the encoding every stored leaf was hashed with: any change breaks old ledgers."""
    data = canonical_bytes(exported().document(), 5, "cd" * 32)
    assert data.decode() == PINNED
    assert leaf_hash(data) == hashlib.sha256(b"\x00" + PINNED.encode()).digest()
    assert leaf_hash(data).hex() == (
        "ba5d3f1e132973e7b741cc8a3b9c26c1f19b675ebd46c7639ad571e211071320"
    )


def test_non_ascii_is_written_as_utf8_not_escaped() -> None:
    event = exported(object={"location": "Jl. Sudirman – depan Pasar Baru é"})
    data = canonical_bytes(event.document(), 1, "")
    assert "Jl. Sudirman – depan Pasar Baru é".encode() in data
    assert b"\\u" not in data


def test_times_are_written_in_utc_whatever_zone_they_came_in() -> None:
    assert format_time(datetime(2026, 11, 22, 10, 0, tzinfo=WIB)) == "2026-11-22T03:00:00.000000Z"
    with pytest.raises(ValueError, match="tz-aware"):
        format_time(datetime(2026, 11, 22, 10, 0))  # noqa: DTZ001


@pytest.mark.parametrize("where", ["object", "result"])
def test_floats_are_refused(where: str) -> None:
    event = exported(**{where: {"clock_offset_s": 0.12}})
    with pytest.raises(ValueError, match="no floats"):
        canonical_bytes(event.document(), 1, "")


def test_key_order_of_the_input_does_not_matter() -> None:
    reordered = exported(result={"file": "clips/01.mp4", "sha256": "ab" * 32})
    assert canonical_bytes(reordered.document(), 5, "cd" * 32).decode() == PINNED
