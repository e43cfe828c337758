"""SHA-256 on a thread of its own, fed in large batches: the writer's two digests off its thread.

A replay is one busy thread (receive, depacketise, mux); hashing every byte twice on it (the file
and the raw bitstream) added a sixth to its time. `hashlib` lets go of the GIL while it hashes a
buffer of more than 2 KiB, so a second thread hashing large batches runs on another core while
the replay goes on. What costs is handing over, not hashing: each hand-over makes the two threads
trade the GIL, so the bytes are gathered (by reference, no copy) into batches of 4 MiB and joined
once, on the hashing thread (measured on the simulator: 1 MiB batches cost the replay +12 %,
4 MiB +7 %, hashing on the replay's own thread +16 %).

The digest is still SHA-256 of exactly the bytes given, in the order given, from memory as they
are written (never read back): one thread per `Sha256` takes its batches first in, first out.
While `IN_FLIGHT` batches wait for it, a writer that outruns its hashing (every core busy) waits
instead of growing memory: a digest holds at most (IN_FLIGHT + 1) × BATCH. The thread ends when
it has had nothing to do for a second and starts again on the next batch: a writer abandoned
half-way leaves no thread behind.
"""

from __future__ import annotations

import hashlib
import threading
from queue import Empty, SimpleQueue

BATCH = 4 << 20
IN_FLIGHT = 1
IDLE_SECONDS = 1.0

_Item = list[bytes] | threading.Event


class Sha256:
    """`update`/`hexdigest` like `hashlib.sha256()`; the hashing happens on a thread of its own."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._parts: list[bytes] = []
        self._size = 0
        self._queue: SimpleQueue[_Item] = SimpleQueue()
        self._room = threading.BoundedSemaphore(IN_FLIGHT)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def update(self, data: bytes) -> None:
        """Add `data` (kept by reference until hashed: pass bytes, never a buffer reused later)."""
        self._parts.append(data)
        self._size += len(data)
        if self._size >= BATCH:
            self._submit()

    def flush(self) -> None:
        """Hand what is gathered to the thread now, without waiting for it (a writer about to
        finish lets it hash meanwhile)."""
        if self._parts:
            self._submit()

    def hexdigest(self) -> str:
        """Wait until every byte given is hashed; the digest of them all."""
        self.flush()
        done = threading.Event()
        self._put(done)  # first in, first out: set once every batch before it is hashed
        done.wait()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()

    def _submit(self) -> None:
        parts, self._parts, self._size = self._parts, [], 0
        self._room.acquire()  # released by the thread once the batch is hashed
        self._put(parts)

    def _put(self, item: _Item) -> None:
        with self._lock:
            self._queue.put(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="saksi-sha256", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while (item := self._next()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                if self._error is None:
                    self._digest.update(b"".join(item))
            except BaseException as exc:  # noqa: BLE001 - handed to the writer by hexdigest()
                self._error = exc
            finally:
                self._room.release()

    def _next(self) -> _Item | None:
        """The next item, or None once idle for IDLE_SECONDS (and then the thread is gone)."""
        while True:
            try:
                return self._queue.get(timeout=IDLE_SECONDS)
            except Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return None
