"""SHA-256 off the writing thread: bytes are gathered into batches and hashed by a worker.

A replay client is busy receiving and muxing; hashing two copies of every byte (the file and the
raw bitstream) on the same thread adds a tenth to its time. `hashlib` lets go of the GIL while it
hashes a large buffer, so a worker thread hashing 1 MiB batches runs on another core meanwhile,
and the writer only copies bytes into the batch. The digest is still the digest of exactly the
bytes given, in the order given, computed from memory as they are written (never read back):
one worker per process takes the batches first come, first served, so each digest's batches are
hashed in order.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

BATCH = 1 << 20
# Batches one digest may have waiting before its writer waits: memory stays bounded (4 MiB) when
# the worker falls behind, e.g. with every core busy.
IN_FLIGHT = 4

_lock = threading.Lock()
_workers: dict[int, ThreadPoolExecutor] = {}  # by process id


def _executor() -> ThreadPoolExecutor:
    """The process's hashing thread (a new one in a forked child: threads do not survive fork)."""
    with _lock:
        pid = os.getpid()
        if pid not in _workers:
            _workers[pid] = ThreadPoolExecutor(1, thread_name_prefix="saksi-sha256")
        return _workers[pid]


class BatchedSha256:
    """`update`/`hexdigest` like `hashlib.sha256()`, with the hashing done by the worker."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._batch = bytearray()
        self._queued: deque[Future[None]] = deque()

    def update(self, data: bytes) -> None:
        self._batch += data
        if len(self._batch) >= BATCH:
            self._submit()

    def hexdigest(self) -> str:
        """Wait for every batch and return the digest (as `hashlib`'s, of all bytes given)."""
        if self._batch:
            self._submit()
        while self._queued:
            self._queued.popleft().result()  # re-raises what went wrong in the worker
        return self._digest.hexdigest()

    def _submit(self) -> None:
        batch, self._batch = self._batch, bytearray()
        self._queued.append(_executor().submit(self._digest.update, batch))
        while len(self._queued) > IN_FLIGHT:
            self._queued.popleft().result()
