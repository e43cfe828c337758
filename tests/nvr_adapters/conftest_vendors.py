"""A simulated NVR whose clock runs 7 s ahead, with a camera of each kind, and adapters to it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from nvr_adapters import AccessUnit, NvrAdapter, StreamInfo, open_adapter
from nvr_adapters.factory import Vendor
from nvr_sim import NvrSimulator
from nvr_sim._onvif import SoapFault
from nvr_sim.config import CameraConfig, segment_start
from tests.nvr_sim.conftest import running, small_config

USER, PASSWORD = "operator", "rahasia-vendor"
CLOCK_OFFSET = timedelta(seconds=7)
CONTINUOUS, MOTION, Z_LOCAL = "1", "2", "3"
VENDORS: tuple[Vendor, ...] = ("onvif", "hikvision", "dahua")


@pytest.fixture(scope="module")
def vendor_sim(sim_cache: Path) -> Iterator[NvrSimulator]:
    cameras = (
        CameraConfig(1, "Kamera 1"),
        CameraConfig(2, "Kamera 2", schedule="motion"),
        CameraConfig(3, "Kamera 3", hikvision_z_is_local=True),
    )
    config = small_config(
        sim_cache, cameras, username=USER, password=PASSWORD, clock_offset=CLOCK_OFFSET,
        make="Saksi Test", model="NVR-3", firmware="4.2.1", serial="SN-VENDOR-7",
    )  # fmt: skip
    with running(config) as simulator:
        yield simulator


@pytest.fixture
def device_anchor() -> datetime:
    """A segment start ten minutes back, its number a multiple of 4 (motion: gap at +30 s)."""
    moment = segment_start(datetime.now(UTC) - timedelta(minutes=10), 10)
    while (int(moment.timestamp()) // 10) % 4 != 0:
        moment -= timedelta(seconds=10)
    return moment


def adapter_for(
    sim: NvrSimulator, vendor: Vendor, *, password: str = PASSWORD, http_port: int | None = None,
    z_is_local: bool = False,
) -> NvrAdapter:  # fmt: skip
    options: dict[str, str | bool] = {"z_is_local": z_is_local} if vendor == "hikvision" else {}
    endpoints = sim.endpoints
    return open_adapter(
        vendor, host=endpoints.host, http_port=http_port or endpoints.http_port,
        rtsp_port=endpoints.rtsp_port, username=USER, password=password,
        timezone=sim.config.timezone, options=options,
    )  # fmt: skip


def channel(vendor: Vendor, number: str) -> str:
    """The camera's channel as each adapter names it: ONVIF by recording token."""
    return f"Recording_{number}" if vendor == "onvif" else number


@dataclass
class ListSink:
    info: StreamInfo | None = None
    units: list[AccessUnit] = field(default_factory=list)

    def start(self, info: StreamInfo) -> None:
        self.info = info

    def write(self, unit: AccessUnit) -> None:
        self.units.append(unit)


class FreshnessGate:
    """A SOAP front for the simulator that, like many devices, refuses a UsernameToken created
    more than `tolerance` away from the device clock (the simulator itself does not check)."""

    def __init__(
        self, sim: NvrSimulator, tolerance: timedelta = timedelta(seconds=5),
        unsupported: frozenset[str] = frozenset(),
    ) -> None:  # fmt: skip
        self.sim, self.tolerance = sim, tolerance
        # Operations answered ActionNotSupported, like an older device's.
        self.unsupported = unsupported
        self.checked = self.refused = self.not_supported = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> FreshnessGate:
        app = web.Application()
        app.router.add_post("/onvif/{service}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        for operation in self.unsupported:
            if re.search(rb"<(?:[\w-]+:)?" + operation.encode() + rb"[\s/>]", body):
                self.not_supported += 1
                return _fault("Receiver", "ActionNotSupported", f"{operation} is not supported")
        created = re.search(rb"<(?:\w+:)?Created[^>]*>([^<]+)</", body)
        if created is not None:
            self.checked += 1
            told = datetime.fromisoformat(created[1].decode().replace("Z", "+00:00"))
            if abs(told - self.sim.archive.now()) > self.tolerance:
                self.refused += 1
                return _fault("Sender", "NotAuthorized", "Created is not fresh")
        async with aiohttp.ClientSession() as http:
            headers = {"Content-Type": request.headers.get("Content-Type", "application/soap+xml")}
            async with http.post(self.sim.endpoints.http(request.path), data=body,
                                 headers=headers) as answer:  # fmt: skip
                text = (await answer.text()).replace(
                    f"127.0.0.1:{self.sim.endpoints.http_port}", f"127.0.0.1:{self.port}"
                )
                return web.Response(status=answer.status, text=text,
                                    content_type="application/soap+xml")  # fmt: skip


def _fault(code: str, subcode: str, reason: str) -> web.Response:
    text = SoapFault(code, subcode, reason).envelope()
    return web.Response(status=400, text=text, content_type="application/soap+xml")
