"""The request letter scan: PDF only, size-limited, hashed while read, stored by content.

The file is staged while it is validated and moved into `letters/` only when everything else
is valid; if the transaction then rolls back, a file this request created is removed again, so
a refused or failed request leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from sqlalchemy.orm import Session

from app import errors
from app.db import after_rollback

PDF_MAGIC = b"%PDF-"
PDF_MEDIA_TYPES = frozenset({"application/pdf", "application/x-pdf"})
CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StagedLetter:
    path: Path
    sha256: str
    size: int
    filename: str


def stage_letter(
    source: BinaryIO, filename: str, media_type: str | None, data_dir: Path, max_bytes: int
) -> StagedLetter:
    """Copy an uploaded letter to a staging file, checking type and size while hashing it."""
    if media_type is not None and media_type.split(";")[0].strip() not in PDF_MEDIA_TYPES:
        raise errors.LetterNotPdf(f"the letter must be a PDF, not {media_type!r}")
    staging = data_dir / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=staging, suffix=".part", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        with handle:
            digest, size = _copy_checked(source, handle, max_bytes)
        _check_parses(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StagedLetter(path=path, sha256=digest, size=size, filename=_safe_name(filename))


def _copy_checked(source: BinaryIO, target: IO[bytes], max_bytes: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    first = True
    while chunk := source.read(CHUNK):
        if first and not chunk.startswith(PDF_MAGIC):
            raise errors.LetterNotPdf("the letter is not a PDF file (no %PDF- header)")
        first = False
        size += len(chunk)
        if size > max_bytes:
            raise errors.LetterTooLarge(f"the letter is larger than {max_bytes} bytes")
        digest.update(chunk)
        target.write(chunk)
    if first:
        raise errors.LetterNotPdf("the letter file is empty")
    target.flush()
    os.fsync(target.fileno())
    return digest.hexdigest(), size


def _check_parses(path: Path) -> None:
    """Refuse a file that only starts like a PDF: it must parse and have a page (pypdf)."""
    try:
        pages = len(PdfReader(path, strict=False).pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise errors.LetterNotPdf(f"the letter is not a readable PDF ({exc})") from None
    if pages < 1:
        raise errors.LetterNotPdf("the letter is a PDF without a page")


def _safe_name(filename: str) -> str:
    name = Path(filename or "surat.pdf").name
    return "".join(c for c in name if c.isprintable())[:255] or "surat.pdf"


def discard(staged: StagedLetter) -> None:
    staged.path.unlink(missing_ok=True)


def commit_letter(session: Session, staged: StagedLetter, data_dir: Path) -> str:
    """Move a staged letter into the store; return its path relative to the data dir."""
    relative = Path("letters") / staged.sha256[:2] / f"{staged.sha256}.pdf"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        # Same content already stored (content-addressed): keep the existing file.
        discard(staged)
        return relative.as_posix()
    os.replace(staged.path, target)
    after_rollback(session, lambda: target.unlink(missing_ok=True))
    return relative.as_posix()
