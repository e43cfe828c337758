"""One small simulated NVR for the module: 320×240 at 5 fps, 10-second segments, 1 hour kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nvr_sim.config import SimConfig, default_cameras, segment_start
from nvr_sim.simulator import NvrSimulator, SimulatorThread

USER, PASSWORD = "admin", "rahasia-nvr"


@pytest.fixture(scope="session")
def sim_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("footage")


@pytest.fixture(scope="module")
def simulator(sim_cache: Path) -> Iterator[NvrSimulator]:
    config = SimConfig(
        cameras=default_cameras(2), cache_dir=sim_cache, width=320, height=240, fps=5,
        gop_seconds=2, segment_seconds=10, retention=timedelta(hours=1),
        username=USER, password=PASSWORD,
    )  # fmt: skip
    simulator = NvrSimulator(config)
    thread = SimulatorThread(simulator)
    thread.start()
    yield simulator
    thread.stop()


@pytest.fixture
def anchor() -> datetime:
    """The start of a segment about ten minutes ago whose number is a multiple of 4."""
    moment = segment_start(datetime.now(UTC) - timedelta(minutes=10), 10)
    while (int(moment.timestamp()) // 10) % 4 != 0:
        moment -= timedelta(seconds=10)
    return moment
