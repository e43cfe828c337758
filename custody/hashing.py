"""Hash while writing: a file-like sink that computes SHA-256 of exactly the bytes it passes on.

Exporters and uploads write through it, so the digest that enters the ledger is the digest of
the bytes that reached the file, without reading the file a second time.
"""

from __future__ import annotations

import hashlib
from types import TracebackType
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class HashingWriter:
    """Write bytes to a binary file and hash them on the way."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self._digest = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write `data` completely, then count and hash it."""
        view = memoryview(data).cast("B")
        written = 0
        while written < len(view):
            count = self._target.write(view[written:])
            # Raw files may write less than asked (or None when non-blocking): hash what landed.
            written += len(view) - written if count is None else count
        self._digest.update(view)
        self._size += len(view)
        return len(view)

    def flush(self) -> None:
        self._target.flush()

    @property
    def size(self) -> int:
        return self._size

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def digest(self) -> bytes:
        return self._digest.digest()

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.flush()


def copy_hashing(source: Readable, target: BinaryIO, chunk: int = CHUNK) -> tuple[str, int]:
    """Copy a stream into `target` in chunks; return (hex SHA-256, size) of what was written."""
    writer = HashingWriter(target)
    while block := source.read(chunk):
        writer.write(block)
    writer.flush()
    return writer.hexdigest(), writer.size


def sha256_file(path: str | bytes, chunk: int = CHUNK) -> tuple[str, int]:
    """Hash a file already on disk in chunks; return (hex SHA-256, size)."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
