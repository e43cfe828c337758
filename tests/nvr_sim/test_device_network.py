"""The NVR's MAC address, as each dialect tells it (issue 20 item 4): ONVIF GetNetworkInterfaces
through zeep with the shipped WSDL, ISAPI System/Network/interfaces and the Dahua Network config;
a device configured without one answers as such devices do (no tt:Info, a refusal)."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: N817 - parses our own simulator's answers
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from nvr_sim import NvrSimulator
from nvr_sim.config import default_cameras
from tests.nvr_sim.conftest import PASSWORD, USER, running, small_config
from tests.nvr_sim.test_soap_and_http import service

ISAPI = "{http://www.hikvision.com/ver20/XMLSchema}"


@pytest.fixture(scope="module")
def silent(sim_cache: Path) -> Iterator[NvrSimulator]:
    """A device that tells no MAC address."""
    with running(small_config(sim_cache, default_cameras(1), mac=None)) as simulator:
        yield simulator


def _get(sim: NvrSimulator, path: str, **params: str) -> httpx.Response:
    with httpx.Client(auth=httpx.DigestAuth(USER, PASSWORD)) as http:
        return http.get(sim.endpoints.http(path), params=params)


def test_every_dialect_tells_the_configured_mac(simulator: NvrSimulator) -> None:
    mac = simulator.config.mac
    assert mac is not None
    with requests.Session() as session:
        interfaces = service(simulator, session, "device").GetNetworkInterfaces()
    assert [(i.token, i.Enabled, i.Info.HwAddress) for i in interfaces] == [("eth0", True, mac)]
    isapi = ET.fromstring(_get(simulator, "/ISAPI/System/Network/interfaces").text)
    assert isapi.tag == f"{ISAPI}NetworkInterfaceList"
    found = isapi.findtext(f"{ISAPI}NetworkInterface/{ISAPI}Link/{ISAPI}MACAddress")
    assert found == mac
    table = _get(simulator, "/cgi-bin/configManager.cgi", action="getConfig", name="Network")
    lines = dict(line.split("=", 1) for line in table.text.strip().split("\r\n"))
    assert lines["table.Network.DefaultInterface"] == "eth0"
    assert lines["table.Network.eth0.PhysicalAddress"] == mac
    assert _get(simulator, "/cgi-bin/configManager.cgi", action="setConfig").status_code == 400


def test_a_device_without_a_mac_leaves_it_out_or_refuses(silent: NvrSimulator) -> None:
    with requests.Session() as session:
        interfaces = service(silent, session, "device").GetNetworkInterfaces()
    assert len(interfaces) == 1
    assert interfaces[0].Info is None
    refused = _get(silent, "/ISAPI/System/Network/interfaces")
    assert refused.status_code == 403
    assert ET.fromstring(refused.text).findtext(f"{ISAPI}subStatusCode") == "notSupport"
    table = _get(silent, "/cgi-bin/configManager.cgi", action="getConfig", name="Network")
    assert table.status_code == 400
    assert "PhysicalAddress" not in table.text
