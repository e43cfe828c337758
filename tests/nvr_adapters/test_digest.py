"""The writer's off-thread SHA-256: the same digest as hashlib's, bounded, and no thread left."""

from __future__ import annotations

import hashlib
import random
import threading
import time

import pytest

from nvr_adapters import _digest
from nvr_adapters._digest import Sha256


def chunks(seed: int, count: int, largest: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randrange(0, largest)) for _ in range(count)]


@pytest.mark.parametrize("batch", [1, 1000, 64 << 10, 1 << 40])
def test_digest_equals_hashlib_over_any_batching(
    monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(_digest, "BATCH", batch)
    data = chunks(seed=batch, count=400, largest=5000)
    digest = Sha256()
    for chunk in data:
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(b"".join(data)).hexdigest()


def test_digest_of_nothing_is_sha256_of_nothing() -> None:
    assert Sha256().hexdigest() == hashlib.sha256().hexdigest()


def test_hexdigest_can_be_asked_twice_and_more_bytes_added_between(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_digest, "BATCH", 10)
    digest = Sha256()
    digest.update(b"a" * 25)
    assert digest.hexdigest() == hashlib.sha256(b"a" * 25).hexdigest()
    digest.update(b"b" * 7)
    assert digest.hexdigest() == hashlib.sha256(b"a" * 25 + b"b" * 7).hexdigest()


def test_a_writer_that_outruns_the_hashing_waits_instead_of_queueing_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At most IN_FLIGHT batches wait for the thread: memory stays bounded."""
    monkeypatch.setattr(_digest, "BATCH", 1)
    gate, waiting = threading.Event(), []

    class SlowDigest:
        def __init__(self) -> None:
            self.inner = hashlib.sha256()

        def update(self, data: bytes) -> None:
            gate.wait()
            self.inner.update(data)

        def hexdigest(self) -> str:
            return self.inner.hexdigest()

    digest = Sha256()
    digest._digest = SlowDigest()  # type: ignore[assignment]

    def feed() -> None:
        for _ in range(10):
            digest.update(b"x")

    feeder = threading.Thread(target=feed)
    feeder.start()
    time.sleep(0.3)
    waiting.append(digest._queue.qsize())
    assert feeder.is_alive()  # held back: the thread has not hashed anything yet
    gate.set()
    feeder.join(5)
    assert digest.hexdigest() == hashlib.sha256(b"x" * 10).hexdigest()
    # One batch taken by the thread, IN_FLIGHT - 1 queued; the rest not handed over at all.
    assert waiting[0] <= _digest.IN_FLIGHT


def test_an_error_while_hashing_reaches_the_writer() -> None:
    digest = Sha256()
    digest.update("not bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        digest.hexdigest()


def test_the_thread_ends_when_idle_and_comes_back_for_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_digest, "BATCH", 1)
    monkeypatch.setattr(_digest, "IDLE_SECONDS", 0.05)
    digest = Sha256()
    digest.update(b"one")
    assert digest.hexdigest() == hashlib.sha256(b"one").hexdigest()
    assert _hashing_threads_end(within=2.0)  # an abandoned writer leaves no thread behind
    digest.update(b"two")
    assert digest.hexdigest() == hashlib.sha256(b"onetwo").hexdigest()


def _hashing_threads_end(within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(t.name == "saksi-sha256" for t in threading.enumerate()):
            return True
        time.sleep(0.01)
    return False
