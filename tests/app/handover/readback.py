"""Read rendered documents back with independent tools: poppler for PDFs, OpenCV for QR codes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import cv2


def pdf_text(pdf: bytes, directory: Path) -> str:
    """Return the text of a PDF as ``pdftotext -layout`` extracts it."""
    path = directory / "document.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, timeout=30
    )
    return done.stdout.decode("utf-8")


def pdf_pages(pdf: bytes, directory: Path) -> int:
    """Return the page count reported by ``pdfinfo``."""
    path = directory / "count.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdfinfo", str(path)], capture_output=True, check=True, timeout=30, text=True
    )
    match = re.search(r"^Pages:\s+(\d+)$", done.stdout, re.MULTILINE)
    assert match is not None, done.stdout
    return int(match.group(1))


def render_page(pdf: bytes, page: int, directory: Path, resolution: int = 150) -> Path:
    """Render one page to PNG with ``pdftoppm`` and return the image's path."""
    path = directory / "page.pdf"
    path.write_bytes(pdf)
    prefix = directory / f"page-{page}"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            str(resolution),
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(path),
            str(prefix),
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return prefix.with_suffix(".png")


def decode_qr(image_path: Path) -> str:
    """Decode the QR code on an image with OpenCV's detector; empty if none is found."""
    image = cv2.imread(str(image_path))
    assert image is not None, image_path
    payload, _points, _straight = cv2.QRCodeDetector().detectAndDecode(image)
    return str(payload)
