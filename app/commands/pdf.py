"""`saksi verify pdf FILE`: every electronic signature of a PDF, checked offline.

Prints, in Indonesian, each signature's field, signer, certificate, signing time, integrity,
trust and what follows it; exits 0 only when there is at least one signature, none is broken
and nothing but validation data follows the last one (1 otherwise, 2 when the file cannot be
read).
"""

from __future__ import annotations

import argparse
import sys
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from app.handover import pdf_verify
from app.handover.document import zone_label
from app.settings import Settings


def verify_pdf(args: argparse.Namespace) -> int:
    try:
        pdf = args.path.read_bytes()
    except OSError as exc:
        print(f"saksi: cannot read {args.path}: {exc.strerror}", file=sys.stderr)
        return 2
    settings = _settings()
    roots = pdf_verify.certificates_from(args.trust)
    if settings is not None and not args.no_office_roots:
        roots += pdf_verify.office_trust_roots(settings)
    report = pdf_verify.verify_pdf(pdf, roots)
    timezone = settings.timezone if settings is not None else "Asia/Jakarta"
    for line in report_lines(args.path.name, report, ZoneInfo(timezone), zone_label(timezone)):
        print(line)
    if report.error:
        return 2
    return 0 if report.ok else 1


def report_lines(name: str, report: pdf_verify.PdfReport, zone: ZoneInfo, label: str) -> list[str]:
    """The report as the command prints it."""
    lines = [f"{name}: {len(report.signatures)} tanda tangan elektronik"]
    for number, check in enumerate(report.signatures, start=1):
        when = pdf_verify.written_time(check.signed_at, zone, label)
        source = "stempel waktu RFC 3161" if check.timestamped else "menurut penanda tangan"
        lines += [
            f"[{number}] {check.field}: {check.signer} — {check.state.upper()}",
            f"    sertifikat : {check.subject}",
            f"    waktu      : {when} ({source})",
            f"    keutuhan   : {check.integrity_text}",
            f"    kepercayaan: {check.trust_text}",
            f"    cakupan    : {check.coverage_text}",
        ]
    lines.append(f"HASIL: {report.verdict}. {report.summary}")
    return lines


def _settings() -> Settings | None:
    """The office's settings, for its trust roots and time zone; None where there are none
    valid (the command also runs on a machine that is no Saksi server)."""
    try:
        return Settings()
    except ValidationError:
        return None
