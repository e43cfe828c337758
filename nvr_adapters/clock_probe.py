"""The device clock against ours from several readings, each bounded by its round trip.

One reading of a device that answers in whole seconds (ONVIF's `DateTime` has no fractions)
cannot tell an offset of 0.4 s from none: 0.5 s of truncation plus half the trip (issue 20
found 0.501 s of uncertainty against every measured offset below it). Each reading instead
bounds the offset: the device answered `D` at some moment of ours between sending (`s`) and
receiving (`s + r`), so `offset ∈ [D − (s + r), D + 1 − s)` (or `[D − (s + r), D − s]` when the
device gives sub-second time). Readings every `POLL_S` until the device's second ticks over pin
that tick between two of them: the intersection of the bounds is then about `POLL_S` plus a
round trip wide. The estimate is its middle; the uncertainty is half its width, as measured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from nvr_adapters._common import Clock, Reading, offset_from, read_clock
from nvr_adapters.types import ClockOffset

POLL_S = 0.04
TARGET_S = 0.05  # stop once the offset is known to ± this
# How long a probe may spend narrowing (a second and a bit: one tick of a whole-second clock
# always falls inside). `configure(0)` takes one reading, as before (the test suite does).
_budget_s = 1.2


def configure(budget_s: float) -> None:
    """Set how long a clock probe may take (seconds; 0: a single reading)."""
    global _budget_s  # noqa: PLW0603 - one process-wide knob, set from settings at start-up
    _budget_s = max(0.0, budget_s)


async def measure_offset(
    clock: Clock, ask: Callable[[], Awaitable[datetime]], method: str
) -> ClockOffset:
    """Device minus server time from as many readings as it takes (within the budget)."""
    first = await read_clock(clock, ask)
    readings = [first]
    bounds: tuple[float, float] | None = _bounds(first)
    deadline = time.monotonic() + _budget_s
    while bounds is not None and bounds[1] - bounds[0] > 2 * TARGET_S:
        if time.monotonic() + POLL_S > deadline:
            break
        await asyncio.sleep(POLL_S)
        readings.append(await read_clock(clock, ask))
        bounds = _intersect(bounds, _bounds(readings[-1]))
    if bounds is None or len(readings) == 1:  # inconsistent readings (the clock was set), or one
        return offset_from(min(readings, key=lambda r: r.round_trip_s), method)
    low, high = bounds
    middle = readings[0].sent_at  # any moment: the offset does not depend on it
    return ClockOffset(
        seconds=round((low + high) / 2, 3),
        method=f"{method} x{len(readings)}, round-trip bounded",
        measured_at=middle + timedelta(seconds=readings[0].round_trip_s / 2),
        uncertainty_s=round((high - low) / 2, 3),
    )


def _bounds(reading: Reading) -> tuple[float, float]:
    """The offsets (device minus server, seconds) this reading allows."""
    device = reading.device_time.timestamp()
    sent = reading.sent_at.timestamp()
    received = sent + reading.round_trip_s
    resolution = 1.0 if reading.whole_seconds else 0.0
    return device - received, device + resolution - sent


def _intersect(a: tuple[float, float] | None, b: tuple[float, float]) -> tuple[float, float] | None:
    if a is None:
        return None
    low, high = max(a[0], b[0]), min(a[1], b[1])
    return (low, high) if low <= high else None
