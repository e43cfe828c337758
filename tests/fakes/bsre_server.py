"""A protocol-level fake of BSrE's signing service (BSSN "API eSign Client Service") on loopback.

It answers the two calls Saksi makes, as the published API and the clients built on it show
them (sources in docs/esign.md):

- `GET /api/user/status/{nik}` -> 200 `{"status": "ISSUE" | "RENEW" | "EXPIRED" | "REVOKE" |
  "NO_CERTIFICATE" | "NOT_REGISTERED", "message": …}` (the statuses a public Python script that
  syncs an office's BSrE certificate statuses reads from this call's `status`).
- `POST /api/sign/pdf`, multipart: `file`, `nik`, `passphrase`, `tampilan` (visible |
  invisible), for a visible one `image=false` with `linkQR`, `page`, `xAxis`, `yAxis`, `width`,
  `height`; optional `reason`, `location` (pemkotbekasi/node-esign-BSrE EsignBsre.js validates
  these fields; dptsi/laravel-esign-bsre EsignBsreManager.php sends them). Success: 200 with the
  signed PDF as the body and an `id_dokumen` header. Refusals: HTTP 400 with
  `{"status_code": 2031, "error": "Passphrase anda salah !!!"}` for a wrong passphrase
  (rsuppersahabatan/esign-bsre readme; a Go client checks HTTP 400 for it) and
  `{"status_code": 2011, "error": "Penandatangan tidak terdaftar"}` for an unknown NIK.

Every request needs the application's credentials as HTTP basic auth (401 otherwise). The
signature is real: PAdES (ETSI.CAdES.detached) by pyHanko, appended as an incremental update,
with a key and certificate per NIK issued by the fake's own CA (`ca_pem`), in a field BSrE
names itself (the signer's name and a millisecond count, as BSrE's verify answer shows
"signature_field": "Rio Firmansyah1539748624950"). Faults: `outage` (503 to every call),
`rewrite` (returns a re-written, not incrementally updated, PDF), `delay` (a slow answer) and
`stop()` (connection refused).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import io
import json
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pypdf import PdfReader, PdfWriter

CA_NAME = "Fake BSrE CA (tes)"
_STATUS = re.compile(r"^/api/user/status/([^/]+)$")
_STATE_MESSAGES = {
    "ISSUE": "Sertifikat aktif",
    "RENEW": "Sertifikat diperbarui",
    "EXPIRED": "Sertifikat kedaluwarsa",
    "REVOKE": "Sertifikat dicabut",
    "NO_CERTIFICATE": "Pengguna belum memiliki sertifikat",
    "NOT_REGISTERED": "Pengguna tidak terdaftar",
}


@dataclass
class Account:
    """A BSrE user: name, passphrase, certificate status and signing key."""

    nik: str
    name: str
    passphrase: str
    status: str
    signer: signers.SimpleSigner


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up (the timeout test) is not an error of the fake: no traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class FakeBsre:
    """The fake service; `start()` listens on 127.0.0.1 in a thread."""

    client_id: str = "saksi-app"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    accounts: dict[str, Account] = field(default_factory=dict)
    outage: bool = False
    rewrite: bool = False
    delay: float = 0.0  # seconds before each answer (a slow service, for timeouts)
    requests: list[tuple[str, str]] = field(default_factory=list)  # method, path (no bodies)
    forms: list[dict[str, str]] = field(default_factory=list)  # sign forms, passphrase removed
    signed: int = 0

    def __post_init__(self) -> None:
        self._ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._ca = _certificate(CA_NAME, self._ca_key.public_key(), None, self._ca_key, ca=True)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def ca_pem(self) -> bytes:
        return self._ca.public_bytes(serialization.Encoding.PEM)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_account(self, nik: str, name: str, passphrase: str, status: str = "ISSUE") -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = _certificate(name, key.public_key(), self._ca, self._ca_key, ca=False)
        der_key = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )  # fmt: skip
        [signing_cert] = load_certs_from_pemder_data(cert.public_bytes(serialization.Encoding.DER))
        chain = list(load_certs_from_pemder_data(self.ca_pem))
        signer = signers.SimpleSigner(
            signing_cert=signing_cert,
            signing_key=load_private_key_from_pemder_data(der_key, None),
            cert_registry=SimpleCertificateStore.from_certs(chain),  # type: ignore[no-untyped-call]
        )
        self.accounts[nik] = Account(nik, name, passphrase, status, signer)

    def start(self) -> FakeBsre:
        handler = type("Handler", (_Handler,), {"bsre": self})
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: from now on a connection is refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def sign(self, account: Account, pdf: bytes, form: dict[str, str]) -> bytes:
        """Sign `pdf` as `account`, as BSrE does: its own field name, QR code when visible."""
        if self.rewrite:  # a signer that saves the whole file anew instead of appending
            writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
            rewritten = io.BytesIO()
            writer.write(rewritten)
            pdf = rewritten.getvalue()
        name = re.sub(r"[^A-Za-z0-9 ]", "", account.name) + str(time.time_ns() // 1_000_000)
        meta = signers.PdfSignatureMetadata(
            field_name=name, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
            reason=form.get("reason"), location=form.get("location"),
        )  # fmt: skip
        spec, style, params = None, None, {}
        if form.get("tampilan", "").lower() == "visible":
            x, y = int(form["xAxis"]), int(form["yAxis"])
            box = (x, y, x + int(form["width"]), y + int(form["height"]))
            spec = fields.SigFieldSpec(name, on_page=int(form.get("page", "1")) - 1, box=box)
            # BSrE draws a QR code of `linkQR`; the fake writes the address (pyHanko's QR
            # stamp needs the `qrcode` package, which Saksi does not install).
            text = "Ditandatangani secara elektronik oleh\n%(signer)s\n%(url)s"
            style = TextStampStyle(stamp_text=text)
            params = {"url": form["linkQR"]}
        pdf_signer = signers.PdfSigner(meta, account.signer, stamp_style=style,
                                       new_field_spec=spec)  # fmt: skip
        out = io.BytesIO()
        incremental = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        pdf_signer.sign_pdf(incremental, output=out, appearance_text_params=params)
        self.signed += 1
        return out.getvalue()


class _Handler(BaseHTTPRequestHandler):
    bsre: FakeBsre

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        return  # quiet: the tests read `requests`

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.bsre.requests.append((method, self.path))
        time.sleep(self.bsre.delay)
        if self.bsre.outage:
            self._reply(503, b"<html><body>503 Service Unavailable</body></html>", "text/html")
            return
        if not self._authorized():
            self._json(401, {"error": "Unauthorized", "status_code": 401})
            return
        status = _STATUS.match(self.path)
        try:
            if method == "GET" and status:
                self._status(status.group(1))
            elif method == "POST" and self.path == "/api/sign/pdf":
                self._sign(body)
            else:
                self._json(404, {"error": "Not Found", "status_code": 404})
        except Exception as exc:  # a bug of the fake shows as BSrE's internal error
            self._json(500, {"error": f"{type(exc).__name__}: {exc}", "status_code": 500})

    def _authorized(self) -> bool:
        expected = f"{self.bsre.client_id}:{self.bsre.client_secret}".encode()
        given = self.headers.get("Authorization", "")
        return given == "Basic " + base64.b64encode(expected).decode()

    def _status(self, nik: str) -> None:
        account = self.bsre.accounts.get(nik)
        state = account.status if account else "NOT_REGISTERED"
        self._json(200, {"status": state, "message": _STATE_MESSAGES[state]})

    def _sign(self, body: bytes) -> None:
        form, files = _multipart(self.headers.get("Content-Type", ""), body)
        self.bsre.forms.append({k: v for k, v in form.items() if k != "passphrase"})
        account = self.bsre.accounts.get(form.get("nik", ""))
        pdf = files.get("file", b"")
        if account is None:
            self._json(400, {"status_code": 2011, "error": "Penandatangan tidak terdaftar"})
        elif not secrets.compare_digest(form.get("passphrase", ""), account.passphrase):
            self._json(400, {"status_code": 2031, "error": "Passphrase anda salah !!!"})
        elif account.status not in ("ISSUE", "RENEW"):
            # BSrE's code for signing with an inactive certificate is not in the sources
            # found; a refusal without a known code is what the client must cope with.
            self._json(400, {"error": "Sertifikat pengguna tidak aktif"})
        elif not pdf.startswith(b"%PDF-") or form.get("tampilan") not in ("visible", "invisible"):
            self._json(400, {"error": "Periksa kembali data anda"})
        else:
            signed = self.bsre.sign(account, pdf, form)
            self._reply(200, signed, "application/pdf", {"id_dokumen": secrets.token_hex(16)})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._reply(status, json.dumps(body).encode(), "application/json")

    def _reply(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """The text fields and the files of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    form: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        if part.get_filename() is not None:
            files[str(name)] = payload
        else:
            form[str(name)] = payload.decode()
    return form, files


def _certificate(
    subject: str,
    public_key: rsa.RSAPublicKey,
    issuer: x509.Certificate | None,
    signing_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    now = datetime.now(UTC)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, subject),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Balai Sertifikasi Elektronik (tes)"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
    ])  # fmt: skip
    usage = x509.KeyUsage(
        digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    return builder.sign(signing_key, hashes.SHA256())
