"""QR codes for the verification URL: a module matrix for vector PDF drawing, a PNG for DOCX."""

from __future__ import annotations

import io

import segno

QUIET_ZONE = 4


def qr_matrix(payload: str) -> list[list[bool]]:
    """Return the dark/light modules of a QR code for the payload, quiet zone included."""
    code = segno.make_qr(payload, error="m")
    return [[bool(module) for module in row] for row in code.matrix_iter(border=QUIET_ZONE)]


def qr_png(payload: str, scale: int = 8) -> bytes:
    """Return a PNG of the QR code, ``scale`` pixels per module."""
    buffer = io.BytesIO()
    segno.make_qr(payload, error="m").save(buffer, kind="png", scale=scale, border=QUIET_ZONE)
    return buffer.getvalue()
