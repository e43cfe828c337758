"""A live Saksi on loopback, seeded with the demo accounts, and headless Debian Chromium."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from app.auth.models import Role
from app.cameras.models import NvrVendor
from app.demo import NvrEndpoint, seed
from app.main import create_app
from app.migrate import upgrade
from app.runtime import Runtime, build_runtime, set_current
from app.settings import Settings
from nvr_sim import NvrSimulator, SimConfig, SimulatorThread, default_cameras

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "kata-sandi-demo-123"


@dataclass
class LiveServer:
    url: str
    runtime: Runtime
    usernames: dict[Role, str]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Saksi with its job workers, and an NVR simulator whose archive reaches back two days."""
    root = tmp_path_factory.mktemp("live")
    settings = Settings(data_dir=root / "data", _env_file=None)  # type: ignore[call-arg]
    runtime = build_runtime(settings)
    upgrade(settings.resolved_database_url)
    config = SimConfig(
        cameras=default_cameras(4), cache_dir=root / "sim-cache", width=320, height=240, fps=5,
        gop_seconds=2, segment_seconds=10, retention=timedelta(hours=48),
        username="admin", password="rahasia",
    )  # fmt: skip
    simulator = SimulatorThread(NvrSimulator(config))
    ports = simulator.start()
    endpoint = NvrEndpoint("127.0.0.1", ports.http_port, ports.rtsp_port, "admin", "rahasia",
                           vendor=NvrVendor.HIKVISION)  # fmt: skip
    world = seed(runtime, endpoint, passwords=dict.fromkeys(Role, PASSWORD))
    port = _free_port()
    app = create_app(runtime, run_workers=True)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield LiveServer(
        url=f"http://127.0.0.1:{port}",
        runtime=runtime,
        usernames={role: name for role, (name, _pw) in world.passwords.items()},
    )
    server.should_exit = True
    thread.join(timeout=10)
    simulator.stop()
    runtime.close()
    set_current(None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Debian's chromium is missing: scripts/setup --system installs it")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="id-ID")
    page = context.new_page()
    yield page
    context.close()


def login(page: Page, server: LiveServer, role: Role) -> None:
    """Sign in through the login form, with the keyboard only."""
    page.goto(f"{server.url}/masuk")
    page.get_by_label("Nama pengguna").fill(server.usernames[role])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/")
