"""Dahua device information and clock over the CGI, as the Dahua adapter reads them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from nvr_sim import NvrSimulator
from tests.nvr_sim.conftest import PASSWORD, USER


def test_magic_box_names_the_device(simulator: NvrSimulator) -> None:
    config = simulator.config
    with httpx.Client(
        base_url=simulator.endpoints.http(""), auth=httpx.DigestAuth(USER, PASSWORD)
    ) as http:
        assert (
            http.get(
                "/cgi-bin/magicBox.cgi", params={"action": "getSystemInfo"}, auth=None
            ).status_code
            == 401
        )
        info = http.get("/cgi-bin/magicBox.cgi", params={"action": "getSystemInfo"}).text
        version = http.get("/cgi-bin/magicBox.cgi", params={"action": "getSoftwareVersion"}).text
        vendor = http.get("/cgi-bin/magicBox.cgi", params={"action": "getVendor"}).text
        unknown = http.get("/cgi-bin/magicBox.cgi", params={"action": "reboot"})
    fields = dict(line.split("=", 1) for line in info.strip().split("\r\n"))
    assert fields["deviceType"] == config.model
    assert fields["serialNumber"] == config.serial
    assert version.strip().split("=", 1)[1].split(",")[0] == config.firmware
    assert vendor.strip() == f"vendor={config.make}"
    assert unknown.status_code == 400


def test_current_time_is_device_local_time(simulator: NvrSimulator) -> None:
    zone = ZoneInfo(simulator.config.timezone)
    with httpx.Client(auth=httpx.DigestAuth(USER, PASSWORD)) as http:
        answer = http.get(simulator.endpoints.http("/cgi-bin/global.cgi"),
                          params={"action": "getCurrentTime"}).text  # fmt: skip
    told = datetime.strptime(answer.strip(), "result=%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
    assert abs(told - simulator.archive.now()) < timedelta(seconds=2)
