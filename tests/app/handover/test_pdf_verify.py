"""`saksi verify pdf`: every signature of a signed BAST checked offline (issue 19, item 4)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from app.cli import _parser
from app.commands import pdf as pdf_command
from app.handover import esign
from app.handover.bast_pdf import render_bast_pdf
from app.handover.demo_signers import ensure_demo_signers
from app.settings import SignerRole
from tests.app.handover.fixtures import bast_document

PEOPLE: dict[SignerRole, tuple[str, str]] = {
    "operator": ("Rizky Maulana", "Diskominfo Kabupaten Cirebon"),
    "subkoordinator": ("Hj. Siti Nurhalimah, S.Kom., M.T.", "Diskominfo Kabupaten Cirebon"),
}


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """The fixture BAST signed by the operator, then the subkoordinator (demo keys)."""
    directory = tmp_path_factory.mktemp("verify-pdf")
    ca, keys = ensure_demo_signers(directory, PEOPLE, "Diskominfo", datetime.now(UTC))
    pdf = render_bast_pdf(bast_document())
    places = esign.placements(pdf)
    for role, (name, _org) in PEOPLE.items():
        request = esign.SignatureRequest(
            field_name=esign.FIELDS[role], placement=places[role], name=name, id_line="",
            signed_at="22 November 2026 10:30:00 WIB", reason="Serah terima", location="Sumber",
        )  # fmt: skip
        pdf = esign.Pkcs12Signer.from_key(keys[role]).sign(pdf, request)
    return pdf, ca


def _run(
    pdf: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    path = tmp_path / "BAST-007-2026-esigned.pdf"
    path.write_bytes(pdf)
    args = _parser().parse_args(["verify", "pdf", str(path), *extra])
    assert args.handler == "pdf:verify_pdf"
    code = pdf_command.verify_pdf(args)
    return code, capsys.readouterr().out


@pytest.fixture(autouse=True)
def _no_office(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No office configuration around: only the CAs a test names are trusted."""
    monkeypatch.setenv("SAKSI_DATA_DIR", str(tmp_path / "data"))


def test_a_signed_bast_verifies_with_every_signer_named(
    signed: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf, ca = signed
    code, out = _run(pdf, tmp_path, capsys, "--trust", str(ca))
    assert code == 0, out
    assert "2 tanda tangan elektronik" in out
    assert "[1] PihakPertama: Rizky Maulana — SAH" in out
    assert "[2] Mengetahui: Hj. Siti Nurhalimah, S.Kom., M.T. — SAH" in out
    assert out.count("kepercayaan: terpercaya") == 2
    assert "sesudahnya hanya ditambahkan tanda tangan berikutnya" in out
    assert "cakupan    : mencakup seluruh dokumen" in out
    assert "WIB" in out
    assert out.rstrip().endswith(
        "HASIL: SAH. Semua 2 tanda tangan utuh dan dokumen tidak diubah setelah tanda tangan "
        "terakhir."
    )


def test_without_a_known_root_trust_cannot_be_determined(
    signed: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(signed[0], tmp_path, capsys)
    assert code == 0, out
    assert out.count("kepercayaan: tidak dapat dipastikan") == 2
    assert "HASIL: UTUH, keterpercayaan sertifikat belum dipastikan." in out


def test_a_byte_changed_after_signing_breaks_the_signature(
    signed: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf, ca = signed
    changed = bytearray(pdf)
    position = pdf.index(b"/MediaBox")  # inside the issued revision both signatures cover
    changed[position + 1] = ord("m")
    code, out = _run(bytes(changed), tmp_path, capsys, "--trust", str(ca))
    assert code == 1, out
    assert "RUSAK: isi dokumen yang ditandatangani telah diubah" in out
    assert "HASIL: TIDAK SAH" in out


def test_a_change_appended_after_the_last_signature_is_reported(
    signed: tuple[bytes, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An incremental update that is no signature (a page turned) after both signatures."""
    pdf, ca = signed
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(90)  # type: ignore[no-untyped-call]
    writer.update_container(page)
    out_pdf = io.BytesIO()
    writer.write(out_pdf)  # type: ignore[no-untyped-call]
    code, out = _run(out_pdf.getvalue(), tmp_path, capsys, "--trust", str(ca))
    assert code == 1, out
    assert "dokumen DIUBAH setelah tanda tangan ini" in out
    assert "HASIL: TIDAK SAH" in out


def test_a_file_that_is_no_pdf_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(b"bukan PDF", tmp_path, capsys)
    assert code == 2
    assert "tidak dapat dibaca sebagai PDF" in out
