"""Check every electronic signature of a PDF offline (pyHanko): `saksi verify pdf` and the BAST's
public page read the same report.

For each signature: its field, who signed (the certificate's name and subject), when (the
time-stamp's time when it has one, else the time the signer's software wrote), whether the
signed bytes are intact and the signature cryptographically valid, whether its certificate
chains to a trusted root, and what changed after it. Trust roots are the office's own signing
CAs (the CA certificates inside the configured PKCS#12 files, the demo CA) and whatever the
caller adds; without any, trust "cannot be determined" rather than "untrusted". Nothing is
fetched from the network: no revocation check, no missing certificates downloaded.

A signature is *broken* when its bytes changed, its cryptography fails, or what was added
after it is more than further signatures, form filling or validation data; the document is
*modified after the last signature* when anything but validation data follows it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from asn1crypto.x509 import Certificate  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from app.handover.demo_signers import demo_dir
from app.handover.terbilang import format_date
from app.settings import Settings

logger = logging.getLogger(__name__)


class _QuietPathErrors(logging.Filter):
    """pyHanko logs a traceback for every certificate it cannot chain to a root; here that is
    an answer ("tidak terpercaya" or "tidak dapat dipastikan"), not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to build path")


logging.getLogger("pyhanko.sign.validation.generic_cms").addFilter(_QuietPathErrors())

_AFTER_TEXT = {
    "none": "mencakup seluruh dokumen",
    "validation": "sesudahnya hanya ditambahkan data validasi",
    "signatures": "sesudahnya hanya ditambahkan tanda tangan berikutnya",
    "changes": "dokumen DIUBAH setelah tanda tangan ini",
}


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """One signature as checked: what a reader needs to judge it."""

    field: str
    signer: str  # the certificate's common name (or whole subject)
    subject: str
    organization: str  # the certificate's O (what a public page shows besides the name)
    signed_at: datetime | None
    timestamped: bool  # `signed_at` is an RFC 3161 time-stamp's, not the signer's own clock
    intact: bool  # the bytes it signed are unchanged
    valid: bool  # its cryptography verifies
    trusted: bool | None  # chains to a trusted root; None: no roots to judge by
    # What follows it: "none" (it signs to the last byte), "validation" (validation data
    # only), "signatures" (further signatures or form filling) or "changes" (anything else).
    after: str
    error: str = ""

    @property
    def covers_whole(self) -> bool:
        return self.after == "none"

    @property
    def changed_after(self) -> bool:
        return self.after == "changes"

    @property
    def broken(self) -> bool:
        return not (self.intact and self.valid) or self.changed_after

    @property
    def state(self) -> str:
        """One word for it, in Indonesian: sah / rusak."""
        return "rusak" if self.broken else "sah"

    @property
    def integrity_text(self) -> str:
        if self.error:
            return f"tidak dapat diperiksa ({self.error})"
        if not self.intact:
            return "RUSAK: isi dokumen yang ditandatangani telah diubah"
        if not self.valid:
            return "RUSAK: tanda tangan tidak cocok dengan sertifikatnya"
        return "utuh, tanda tangan cocok dengan sertifikat penanda tangan"

    @property
    def trust_text(self) -> str:
        if self.trusted is None:
            return "tidak dapat dipastikan (tidak ada sertifikat akar yang dikenal)"
        if self.trusted:
            return "terpercaya (sertifikat diterbitkan oleh penerbit yang dikenal)"
        return "tidak terpercaya (penerbit sertifikat tidak dikenal atau sertifikat tidak berlaku)"

    @property
    def coverage_text(self) -> str:
        return _AFTER_TEXT.get(self.after, "tidak dapat ditentukan")


@dataclass(frozen=True, slots=True)
class PdfReport:
    """Every signature of one PDF, in signing order."""

    signatures: tuple[SignatureCheck, ...]
    modified_after_last: bool
    error: str = ""

    @property
    def ok(self) -> bool:
        """At least one signature, none broken, nothing changed after the last one."""
        if self.error or not self.signatures or self.modified_after_last:
            return False
        return not any(check.broken for check in self.signatures)

    @property
    def verdict(self) -> str:
        """SAH (intact and trusted), UTUH (intact; trust not confirmed) or TIDAK SAH."""
        if not self.ok:
            return "TIDAK SAH"
        if all(check.trusted for check in self.signatures):
            return "SAH"
        return "UTUH, keterpercayaan sertifikat belum dipastikan"

    @property
    def summary(self) -> str:
        if self.error:
            return f"Berkas tidak dapat dibaca sebagai PDF: {self.error}"
        if not self.signatures:
            return "Dokumen ini tidak memuat tanda tangan elektronik."
        broken = sum(check.broken for check in self.signatures)
        if broken:
            return f"{broken} dari {len(self.signatures)} tanda tangan RUSAK."
        if self.modified_after_last:
            return "Dokumen DIUBAH setelah tanda tangan terakhir."
        return (
            f"Semua {len(self.signatures)} tanda tangan utuh dan dokumen tidak diubah setelah "
            "tanda tangan terakhir."
        )


def verify_pdf(pdf: bytes, trust_roots: Sequence[Certificate] = ()) -> PdfReport:
    """Check every signature of `pdf` against `trust_roots` (none: trust undetermined)."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:  # any parse failure: the file is not a readable PDF
        return PdfReport(signatures=(), modified_after_last=False, error=_describe(exc))
    checks = tuple(_check(signature, trust_roots) for signature in embedded)
    last = checks[-1] if checks else None
    after_last = last.after if last is not None and not last.error else "none"
    return PdfReport(signatures=checks, modified_after_last=after_last in ("signatures", "changes"))


def _check(signature: EmbeddedPdfSignature, trust_roots: Sequence[Certificate]) -> SignatureCheck:
    field = _field_name(signature)
    context = ValidationContext(trust_roots=list(trust_roots), allow_fetching=False)
    try:
        signer, subject, organization = _names(signature.signer_cert)
        status = validate_pdf_signature(signature, context)
    except Exception as exc:  # a damaged signature or certificate is an answer, not a crash
        return SignatureCheck(
            field=field, signer="(tidak terbaca)", subject="", organization="",
            signed_at=None, timestamped=False,
            intact=False, valid=False, trusted=None if not trust_roots else False,
            after="unknown", error=_describe(exc),
        )  # fmt: skip
    signed_at, stamped = _signing_time(status)
    return SignatureCheck(
        field=field, signer=signer, subject=subject, organization=organization,
        signed_at=signed_at, timestamped=stamped,
        intact=status.intact, valid=status.valid,
        trusted=status.trusted if trust_roots else None,
        after=_after(status),
    )  # fmt: skip


def _field_name(signature: EmbeddedPdfSignature) -> str:
    try:
        return str(signature.field_name)
    except Exception:  # a damaged field dictionary
        return "(tanpa nama)"


def _after(status: PdfSignatureStatus) -> str:
    """What follows the signature (pyHanko's difference analysis of the later revisions)."""
    if status.coverage is SignatureCoverageLevel.ENTIRE_FILE:
        return "none"
    level = status.modification_level
    if status.coverage is not SignatureCoverageLevel.ENTIRE_REVISION or level is None:
        return "changes"  # bytes inside its revision that it does not sign, or unanalysable
    if not status.docmdp_ok or level > ModificationLevel.FORM_FILLING:
        return "changes"
    if level is ModificationLevel.NONE:
        return "changes"  # bytes appended that are no PDF revision at all
    return "validation" if level is ModificationLevel.LTA_UPDATES else "signatures"


def _signing_time(status: PdfSignatureStatus) -> tuple[datetime | None, bool]:
    stamp = status.timestamp_validity
    if stamp is not None:
        return stamp.timestamp, True
    return status.signer_reported_dt, False


def _names(cert: Certificate) -> tuple[str, str, str]:
    """The certificate's name, whole subject and organization."""
    subject = str(cert.subject.human_friendly)
    native = cert.subject.native
    common, organization = _last(native.get("common_name")), _last(native.get("organization_name"))
    return (common or subject), subject, organization


def _last(value: object) -> str:
    if isinstance(value, list):
        value = value[-1] if value else None
    return str(value) if value else ""


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def written_time(moment: datetime | None, zone: ZoneInfo, zone_label: str) -> str:
    """``4 Desember 2026 12:04:05 WIB``, or a dash."""
    if moment is None:
        return "—"
    local = moment.astimezone(zone)
    return f"{format_date(local.date())} {local:%H:%M:%S} {zone_label}"


def stored_report(settings: Settings, relative: str) -> PdfReport | None:
    """The report on a signed PDF kept in the data directory; None when there is none."""
    path = settings.data_dir / relative
    if not path.is_file():
        return None
    return verify_pdf(path.read_bytes(), office_trust_roots(settings))


# -- trust roots ----------------------------------------------------------------------------


def office_trust_roots(settings: Settings) -> list[Certificate]:
    """The office's own signing CAs: CA certificates in the configured PKCS#12 files, and the
    demo CA when the demo made one."""
    roots: list[Certificate] = []
    demo_ca = demo_dir(settings.data_dir) / "ca.pem"
    if demo_ca.exists():
        roots.extend(_certs_file(demo_ca))
    for key in settings.signing.values():
        roots.extend(_pkcs12_cas(key.p12_file, key.passphrase_file))
    return _unique(roots)


def certificates_from(paths: Iterable[Path]) -> list[Certificate]:
    """Certificates in PEM or DER files (e.g. `--trust ca.pem`)."""
    return _unique(
        cert for path in paths for cert in load_certs_from_pemder_data(path.read_bytes())
    )


def _certs_file(path: Path) -> list[Certificate]:
    try:
        return list(load_certs_from_pemder_data(path.read_bytes()))
    except (OSError, ValueError) as exc:
        logger.warning("cannot read the CA certificate %s: %s", path, type(exc).__name__)
        return []


def _pkcs12_cas(p12_file: Path, passphrase_file: Path | None) -> list[Certificate]:
    try:
        stat = p12_file.stat()
        passphrase = passphrase_file.read_bytes().strip() if passphrase_file else None
    except OSError as exc:
        logger.warning("cannot read the signing key %s: %s", p12_file, type(exc).__name__)
        return []
    return list(_cas_in(str(p12_file), stat.st_mtime_ns, passphrase))


@lru_cache(maxsize=16)
def _cas_in(path: str, _mtime: int, passphrase: bytes | None) -> tuple[Certificate, ...]:
    """The self-signed CA certificates bundled in a PKCS#12 file (cached per file version)."""
    try:
        _key, _cert, extra = pkcs12.load_key_and_certificates(Path(path).read_bytes(), passphrase)
    except (OSError, ValueError) as exc:
        logger.warning("cannot open the signing key %s: %s", path, type(exc).__name__)
        return ()
    found: list[Certificate] = []
    for cert in extra:
        if cert.issuer == cert.subject and _is_ca(cert):
            der = cert.public_bytes(serialization.Encoding.DER)
            found.extend(load_certs_from_pemder_data(der))
    return tuple(found)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _unique(certs: Iterable[Certificate]) -> list[Certificate]:
    seen: dict[bytes, Certificate] = {}
    for cert in certs:
        seen.setdefault(cert.sha256, cert)
    return list(seen.values())
