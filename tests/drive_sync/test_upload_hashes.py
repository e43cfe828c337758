"""The uploader's digests: every byte hashed once, in order, from the chunk in memory; the disk
is read again only for what a resumed upload finds already on Drive."""

from __future__ import annotations

import hashlib
import io
import os

from drive_sync._upload import _Hashes


class CountingFile(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def send(
    data: bytes, chunk: int, acknowledged: list[int], resumed_at: int = 0
) -> tuple[_Hashes, int]:
    """Run the uploader's read-and-hash steps, chunks read where Drive says to go on; return
    the digests and how many bytes were read from the file."""
    fh, hashes, offset = CountingFile(data), _Hashes(), resumed_at
    for ack in [*acknowledged, len(data)]:
        hashes.catch_up(fh, offset)
        fh.seek(offset)
        hashes.take(fh.read(min(chunk, len(data) - offset)), offset)
        offset = ack
    hashes.catch_up(fh, len(data))
    return hashes, fh.bytes_read


def test_chunks_are_hashed_from_memory_once() -> None:
    data = os.urandom(10_000)
    hashes, read = send(data, 3000, [3000, 6000, 9000])
    assert hashes.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert hashes.md5.hexdigest() == hashlib.md5(data).hexdigest()
    assert read == len(data)


def test_a_short_acknowledgement_resends_without_hashing_twice() -> None:
    """Drive kept only part of a chunk: the next chunk starts earlier and overlaps it."""
    data = os.urandom(10_000)
    hashes, _read = send(data, 3000, [3000, 4500, 7500])
    assert hashes.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert hashes.position == len(data)


def test_a_resumed_upload_reads_only_what_drive_already_has() -> None:
    data = os.urandom(10_000)
    hashes, read = send(data, 3000, [7000, 10_000], resumed_at=4000)
    assert hashes.sha256.hexdigest() == hashlib.sha256(data).hexdigest()
    assert read == 4000 + 6000  # the part on Drive, then the chunks sent
