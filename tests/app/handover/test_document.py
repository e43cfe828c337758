"""The typed inputs refuse what a BAST must never print."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from app.handover.document import BastDocument, ClipRow
from tests.app.handover.fixtures import bast_document, clip_rows


def _data() -> dict[str, object]:
    return bast_document().model_dump()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("number", "7/BAST/2026"),
        ("number", "007/BA/2026"),
        ("handover_at", datetime(2026, 11, 22, 10, 0)),  # noqa: DTZ001 - naive on purpose
        ("office_zone", "Asia/Nowhere"),
        ("rows", ()),
        ("verification_url", "javascript:alert(1)"),
    ],
)
def test_bast_refuses(field: str, value: object) -> None:
    data = _data()
    data[field] = value
    with pytest.raises(ValidationError):
        BastDocument.model_validate(data)


@pytest.mark.parametrize("sha256", ["ABC", "g" * 64, "A" * 64, "a" * 63])
def test_clip_refuses_a_malformed_hash(sha256: str) -> None:
    data = clip_rows()[0].model_dump()
    data["sha256"] = sha256
    with pytest.raises(ValidationError):
        ClipRow.model_validate(data)


def test_unknown_zone_is_a_validation_error() -> None:
    """Guards against ZoneInfoNotFoundError (a KeyError) escaping pydantic as a crash."""
    data = _data()
    data["office_zone"] = "Asia/Nowhere"
    with pytest.raises(ValidationError, match="unknown time zone"):
        BastDocument.model_validate(data)


def test_purpose_lead_in_is_not_doubled() -> None:
    """Guards against 'digunakan untuk kepentingan digunakan untuk kepentingan …'."""
    data = _data()
    data["purpose"] = "digunakan untuk kepentingan penyidikan."
    assert BastDocument.model_validate(data).purpose == "penyidikan"


def test_documents_are_frozen() -> None:
    document = bast_document()
    with pytest.raises(ValidationError):
        document.number = "008/BAST/2026"  # type: ignore[misc]
