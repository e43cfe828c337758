"""PAdES signatures on the BAST PDF: where each party signs, and who signs (`Signer`).

A signature is appended to the PDF as an incremental update: the bytes before it are never
rewritten, so every earlier signature keeps covering exactly the revision it signed. The
signature fields are laid over the template's own signature blocks (Pihak Pertama, Pihak
Kedua, Mengetahui), found in the rendered PDF itself: the blank between a block's heading and
the signer's name, where the ink signature goes on paper.
"""

from __future__ import annotations

import io
import logging
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.stamp import QRStampStyle, TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import (
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]

from app.settings import Pkcs12Key, SignerRole

# The signature field of each role, and the heading of its block in the template (_content).
FIELDS: dict[SignerRole, str] = {
    "operator": "PihakPertama",
    "recipient": "PihakKedua",
    "subkoordinator": "Mengetahui",
}
HEADINGS: dict[SignerRole, str] = {
    "operator": "Pihak Pertama",
    "recipient": "Pihak Kedua",
    "subkoordinator": "Mengetahui",
}
_Role = TypeVar("_Role", bound=str)
BOX_WIDTH = 190.0  # points: about 6.7 cm, inside the 8.2 cm column of each block
_MIN_BOX_HEIGHT = 30.0
STAMP_HEADING = "Ditandatangani secara elektronik oleh"
_STAMP_LAYOUT = layout.SimpleBoxLayoutRule(
    x_align=layout.AxisAlignment.ALIGN_MID,
    y_align=layout.AxisAlignment.ALIGN_MID,
    margins=layout.Margins(4, 4, 4, 4),
)


logger = logging.getLogger(__name__)


class SigningError(Exception):
    """The PDF cannot be signed as asked: no signature block, or the field is signed."""


@dataclass(frozen=True, slots=True)
class Placement:
    """A visible signature field: its page (0-based) and box (x1, y1, x2, y2 in points)."""

    page: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class SignatureRequest:
    """One signature to append: the field, where it shows, and what its appearance says."""

    field_name: str
    placement: Placement
    name: str
    id_line: str  # "NIP. 1992…" / "NRP. 8507…", or "" when the party has no number
    signed_at: str  # the signing time as the office writes it
    reason: str
    location: str
    timestamp_url: str | None = None
    # What the stamp says above the name, and lines under the NIP/NRP (an uncertified approval
    # says so here: the office seal signs on the recipient's behalf).
    heading: str = STAMP_HEADING
    remarks: tuple[str, ...] = ()
    # The document's public verification page: the stamp carries it as a QR code (issue 19).
    verification_url: str | None = None


class Signer(Protocol):
    """A signer backend: PKCS#12 here; a remote one (BSrE) signs the same requests."""

    def sign(self, pdf: bytes, request: SignatureRequest) -> bytes:
        """Return `pdf` with one more signature, appended as an incremental update."""
        ...


class Pkcs12Signer:
    """Signs with a certificate and key from a PKCS#12 file (the passphrase from its file)."""

    def __init__(self, p12_file: Path, passphrase: bytes | None) -> None:
        signer = signers.SimpleSigner.load_pkcs12(  # type: ignore[no-untyped-call]
            str(p12_file), passphrase=passphrase
        )
        if signer is None:  # pyhanko logs the reason and returns None
            raise SigningError(f"cannot read the PKCS#12 key {p12_file.name}")
        self._signer = signer

    @classmethod
    def from_key(cls, key: Pkcs12Key) -> Pkcs12Signer:
        passphrase = None
        if key.passphrase_file is not None:
            passphrase = key.passphrase_file.read_bytes().strip()
        return cls(key.p12_file, passphrase)

    def sign(self, pdf: bytes, request: SignatureRequest) -> bytes:
        """Sign; PAdES B-LT (the chain's revocation data embedded) when the certificate names
        where its revocation is published and that answers, else B-T (with a time-stamp) or
        B-B. A certificate found revoked is refused, never signed with."""
        if request.field_name in signed_fields(pdf):
            raise SigningError(f"the field {request.field_name} is signed already")
        context = self._revocation_context()
        if context is not None:
            try:
                return self._sign(pdf, request, context)
            except PyhankoSigningError as exc:  # pyHanko wraps what validating the chain found
                if _caused_by(exc, RevokedError):
                    raise SigningError("the signer's certificate is revoked") from exc
                if not _caused_by(exc, PathValidationError, PathBuildingError, ValidationError):
                    raise
                logger.warning("revocation data unreachable, signing without it: %s", exc)
        return self._sign(pdf, request, None)

    def _revocation_context(self) -> ValidationContext | None:
        """A context that fetches the chain's CRLs/OCSP answers (hard-fail), when the signer's
        certificate points to any; None when there is nothing to embed."""
        cert = self._signer.signing_cert
        if cert is None or not (cert.crl_distribution_points or cert.ocsp_urls):
            return None
        roots = [c for c in self._signer.cert_registry if c.self_signed]
        if not roots:
            return None
        return ValidationContext(
            trust_roots=roots, allow_fetching=True, revocation_mode="hard-fail"
        )

    def _sign(
        self, pdf: bytes, request: SignatureRequest, context: ValidationContext | None
    ) -> bytes:
        meta = signers.PdfSignatureMetadata(
            field_name=request.field_name,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason=request.reason,
            location=request.location,
            name=request.name,
            embed_validation_info=context is not None,
            validation_context=context,
        )
        timestamper = None
        if request.timestamp_url:
            timestamper = timestamps.HTTPTimeStamper(request.timestamp_url)
        spec = fields.SigFieldSpec(
            sig_field_name=request.field_name,
            on_page=request.placement.page,
            box=request.placement.box,
        )
        style, params = stamp_style(request)
        pdf_signer = signers.PdfSigner(
            meta, self._signer, timestamper=timestamper, stamp_style=style, new_field_spec=spec
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        out = io.BytesIO()
        pdf_signer.sign_pdf(writer, output=out, appearance_text_params=params)
        signed = out.getvalue()
        if not signed.startswith(pdf):  # never: an incremental update only appends
            raise SigningError("the signed PDF does not keep the document it signed")
        return signed


def stamp_style(request: SignatureRequest) -> tuple[TextStampStyle, dict[str, str]]:
    """The visible signature: its text and, when the document has a public verification page,
    a QR code of that page left of the text (pyHanko draws it; the URL is its `url` parameter)."""
    common: dict[str, Any] = {
        "stamp_text": stamp_text(request), "border_width": 1,
        "text_box_style": TextBoxStyle(font_size=8), "inner_content_layout": _STAMP_LAYOUT,
    }  # fmt: skip
    if request.verification_url is None:
        return TextStampStyle(**common), {}
    return QRStampStyle(**common, innsep=2), {"url": request.verification_url}


def stamp_text(request: SignatureRequest) -> str:
    """What the visible signature says: who signed, their NIP/NRP, and when."""
    lines = [request.heading, request.name, request.id_line, *request.remarks, request.signed_at]
    # The stamp's standard font shows WinAnsi only; '%' would start a pyHanko parameter.
    return "\n".join(_printable(line).replace("%", "%%") for line in lines if line)


def signed_fields(pdf: bytes) -> list[str]:
    """The names of the signature fields that carry a signature, in signing order."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return [str(sig.field_name) for sig in reader.embedded_signatures]


def _caused_by(exc: BaseException, *kinds: type[BaseException]) -> bool:
    """Whether `exc` or an exception it was raised from is one of `kinds`."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def pades_level(pdf: bytes) -> str:
    """The PAdES baseline level the last signature reached: B-LT (time-stamped, the chain's
    revocation data in the document's DSS), B-T (time-stamped) or B-B."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    unsigned = reader.embedded_signatures[-1].signer_info["unsigned_attrs"]
    stamped = unsigned.native is not None and any(
        attribute["type"].native == "signature_time_stamp_token" for attribute in unsigned
    )
    if not stamped:
        return "B-B"
    dss = reader.root["/DSS"] if "/DSS" in reader.root else None  # [] dereferences
    revocation = dss is not None and ("/CRLs" in dss or "/OCSPs" in dss)
    return "B-LT" if revocation else "B-T"


def last_signer(pdf: bytes) -> tuple[str, str]:
    """The subject and SHA-256 fingerprint of the certificate of the latest signature."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    cert = reader.embedded_signatures[-1].signer_cert
    return str(cert.subject.human_friendly), str(cert.sha256.hex())


def placements(pdf: bytes) -> dict[SignerRole, Placement]:
    """Where each role signs the BAST: the blank between its block's heading and the name."""
    return block_placements(pdf, HEADINGS)


def block_placements(pdf: bytes, headings: Mapping[_Role, str]) -> dict[_Role, Placement]:
    """Where each role signs a document whose signature blocks have these headings."""
    pages = [_text_runs(page) for page in PdfReader(io.BytesIO(pdf)).pages]
    found: dict[_Role, Placement] = {}
    for role, heading in headings.items():
        for index in range(len(pages) - 1, -1, -1):
            runs = pages[index]
            head = next((run for run in runs if run.text == heading), None)
            if head is not None:
                found[role] = Placement(index, _box_under(head, runs))
                break
        else:
            raise SigningError(f"the document has no signature block '{heading}'")
    return found


@dataclass(frozen=True, slots=True)
class _Run:
    text: str
    x: float
    y: float  # baseline
    size: float
    width: float

    @property
    def center(self) -> float:
        return self.x + self.width / 2


def _text_runs(page: Any) -> list[_Run]:
    runs: list[_Run] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        text = text.strip()
        if not text:
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        base = str(font.get("/BaseFont", "/Helvetica")).lstrip("/") if font else "Helvetica"
        try:
            width = float(stringWidth(text, base, size))
        except KeyError:  # not a standard font reportlab knows: estimate
            width = 0.5 * size * len(text)
        runs.append(_Run(text, x, y, size, width))

    page.extract_text(visitor_text=visit)
    return runs


def _box_under(head: _Run, runs: list[_Run]) -> tuple[int, int, int, int]:
    """The box between the heading's descenders and the cap height of the name under it."""
    reach = BOX_WIDTH / 2
    below = [
        run
        for run in runs
        if run.y < head.y
        and run.x < head.center + reach
        and run.x + run.width > head.center - reach
    ]
    if not below:
        raise SigningError(f"nothing under the signature block '{head.text}'")
    name = max(below, key=lambda run: run.y)
    top = head.y - 0.25 * head.size - 2
    bottom = name.y + 0.8 * name.size + 3
    if top - bottom < _MIN_BOX_HEIGHT:
        raise SigningError(f"no room to sign under '{head.text}'")
    # Whole points, inward: the box never reaches the text around it.
    return (math.ceil(head.center - reach), math.ceil(bottom), int(head.center + reach), int(top))


def _printable(text: str) -> str:
    """The text in what the stamp's standard font can show (WinAnsi; accents dropped)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isprintable())
