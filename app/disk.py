"""The data directory's free space: the reserve an export must leave, and a full disk told apart.

Clips, masters, packages and (on the embedded default) the SQLite database share one
filesystem. When it fills, the clip writer and the database fail together; the record of why
must still be written. So an export asks for the space it will take before it starts (what the
NVR's search announced, else the window at an assumed bitrate, plus `SAKSI_MIN_FREE_BYTES`
kept free for the database and the ledger), and a write that fails with ENOSPC (from the OS,
from FFmpeg, or SQLite's "database or disk is full") is recognised as a full disk whatever
wraps it.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from nvr_adapters.errors import NvrError

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
FULL_MESSAGES = ("no space left on device", "database or disk is full", "disk quota exceeded")
MB = 1_000_000


class InsufficientSpace(NvrError):
    """Less free space than the export would take plus the reserve: it does not start."""

    transient = True  # freed space lets a later try run


class DiskFull(NvrError):
    """The disk filled while the export was writing; its partial files were released."""

    transient = True


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding `path` (or its nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def shortfall(path: Path, needed: int, reserve: int) -> str | None:
    """Why `needed` more bytes would not fit while keeping `reserve` free; None if they do."""
    free = free_bytes(path)
    if free - reserve >= needed:
        return None
    return (f"{free / MB:.1f} MB free in {path}, {needed / MB:.1f} MB needed and "
            f"{reserve / MB:.1f} MB kept in reserve (SAKSI_MIN_FREE_BYTES)")  # fmt: skip


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc`, or anything it was raised from, is a full disk."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in FULL_ERRNOS:
            return True
        if any(message in str(current).lower() for message in FULL_MESSAGES):
            return True
        current = current.__cause__ or current.__context__
    return False


def release(paths: list[Path]) -> int:
    """Delete the files (those that exist); return the bytes they held."""
    freed = 0
    for path in paths:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        freed += size
    return freed


def reserve_alert(path: Path, reserve: int) -> str | None:
    """The `/readyz` alert when the data directory is under its reserve; None otherwise."""
    free = free_bytes(path)
    if free >= reserve:
        return None
    return (
        f"disk: {free / MB:.1f} MB free in the data directory, under the reserve of "
        f"{reserve / MB:.1f} MB (SAKSI_MIN_FREE_BYTES); exports wait until space is freed"
    )


__all__ = [
    "DiskFull",
    "InsufficientSpace",
    "free_bytes",
    "is_disk_full",
    "release",
    "reserve_alert",
    "shortfall",
]
