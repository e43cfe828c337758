"""Run the simulated NVR: in this process on a background thread, or as a program."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from dataclasses import dataclass

from nvr_sim._http import HttpServer
from nvr_sim.archive import Archive
from nvr_sim.config import SimConfig
from nvr_sim.link import Link, Sessions
from nvr_sim.rtsp_server import RtspServer


@dataclass(frozen=True)
class Endpoints:
    host: str
    rtsp_port: int
    http_port: int = 0

    @property
    def device_service(self) -> str:
        return f"http://{self.host}:{self.http_port}/onvif/device_service"

    def http(self, path: str) -> str:
        return f"http://{self.host}:{self.http_port}{path}"

    def rtsp(self, path: str) -> str:
        return f"rtsp://{self.host}:{self.rtsp_port}{path}"


class NvrSimulator:
    """The whole device; `async with` it, or use `SimulatorThread`.

    `realtime_vendor`, when given, overrides the config's pacing of vendor playback.
    """

    def __init__(
        self, config: SimConfig, host: str = "127.0.0.1", rtsp_port: int = 0,
        *, http_port: int = 0, realtime_vendor: bool | None = None,
    ) -> None:  # fmt: skip
        if realtime_vendor is not None:
            config = dataclasses.replace(config, realtime_vendor=realtime_vendor)
        self.config = config
        self.archive = Archive(config)
        # One link and one pool of sessions for the whole device: RTSP and HTTP share them.
        self.link = Link(config.link_mbps)
        self.sessions = Sessions(config.playback_sessions)
        self.rtsp = RtspServer(
            self.archive, host, rtsp_port, link=self.link, sessions=self.sessions
        )
        self.http = HttpServer(
            self.archive, host, http_port, link=self.link, sessions=self.sessions
        )
        self.host = host

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(self.host, self.rtsp.port, self.http.port)

    async def start(self) -> Endpoints:
        await self.rtsp.start()
        self.http.rtsp_port = self.rtsp.port
        await self.http.start()
        return self.endpoints

    async def stop(self) -> None:
        await self.http.stop()
        await self.rtsp.stop()

    async def __aenter__(self) -> NvrSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


class SimulatorThread:
    """The simulator on its own event loop in a daemon thread (for tests and `saksi demo`)."""

    def __init__(self, simulator: NvrSimulator) -> None:
        self.simulator = simulator
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> Endpoints:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self.simulator.start(), self._loop)
        return future.result(timeout=60)

    def stop(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self.simulator.stop(), self._loop)
        future.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
