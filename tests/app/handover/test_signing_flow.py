"""The signing flow (issue 19 item 3): staff sign the issued BAST on the request page or through
the API, the recipient approves it in the agency portal (an uncertified approval sealed by the
office, or their BSrE certificate), the last signature closes the handover step without a scan,
and the berita acara pemusnahan is signed the same way.

Real PKCS#12 keys under a throw-away CA (`demo_signers`), real pyHanko validation, the fake BSrE
server on loopback; the request is walked to the handover step through the API, its package and
delivery rows written as the services would leave them (no footage is needed to sign a BAST).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import pytest
from fastapi.testclient import TestClient
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.custody import service as custody
from app.delivery.models import Delivery, DeliveryState
from app.handover import esign
from app.handover.demo_signers import ensure_demo_signers, seal_person
from app.handover.destruction import render_destruction_pdf
from app.handover.issuing import verification_url
from app.handover.models import EvidencePackage
from app.requests.models import EvidenceRequest
from app.runtime import Runtime
from app.settings import BsreSettings, Pkcs12Key, Settings, SigningKeyName
from app.sop import service as sop_service
from app.sop.definition import StepAction
from tests.app.factories import PASSWORD, Factory, scan_pdf_bytes, walk_to_export_step
from tests.app.handover.fixtures import destruction_record
from tests.fakes.bsre_server import FakeBsre

OFFICE = "Dinas Komunikasi dan Informatika Kabupaten Cirebon"
PEOPLE: dict[SigningKeyName, tuple[str, str]] = {
    "operator": ("Pengguna operator", OFFICE),
    "subkoordinator": ("Pengguna subkoordinator", OFFICE),
    "recipient": ("Bripka Andi Wijaya", "Polres Cirebon Kota"),
    "seal": seal_person(OFFICE),
}
NIK = "3209123456789012"
PASSPHRASE = "rahasia-Passphrase-77"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[SigningKeyName, Pkcs12Key]]:
    return ensure_demo_signers(tmp_path_factory.mktemp("keys"), PEOPLE, OFFICE, datetime.now(UTC))


@pytest.fixture
def settings(data_dir: Path, keys: tuple[Path, dict[SigningKeyName, Pkcs12Key]]) -> Settings:
    return Settings(
        data_dir=data_dir, queue_url="memory://", public_url="https://saksi.example.go.id",
        signing=keys[1], _env_file=None,
    )  # fmt: skip


@pytest.fixture
def bsre() -> Iterator[FakeBsre]:
    fake = FakeBsre().start()
    fake.add_account(NIK, "Bripka Andi Wijaya", PASSPHRASE)
    yield fake
    fake.stop()


@pytest.fixture
def handed(factory: Factory) -> dict[str, Any]:
    """A request at the handover step with its BAST issued by the assigned operator."""
    created, people = walk_to_export_step(factory)
    session, runtime = factory.session, factory.runtime
    request = session.get(EvidenceRequest, created["id"])
    assert request is not None
    operator = people[Role.OPERATOR]
    now = factory.now
    sop_service.perform(
        session, runtime.sop, request, operator, frozenset({StepAction.EXPORT}), now
    )
    session.add(_package(request, operator, now))
    session.add(_delivery(request, operator, now))
    session.commit()
    bast = factory.client.post(
        f"/api/v1/requests/{request.id}/bast", headers=factory.headers(operator)
    )
    assert bast.status_code == 201, bast.text
    return {"id": request.id, "people": people, "bast": bast.json()}


def _package(request: EvidenceRequest, operator: User, now: datetime) -> EvidencePackage:
    item = request.items[0]
    window = [item.window_start_at.isoformat(), item.window_end_at.isoformat()]
    clip = {
        "exhibit": f"{request.number}/1", "file": "clips/01-kamera-1.mp4",
        "sha256": hashlib.sha256(b"clip").hexdigest(), "size": 1_234_567, "camera": "Kamera 1",
        "location": "Simpang Empat Kamera 1", "requested_window": window,
        "delivered_window": window, "gaps": [], "clock_offset": {"method": "not measured"},
    }  # fmt: skip
    return EvidencePackage(
        request_id=request.id, directory="packages/x", zip_path="packages/x.zip",
        zip_sha256=hashlib.sha256(b"zip").hexdigest(), zip_size=10,
        manifest_sha256=hashlib.sha256(b"manifest").hexdigest(), clips=[clip], unavailable=[],
        checkpoint_size=1, built_at=now, built_by_id=operator.id,
    )  # fmt: skip


def _delivery(request: EvidenceRequest, operator: User, now: datetime) -> Delivery:
    return Delivery(
        request_id=request.id, method="local", state=DeliveryState.SHARED,
        recipient="reskrim@polres.example.go.id", container_id="SKS-x", files=[],
        created_at=now, created_by_id=operator.id, shared_at=now,
        purge_due_at=now + timedelta(days=14),
    )  # fmt: skip


def _web_login(client: TestClient, user: User) -> None:
    client.cookies.clear()
    response = client.post("/masuk", data={"username": user.username, "password": PASSWORD},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text


def _page(client: TestClient, rid: int) -> tuple[str, str]:
    """The request page and its form token."""
    page = client.get(f"/permintaan/{rid}")
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert token is not None
    return page.text, token.group(1)


def _events(session: Session, rid: int, action: str) -> list[dict[str, Any]]:
    session.expire_all()
    found = custody.events_of_request(session, rid)
    return [json.loads(e.canonical) for e in found if e.action == action]


def _validated(pdf: bytes, ca_pem: bytes) -> list[Any]:
    """pyHanko's validation of every signature, trusting `ca_pem`."""
    context = ValidationContext(trust_roots=list(load_certs_from_pemder_data(ca_pem)))
    signatures = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    return [validate_pdf_signature(sig, context) for sig in signatures]


def _appearance(pdf: bytes, field: str) -> str:
    """The text drawn in a signature field's visible appearance."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    [sig] = [s for s in reader.embedded_signatures if s.field_name == field]
    assert sig.sig_field is not None
    stream = sig.sig_field["/AP"]["/N"]
    found = re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", _flatten(stream))
    octal = re.compile(rb"\\([0-7]{1,3})")  # PDF string escapes: \056 is "."
    text = [octal.sub(lambda m: bytes([int(m.group(1), 8)]), part) for part in found]
    return " ".join(part.decode("latin-1") for part in text)


def _stamp_qr(pdf: bytes, placement: esign.Placement, scratch: Path) -> str:
    """The QR code in a signature's stamp: the stamp's box cut from the rendered page (poppler)
    and decoded by OpenCV."""
    scratch.mkdir(parents=True)
    (scratch / "signed.pdf").write_bytes(pdf)
    height = float(PdfReader(io.BytesIO(pdf)).pages[placement.page].mediabox.height)
    x1, y1, x2, y2 = placement.box
    dpi, page = 300, str(placement.page + 1)
    crop = [round(v * dpi / 72) for v in (x1, height - y2, x2 - x1, y2 - y1)]
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-f", page, "-l", page, "-singlefile", "-gray", "-png",
         "-x", str(crop[0]), "-y", str(crop[1]), "-W", str(crop[2]), "-H", str(crop[3]),
         str(scratch / "signed.pdf"), str(scratch / "stamp")],
        check=True,
    )  # fmt: skip
    found, _points, _codes = cv2.QRCodeDetector().detectAndDecode(
        cv2.imread(str(scratch / "stamp.png"))
    )
    return str(found)


def _flatten(stream: Any) -> bytes:
    """An appearance's content, with the content of the forms it draws (`Do`)."""
    data: bytes = stream.data
    resources = stream.get("/Resources")
    objects: dict[str, Any] = (resources.get("/XObject") if resources is not None else None) or {}
    for form in [objects[name] for name in objects]:  # [] dereferences, .items() does not
        data += b"\n" + _flatten(form)
    return data


def test_staff_sign_on_the_page_and_the_recipient_approves_in_the_portal(
    factory: Factory, handed: dict[str, Any], keys: tuple[Path, dict[SigningKeyName, Pkcs12Key]]
) -> None:
    client, session, rid, people = factory.client, factory.session, handed["id"], handed["people"]
    data_dir = factory.runtime.settings.data_dir

    # Each official sees the form of their own block only, and only while it is unsigned.
    _web_login(client, people[Role.SUBKOORDINATOR])
    page, _csrf = _page(client, rid)
    assert 'data-sign="subkoordinator"' in page
    assert 'data-sign="operator"' not in page
    _web_login(client, people[Role.OPERATOR])
    page, csrf = _page(client, rid)
    assert 'data-sign="operator"' in page
    assert 'data-sign="subkoordinator"' not in page
    assert 'name="passphrase"' not in page  # no BSrE configured: the office's key signs
    signed = client.post(f"/permintaan/{rid}/bast-tte", data={"csrf": csrf, "role": "operator"},
                         follow_redirects=False)  # fmt: skip
    assert signed.status_code == 303, signed.text
    page, _csrf = _page(client, rid)
    assert 'data-sign="operator"' not in page
    assert 'Pihak Pertama: <span class="ok">sudah</span>' in page

    sub = client.post(f"/api/v1/requests/{rid}/bast/signatures", json={"role": "subkoordinator"},
                      headers=factory.headers(people[Role.SUBKOORDINATOR]))  # fmt: skip
    assert sub.status_code == 201, sub.text
    assert (sub.json()["roles"], sub.json()["step_closed"]) == (
        ["operator", "subkoordinator"],
        False,
    )

    # The recipient sees the BAST and must tick that they examined it.
    pemohon = people[Role.PEMOHON]
    _web_login(client, pemohon)
    page, csrf = _page(client, rid)
    assert 'data-sign="recipient"' in page
    assert f"/api/v1/requests/{rid}/bast.pdf" in page
    assert "Saya telah memeriksa BAST ini" in page
    posing = client.post(f"/permintaan/{rid}/bast-tte", data={"csrf": csrf, "role": "operator"})
    assert posing.status_code == 403  # a pemohon never signs for the office
    unticked = client.post(f"/permintaan/{rid}/bast-setuju", data={"csrf": csrf})
    assert unticked.status_code == 422
    assert "Centang pernyataan bahwa Anda telah memeriksa BAST" in unticked.text
    assert _events(session, rid, "handover.signed")[-1]["object"]["role"] == "subkoordinator"
    approved = client.post(
        f"/permintaan/{rid}/bast-setuju", data={"csrf": csrf, "confirmed": "true"},
        headers={"User-Agent": "Mozilla/5.0 (Android 14; Mobile)"}, follow_redirects=False,
    )  # fmt: skip
    assert approved.status_code == 303, approved.text

    # The approval: sealed by the office, said so on the stamp, its evidence in the ledger.
    events = _events(session, rid, "handover.signed")
    assert [e["object"]["role"] for e in events] == ["operator", "subkoordinator", "recipient"]
    approval = events[-1]["object"]["approval"]
    assert approval["kind"] == "uncertified_approval"
    assert (approval["via"], approval["portal_user_id"]) == ("portal", pemohon.id)
    assert approval["user_agent"] == "Mozilla/5.0 (Android 14; Mobile)"
    assert approval["client_address"] == "testclient"
    assert re.fullmatch(r"[0-9a-f]{16}", approval["session"])
    assert approval["confirmation"].startswith("Saya telah memeriksa BAST ini")
    assert events[-1]["performer"]["id"] == str(pemohon.id)
    assert events[-1]["object"]["certificate_subject"].endswith(f"Common Name: Segel {OFFICE}")
    cookie = client.cookies.get("saksi_session")
    assert cookie is not None
    everything = b"".join(e.canonical for e in custody.events_of_request(session, rid))
    for secret in (PASSWORD.encode(), cookie.encode(), cookie.split(".")[0].encode()):
        assert secret not in everything
    content = (data_dir / events[-1]["result"]["file"]).read_bytes()
    stamp = _appearance(content, "PihakKedua")
    assert "Persetujuan elektronik tidak tersertifikasi oleh" in stamp
    assert "Bripka Andi Wijaya" in stamp
    assert f"melalui akun portal {pemohon.username}" in stamp
    assert "dibubuhkan segel elektronik" in stamp

    # All three in: the handover step closed without a scan, on record.
    request = client.get(f"/api/v1/requests/{rid}", headers=factory.headers(pemohon)).json()
    assert request["current_step"]["number"] == 8
    [closed] = _events(session, rid, "handover.esigned")
    assert closed["result"]["sha256"] == hashlib.sha256(content).hexdigest()
    step = [e for e in _events(session, rid, "sop.step_completed") if e["object"]["step"] == 7]
    assert "ditandatangani secara elektronik" in step[0]["object"]["note"]
    closed_page = client.get(f"/permintaan/{rid}").text
    assert "tidak diperlukan: ditandatangani secara elektronik" in closed_page
    assert "data-sign=" not in closed_page

    # Every signature still valid, each covering exactly the revision it signed.
    statuses = _validated(content, keys[0].read_bytes())
    assert [s.bottom_line for s in statuses] == [True] * 3
    assert [s.coverage for s in statuses] == [SignatureCoverageLevel.ENTIRE_REVISION] * 2 + [
        SignatureCoverageLevel.ENTIRE_FILE
    ]
    for event in events:
        size = event["result"]["size"]
        assert hashlib.sha256(content[:size]).hexdigest() == event["result"]["sha256"]
    download = client.get(f"/api/v1/requests/{rid}/bast/esigned.pdf")
    assert download.content == content
    bast = client.get(f"/api/v1/requests/{rid}/bast", headers=factory.headers(pemohon)).json()
    public = client.get(f"/verifikasi/bast/{bast['number']}").text
    assert "tidak diperlukan: BAST ditandatangani secara elektronik" in public
    # Each stamp carries the BAST's public page as a QR code (issue 19, item 1).
    issued = client.get(f"/api/v1/requests/{rid}/bast.pdf").content
    for role in ("operator", "subkoordinator", "recipient"):
        url = _stamp_qr(content, esign.placements(issued)[role], data_dir / f"qr-{role}")
        assert url == verification_url(factory.runtime, bast["number"])


def test_the_api_refuses_the_wrong_role_a_second_signature_and_after_the_scan(
    factory: Factory, handed: dict[str, Any]
) -> None:
    client, rid, people = factory.client, handed["id"], handed["people"]
    path = f"/api/v1/requests/{rid}/bast/signatures"

    def sign(role: Role, body: dict[str, Any]) -> Any:
        return client.post(path, json=body, headers=factory.headers(people[role]))

    for role, body in ((Role.PEMOHON, {"role": "operator"}), (Role.SUBKOORDINATOR,
                       {"role": "operator"}), (Role.OPERATOR, {"role": "recipient"}),
                       (Role.AUDITOR, {"role": "subkoordinator"})):  # fmt: skip
        refused = sign(role, body)
        assert refused.status_code == 403, (role, refused.text)
        assert set(refused.json()) == {"error", "detail"}
    assert sign(Role.OPERATOR, {"role": "operator"}).status_code == 201
    again = sign(Role.OPERATOR, {"role": "operator"})
    assert (again.status_code, again.json()["error"]) == (409, "AlreadySigned")
    assert "signed as operator already" in again.json()["detail"]
    unconfirmed = sign(Role.PEMOHON, {"role": "recipient"})
    assert (unconfirmed.status_code, unconfirmed.json()["error"]) == (422, "ApprovalNotConfirmed")
    half = sign(Role.PEMOHON, {"role": "recipient", "nik": NIK})
    assert half.status_code == 422

    # The print-sign-scan path stays open until the signatures are all in; then it closes them.
    scan = client.post(
        f"/api/v1/requests/{rid}/bast/signed-scan", headers=factory.headers(people[Role.OPERATOR]),
        files={"scan": ("ttd.pdf", scan_pdf_bytes(), "application/pdf")},
    )  # fmt: skip
    assert scan.status_code == 200, scan.text
    late = sign(Role.SUBKOORDINATOR, {"role": "subkoordinator"})
    assert (late.status_code, late.json()["error"]) == (409, "InvalidTransition")


def test_the_recipient_signs_with_bsre_and_a_wrong_passphrase_is_not_echoed(
    factory: Factory, handed: dict[str, Any], bsre: FakeBsre
) -> None:
    runtime: Runtime = factory.runtime
    runtime.settings = runtime.settings.model_copy(update={"bsre": BsreSettings(
        url=bsre.url, client_id=bsre.client_id, client_secret=bsre.client_secret)})  # fmt: skip
    client, rid, pemohon = factory.client, handed["id"], handed["people"][Role.PEMOHON]
    _web_login(client, pemohon)
    page, csrf = _page(client, rid)
    assert 'name="passphrase" type="password" autocomplete="off"' in page
    typed = {"csrf": csrf, "confirmed": "true", "nik": NIK}
    wrong = client.post(
        f"/permintaan/{rid}/bast-setuju", data=typed | {"passphrase": "salah-Sekali-99"}
    )
    assert wrong.status_code == 422
    assert "Passphrase salah" in wrong.text
    assert "salah-Sekali-99" not in wrong.text
    assert _events(factory.session, rid, "handover.signed") == []
    right = client.post(f"/permintaan/{rid}/bast-setuju", data=typed | {"passphrase": PASSPHRASE},
                        follow_redirects=False)  # fmt: skip
    assert right.status_code == 303, right.text
    [event] = _events(factory.session, rid, "handover.signed")
    assert event["object"]["approval"]["kind"] == "bsre_signature"
    assert event["object"]["certificate_subject"].startswith("Common Name: Bripka Andi Wijaya")
    recorded = b"".join(e.canonical for e in custody.events_of_request(factory.session, rid))
    assert PASSPHRASE.encode() not in recorded
    assert NIK.encode() not in recorded
    content = (runtime.settings.data_dir / event["result"]["file"]).read_bytes()
    assert [s.bottom_line for s in _validated(content, bsre.ca_pem)] == [True]
    # Staff now sign with BSrE too: their form asks for the NIK and the passphrase.
    _web_login(client, handed["people"][Role.OPERATOR])
    page, csrf = _page(client, rid)
    assert 'id="passphrase-operator" name="passphrase" type="password" autocomplete="off"' in page
    missing = client.post(f"/api/v1/requests/{rid}/bast/signatures", json={"role": "operator"},
                          headers=factory.headers(handed["people"][Role.OPERATOR]))  # fmt: skip
    assert (missing.status_code, missing.json()["error"]) == (422, "CredentialsRequired")


def test_the_destruction_record_is_signed_by_operator_and_subkoordinator(
    factory: Factory, handed: dict[str, Any], keys: tuple[Path, dict[SigningKeyName, Pkcs12Key]]
) -> None:
    session, people = factory.session, handed["people"]
    data_dir = factory.runtime.settings.data_dir
    document = render_destruction_pdf(destruction_record())
    relative = "destruction/SKS-x-1.pdf"
    (data_dir / "destruction").mkdir(parents=True)
    (data_dir / relative).write_bytes(document)
    delivery = session.query(Delivery).filter_by(request_id=handed["id"]).one()
    delivery.destruction_path = relative
    delivery.destruction_sha256 = hashlib.sha256(document).hexdigest()
    session.commit()
    path = f"/api/v1/deliveries/{delivery.id}/destruction/signatures"

    def sign(role: Role, signer: str) -> Any:
        return factory.client.post(path, json={"role": signer},
                                   headers=factory.headers(people[role]))  # fmt: skip

    assert sign(Role.PEMOHON, "recipient").status_code == 403
    assert sign(Role.OPERATOR, "recipient").status_code == 403
    assert sign(Role.OPERATOR, "operator").json()["fields"] == ["Petugas"]
    assert sign(Role.SUBKOORDINATOR, "subkoordinator").json()["fields"] == ["Petugas", "Mengetahui"]
    assert sign(Role.OPERATOR, "operator").json()["error"] == "AlreadySigned"
    events = _events(session, handed["id"], "destruction.signed")
    assert [(e["object"]["delivery"], e["object"]["role"]) for e in events] == [
        (delivery.id, "operator"), (delivery.id, "subkoordinator")]  # fmt: skip
    signed = factory.client.get(f"/api/v1/deliveries/{delivery.id}/destruction/esigned.pdf",
                                headers=factory.headers(people[Role.OPERATOR]))  # fmt: skip
    assert signed.content.startswith(document)
    statuses = _validated(signed.content, keys[0].read_bytes())
    assert [s.bottom_line for s in statuses] == [True, True]
    assert statuses[0].coverage is SignatureCoverageLevel.ENTIRE_REVISION


def test_staff_sign_the_destruction_record_on_the_request_page(
    factory: Factory, handed: dict[str, Any], keys: tuple[Path, dict[SigningKeyName, Pkcs12Key]]
) -> None:
    client, session, rid, people = factory.client, factory.session, handed["id"], handed["people"]
    data_dir = factory.runtime.settings.data_dir
    document = render_destruction_pdf(destruction_record())
    relative = "destruction/SKS-web-1.pdf"
    (data_dir / "destruction").mkdir(parents=True, exist_ok=True)
    (data_dir / relative).write_bytes(document)
    delivery = session.query(Delivery).filter_by(request_id=rid).one()
    delivery.destruction_path = relative
    delivery.destruction_sha256 = hashlib.sha256(document).hexdigest()
    session.commit()
    form = f"/permintaan/{rid}/pemusnahan/{delivery.id}/tte"

    _web_login(client, people[Role.PEMOHON])
    portal, _csrf = _page(client, rid)
    _web_login(client, people[Role.OPERATOR])
    before, csrf = _page(client, rid)
    posing = client.post(form, data={"csrf": csrf, "role": "subkoordinator"})
    signed = client.post(form, data={"csrf": csrf, "role": "operator"}, follow_redirects=False)
    after, _csrf = _page(client, rid)
    _web_login(client, people[Role.SUBKOORDINATOR])
    theirs, _csrf = _page(client, rid)

    assert "data-sign-destruction" not in portal
    assert 'data-sign-destruction="operator"' in before
    assert 'data-sign-destruction="subkoordinator"' not in before
    assert posing.status_code == 403
    assert signed.status_code == 303, signed.text
    assert 'data-sign-destruction="operator"' not in after
    assert 'Petugas: <span class="ok">sudah</span> · Mengetahui: belum' in after
    assert 'data-sign-destruction="subkoordinator"' in theirs
    [event] = _events(session, rid, "destruction.signed")
    assert (event["object"]["delivery"], event["object"]["role"]) == (delivery.id, "operator")
