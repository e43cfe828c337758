"""PAdES signatures on the BAST (issue 19): placement, incremental updates, the demo keys."""

from __future__ import annotations

import io
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader

from app.handover import esign
from app.handover.bast_pdf import render_bast_pdf
from app.handover.demo_signers import ensure_demo_signers
from app.settings import Pkcs12Key, Settings, SignerRole
from tests.app.handover.fixtures import bast_document

PEOPLE: dict[SignerRole, tuple[str, str]] = {
    "operator": ("Rizky Maulana", "Diskominfo Kabupaten Cirebon"),
    "subkoordinator": ("Hj. Siti Nurhalimah, S.Kom., M.T.", "Diskominfo Kabupaten Cirebon"),
    "recipient": ("AIPDA Dedi Kurniawan", "Polresta Cirebon"),
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[SignerRole, Pkcs12Key]]:
    data_dir = tmp_path_factory.mktemp("esign")
    return ensure_demo_signers(data_dir, PEOPLE, "Diskominfo Kabupaten Cirebon", datetime.now(UTC))


@pytest.fixture(scope="module")
def unsigned() -> bytes:
    return render_bast_pdf(bast_document())


def _sign(pdf: bytes, role: SignerRole, keys: dict[SignerRole, Pkcs12Key]) -> bytes:
    name = PEOPLE[role][0]
    request = esign.SignatureRequest(
        field_name=esign.FIELDS[role], placement=esign.placements(pdf)[role], name=name,
        id_line="NIP. 199203152019031004", signed_at="22 November 2026 00:30:00 WIB",
        reason="Serah terima rekaman CCTV", location="Sumber",
    )  # fmt: skip
    return esign.Pkcs12Signer.from_key(keys[role]).sign(pdf, request)


def _validation(ca: Path) -> ValidationContext:
    return ValidationContext(trust_roots=[load_cert_from_pemder(str(ca))])


def test_each_field_lies_in_the_blank_of_its_signature_block(unsigned: bytes) -> None:
    """Pihak Pertama and Pihak Kedua side by side, Mengetahui under them, all on the
    signature page, and no printed word inside any box."""
    places = esign.placements(unsigned)
    first, second, known = places["operator"], places["recipient"], places["subkoordinator"]
    assert first.page == second.page == known.page == 1  # the second page of the fixture BAST
    assert first.box[2] < second.box[0]  # left column, right column
    assert first.box[1] == second.box[1]
    assert known.box[3] < first.box[1]  # under both
    assert first.box[0] < known.box[0] < known.box[2] < second.box[2]
    words = []
    PdfReader(io.BytesIO(unsigned)).pages[1].extract_text(
        visitor_text=lambda text, cm, tm, _f, _s: words.append(
            (text.strip(), tm[4] + cm[4], tm[5] + cm[5])
        )
    )
    for place in places.values():
        x1, y1, x2, y2 = place.box
        assert y2 - y1 >= 40
        inside = [w for w, x, y in words if w and x1 < x < x2 and y1 < y < y2]
        assert inside == []


def test_the_first_signature_still_covers_only_its_revision_after_the_second(
    unsigned: bytes, keys: tuple[Path, dict[SignerRole, Pkcs12Key]]
) -> None:
    ca, signers = keys
    once = _sign(unsigned, "operator", signers)
    twice = _sign(once, "subkoordinator", signers)
    assert once.startswith(unsigned)
    assert twice.startswith(once)  # appended, never rewritten
    context = _validation(ca)
    first, second = PdfFileReader(io.BytesIO(twice)).embedded_signatures
    assert (first.field_name, second.field_name) == ("PihakPertama", "Mengetahui")
    status = validate_pdf_signature(first, context)
    assert status.bottom_line, status.pretty_print_details()
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.docmdp_ok
    assert status.coverage is SignatureCoverageLevel.ENTIRE_REVISION
    assert first.signed_revision == 1  # revision 0 is the issued BAST
    assert first.byte_range[2] + first.byte_range[3] == len(once)  # exactly the first revision
    latest = validate_pdf_signature(second, context)
    assert latest.bottom_line
    assert latest.coverage is SignatureCoverageLevel.ENTIRE_FILE
    assert esign.signed_fields(twice) == ["PihakPertama", "Mengetahui"]


def test_a_field_is_signed_once(
    unsigned: bytes, keys: tuple[Path, dict[SignerRole, Pkcs12Key]]
) -> None:
    _ca, signers = keys
    once = _sign(unsigned, "recipient", signers)
    with pytest.raises(esign.SigningError, match="signed already"):
        _sign(once, "recipient", signers)


def test_the_demo_keys_are_private_and_made_once(
    keys: tuple[Path, dict[SignerRole, Pkcs12Key]],
) -> None:
    ca, signers = keys
    files = [ca, *(k.p12_file for k in signers.values())]
    files += [k.passphrase_file for k in signers.values() if k.passphrase_file is not None]
    assert len(files) == 7
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE(ca.parent.stat().st_mode) == 0o700
    again = ensure_demo_signers(ca.parent.parent.parent, PEOPLE, "x", datetime.now(UTC))
    assert again == keys  # the same files, not new keys
    assert b"PRIVATE KEY" not in ca.read_bytes()


def test_the_stamp_says_who_signed_and_when() -> None:
    request = esign.SignatureRequest(
        field_name="PihakKedua", placement=esign.Placement(1, (0, 0, 190, 50)),
        name="Dewi Lestäri", id_line="", signed_at="4 Desember 2026 12:10:00 WIB",
        reason="r", location="Sumber",
    )  # fmt: skip
    assert esign.stamp_text(request).splitlines() == [
        "Ditandatangani secara elektronik oleh",
        "Dewi Lestari",
        "4 Desember 2026 12:10:00 WIB",
    ]


def test_signing_keys_are_configured_per_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAKSI_SIGNING__OPERATOR__P12_FILE", "/run/secrets/operator.p12")
    monkeypatch.setenv("SAKSI_SIGNING__OPERATOR__PASSPHRASE_FILE", "/run/secrets/operator.pass")
    monkeypatch.setenv("SAKSI_SIGNING__RECIPIENT__P12_FILE", "/run/secrets/recipient.p12")
    signing = Settings().signing
    assert signing["operator"] == Pkcs12Key(
        p12_file=Path("/run/secrets/operator.p12"),
        passphrase_file=Path("/run/secrets/operator.pass"),
    )
    assert signing["recipient"].passphrase_file is None
    assert "subkoordinator" not in signing
