"""The writer's background SHA-256 equals hashlib's over the same bytes, however they arrive."""

from __future__ import annotations

import hashlib
import os

import pytest

from nvr_adapters.writer import BackgroundDigest


@pytest.mark.parametrize("sizes", [[], [0], [1], [10, 20, 30], [BackgroundDigest.BATCH + 7] * 3,
                                   [4096] * 700, [3 * BackgroundDigest.BATCH]])  # fmt: skip
def test_the_background_digest_is_sha256(sizes: list[int]) -> None:
    chunks = [os.urandom(size) for size in sizes]
    digest = BackgroundDigest()
    for chunk in chunks:
        digest.update(memoryview(chunk))  # the muxer may hand a view of a reused buffer

    assert digest.hexdigest() == hashlib.sha256(b"".join(chunks)).hexdigest()
    assert digest.hexdigest() == hashlib.sha256(b"".join(chunks)).hexdigest()  # asked twice


def test_a_reused_buffer_is_copied_before_it_changes() -> None:
    buffer = bytearray(b"a" * 100)
    digest = BackgroundDigest()
    digest.update(memoryview(buffer))
    buffer[:] = b"b" * 100

    assert digest.hexdigest() == hashlib.sha256(b"a" * 100).hexdigest()
