"""Create a file once, whole, however many processes try at the same moment.

Creating with O_EXCL and then writing left a window in which a second process, finding the
file, read it empty or half-written (issue 18: two workers starting together). Here the content
is written to a unique temporary file in the same directory and fsynced first; `link(2)` then
publishes it under the final name only if that name is free (it never overwrites), so the name
appears with its whole content or not at all. The loser reads the winner's file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def create_once(path: Path, content: bytes, mode: int = 0o600) -> bytes:
    """Publish `content` at `path` unless a file is already there; return what `path` holds."""
    if path.exists():
        return path.read_bytes()
    with _written(path, content, mode) as temporary:
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_bytes()  # another process published first: its content counts
        _sync_directory(path.parent)
        return content


def replace_whole(path: Path, content: bytes, mode: int = 0o600) -> None:
    """Publish `content` at `path`, replacing what was there: readers see the old file or the
    new one whole, never a part (rename(2) within the directory)."""
    with _written(path, content, mode) as temporary:
        os.replace(temporary, path)
        _sync_directory(path.parent)


@contextlib.contextmanager
def _written(path: Path, content: bytes, mode: int) -> Iterator[str]:
    """`content` in a fsynced temporary file beside `path`, removed afterwards if still there."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        yield temporary
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _sync_directory(directory: Path) -> None:
    """Make the new name durable (the entry lives in the directory)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
