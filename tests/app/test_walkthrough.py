"""`saksi demo --walkthrough` from a fresh data dir: one request end to end, one JSON line."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import httpx
import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from app import demo
from app.auth.models import Role
from custody.keys import load
from custody.minisign import public_key_file
from custody.package_verify import verify_package
from tests.app.notify.smtp import SmtpServer


@pytest.fixture(scope="module")
def walk_smtp() -> Iterator[SmtpServer]:
    """The SMTP server (aiosmtpd on loopback) the walkthrough's notifications go to."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def walked(
    tmp_path_factory: pytest.TempPathFactory, walk_smtp: SmtpServer
) -> tuple[dict[str, Any], Path]:
    data_dir = tmp_path_factory.mktemp("walkthrough")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAKSI_")}
    env |= {"SAKSI_SMTP_URL": walk_smtp.url, "SAKSI_SMTP_FROM": "saksi@" + demo.STAFF_DOMAIN}
    argv = [sys.executable, "-m", "app.cli", "demo", "--walkthrough", "--data-dir", str(data_dir),
            "--sim-size", "320x240", "--sim-fps", "5", "--port", str(PORT)]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (data_dir.parent / f"{data_dir.name}.log").write_text(done.stderr)  # for the secrets test
    return json.loads(done.stdout.strip().splitlines()[-1]), data_dir


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PORT = _free_port()


def _sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_every_export_is_on_disk_with_its_hash_and_window(
    walked: tuple[dict[str, Any], Path],
) -> None:
    summary, data_dir = walked
    assert summary["data_dir"] == str(data_dir.resolve())
    assert [e["camera"] for e in summary["exports"]] == [f"Kamera {n}" for n in range(1, 5)]
    for export in summary["exports"]:
        assert _sha(export["file"]) == export["sha256"]
        assert Path(export["file"]).stat().st_size == export["bytes"]
        first = datetime.fromisoformat(export["first_frame_utc"])
        assert first <= datetime.fromisoformat(export["window_start_utc"])  # key frame at or before
        assert datetime.fromisoformat(export["last_frame_utc"]) < datetime.fromisoformat(
            export["window_end_utc"]
        )
    motion = summary["exports"][3]
    assert motion["state"] == "partial"
    assert motion["gaps"]  # the motion-only camera recorded nothing for half of the window
    assert all(not e["gaps"] for e in summary["exports"][:3])


def test_package_delivery_and_bast(walked: tuple[dict[str, Any], Path]) -> None:
    summary, data_dir = walked
    key = load(data_dir / "keys" / "office-ed25519.pem")
    report = verify_package(Path(summary["package"]), office_public_key=public_key_file(key))
    assert report.ok, report.findings
    delivery = summary["delivery"]
    assert delivery["method"] == "local"
    assert "/unduh/" in delivery["url"]
    [delivered] = delivery["files"]
    assert _sha(delivered) == _sha(summary["package"] + ".zip")
    bast = summary["bast"]
    assert bast["number"].endswith(f"/BAST/{datetime.now().year}")
    text = subprocess.run(["pdftotext", bast["pdf"], "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    assert bast["number"] in text
    assert Path(bast["docx"]).read_bytes()[:2] == b"PK"


def test_saksi_verify_ledger_checks_the_walked_data_dir(
    walked: tuple[dict[str, Any], Path],
) -> None:
    _summary, data_dir = walked
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAKSI_")}
    env["SAKSI_DATA_DIR"] = str(data_dir)
    done = subprocess.run([sys.executable, "-m", "app.cli", "verify", "ledger"], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_address_printed_into_evidence_is_the_one_served(
    walked: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    """`--port P` serves on P, and the manifest, VERIFIKASI.txt, the delivery link and the
    BAST's QR code all say http://127.0.0.1:P (they said 127.0.0.1:8000 whatever was served)."""
    summary, _data_dir = walked
    base = f"http://127.0.0.1:{PORT}"
    assert summary["public_url"] == base
    package = Path(summary["package"])
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["package"]["verification_url"] == f"{base}/verifikasi"
    assert f"{base}/verifikasi" in (package / "VERIFIKASI.txt").read_text()
    assert summary["delivery"]["url"].startswith(f"{base}/unduh/")
    qr = _bast_qr(Path(summary["bast"]["pdf"]), tmp_path)
    assert qr.startswith(f"{base}/verifikasi/bast/")
    with _serving(_data_dir):  # the same office, served again on P: the QR's page answers
        page = httpx.get(qr, timeout=10)
    assert page.status_code == 200
    assert summary["bast"]["number"] in page.text


@contextmanager
def _serving(data_dir: Path, log: Path | None = None) -> Iterator[None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAKSI_")}
    env["SAKSI_DATA_DIR"] = str(data_dir)
    argv = [sys.executable, "-m", "app.cli", "serve", "--port", str(PORT)]
    sink = log.open("w") if log else subprocess.DEVNULL
    with subprocess.Popen(argv, env=env, stdout=sink, stderr=sink) as server:
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=2).is_success:
                        break
                time.sleep(0.2)
            yield
        finally:
            server.terminate()
            server.wait(timeout=20)
            if log:
                sink.close()  # type: ignore[union-attr]


def _bast_qr(pdf: Path, scratch: Path) -> str:
    """The address in the BAST's QR code, read from the rendered pages by OpenCV's decoders.

    One detector at one resolution misses now and then (a CI run found no code on a page
    where it decodes locally): finder-pattern search depends on what else is on the page, so
    each page is tried at three resolutions with both of OpenCV's detectors."""
    detectors = [cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()]
    for dpi in (150, 220, 300):
        prefix = scratch / f"r{dpi}"
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(pdf), str(prefix)],
                       check=True)  # fmt: skip
        for page in sorted(scratch.glob(f"r{dpi}*.png")):
            image = cv2.imread(str(page))
            for detector in detectors:
                found, _points, _codes = detector.detectAndDecode(image)
                if found:
                    return str(found)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=False).stdout  # fmt: skip
    raise AssertionError(f"no QR code on any page of the BAST; its text:\n{text[-1500:]}")


def test_everything_the_office_wrote_is_readable_by_its_owner_only(
    walked: tuple[dict[str, Any], Path],
) -> None:
    """Clips, masters, packages, letters, keys and saksi.db were created 0644 (world-readable)."""
    _summary, data_dir = walked
    exposed = [
        f"{path.relative_to(data_dir)} {stat.filemode(path.stat().st_mode)}"
        for path in data_dir.rglob("*")
        if path.stat().st_mode & 0o077
    ]
    assert exposed == []
    assert (data_dir / "saksi.db").is_file()


def test_no_secret_of_a_full_run_reaches_its_logs(
    walked: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    """Issue 17: the full /unduh/{token} link was in the access log 30 times in one run. The
    walkthrough's log, then a served session that downloads through the link, signs every demo
    account in (API and web), fails a login and sends tokens in a query: none of the secrets
    it used may appear in any log line."""
    summary, data_dir = walked
    secrets_dir = data_dir / "secrets"
    accounts = [line.split()[1:] for line in (secrets_dir / "demo-accounts.txt").read_text()
                .splitlines() if line.strip()]  # fmt: skip
    link = summary["delivery"]["url"]
    secrets = {
        "link token": link.rsplit("/", 1)[1],
        "NVR password": (secrets_dir / "nvr-sim-password").read_text().strip(),
        "initial admin password": (secrets_dir / "initial-admin-password").read_text().strip(),
        **{f"password of {user}": password for user, _slash, password in accounts},
    }
    served_log = tmp_path / "serve.log"
    with _serving(data_dir, served_log):
        secrets.update(_exercise(link, [(user, password) for user, _s, password in accounts]))
    logs = (data_dir.parent / f"{data_dir.name}.log").read_text() + served_log.read_text()
    assert "GET /unduh/" in logs  # the downloads were logged, redacted
    assert "/api/v1/auth/token" in logs
    leaked = sorted(name for name, secret in secrets.items() if secret in logs)
    assert not leaked, leaked
    assert "eyJ" not in logs  # no JWT of any kind


def _exercise(link: str, accounts: list[tuple[str, str]]) -> dict[str, str]:
    """Use the secrets over HTTP; return the tokens issued on the way."""
    base, issued = link.split("/unduh/", maxsplit=1)[0], {}
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get(link)
        assert page.status_code == 200
        names = sorted(set(re.findall(r'href="/unduh/[^/"]+/([^"]+)"', page.text)))
        assert names
        client.get(f"{link}/{names[0]}", headers={"Range": "bytes=0-99"})
        for user, password in accounts:
            answer = client.post(
                "/api/v1/auth/token", data={"username": user, "password": password}
            )
            assert answer.status_code == 200, answer.text
            issued[f"JWT of {user}"] = answer.json()["access_token"]
            client.get(
                "/api/v1/auth/me", headers={"Authorization": f"Bearer {issued[f'JWT of {user}']}"}
            )
            client.post("/masuk", data={"username": user, "password": password})
        client.post(
            "/api/v1/auth/token", data={"username": "admin-demo", "password": "salah-sandi-x"}
        )
        client.get(f"/healthz?token={issued[f'JWT of {accounts[0][0]}']}")
    issued["wrong password"] = "salah-sandi-x"
    return issued


def test_the_stream_hash_in_the_manifest_is_what_stock_ffmpeg_prints(
    walked: tuple[dict[str, Any], Path],
) -> None:
    """Issue 20: the only video hash a recipient could not reproduce; now the manifest carries
    the stock FFmpeg form and VERIFIKASI.txt the command, run here in the package folder."""
    summary, _data_dir = walked
    package = Path(summary["package"])
    manifest = json.loads((package / "manifest.json").read_text())
    instructions = (package / "VERIFIKASI.txt").read_text()
    assert "elementary_stream.sha256" in manifest["definitions"]
    for clip in manifest["clips"]:
        stream = clip["elementary_stream"]
        assert stream["command"] in instructions
        printed = subprocess.run(stream["command"], shell=True, cwd=package, check=True,  # noqa: S602
                                 capture_output=True, text=True).stdout.split()[0]  # fmt: skip
        assert printed == stream["sha256"]
        assert stream["sha256"] != clip["raw_sha256"]


SIGNED_FIELDS = ["PihakPertama", "Mengetahui", "PihakKedua"]  # operator, subkoordinator, recipient


def test_the_bast_is_signed_by_every_party_one_revision_after_another(
    walked: tuple[dict[str, Any], Path],
) -> None:
    """Issue 19: PAdES signatures as incremental updates on a copy of the issued BAST; pdfsig
    (poppler) and pyHanko, trusting the demo CA, both find every signature valid and nothing
    changed after the last one."""
    summary, _data_dir = walked
    bast = summary["bast"]
    signed, issued = Path(bast["signed_pdf"]), Path(bast["pdf"])
    assert signed.name == issued.name.replace(".pdf", "-esigned.pdf")
    assert signed.read_bytes().startswith(issued.read_bytes())  # the issued BAST, untouched
    report = _pdfsig(signed)
    assert [entry["Signature Field Name"] for entry in report] == SIGNED_FIELDS
    assert [entry["Signature Validation"] for entry in report] == ["Signature is Valid."] * 3
    assert [entry["coverage"] for entry in report] == [
        "Not total document signed", "Not total document signed", "Total document signed",
    ]  # fmt: skip
    # pdfsig trusts what an NSS database holds and takes no CA file: the demo CA is not there.
    assert all(entry["Certificate Validation"] for entry in report)
    statuses = _pyhanko(signed, Path(bast["signing_ca"]))
    assert [status.bottom_line for status in statuses] == [True] * 3
    assert [status.coverage.name for status in statuses] == [
        "ENTIRE_REVISION", "ENTIRE_REVISION", "ENTIRE_FILE",
    ]  # fmt: skip
    assert all(status.docmdp_ok for status in statuses)
    names = [status.signing_cert.subject.native["common_name"] for status in statuses]
    recipient = report[2]["Signer Certificate Common Name"]
    assert names == [report[0]["Signer Certificate Common Name"],
                     report[1]["Signer Certificate Common Name"], recipient]  # fmt: skip
    assert recipient == "Bripka Andi Wijaya"


def test_every_signature_is_a_custody_event_of_its_revision(
    walked: tuple[dict[str, Any], Path],
) -> None:
    """Each `handover.signed` event holds the hash and size of the revision it made: every
    one of them is a prefix of the signed copy, the last one the whole of it."""
    summary, data_dir = walked
    content = Path(summary["bast"]["signed_pdf"]).read_bytes()
    with contextlib.closing(sqlite3.connect(data_dir / "saksi.db")) as db:
        rows = db.execute(
            "SELECT canonical FROM custody_events WHERE action = 'handover.signed' ORDER BY seq"
        ).fetchall()
    events = [json.loads(row[0]) for row in rows]
    assert [event["object"]["field"] for event in events] == SIGNED_FIELDS
    assert [event["performer"]["kind"] for event in events] == ["user", "user", "recipient"]
    for event in events:
        size = event["result"]["size"]
        assert hashlib.sha256(content[:size]).hexdigest() == event["result"]["sha256"]
    assert events[-1]["result"]["size"] == len(content)
    signatures = PdfFileReader(io.BytesIO(content), strict=False).embedded_signatures
    assert [event["object"]["certificate_sha256"] for event in events] == [
        sig.signer_cert.sha256.hex() for sig in signatures
    ]
    assert events[0]["object"]["previous_sha256"] == _sha(summary["bast"]["pdf"])


def test_one_byte_changed_in_the_signed_range_breaks_every_signature(
    walked: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    summary, _data_dir = walked
    content = bytearray(Path(summary["bast"]["signed_pdf"]).read_bytes())
    where = content.index(b"/Author (Saksi)") + len(b"/Author (S")
    content[where] ^= 0x01  # "Saksi" becomes "S`ksi", in the issued revision all signatures cover
    tampered = tmp_path / "BAST-diubah.pdf"
    tampered.write_bytes(bytes(content))
    report = _pdfsig(tampered)
    assert [entry["Signature Field Name"] for entry in report] == SIGNED_FIELDS
    assert all(entry["Signature Validation"] != "Signature is Valid." for entry in report), report
    statuses = _pyhanko(tampered, Path(summary["bast"]["signing_ca"]))
    assert [status.intact for status in statuses] == [False] * 3
    assert [status.bottom_line for status in statuses] == [False] * 3


def _pdfsig(pdf: Path) -> list[dict[str, str]]:
    """pdfsig's report, one dict per signature ("Signature Field Name": …, "coverage": …)."""
    done = subprocess.run(["pdfsig", "-no-ocsp", str(pdf)], capture_output=True, text=True,
                          check=False)  # fmt: skip
    report: list[dict[str, str]] = []
    for line in done.stdout.splitlines():
        if line.startswith("Signature #"):
            report.append({})
        elif line.startswith("  - ") and report:
            name, colon, value = line[4:].partition(": ")
            report[-1][name if colon else "coverage"] = value if colon else name
    return report


def _pyhanko(pdf: Path, ca: Path) -> list[PdfSignatureStatus]:
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(ca))])
    with pdf.open("rb") as handle:
        reader = PdfFileReader(handle, strict=False)
        return [validate_pdf_signature(sig, context) for sig in reader.embedded_signatures]


def test_the_walkthrough_mails_its_whole_sop_run_to_smtp_url(
    walked: tuple[dict[str, Any], Path], walk_smtp: SmtpServer
) -> None:
    """Issue 19: with SAKSI_SMTP_URL set, each step's holder hears that it waits on them, in
    the SOP's order, and the pemohon that the recording is ready; no secret in any message."""
    summary, data_dir = walked
    number = f"SKS-{datetime.now().year}-{summary['request_id']:05d}"
    due = "[Saksi] {}: langkah {} menunggu tindakan Anda"
    expected = [
        *[(demo.demo_email(role), due.format(number, step)) for step, role in
          enumerate((Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG,
                     Role.SUBKOORDINATOR, Role.OPERATOR, Role.OPERATOR), start=2)],
        (demo.demo_email(Role.PEMOHON), f"[Saksi] Rekaman {number} siap diserahkan"),
        (demo.demo_email(Role.OPERATOR), due.format(number, 8)),
    ]  # fmt: skip
    got = list(zip(walk_smtp.mailbox.to(), walk_smtp.mailbox.subjects(), strict=True))
    # The officials' daily digest (past its hour, the job may run during the walk) aside:
    digests = [(to, subject) for to, subject in got if "Ringkasan harian" in subject]
    assert [entry for entry in got if entry not in digests] == expected
    officials = (Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG, Role.SUBKOORDINATOR)
    assert {to for to, _ in digests} <= {demo.demo_email(role) for role in officials}
    assert all(sender == "saksi@" + demo.STAFF_DOMAIN for sender, _ in walk_smtp.mailbox.envelopes)
    secrets_dir = data_dir / "secrets"
    passwords = [line.split()[-1] for line in (secrets_dir / "demo-accounts.txt").read_text()
                 .splitlines() if line.strip()]  # fmt: skip
    secrets = [summary["delivery"]["url"].rsplit("/", 1)[1], *passwords,
               (secrets_dir / "nvr-sim-password").read_text().strip()]  # fmt: skip
    for mail in walk_smtp.mailbox.messages:
        text = str(mail["Subject"]) + mail.get_content()  # decoded (quoted-printable on the wire)
        assert not [secret for secret in secrets if secret in text + mail.as_string()]
        assert "/unduh/" not in text
        assert summary["public_url"] in text  # the address the walkthrough served
