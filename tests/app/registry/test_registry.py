"""Agencies, NVRs and cameras: admin-only changes, secrets kept secret, hostile input refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.cameras.models import Nvr
from app.cameras.service import nvr_password
from app.runtime import Runtime
from custody import ledger
from tests.app.factories import Factory
from tests.app.snapshot import database_state

NVR = {
    "name": "NVR Alun-alun Sumber",
    "vendor": "hikvision",
    "host": "nvr-alun.diskominfo.local",
    "http_port": 80,
    "rtsp_port": 554,
    "username": "admin",
    "password": "Rahasia#NVR-2026",
    "timezone": "Asia/Jakarta",
}


def test_admin_manages_the_registry(factory: Factory) -> None:
    headers = factory.headers(factory.user(Role.ADMIN))
    client = factory.client

    agency = client.post(
        "/api/v1/agencies", json={"name": "Polresta Cirebon", "kind": "polri"}, headers=headers
    )
    nvr = client.post("/api/v1/nvrs", json=NVR, headers=headers)
    camera = client.post(
        "/api/v1/cameras",
        json={
            "name": "PTZ Utara",
            "location": "Alun-alun Sumber, sisi utara",
            "latitude": -6.7597,
            "longitude": 108.4806,
            "nvr_id": nvr.json()["id"],
            "channel": 1,
        },
        headers=headers,
    )
    renamed = client.patch(
        f"/api/v1/agencies/{agency.json()['id']}", json={"active": False}, headers=headers
    )

    assert agency.status_code == nvr.status_code == camera.status_code == 201
    assert camera.json()["location"] == "Alun-alun Sumber, sisi utara"
    assert renamed.json()["active"] is False
    listed = client.get("/api/v1/cameras", headers=headers).json()
    assert [c["name"] for c in listed] == ["PTZ Utara"]


def test_nvr_password_is_encrypted_at_rest_and_never_returned(
    factory: Factory, session: Session, runtime: Runtime
) -> None:
    headers = factory.headers(factory.user(Role.ADMIN))

    created = factory.client.post("/api/v1/nvrs", json=NVR, headers=headers)
    listed = factory.client.get("/api/v1/nvrs", headers=headers)

    assert created.status_code == 201
    for response in (created, listed):
        assert "Rahasia#NVR-2026" not in response.text
        assert "password" not in response.text
    stored = session.execute(text("SELECT password_encrypted FROM nvrs")).scalar_one()
    assert "Rahasia" not in stored
    nvr = session.get(Nvr, created.json()["id"])
    assert nvr is not None
    assert nvr_password(nvr, runtime.secret_box) == "Rahasia#NVR-2026"


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.KEPALA_DINAS, Role.AUDITOR, Role.PEMOHON])
def test_only_admins_change_the_registry(factory: Factory, session: Session, role: Role) -> None:
    agency = factory.agency()
    user = factory.user(role, agency=agency if role is Role.PEMOHON else None)
    headers = factory.headers(user)
    before = database_state(session)

    responses = [
        factory.client.post(
            "/api/v1/agencies", json={"name": "X Baru", "kind": "kpk"}, headers=headers
        ),
        factory.client.patch(
            f"/api/v1/agencies/{agency.id}", json={"active": False}, headers=headers
        ),
        factory.client.post("/api/v1/nvrs", json=NVR, headers=headers),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert database_state(session) == before


def test_pemohon_sees_cameras_but_not_nvrs(factory: Factory) -> None:
    agency = factory.agency()
    factory.camera(factory.nvr())
    headers = factory.headers(factory.user(Role.PEMOHON, agency=agency))

    assert factory.client.get("/api/v1/cameras", headers=headers).status_code == 200
    assert factory.client.get("/api/v1/nvrs", headers=headers).status_code == 403


HOSTILE_NVR_FIELDS: list[tuple[str, Any]] = [
    ("host", "127.0.0.1/onvif?x=1"),
    ("host", "http://nvr.local"),
    ("host", "nvr.local; rm -rf /"),
    ("host", "user@nvr.local"),
    ("host", "nvr local"),
    ("host", ""),
    ("host", "-oProxyCommand=sh"),
    ("http_port", 0),
    ("rtsp_port", 70000),
    ("timezone", "Mars/Olympus"),
    ("vendor", "axis"),
    ("password", ""),
]


@pytest.mark.parametrize(("field", "value"), HOSTILE_NVR_FIELDS)
def test_hostile_nvr_input_is_refused(
    factory: Factory, session: Session, field: str, value: Any
) -> None:
    headers = factory.headers(factory.user(Role.ADMIN))
    before = database_state(session)

    response = factory.client.post("/api/v1/nvrs", json={**NVR, field: value}, headers=headers)

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "ValidationFailed"
    assert response.json()["fields"][0]["field"] == field
    assert database_state(session) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"channel": None, "source_token": None},
        {"source_token": "Profile_1'; DROP TABLE"},
        {"latitude": 91},
        {"nvr_id": 424242},
    ],
)
def test_invalid_cameras_are_refused(
    factory: Factory, session: Session, changes: dict[str, Any]
) -> None:
    headers = factory.headers(factory.user(Role.ADMIN))
    nvr = factory.nvr()
    before = database_state(session)
    body = {"name": "K", "location": "L", "nvr_id": nvr.id, "channel": 1, **changes}

    response = factory.client.post("/api/v1/cameras", json=body, headers=headers)

    assert response.status_code in {404, 422}, response.text
    assert database_state(session) == before


def test_duplicate_names_are_conflicts(factory: Factory) -> None:
    headers = factory.headers(factory.user(Role.ADMIN))
    factory.agency("Polresta Cirebon")

    response = factory.client.post(
        "/api/v1/agencies", json={"name": "Polresta Cirebon", "kind": "polri"}, headers=headers
    )

    assert response.status_code == 409
    assert response.json()["error"] == "AlreadyExists"


def test_renaming_into_a_taken_name_is_a_conflict_not_a_crash(
    factory: Factory, session: Session
) -> None:
    """Regression: renaming a camera to its NVR's other camera's name reached the database's
    unique constraint and answered 500."""
    headers = factory.headers(factory.user(Role.ADMIN))
    nvr = factory.nvr()
    factory.camera(nvr, "Kamera 1")
    second = factory.camera(nvr, "Kamera 2")
    before = database_state(session)

    response = factory.client.patch(
        f"/api/v1/cameras/{second.id}", json={"name": "Kamera 1"}, headers=headers
    )

    assert response.status_code == 409
    assert response.json()["error"] == "AlreadyExists"
    assert database_state(session) == before


def test_device_settings_of_an_nvr_are_kept_and_changed(factory: Factory) -> None:
    """A Hikvision firmware reading playback `…Z` times as local, and the device's own limit of
    playback sessions; a null limit puts the service's default back."""
    headers = factory.headers(factory.user(Role.ADMIN))
    client = factory.client

    created = client.post(
        "/api/v1/nvrs", json={**NVR, "hikvision_z_is_local": True, "playback_limit": 1},
        headers=headers,
    )  # fmt: skip
    nvr_id = created.json()["id"]
    raised = client.patch(f"/api/v1/nvrs/{nvr_id}", json={"playback_limit": 4}, headers=headers)
    reset = client.patch(
        f"/api/v1/nvrs/{nvr_id}", json={"playback_limit": None, "hikvision_z_is_local": False},
        headers=headers,
    )  # fmt: skip

    assert created.status_code == 201, created.text
    assert (created.json()["hikvision_z_is_local"], created.json()["playback_limit"]) == (True, 1)
    assert raised.json()["playback_limit"] == 4
    assert raised.json()["hikvision_z_is_local"] is True  # untouched by a change of the limit
    assert (reset.json()["hikvision_z_is_local"], reset.json()["playback_limit"]) == (False, None)


@pytest.mark.parametrize(
    "changes",
    [{"vendor": "dahua", "hikvision_z_is_local": True}, {"playback_limit": 0},
     {"playback_limit": 17}],
)  # fmt: skip
def test_device_settings_that_do_not_apply_are_refused(
    factory: Factory, session: Session, changes: dict[str, Any]
) -> None:
    headers = factory.headers(factory.user(Role.ADMIN))
    before = database_state(session)

    response = factory.client.post("/api/v1/nvrs", json={**NVR, **changes}, headers=headers)

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "ValidationFailed"
    assert response.json()["fields"][0]["field"] in changes
    assert database_state(session) == before


def test_the_z_setting_is_refused_on_a_non_hikvision_nvr_when_changed(factory: Factory) -> None:
    headers = factory.headers(factory.user(Role.ADMIN))
    created = factory.client.post("/api/v1/nvrs", json={**NVR, "vendor": "onvif"}, headers=headers)

    changed = factory.client.patch(
        f"/api/v1/nvrs/{created.json()['id']}", json={"hikvision_z_is_local": True},
        headers=headers,
    )  # fmt: skip

    assert changed.status_code == 422
    assert changed.json() == {
        "error": "ValidationFailed",
        "detail": "hikvision_z_is_local applies only to a Hikvision NVR",
    }
    listed = factory.client.get("/api/v1/nvrs", headers=headers).json()
    assert listed[0]["hikvision_z_is_local"] is False


def test_every_registry_change_is_a_custody_event_by_its_admin(
    factory: Factory, session: Session
) -> None:
    """Who may ask for footage, which device and channel a camera's name stands for, who may act:
    each change is on the ledger, by the admin who made it, and no password is."""
    admin = factory.user(Role.ADMIN)
    headers = factory.headers(admin)
    client = factory.client
    agency = client.post("/api/v1/agencies", json={"name": "Kejari Sumber", "kind": "kejaksaan"},
                         headers=headers).json()  # fmt: skip
    client.patch(f"/api/v1/agencies/{agency['id']}", json={"active": False}, headers=headers)
    nvr = client.post("/api/v1/nvrs", json=NVR, headers=headers).json()
    client.patch(f"/api/v1/nvrs/{nvr['id']}", json={"password": "Baru#2026", "rtsp_port": 8554},
                 headers=headers)  # fmt: skip
    camera = client.post(
        "/api/v1/cameras", headers=headers,
        json={"name": "PTZ Utara", "location": "Alun-alun", "latitude": -6.7597,
              "nvr_id": nvr["id"], "channel": 1},
    ).json()  # fmt: skip
    client.patch(f"/api/v1/cameras/{camera['id']}", json={"location": "Alun-alun, utara"},
                 headers=headers)  # fmt: skip
    client.post("/api/v1/users", headers=headers,
                json={"username": "operator2", "full_name": "Rina Operator", "role": "operator",
                      "password": "Sandi-Operator-2026"})  # fmt: skip

    recorded = [json.loads(e.canonical) for e in ledger.read(session.connection())]
    by_admin = [e for e in recorded if e["performer"]["id"] == str(admin.id)]
    assert [e["action"] for e in by_admin] == [
        "registry.agency_added", "registry.agency_changed", "registry.nvr_added",
        "registry.nvr_changed", "registry.camera_added", "registry.camera_changed",
        "user.created",
    ]  # fmt: skip
    objects = {e["action"]: e["object"] for e in by_admin}
    assert objects["registry.agency_changed"]["changes"] == {"active": False}
    assert objects["registry.nvr_added"]["host"] == NVR["host"]
    assert objects["registry.nvr_changed"]["changes"] == {"rtsp_port": 8554, "password": "changed"}
    assert objects["registry.camera_added"]["latitude"] == "-6.7597"  # events carry no floats
    assert objects["registry.camera_changed"]["changes"] == {"location": "Alun-alun, utara"}
    assert objects["user.created"]["role"] == "operator"
    text = json.dumps(recorded)
    for secret in ("Rahasia#NVR-2026", "Baru#2026", "Sandi-Operator-2026"):
        assert secret not in text


@pytest.mark.parametrize(("path", "change"), [("cameras", {"channel": 2}),
                                              ("nvrs", {"vendor": "dahua"})])  # fmt: skip
def test_what_a_record_stands_for_cannot_be_changed_in_place(
    factory: Factory, session: Session, path: str, change: dict[str, Any]
) -> None:
    """A camera's channel or an NVR's vendor decides whose footage an export fetches: a change is
    refused (register anew), not silently ignored with a 200."""
    camera = factory.camera(factory.nvr())
    target = camera.id if path == "cameras" else camera.nvr_id
    headers = factory.headers(factory.user(Role.ADMIN))
    before = database_state(session)

    response = factory.client.patch(f"/api/v1/{path}/{target}", json=change, headers=headers)

    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == next(iter(change))
    assert database_state(session) == before


def test_a_change_that_changes_nothing_is_not_recorded(factory: Factory, session: Session) -> None:
    """The demo points its NVR record at the simulator at every start; the same address and
    password again is no change, and the ledger does not fill with empty ones."""
    headers = factory.headers(factory.user(Role.ADMIN))
    nvr = factory.client.post("/api/v1/nvrs", json=NVR, headers=headers).json()
    same = {key: NVR[key] for key in ("host", "http_port", "rtsp_port", "username", "password")}

    again = factory.client.patch(f"/api/v1/nvrs/{nvr['id']}", json=same, headers=headers)
    moved = factory.client.patch(
        f"/api/v1/nvrs/{nvr['id']}", json=same | {"http_port": 8080}, headers=headers
    )

    assert (again.status_code, moved.status_code) == (200, 200)
    changed = [json.loads(e.canonical)["object"]["changes"]
               for e in ledger.read(session.connection())
               if e.action == "registry.nvr_changed"]  # fmt: skip
    assert changed == [{"http_port": 8080}]


HOSTILE_BODIES: list[Any] = [
    {}, {"name": None}, {"name": ""}, {"name": "x" * 10_000}, {"latitude": "utara"},
    {"active": "mungkin"}, {"playback_limit": "dua"}, {"password": 12345}, [], "teks", None,
]  # fmt: skip


@pytest.mark.parametrize("path", ["agencies", "nvrs", "cameras", "users"])
def test_hostile_changes_get_a_clear_answer_never_a_crash(
    factory: Factory, session: Session, path: str
) -> None:
    headers = factory.headers(factory.user(Role.ADMIN))
    nvr = factory.nvr()
    ids = {"agencies": factory.agency("Kejari Sumber").id, "nvrs": nvr.id,
           "cameras": factory.camera(nvr).id, "users": factory.user(Role.OPERATOR).id}  # fmt: skip

    answers = [
        factory.client.patch(f"/api/v1/{path}/{ids[path]}", json=body, headers=headers)
        for body in HOSTILE_BODIES
    ]
    missing = factory.client.patch(f"/api/v1/{path}/424242", json={}, headers=headers)

    for body, answer in zip(HOSTILE_BODIES, answers, strict=True):
        assert answer.status_code in {200, 409, 422}, (body, answer.text)
        if answer.status_code != 200:
            assert set(answer.json()) >= {"error", "detail"}, answer.text
    assert missing.status_code == 404
