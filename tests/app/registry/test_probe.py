""" "Test connection" against the simulator, whose clock runs 7 s ahead, for each vendor style."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from app.auth.models import Role
from custody import ledger
from nvr_adapters.factory import Vendor
from nvr_sim import NvrSimulator
from tests.app.factories import Factory
from tests.nvr_adapters.conftest_vendors import CLOCK_OFFSET, PASSWORD, USER, VENDORS, vendor_sim
from tests.nvr_sim.conftest import sim_cache

__all__ = ["sim_cache", "vendor_sim"]


def _register(factory: Factory, vendor: str, http_port: int, rtsp_port: int) -> int:
    admin = factory.user(Role.ADMIN)
    created = factory.client.post(
        "/api/v1/nvrs", headers=factory.headers(admin),
        json={"name": f"NVR {vendor}", "vendor": vendor, "host": "127.0.0.1",
              "http_port": http_port, "rtsp_port": rtsp_port, "username": USER,
              "password": PASSWORD},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    nvr_id: int = created.json()["id"]
    return nvr_id


@pytest.mark.parametrize("vendor", VENDORS)
def test_probe_names_the_device_and_its_clock_offset(
    factory: Factory, session: Session, vendor_sim: NvrSimulator, vendor: Vendor
) -> None:
    ends = vendor_sim.endpoints
    nvr_id = _register(factory, vendor, ends.http_port, ends.rtsp_port)
    admin = factory.user(Role.ADMIN)

    probed = factory.client.post(f"/api/v1/nvrs/{nvr_id}/probe", headers=factory.headers(admin))

    assert probed.status_code == 200, probed.text
    body = probed.json()
    assert body["reachable"] is True
    assert (body["make"], body["model"], body["serial"]) == ("Saksi Test", "NVR-3", "SN-VENDOR-7")
    assert abs(body["clock_offset_s"] - CLOCK_OFFSET.total_seconds()) <= 1.0
    assert body["clock_method"]
    [event] = [e for e in ledger.read(session.connection()) if e.action == "nvr.probed"]
    recorded = json.loads(event.canonical)
    assert recorded["result"]["model"] == "NVR-3"
    # The MAC address the device told (issue 20 item 4) is kept in the registry, on record.
    assert body["mac_address"] == vendor_sim.config.mac
    nvr = factory.client.get(f"/api/v1/nvrs/{nvr_id}", headers=factory.headers(admin)).json()
    assert (nvr["mac_address"], nvr["mac_source"]) == (vendor_sim.config.mac, "device")
    [kept] = [e for e in ledger.read(session.connection()) if e.action == "registry.nvr_changed"]
    changes = json.loads(kept.canonical)["object"]["changes"]
    assert changes["mac_address"] == body["mac_address"]
    assert changes["read_with"] == body["mac_method"]


def test_an_unreachable_nvr_is_reported_not_raised(factory: Factory) -> None:
    nvr_id = _register(factory, "onvif", 9, 9)  # discard port: nothing answers
    admin = factory.user(Role.ADMIN)

    probed = factory.client.post(f"/api/v1/nvrs/{nvr_id}/probe", headers=factory.headers(admin))

    assert probed.status_code == 200
    assert probed.json()["reachable"] is False
    assert "NvrUnreachable" in probed.json()["error"]


def test_only_an_administrator_probes(factory: Factory) -> None:
    nvr_id = _register(factory, "onvif", 9, 9)
    operator = factory.user(Role.OPERATOR)

    refused = factory.client.post(f"/api/v1/nvrs/{nvr_id}/probe", headers=factory.headers(operator))

    assert refused.status_code == 403
