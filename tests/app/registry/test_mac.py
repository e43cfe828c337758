"""MAC addresses in the registry (issue 20 item 4): an administrator may enter one for an NVR or a
camera in any common written form; it is kept as aa:bb:cc:dd:ee:ff, marked as entered by an
operator, on record when it changes, and anything that is not a MAC address is refused whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.cameras.macs import CAMERA_SILENT, NVR_SILENT, REGISTERED, mac_addresses
from app.cameras.models import Camera, Nvr
from custody import ledger
from tests.app.factories import Factory
from tests.app.registry.test_registry import NVR
from tests.app.snapshot import database_state


def _changes(session: Session, action: str) -> list[dict[str, Any]]:
    events = ledger.read(session.connection())
    return [json.loads(e.canonical)["object"]["changes"] for e in events if e.action == action]


def test_an_entered_mac_is_normalised_marked_and_on_record(
    factory: Factory, session: Session
) -> None:
    headers = factory.headers(factory.user(Role.ADMIN))
    client = factory.client

    nvr = client.post("/api/v1/nvrs", json={**NVR, "mac_address": "58-03-FB-76-A1-BC"},
                      headers=headers).json()  # fmt: skip
    camera = client.post(
        "/api/v1/cameras", headers=headers,
        json={"name": "K1", "location": "Alun-alun", "nvr_id": nvr["id"], "channel": 1},
    ).json()  # fmt: skip
    entered = client.patch(f"/api/v1/cameras/{camera['id']}", headers=headers,
                           json={"mac_address": "4419.b711.d6fb"}).json()  # fmt: skip
    forgotten = client.patch(f"/api/v1/nvrs/{nvr['id']}", headers=headers,
                             json={"mac_address": None}).json()  # fmt: skip

    assert (nvr["mac_address"], nvr["mac_source"]) == ("58:03:fb:76:a1:bc", "operator")
    assert (camera["mac_address"], camera["mac_source"]) == (None, None)
    assert (entered["mac_address"], entered["mac_source"]) == ("44:19:b7:11:d6:fb", "operator")
    assert (forgotten["mac_address"], forgotten["mac_source"]) == (None, None)
    assert _changes(session, "registry.camera_changed") == [
        {"mac_address": "44:19:b7:11:d6:fb", "mac_source": "operator"}
    ]
    assert _changes(session, "registry.nvr_changed") == [{"mac_address": None, "mac_source": None}]


@pytest.mark.parametrize("mac", ["58:03-fb:76:a1:bc", "gg:03:fb:76:a1:bc:00", 7])
def test_what_is_not_a_mac_is_refused_and_nothing_written(
    factory: Factory, session: Session, mac: Any
) -> None:
    headers = factory.headers(factory.user(Role.ADMIN))
    nvr = factory.nvr()
    before = database_state(session)

    created = factory.client.post("/api/v1/nvrs", headers=headers,
                                  json={**NVR, "mac_address": mac})  # fmt: skip
    changed = factory.client.patch(f"/api/v1/nvrs/{nvr.id}", headers=headers,
                                   json={"mac_address": mac})  # fmt: skip

    for response in (created, changed):
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "ValidationFailed"
        assert response.json()["fields"][0]["field"] == "mac_address"
    assert database_state(session) == before


def test_a_clip_names_where_each_mac_came_from() -> None:
    """The export's own reading first, then the registry's, else why there is none."""
    nvr = Nvr(name="N", mac_address="02:00:00:00:00:0a", mac_source="device")
    camera = Camera(name="K", nvr=nvr, mac_address=None, mac_source=None)
    told = {"mac": "02:53:4b:53:49:01", "mac_method": "ONVIF GetNetworkInterfaces"}

    at_export = mac_addresses(camera, told)
    registered = mac_addresses(camera, {"make": "Saksi"})
    nvr.mac_address = None
    camera.mac_address, camera.mac_source = "44:19:b7:11:d6:fb", "operator"
    neither = mac_addresses(camera, {})

    assert at_export["nvr"] == {"address": "02:53:4b:53:49:01", "source": "told by the NVR "
                                "during the export (ONVIF GetNetworkInterfaces)"}  # fmt: skip
    assert registered["nvr"]["address"] == "02:00:00:00:00:0a"
    assert registered["nvr"]["source"] == REGISTERED["device"]
    assert at_export["camera"] == {"address": None, "source": CAMERA_SILENT}
    assert neither["nvr"] == {"address": None, "source": NVR_SILENT}
    assert neither["camera"] == {"address": "44:19:b7:11:d6:fb", "source": REGISTERED["operator"]}
