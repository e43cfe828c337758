"""Keep a repeating error from flooding the log (and, on a full disk, the disk).

With the data directory full, the job consumer logged `Error reading from queue` 6.5 times a
second (issue 17). A record whose logger, level and message template were already written
`BURST` times within `WINDOW_S` is held back; the first one let through after the window says
how many were held back. Different messages are never held back by each other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

BURST, WINDOW_S = 3, 60.0


class RepeatLimiter(logging.Filter):
    """Lets `burst` identical records through per `window_s`, then one per window with a count."""

    def __init__(
        self, burst: int = BURST, window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        super().__init__()
        self.burst, self.window_s, self._clock = burst, window_s, clock
        # key -> (start of its window, records let through in it, records held back)
        self._seen: dict[tuple[str, int, str], tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        start, passed, held = self._seen.get(key, (now, 0, 0))
        if now - start >= self.window_s:
            if held:
                record.msg = f"{record.msg} [{held} identical messages held back before this one]"
            start, passed, held = now, 0, 0
        if passed >= self.burst:
            self._seen[key] = (start, passed, held + 1)
            return False
        self._seen[key] = (start, passed + 1, held)
        if len(self._seen) > 1000:  # many distinct messages: forget the oldest windows
            self._seen = dict(sorted(self._seen.items(), key=lambda i: i[1][0])[-500:])
        return True


def install() -> None:
    """Put one limiter on every handler of the root logger (idempotent)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RepeatLimiter) for f in handler.filters):
            handler.addFilter(RepeatLimiter())
