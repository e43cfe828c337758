"""What a signed scan of the BAST must be: not the generated PDF itself, and a scan or a
signed PDF (issue 20: the walkthrough uploaded the generated, unsigned PDF, and the page showed
it as *Pindaian bertanda tangan*).

A scan is pages of images; an electronically signed PDF has a filled signature field. The
generated BAST has neither (its QR code and letterhead are vector drawings), so a file with no
image on any page and no signature cannot be the signed paper.
"""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from app import errors


class ScanIsTheGeneratedBast(errors.Unprocessable):
    """The upload is byte for byte the BAST Saksi generated: nobody signed it."""


class ScanNotSigned(errors.Unprocessable):
    """The upload has neither a scanned page image nor an electronic signature."""


def check_signed_scan(path: Path, sha256: str, generated_sha256: str | None) -> None:
    """Refuse what cannot be the signed BAST; pass a scan or an electronically signed PDF."""
    if generated_sha256 is not None and sha256 == generated_sha256:
        raise ScanIsTheGeneratedBast(
            "this is the BAST as Saksi generated it, unsigned: upload the scan of the signed paper"
        )
    try:
        reader = PdfReader(path)
        scanned = any(len(page.images) > 0 for page in reader.pages)
        signed = scanned or _has_signature(reader)
    except (PyPdfError, ValueError, KeyError) as exc:
        raise ScanNotSigned(f"the file cannot be read as a PDF: {exc}") from exc
    if not signed:
        raise ScanNotSigned(
            "the PDF has no scanned page image and no electronic signature: upload the scan "
            "of the signed paper, or the electronically signed PDF"
        )


def _has_signature(reader: PdfReader) -> bool:
    """A signature field with a value (`/FT /Sig` and `/V`, ISO 32000-1 §12.7.4.5)."""
    fields = reader.get_fields() or {}
    return any(f.get("/FT") == "/Sig" and f.get("/V") is not None for f in fields.values())
