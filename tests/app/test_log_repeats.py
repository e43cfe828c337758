"""An error repeating many times a second is written a few times per minute, with a count."""

from __future__ import annotations

import logging

from app.log_repeats import RepeatLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def logger_with_limiter(clock: Clock) -> tuple[logging.Logger, Kept]:
    kept = Kept()
    kept.addFilter(RepeatLimiter(burst=3, window_s=60.0, clock=clock))
    logger = logging.getLogger("tests.log_repeats")
    logger.handlers = [kept]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, kept


def test_a_flood_of_one_error_is_written_three_times_then_counted() -> None:
    clock = Clock()
    logger, kept = logger_with_limiter(clock)

    for _ in range(390):  # 6.5 a second for a minute, as the queue consumer did
        logger.error("Error reading from queue")
        clock.now += 0.15
    clock.now = 60.0  # the minute is over
    logger.error("Error reading from queue")

    assert kept.lines[:3] == ["Error reading from queue"] * 3
    assert kept.lines[3:] == [
        "Error reading from queue [387 identical messages held back before this one]"
    ]


def test_other_messages_and_arguments_pass_beside_a_flood() -> None:
    clock = Clock()
    logger, kept = logger_with_limiter(clock)

    for n in range(10):
        logger.error("Error reading from queue")
        logger.warning("export %d: heartbeat failed", n)  # one template, counted as one
    logger.info("a different line")

    assert kept.lines.count("Error reading from queue") == 3
    assert [line for line in kept.lines if "heartbeat" in line] == [
        "export 0: heartbeat failed",
        "export 1: heartbeat failed",
        "export 2: heartbeat failed",
    ]
    assert kept.lines[-1] == "a different line"
