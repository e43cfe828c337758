"""A full disk: exports refuse what would not fit, a fetch that fills the disk ends `DiskFull` on
record with its partial files released, `/readyz` warns under the reserve, and an API write
that finds no space answers 507 having saved nothing.

The data directory and the SQLite database live on a real small filesystem (a tmpfs mounted
for the test; root is needed, as on the CI machine), filled with a ballast file to the free
space each case needs. The simulator pads its footage to 4 000 kbit/s, so a 20-s window is a
10 MB clip.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app import migrate
from app.agencies.models import Agency
from app.auth.models import Role
from app.cameras.models import Camera
from app.disk import free_bytes
from app.exports.models import ExportState
from app.main import create_app
from app.requests.models import EvidenceRequest
from app.runtime import set_current
from app.settings import Settings
from nvr_adapters import TimeWindow
from nvr_sim import NvrSimulator, SimConfig, SimulatorThread, default_cameras
from tests.app.exports.test_faults import (
    World,
    build_world,
    drain,
    events,
    load,
    start_exports,
)
from tests.app.factories import bearer, multipart, pdf_bytes, request_payload
from tests.nvr_sim.conftest import PASSWORD, USER, anchor, sim_cache

__all__ = ["anchor", "sim_cache"]

DISK = 24 * 1024 * 1024
MB = 1_000_000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Write a ballast file so that `leave` bytes stay free on the disk."""
    ballast = disk / "ballast"
    ballast.touch()
    with ballast.open("ab") as out:
        while (left := free_bytes(disk) - leave) > 0:
            out.write(b"\0" * min(left, 1 << 20))
            out.flush()
    return ballast


@pytest.fixture
def world_on(small_disk: Path, sim_cache: Path, anchor: datetime) -> Iterator[Callable[..., World]]:
    threads: list[tuple[World, SimulatorThread]] = []

    def make(**overrides: Any) -> World:
        config = SimConfig(
            cameras=default_cameras(1), cache_dir=sim_cache, width=320, height=240, fps=5,
            gop_seconds=2, segment_seconds=10, retention=timedelta(hours=1),
            username=USER, password=PASSWORD, bitrate_kbps=4000,
        )  # fmt: skip
        thread = SimulatorThread(NvrSimulator(config))
        thread.start()
        url = f"sqlite:///{small_disk / 'saksi.db'}"
        migrate.upgrade(url)
        settings = Settings(
            data_dir=small_disk / "data", database_url=url, queue_url="memory://",
            _env_file=None, export_max_attempts=2, **overrides,
        )  # fmt: skip
        window = TimeWindow(anchor + timedelta(seconds=24), anchor + timedelta(seconds=44))
        world = build_world(settings, thread.simulator, window)
        threads.append((world, thread))
        return world

    yield make
    for world, thread in threads:
        thread.stop()
        world.runtime.close()
    set_current(None)


def readiness(world: World) -> dict[str, Any]:
    with TestClient(create_app(world.runtime)) as client:
        reply = client.get("/readyz")
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_a_fetch_that_fills_the_disk_ends_disk_full_and_leaves_no_partial_file(
    world_on: Callable[..., World], small_disk: Path
) -> None:
    """4 MB free, 10 MB of footage: every try fills the disk, releases what it wrote and
    records why; the disk is as free after the last try as before the first."""
    # The NVR announces no sizes (ONVIF) and 100 kbit/s is assumed: the estimate lets it start.
    world = world_on(min_free_bytes=MB, export_estimate_kbps=100)
    fill(small_disk, leave=4 * MB)
    free_before = free_bytes(small_disk)
    [export_id] = start_exports(world.runtime, world.request_id)

    drain(world.runtime.queue.huey)

    export = load(world.runtime, export_id)
    assert export.state is ExportState.FAILED
    assert [a.error_code for a in export.attempts] == ["DiskFull", "DiskFull"]
    assert all("were deleted to free it" in str(a.error_detail) for a in export.attempts)
    assert "gave up after 2 attempts" in str(export.attempts[-1].error_detail)
    folder = world.runtime.settings.data_dir / "exports"
    assert [p.name for p in folder.rglob("*") if p.is_file()] == []
    assert abs(free_bytes(small_disk) - free_before) < MB  # the database's pages, no clip
    ended = [o for a, o in events(world.runtime, world.request_id) if a == "export.attempt_ended"]
    assert len(ended) == 2
    assert readiness(world)["status"] == "ready"  # 4 MB free, 1 MB kept in reserve


def test_an_export_that_would_not_fit_does_not_start(
    world_on: Callable[..., World], small_disk: Path
) -> None:
    """4 MB free, 1 MB kept: a 20-s window at the assumed 4 000 kbit/s (10 MB) is refused
    after the search, before a byte is fetched."""
    world = world_on(min_free_bytes=MB)
    fill(small_disk, leave=4 * MB)
    [export_id] = start_exports(world.runtime, world.request_id)

    drain(world.runtime.queue.huey)

    export = load(world.runtime, export_id)
    assert [a.error_code for a in export.attempts] == ["InsufficientSpace"] * 2
    detail = str(export.attempts[0].error_detail)
    assert "10.0 MB needed" in detail
    assert "SAKSI_MIN_FREE_BYTES" in detail
    assert not (world.runtime.settings.data_dir / str(export.attempts[0].file_path)).exists()


def test_under_the_reserve_readyz_warns_and_exports_wait(
    world_on: Callable[..., World], small_disk: Path
) -> None:
    world = world_on(min_free_bytes=8 * MB)
    fill(small_disk, leave=4 * MB)
    [export_id] = start_exports(world.runtime, world.request_id)

    drain(world.runtime.queue.huey)

    ready = readiness(world)
    assert ready["status"] == "degraded"
    assert any(alert.startswith("disk: ") for alert in ready["alerts"])
    export = load(world.runtime, export_id)
    assert {a.error_code for a in export.attempts} == {"InsufficientSpace"}
    assert "0.0 MB needed" in str(export.attempts[0].error_detail)  # the reserve alone


def test_an_api_write_on_a_full_disk_answers_507_and_saves_nothing(
    world_on: Callable[..., World], small_disk: Path
) -> None:
    """The letter of a new request does not fit: 507 in the envelope, no request row."""
    world = world_on()
    runtime = world.runtime
    with runtime.sessions() as session:
        before = session.scalar(select(func.count()).select_from(EvidenceRequest))
        agency = session.scalars(select(Agency)).first()
        assert agency is not None
        cameras = list(session.scalars(select(Camera)))[:1]
        payload = request_payload(agency, cameras, runtime.clock.now())
    files_before = sorted(p for p in runtime.settings.data_dir.rglob("*") if p.is_file())
    fill(small_disk, leave=0)
    letter = pdf_bytes("Surat permohonan " + "x" * 200_000)  # more than any block left free
    # Starlette hands an unexpected error to the app's handler, then re-raises it to a test
    # client that asks for it: this one does not, it reads what the client would.
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        reply = client.post("/api/v1/requests", headers=bearer(runtime, Role.OPERATOR),
                            **multipart(payload, letter))  # fmt: skip

    assert reply.status_code == 507, reply.text
    assert reply.json()["error"] == "InsufficientStorage"
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(EvidenceRequest)) == before
    assert sorted(p for p in runtime.settings.data_dir.rglob("*") if p.is_file()) == files_before
