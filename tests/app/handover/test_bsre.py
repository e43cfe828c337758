"""Signing through BSrE (issue 19, 2b) against a fake of its published API on loopback."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import Role
from app.handover import esign, pdf_verify
from app.handover.bast_pdf import render_bast_pdf
from app.handover.bsre import BsreError, BsreSigner
from app.handover.demo_signers import ensure_demo_signers
from app.handover.models import Handover
from app.handover.signing import esigned_path, sign_bast
from app.requests.models import EvidenceRequest
from app.runtime import Runtime
from app.settings import BsreSettings, Settings, SignerRole
from app.sop.definition import StepAction
from tests.app.factories import Factory, walk_to_export_step
from tests.app.handover.fixtures import bast_document
from tests.fakes.bsre_server import FakeBsre

NIK = "3209014507880002"
NAME = "Bripka Andi Wijaya"
PASSPHRASE = "Rahasia#Andi-2026"  # noqa: S105 - the fake's test account
WRONG = "bukan-passphrase-ini"
VERIFY_URL = "https://saksi.example.go.id/verifikasi/bast/007%2FBAST%2F2026"


@pytest.fixture(scope="module")
def bsre() -> Iterator[FakeBsre]:
    fake = FakeBsre()
    fake.add_account(NIK, NAME, PASSPHRASE)
    fake.add_account("3209010101700003", "Expired Holder", "kedaluwarsa-77", status="EXPIRED")
    fake.add_account("3209010101700004", "Revoked Holder", "dicabut-88", status="REVOKE")
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _healthy(bsre: FakeBsre) -> None:
    bsre.outage = bsre.rewrite = False
    bsre.delay = 0.0


@pytest.fixture(scope="module")
def unsigned() -> bytes:
    return render_bast_pdf(bast_document())


def _settings(fake: FakeBsre, **changes: object) -> BsreSettings:
    values = {"url": fake.url, "client_id": fake.client_id, "client_secret": fake.client_secret}
    return BsreSettings.model_validate({**values, **changes})


def _request(pdf: bytes) -> esign.SignatureRequest:
    return esign.SignatureRequest(
        field_name="PihakKedua", placement=esign.placements(pdf)["recipient"], name=NAME,
        id_line="NRP. 87051234", signed_at="22 November 2026 10:30:00 WIB",
        reason="Serah terima rekaman CCTV", location="Sumber",
    )  # fmt: skip


def _roots(*pems: bytes) -> list[object]:
    return [cert for pem in pems for cert in load_certs_from_pemder_data(pem)]


def _sign(fake: FakeBsre, pdf: bytes, passphrase: str = PASSPHRASE, nik: str = NIK) -> bytes:
    signer = BsreSigner(
        _settings(fake), nik=nik, passphrase=passphrase, verification_url=VERIFY_URL
    )
    return signer.sign(pdf, _request(pdf))


def test_bsre_signs_the_bast_as_the_holder_of_the_nik(bsre: FakeBsre, unsigned: bytes) -> None:
    """A real PAdES signature by the NIK's certificate, appended, placed in Pihak Kedua's block,
    with the verification page as its QR code."""
    signed = _sign(bsre, unsigned)
    assert signed.startswith(unsigned)
    [signature] = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    context = ValidationContext(trust_roots=_roots(bsre.ca_pem))
    status = validate_pdf_signature(signature, context)
    assert status.bottom_line, status.pretty_print_details()  # type: ignore[no-untyped-call]
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    assert signature.signer_cert.subject.native["common_name"] == NAME
    box = esign.placements(unsigned)["recipient"].box
    form = bsre.forms[-1]
    assert form["nik"] == NIK
    assert "passphrase" not in form  # the fake keeps no passphrase either
    assert (form["tampilan"], form["image"], form["linkQR"]) == ("visible", "false", VERIFY_URL)
    assert (form["page"], form["xAxis"], form["yAxis"]) == ("2", str(box[0]), str(box[1]))
    assert (form["width"], form["height"]) == (str(box[2] - box[0]), str(box[3] - box[1]))


@pytest.mark.parametrize(
    ("nik", "passphrase", "message_id", "opening"),
    [
        (NIK, WRONG, "wrong_passphrase", "Passphrase salah"),
        ("3209019999999999", WRONG, "not_registered", "NIK ini tidak terdaftar"),
        (
            "3209010101700003",
            "kedaluwarsa-77",
            "certificate_expired",
            "Sertifikat elektronik BSrE Anda sudah",
        ),
        (
            "3209010101700004",
            "dicabut-88",
            "certificate_revoked",
            "Sertifikat elektronik BSrE Anda sudah",
        ),
    ],
)
def test_a_refusal_says_why_in_indonesian_and_signs_nothing(
    bsre: FakeBsre, unsigned: bytes, nik: str, passphrase: str, message_id: str, opening: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    signed_before = bsre.signed
    signer = BsreSigner(_settings(bsre), nik=nik, passphrase=passphrase)
    with pytest.raises(BsreError) as raised:
        signer.sign(unsigned, _request(unsigned))
    assert raised.value.message_id == message_id
    assert raised.value.user_message.startswith(opening)
    assert bsre.signed == signed_before
    for where in (str(raised.value), raised.value.user_message, repr(signer), caplog.text):
        assert passphrase not in where


@pytest.mark.parametrize("down", ["503", "refused", "timeout"])
def test_a_service_that_is_down_is_said_so(
    bsre: FakeBsre, unsigned: bytes, down: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = _settings(bsre)
    if down == "503":
        bsre.outage = True
    elif down == "timeout":
        bsre.delay = 0.2
        settings = _settings(bsre, timeout_seconds=0.05)
    else:
        settings = _settings(bsre, url=f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(BsreError) as raised:
        BsreSigner(settings, nik=NIK, passphrase=PASSPHRASE).sign(unsigned, _request(unsigned))
    assert raised.value.message_id == "unavailable"
    assert raised.value.user_message.startswith("Layanan BSrE tidak dapat dihubungi")
    assert PASSPHRASE not in caplog.text


def test_wrong_client_credentials_and_missing_settings(bsre: FakeBsre, unsigned: bytes) -> None:
    wrong = _settings(bsre, client_secret="not-the-secret")
    with pytest.raises(BsreError) as raised:
        BsreSigner(wrong, nik=NIK, passphrase=PASSPHRASE).sign(unsigned, _request(unsigned))
    assert raised.value.message_id == "client_rejected"
    with pytest.raises(BsreError) as missing:
        BsreSigner(BsreSettings(), nik=NIK, passphrase=PASSPHRASE)
    assert missing.value.message_id == "not_configured"
    with pytest.raises(BsreError) as short:
        BsreSigner(_settings(bsre), nik="12345", passphrase=PASSPHRASE)
    assert short.value.message_id == "invalid_input"


def test_an_answer_that_rewrites_the_document_is_refused(bsre: FakeBsre, unsigned: bytes) -> None:
    """A signed PDF that does not start with the bytes sent would silently drop what earlier
    signatures cover: refused."""
    bsre.rewrite = True
    with pytest.raises(BsreError) as raised:
        _sign(bsre, unsigned)
    assert raised.value.message_id == "invalid_response"
    assert bsre.signed > 0  # BSrE did sign: Saksi refused its answer


def test_a_bsre_signature_keeps_an_earlier_pkcs12_signature_valid(
    bsre: FakeBsre, unsigned: bytes, tmp_path: Path
) -> None:
    people: dict[SignerRole, tuple[str, str]] = {"operator": ("Rizky Maulana", "Diskominfo")}
    ca, keys = ensure_demo_signers(tmp_path, people, "Diskominfo", datetime.now(UTC))
    operator = esign.SignatureRequest(
        field_name="PihakPertama", placement=esign.placements(unsigned)["operator"],
        name="Rizky Maulana", id_line="NIP. 199203152019031004", signed_at="…",
        reason="Serah terima rekaman CCTV", location="Sumber",
    )  # fmt: skip
    once = esign.Pkcs12Signer.from_key(keys["operator"]).sign(unsigned, operator)
    twice = _sign(bsre, once)
    assert twice.startswith(once)
    roots = _roots(ca.read_bytes(), bsre.ca_pem)
    first, second = PdfFileReader(io.BytesIO(twice)).embedded_signatures
    earlier = validate_pdf_signature(first, ValidationContext(trust_roots=roots))
    assert earlier.bottom_line, earlier.pretty_print_details()  # type: ignore[no-untyped-call]
    assert earlier.docmdp_ok
    assert earlier.coverage is SignatureCoverageLevel.ENTIRE_REVISION
    report = pdf_verify.verify_pdf(twice, roots)
    assert report.ok
    assert report.verdict == "SAH"
    assert [c.signer for c in report.signatures] == ["Rizky Maulana", NAME]
    assert [c.after for c in report.signatures] == ["signatures", "none"]


def test_the_settings_read_the_client_secret_from_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "bsre.secret"
    secret.write_text("s3cret-of-the-app\n")
    monkeypatch.setenv("SAKSI_BSRE__URL", "https://esign.example.go.id")
    monkeypatch.setenv("SAKSI_BSRE__CLIENT_ID", "saksi")
    monkeypatch.setenv("SAKSI_BSRE__CLIENT_SECRET_FILE", str(secret))
    monkeypatch.setenv("SAKSI_BSRE__TIMEOUT_SECONDS", "20")
    bsre = Settings(_env_file=None).bsre
    assert bsre.configured
    assert bsre.client_secret is not None
    assert bsre.client_secret.get_secret_value() == "s3cret-of-the-app"
    assert bsre.timeout_seconds == 20
    assert "s3cret" not in repr(bsre)


# -- through sign_bast: the custody event, and nothing at all on failure ---------------------


def _issued(factory: Factory, runtime: Runtime, session: Session) -> EvidenceRequest:
    """A request with a stand-in issued BAST: the fixture BAST stored as issuing stores one."""
    created, people = walk_to_export_step(factory)
    pdf = render_bast_pdf(bast_document())
    relative = f"handovers/{created['id']}/BAST-007-2026.pdf"
    (runtime.settings.data_dir / relative).parent.mkdir(parents=True, exist_ok=True)
    (runtime.settings.data_dir / relative).write_bytes(pdf)
    session.add(Handover(
        request_id=created["id"], year=2026, sequence=7, number="007/BAST/2026",
        issued_at=factory.now, issued_by_id=people[Role.OPERATOR].id, pdf_path=relative,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
    ))  # fmt: skip
    session.commit()
    request = session.get(EvidenceRequest, created["id"])
    assert request is not None
    # At the handover step (reaching it for real takes exports: test_handover_flow does that).
    step = next(s for s in runtime.sop.steps if s.action is StepAction.HANDOVER)
    request.current_step = step.number
    session.commit()
    return request


def _signed_events(session: Session) -> list[str]:
    query = text("SELECT canonical FROM custody_events WHERE action = 'handover.signed'")
    return [str(row[0]) for row in session.execute(query)]


# SQLite only: nothing here differs between the engines, and the suite's time is counted.
@pytest.mark.parametrize("migrated_engine", ["sqlite"], indirect=True)
def test_sign_bast_with_bsre_then_the_public_page(
    bsre: FakeBsre, factory: Factory, runtime: Runtime, session: Session, client: TestClient,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A refused BSrE signing leaves no file and no event; a good one is a `handover.signed`
    event without the passphrase, undone with its transaction; once committed, the public page
    /verifikasi/bast/… shows it as `saksi verify pdf` checks it, and a changed byte as broken."""
    caplog.set_level(logging.DEBUG)
    request = _issued(factory, runtime, session)
    handover = session.scalars(select(Handover)).one()
    target = runtime.settings.data_dir / esigned_path(handover)
    page = f"/verifikasi/bast/{quote(handover.number, safe='')}"
    assert "Tanda tangan elektronik" not in client.get(page).text  # none yet: no section
    wrong = BsreSigner(_settings(bsre), nik=NIK, passphrase=WRONG)
    with pytest.raises(errors.SaksiError) as refused:
        sign_bast(runtime, session, request, "recipient", factory.now, signer=wrong)
    session.rollback()
    cause = refused.value.__cause__
    assert isinstance(cause, BsreError), refused.value
    assert cause.message_id == "wrong_passphrase"
    assert cause.user_message.startswith("Passphrase salah")
    assert not target.exists()
    assert _signed_events(session) == []

    right = BsreSigner(_settings(bsre), nik=NIK, passphrase=PASSPHRASE)
    revision = sign_bast(runtime, session, request, "recipient", factory.now, signer=right)
    session.flush()
    [event] = _signed_events(session)
    recorded = json.loads(event)
    assert recorded["object"]["role"] == "recipient"
    assert NAME in recorded["object"]["certificate_subject"]
    assert recorded["result"]["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    assert revision.sha256 == recorded["result"]["sha256"]
    for secret in (PASSPHRASE, WRONG):
        assert secret not in event
        assert secret not in caplog.text
    session.rollback()  # the event did not commit: the signed copy goes with it
    assert not target.exists()

    sign_bast(runtime, session, request, "recipient", factory.now, signer=right)
    session.commit()
    html = client.get(page).text
    assert 'data-verdict="ok"' in html
    row = re.search(r'<tr data-signature="[^"]*" data-state="sah">.*?</tr>', html, re.S)
    assert row is not None, html
    assert f'<td data-label="Penanda tangan">{NAME}</td>' in row.group()
    assert re.search(r'data-label="Waktu">\d\d/\d\d/\d{4} \d\d:\d\d WIB<', row.group())
    assert "Tidak dapat dipastikan" in row.group()  # the fake BSrE's CA is not the office's
    assert "Balai Sertifikasi Elektronik (tes)" in row.group()  # the organization, and no
    assert "Common Name:" not in html  # whole subject (a BSrE one carries an e-mail address)
    changed = bytearray(target.read_bytes())
    changed[changed.index(b"/MediaBox") + 1] = ord("m")
    target.write_bytes(bytes(changed))
    html = client.get(page).text
    assert 'data-verdict="broken"' in html
    assert 'data-state="rusak"' in html
    assert "RUSAK: isi dokumen yang ditandatangani telah diubah" in html


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
