"""The writer's batched SHA-256: the same digest as hashlib's over the same bytes, whatever the
pieces, with several digests interleaved on the one worker, and in a forked child."""

from __future__ import annotations

import hashlib
import os
import random
import threading

import pytest

from nvr_adapters._digest import BATCH, BatchedSha256


def pieces(seed: int, total: int) -> list[bytes]:
    rng = random.Random(seed)
    out, size = [], 0
    while size < total:
        piece = rng.randbytes(rng.choice([1, 17, 1500, 40_000, BATCH - 3, BATCH + 5]))
        out.append(piece)
        size += len(piece)
    return out


def test_digest_equals_hashlib_across_batch_boundaries() -> None:
    given = pieces(1, 9 * BATCH)
    digest = BatchedSha256()
    for piece in given:
        digest.update(piece)
    assert digest.hexdigest() == hashlib.sha256(b"".join(given)).hexdigest()
    assert digest.hexdigest() == hashlib.sha256(b"".join(given)).hexdigest()  # asked twice


def test_empty_input_is_the_empty_digest() -> None:
    assert BatchedSha256().hexdigest() == hashlib.sha256().hexdigest()


def test_interleaved_digests_from_several_threads_keep_their_own_order() -> None:
    inputs = [pieces(seed, 5 * BATCH) for seed in range(4)]
    results: dict[int, str] = {}

    def feed(number: int) -> None:
        digest = BatchedSha256()
        for piece in inputs[number]:
            digest.update(piece)
        results[number] = digest.hexdigest()

    threads = [threading.Thread(target=feed, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: hashlib.sha256(b"".join(inputs[n])).hexdigest() for n in range(4)}


def test_a_forked_child_gets_its_own_worker() -> None:
    data = pieces(7, 3 * BATCH)
    parent = BatchedSha256()
    parent.update(data[0])  # the parent's worker exists before the fork
    parent.hexdigest()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's worker thread did not come along
        digest = BatchedSha256()
        for piece in data:
            digest.update(piece)
        os.write(write, digest.hexdigest().encode())
        os._exit(0)
    os.close(write)
    _pid, status = os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child == hashlib.sha256(b"".join(data)).hexdigest()


def test_a_failure_in_the_worker_reaches_the_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def update(self, data: bytes) -> None:
            raise MemoryError("no room to hash")

    digest = BatchedSha256()
    monkeypatch.setattr(digest, "_digest", Broken())
    digest.update(bytes(BATCH))
    with pytest.raises(MemoryError, match="no room"):
        digest.hexdigest()
