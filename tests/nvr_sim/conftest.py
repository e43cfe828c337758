"""One small simulated NVR for the module: 320×240 at 5 fps, 10-second segments, 1 hour kept."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nvr_sim.config import CameraConfig, SimConfig, default_cameras, segment_start
from nvr_sim.profiles import apply_profile
from nvr_sim.simulator import NvrSimulator, SimulatorThread

USER, PASSWORD = "admin", "rahasia-nvr"


@pytest.fixture(scope="session")
def sim_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("footage")


def small_config(cache: Path, cameras: tuple[CameraConfig, ...], **overrides: Any) -> SimConfig:
    """Footage a test can afford: 320×240 at 5 fps, 10-second segments, an hour kept."""
    fields: dict[str, Any] = {
        "cameras": cameras, "cache_dir": cache, "width": 320, "height": 240, "fps": 5,
        "gop_seconds": 2, "segment_seconds": 10, "retention": timedelta(hours=1),
        "username": USER, "password": PASSWORD,
    }  # fmt: skip
    return SimConfig(**(fields | overrides))


def device_config(
    cache: Path, cameras: tuple[CameraConfig, ...], profile: str, **overrides: Any
) -> SimConfig:
    """`small_config` as the named device (nvr_sim.profiles), then `overrides`; footage as
    encoded unless a test asks for a bitrate, so that it stays small."""
    config = apply_profile(small_config(cache, cameras), profile)
    return dataclasses.replace(config, **({"bitrate_kbps": None} | overrides))


@contextmanager
def running(config: SimConfig) -> Iterator[NvrSimulator]:
    """A simulator serving on loopback for the duration of the block."""
    simulator = NvrSimulator(config)
    thread = SimulatorThread(simulator)
    thread.start()
    try:
        yield simulator
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def simulator(sim_cache: Path) -> Iterator[NvrSimulator]:
    with running(small_config(sim_cache, default_cameras(2))) as simulator:
        yield simulator


@pytest.fixture
def anchor() -> datetime:
    """The start of a segment about ten minutes ago whose number is a multiple of 4."""
    moment = segment_start(datetime.now(UTC) - timedelta(minutes=10), 10)
    while (int(moment.timestamp()) // 10) % 4 != 0:
        moment -= timedelta(seconds=10)
    return moment
