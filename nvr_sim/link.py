"""The device's shared resources: its network link and its playback/download sessions.

A real NVR sends everything through one network port: its RTSP playbacks and its HTTP downloads
share that link's capacity. `Link` models it as one token bucket that every connection of the
device takes from before each write. It is scheduled in virtual time (the generic cell rate
algorithm, ITU-T I.371): each `take` reserves its bytes at the link's rate behind everything
reserved before it, and waits until its reservation is at most one burst ahead of the clock.
The long-run rate is therefore exactly the link's whatever the jitter of the sleeps (a late
wake-up does not lose capacity while it stays within the burst), and writers that take in
small slices interleave in reservation order, sharing the link about equally.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

# The largest write a connection makes at once on a capped link: small enough that concurrent
# transfers interleave finely, large enough that a slice costs little Python.
SLICE = 64 * 1024
# How far ahead of the clock reservations may run: about 20 ms of the link, so that a sleep's
# oversleep (the event loop wakes to the millisecond) is absorbed, within 64 KiB-1 MiB.
MIN_BURST, MAX_BURST, BURST_SECONDS = 64 * 1024, 1 << 20, 0.02


class Link:
    """One network link shared by every connection of the device; `mbps=None` is unlimited."""

    def __init__(self, mbps: float | None) -> None:
        self.rate = mbps * 1_000_000 / 8 if mbps else None  # bytes per second
        burst = (self.rate or 0) * BURST_SECONDS
        self.burst = min(max(burst, MIN_BURST), MAX_BURST)
        self._due = 0.0  # the loop time by which everything reserved so far has been sent

    @property
    def limited(self) -> bool:
        return self.rate is not None

    async def take(self, size: int) -> None:
        """Wait until `size` more bytes may go on the link."""
        if self.rate is None:
            return
        now = asyncio.get_running_loop().time()
        self._due = max(self._due, now) + size / self.rate
        delay = self._due - self.burst / self.rate - now
        if delay > 0:
            await asyncio.sleep(delay)

    def slices(self, data: bytes) -> Iterator[memoryview]:
        """`data` in the pieces a connection writes one at a time (all at once if unlimited)."""
        view = memoryview(data)
        step = SLICE if self.limited else max(len(view), 1)
        for start in range(0, len(view), step):
            yield view[start : start + step]


class Sessions:
    """The playback and download sessions the device runs at once; `limit=None` is no limit."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.active = 0

    def acquire(self) -> bool:
        """Take a session if one is free; False when the device is at its limit."""
        if self.limit is not None and self.active >= self.limit:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        """Give back a session taken with `acquire`."""
        self.active = max(self.active - 1, 0)
