"""The NVR's clock offset from several round-trip-bounded readings (issue 20 item 8): against
the simulator's whole-second clocks, each vendor's offset is found to within about 50 ms, so a
0.4 s skew is told from none, where one reading could only say ±0.5 s."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from nvr_adapters import clock_probe
from nvr_adapters.factory import Vendor
from nvr_sim import NvrSimulator
from nvr_sim.config import CameraConfig
from tests.nvr_adapters.conftest_vendors import (
    CLOCK_OFFSET,
    PASSWORD,
    USER,
    VENDORS,
    adapter_for,
    vendor_sim,
)
from tests.nvr_adapters.test_vendor_adapters import with_adapter
from tests.nvr_sim.conftest import running, sim_cache, small_config

__all__ = ["sim_cache", "vendor_sim"]


@pytest.fixture
def probing() -> Iterator[None]:
    clock_probe.configure(1.2)
    yield
    clock_probe.configure(0)


@pytest.mark.usefixtures("probing")
@pytest.mark.parametrize("vendor", VENDORS)
def test_each_vendor_clock_is_measured_to_tens_of_milliseconds(
    vendor_sim: NvrSimulator, vendor: Vendor
) -> None:
    info = with_adapter(adapter_for(vendor_sim, vendor), lambda a: a.probe())

    assert info.clock.uncertainty_s <= 0.06
    assert abs(info.clock.seconds - CLOCK_OFFSET.total_seconds()) <= info.clock.uncertainty_s + 0.02
    assert "round-trip bounded" in info.clock.method


@pytest.mark.usefixtures("probing")
def test_a_skew_of_0_4_s_is_told_from_none(sim_cache: Path) -> None:
    config = small_config(sim_cache, (CameraConfig(1, "Kamera 1"),), username=USER,
                          password=PASSWORD, clock_offset=timedelta(seconds=0.4))  # fmt: skip
    with running(config) as simulator:
        info = with_adapter(adapter_for(simulator, "onvif"), lambda a: a.probe())
        clock_probe.configure(0)
        single = with_adapter(adapter_for(simulator, "onvif"), lambda a: a.probe())

    assert abs(info.clock.seconds - 0.4) <= info.clock.uncertainty_s + 0.02
    assert abs(info.clock.seconds) > info.clock.uncertainty_s  # a skew, and it is applied
    # One reading is consistent with the skew too, but only to ±0.5 s: it cannot tell 0.4 s
    # from none, nor from 0.9 s.
    assert single.clock.uncertainty_s >= 0.5
    assert abs(single.clock.seconds - 0.4) <= single.clock.uncertainty_s + 0.02
