"""Serve a file with single-range HTTP support, framework-agnostic."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_BLOCK = 256 * 1024


@dataclass(frozen=True)
class FileResponse:
    """Status, headers and a lazy body; `span` is the (first, last) byte served."""

    status: int
    headers: dict[str, str]
    body: Iterator[bytes]
    span: tuple[int, int]


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the (first, last) byte of a single range, None for the whole file.

    Raises ValueError when the range cannot be satisfied (answer 416).
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # RFC 9110: an unparseable Range is ignored, not an error
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise ValueError("unsatisfiable range")
    return start, end


def _iter_file(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            block = fh.read(min(_BLOCK, remaining))
            if not block:
                return
            remaining -= len(block)
            yield block


def serve_file(path: Path, range_header: str | None, if_range: str | None = None) -> FileResponse:
    """Answer a GET for `path`: 200, 206 with Content-Range, or 416.

    A Range is honoured only while `If-Range` (when sent) still names this file: its strong
    ETag or its exact Last-Modified date; otherwise the whole file is sent (RFC 9110 §13.1.5),
    so a client resuming a download of a file that changed does not splice two versions.
    """
    stat = path.stat()
    size = stat.st_size
    validators = _validators(stat.st_size, stat.st_mtime_ns)
    base = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream", **validators}
    if if_range is not None and if_range.strip() not in validators.values():
        range_header = None
    try:
        span = parse_range(range_header, size)
    except ValueError:
        headers = {**base, "Content-Range": f"bytes */{size}", "Content-Length": "0"}
        return FileResponse(416, headers, iter(()), (0, -1))
    start, end = span if span else (0, size - 1)
    headers = {**base, "Content-Length": str(end - start + 1)}
    if span:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return FileResponse(206 if span else 200, headers, _iter_file(path, start, end), (start, end))


def _validators(size: int, mtime_ns: int) -> dict[str, str]:
    """A strong ETag (size and modification time: delivered files are never rewritten in place)
    and the Last-Modified date."""
    modified = formatdate(mtime_ns / 1e9, usegmt=True)
    return {"ETag": f'"{size:x}-{mtime_ns:x}"', "Last-Modified": modified}
