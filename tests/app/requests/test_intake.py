"""Registering a request letter: what is stored, and every refusal leaving nothing behind."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.cameras.models import Camera
from app.runtime import Runtime
from tests.app.factories import Factory, multipart, pdf_bytes, request_payload
from tests.app.snapshot import database_state, files_under


@pytest.fixture
def world(factory: Factory) -> dict[str, Any]:
    agency = factory.agency()
    nvr = factory.nvr()
    cameras = [factory.camera(nvr, "Kamera 1"), factory.camera(nvr, "Kamera 2")]
    return {
        "agency": agency,
        "cameras": cameras,
        "operator": factory.user(Role.OPERATOR),
        "pemohon": factory.user(Role.PEMOHON, agency=agency),
    }


def submit(factory: Factory, user: Any, payload: dict[str, Any], **kwargs: Any) -> Any:
    return factory.client.post(
        "/api/v1/requests", headers=factory.headers(user), **multipart(payload, **kwargs)
    )


def test_pemohon_registers_a_request_with_letter_and_items(
    factory: Factory, world: dict[str, Any], runtime: Runtime
) -> None:
    payload = request_payload(world["agency"], world["cameras"], factory.now)
    letter = pdf_bytes("Surat B/123")

    response = submit(factory, world["pemohon"], payload, letter=letter)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["number"] == f"SKS-2026-{body['id']:05d}"
    assert body["status"] == "in_progress"
    assert body["letter_sha256"] == hashlib.sha256(letter).hexdigest()
    assert body["letter_size"] == len(letter)
    assert body["recipient"]["name"] == "Bripka Andi Wijaya"
    assert [item["camera_id"] for item in body["items"]] == [c.id for c in world["cameras"]]
    # Entered 10:00-11:00 WIB on 21 November, stored as 03:00-04:00 UTC.
    assert body["items"][0]["window_start_at"] == "2026-11-21T02:00:00Z"
    assert body["items"][0]["window_end_at"] == "2026-11-21T03:00:00Z"
    assert body["steps"][0]["step_number"] == 1
    assert body["steps"][0]["action"] == "register"
    assert body["current_step"]["number"] == 2
    assert body["current_step"]["roles"] == ["kepala_dinas"]
    stored = runtime.settings.data_dir / "letters" / body["letter_sha256"][:2]
    assert (stored / f"{body['letter_sha256']}.pdf").read_bytes() == letter
    download = factory.client.get(
        f"/api/v1/requests/{body['id']}/letter", headers=factory.headers(world["pemohon"])
    )
    assert download.status_code == 200
    assert download.content == letter


def test_offset_times_are_taken_as_given(factory: Factory, world: dict[str, Any]) -> None:
    payload = request_payload(world["agency"], world["cameras"][:1], factory.now)
    payload["items"][0]["start"] = "2026-11-20T10:00:00+08:00"
    payload["items"][0]["end"] = "2026-11-20T10:30:00+08:00"

    response = submit(factory, world["operator"], payload)

    assert response.status_code == 201, response.text
    assert response.json()["items"][0]["window_start_at"] == "2026-11-20T02:00:00Z"


def _items(payload: dict[str, Any], **changes: str) -> dict[str, Any]:
    payload["items"][0].update(changes)
    return payload


Mutation = Callable[[dict[str, Any], Factory, dict[str, Any]], dict[str, Any]]

REFUSALS: list[tuple[str, Mutation, int, str]] = [
    (
        "end before start",
        lambda p, f, w: _items(p, start="2026-11-20T10:00:00", end="2026-11-20T09:00:00"),
        422,
        "InvalidTimeWindow",
    ),
    (
        "end equals start",
        lambda p, f, w: _items(p, start="2026-11-20T10:00:00", end="2026-11-20T10:00:00"),
        422,
        "InvalidTimeWindow",
    ),
    (
        "window longer than the maximum",
        lambda p, f, w: _items(p, start="2026-11-19T10:00:00", end="2026-11-20T10:00:01"),
        422,
        "WindowTooLong",
    ),
    (
        "window in the future",
        lambda p, f, w: _items(p, start="2026-11-22T09:30:00", end="2026-11-22T10:30:00"),
        422,
        "WindowInFuture",
    ),
    (
        "unknown camera",
        lambda p, f, w: {**p, "items": [{**p["items"][0], "camera_id": 99999}]},
        422,
        "UnknownCamera",
    ),
    (
        "inactive camera",
        lambda p, f, w: {**p, "items": [{**p["items"][0], "camera_id": w["inactive"].id}]},
        422,
        "CameraInactive",
    ),
    (
        "agency not on the list",
        lambda p, f, w: {**p, "agency_id": w["unauthorised"].id},
        422,
        "AgencyNotAuthorized",
    ),
    ("empty letter number", lambda p, f, w: {**p, "letter_number": "   "}, 422, "ValidationFailed"),
    (
        "NUL in the recipient's name",
        lambda p, f, w: {**p, "recipient": {**p["recipient"], "name": "Budi\x00 Santoso"}},
        422,
        "ValidationFailed",
    ),
    (
        "escape in the purpose",
        lambda p, f, w: {**p, "purpose": "a\x1b[2Jb"},
        422,
        "ValidationFailed",
    ),
    (  # year 1 with an offset cannot be moved to UTC: it was a 500
        "window in year 0001",
        lambda p, f, w: _items(p, start="0001-01-01T00:00:00+07:00", end="2026-11-20T09:00:00"),
        422,
        "ValidationFailed",
    ),
    (
        "letter dated in year 9999",
        lambda p, f, w: {**p, "letter_date": "9999-12-31"},
        422,
        "ValidationFailed",
    ),
    (  # past SQLite's and PostgreSQL's 64-bit integers: it was a 500
        "camera id above 2^63",
        lambda p, f, w: {**p, "items": [{**p["items"][0], "camera_id": 2**63}]},
        422,
        "ValidationFailed",
    ),
    ("no items", lambda p, f, w: {**p, "items": []}, 422, "ValidationFailed"),
    (
        "bad e-mail",
        lambda p, f, w: {**p, "recipient": {**p["recipient"], "email": "not-an-address"}},
        422,
        "ValidationFailed",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [pytest.param(m, s, c, id=name) for name, m, s, c in REFUSALS],
)
def test_invalid_requests_are_refused_and_change_nothing(
    factory: Factory,
    world: dict[str, Any],
    session: Session,
    data_dir: Path,
    mutate: Mutation,
    status: int,
    code: str,
) -> None:
    world["inactive"] = factory.camera(world["cameras"][0].nvr, "Kamera Mati", active=False)
    world["unauthorised"] = factory.agency("Ormas Tanpa Kewenangan", active=False)
    payload = mutate(
        request_payload(world["agency"], world["cameras"], factory.now), factory, world
    )
    before = database_state(session)

    response = submit(factory, world["operator"], payload)

    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert response.json()["detail"]
    assert database_state(session) == before
    assert files_under(data_dir / "letters") == []
    assert files_under(data_dir / "tmp") == []


def test_letter_number_used_again_by_the_agency_is_a_conflict(
    factory: Factory, world: dict[str, Any], session: Session, data_dir: Path
) -> None:
    payload = request_payload(world["agency"], world["cameras"], factory.now)
    assert submit(factory, world["operator"], payload).status_code == 201
    before = database_state(session)
    letters_before = files_under(data_dir / "letters")
    # Same number, other spacing and case, other scan: still the same letter.
    again = {**payload, "letter_number": "b/123/xi/2026/ reskrim"}

    response = submit(factory, world["operator"], again, letter=pdf_bytes("lain"))

    assert response.status_code == 409
    assert response.json()["error"] == "DuplicateLetterNumber"
    assert database_state(session) == before
    assert files_under(data_dir / "letters") == letters_before


def test_same_letter_number_from_another_agency_is_accepted(
    factory: Factory, world: dict[str, Any]
) -> None:
    other = factory.agency("Kejaksaan Negeri Kabupaten Cirebon")
    payload = request_payload(world["agency"], world["cameras"], factory.now)
    assert submit(factory, world["operator"], payload).status_code == 201

    response = submit(factory, world["operator"], {**payload, "agency_id": other.id})

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("content", "media_type", "status", "code"),
    [
        pytest.param(b"\x89PNG\r\n\x1a\n....", "application/pdf", 415, "LetterNotPdf", id="png"),
        pytest.param(pdf_bytes(), "image/jpeg", 415, "LetterNotPdf", id="declared-jpeg"),
        pytest.param(b"", "application/pdf", 415, "LetterNotPdf", id="empty"),
        pytest.param(b"%PDF-", "application/pdf", 415, "LetterNotPdf", id="only-the-magic"),
        pytest.param(
            b"%PDF-1.7\n" + b"garbage " * 64,
            "application/pdf",
            415,
            "LetterNotPdf",
            id="magic-then-garbage",
        ),
        pytest.param(
            pdf_bytes() + b"0" * 2048, "application/pdf", 413, "LetterTooLarge", id="too-large"
        ),
    ],
)
def test_letter_must_be_a_pdf_within_the_size_limit(
    factory: Factory,
    world: dict[str, Any],
    session: Session,
    data_dir: Path,
    runtime: Runtime,
    content: bytes,
    media_type: str,
    status: int,
    code: str,
) -> None:
    runtime.settings.letter_max_bytes = len(pdf_bytes()) + 1024
    payload = request_payload(world["agency"], world["cameras"], factory.now)
    before = database_state(session)

    response = submit(factory, world["operator"], payload, letter=content, media_type=media_type)

    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert database_state(session) == before
    assert files_under(data_dir / "letters") == []
    assert files_under(data_dir / "tmp") == []


def test_malformed_json_is_a_validation_error(factory: Factory, world: dict[str, Any]) -> None:
    response = factory.client.post(
        "/api/v1/requests",
        headers=factory.headers(world["operator"]),
        data={"data": "{not json"},
        files={"letter": ("surat.pdf", pdf_bytes(), "application/pdf")},
    )

    assert response.status_code == 422
    assert response.json()["error"] == "ValidationFailed"


def test_pemohon_may_not_submit_for_another_agency(
    factory: Factory, world: dict[str, Any], session: Session
) -> None:
    other = factory.agency("Kejaksaan Negeri Kabupaten Cirebon")
    payload = request_payload(other, world["cameras"], factory.now)
    before = database_state(session)

    response = submit(factory, world["pemohon"], payload)

    assert response.status_code == 403
    assert response.json()["error"] == "NotYourAgency"
    assert database_state(session) == before


@pytest.mark.parametrize("role", [Role.KEPALA_DINAS, Role.AUDITOR, Role.ADMIN])
def test_only_pemohon_and_operator_register_letters(
    factory: Factory, world: dict[str, Any], role: Role
) -> None:
    payload = request_payload(world["agency"], world["cameras"], factory.now)

    response = submit(factory, factory.user(role), payload)

    assert response.status_code == 403
    assert response.json()["error"] == "RoleNotPermitted"


def test_pemohon_sees_only_own_agency_requests(factory: Factory, world: dict[str, Any]) -> None:
    other = factory.agency("Kejaksaan Negeri Kabupaten Cirebon")
    outsider = factory.user(Role.PEMOHON, agency=other)
    payload = request_payload(world["agency"], world["cameras"], factory.now)
    created = submit(factory, world["pemohon"], payload).json()

    listed = factory.client.get("/api/v1/requests", headers=factory.headers(outsider))
    single = factory.client.get(
        f"/api/v1/requests/{created['id']}", headers=factory.headers(outsider)
    )
    letter = factory.client.get(
        f"/api/v1/requests/{created['id']}/letter", headers=factory.headers(outsider)
    )

    assert listed.status_code == 200
    assert listed.json() == []
    assert single.status_code == 403
    assert "letter_number" not in single.text
    assert letter.status_code == 403
    own = factory.client.get("/api/v1/requests", headers=factory.headers(world["pemohon"]))
    assert [r["id"] for r in own.json()] == [created["id"]]


def test_unauthenticated_requests_get_401_and_no_data(
    factory: Factory, world: dict[str, Any]
) -> None:
    payload = request_payload(world["agency"], world["cameras"], factory.now)
    created = submit(factory, world["operator"], payload).json()

    for response in (
        factory.client.get("/api/v1/requests"),
        factory.client.get(f"/api/v1/requests/{created['id']}"),
        factory.client.get(
            f"/api/v1/requests/{created['id']}", headers={"Authorization": "Bearer forged.token.x"}
        ),
    ):
        assert response.status_code == 401
        assert response.json()["error"] in {"Unauthorized", "InvalidToken"}
        assert response.headers["www-authenticate"] == "Bearer"


def test_window_limit_is_configurable(
    factory: Factory, world: dict[str, Any], runtime: Runtime
) -> None:
    runtime.settings.max_window_hours = 0.5
    payload = request_payload(world["agency"], world["cameras"], factory.now)

    response = submit(factory, world["operator"], payload)

    assert response.status_code == 422
    assert response.json()["error"] == "WindowTooLong"
    assert "0.5 hours" in response.json()["detail"]


def test_cameras_are_checked_for_every_item(
    factory: Factory, world: dict[str, Any], session: Session
) -> None:
    inactive: Camera = factory.camera(world["cameras"][0].nvr, "Kamera 9", active=False)
    payload = request_payload(world["agency"], [*world["cameras"], inactive], factory.now)

    response = submit(factory, world["operator"], payload)

    assert response.status_code == 422
    assert response.json()["detail"].startswith("items[2]")
    assert timedelta(0) == timedelta(0)
