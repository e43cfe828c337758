"""Remote signing with BSrE (Balai Sertifikasi Elektronik, BSSN): the `esign.Signer` for a signer
who holds a BSrE certificate.

Public interface (stable: the signing flow builds on it):

    signer = BsreSigner(settings.bsre, nik="3209…", passphrase="…", verification_url=url)
    signed = signer.sign(pdf, request)          # an esign.Signer, e.g. for sign_bast(signer=…)
    except BsreError as exc: exc.message_id, exc.user_message (Indonesian), str(exc) (English)

A `BsreSigner` is made for one signing, with the NIK and the passphrase the signer typed at that
moment; neither is stored, logged, put in an exception, a custody event or a repr. `sign` asks
BSrE for the signer's certificate status (`GET /api/user/status/{nik}`), then sends the PDF
(`POST /api/sign/pdf`, multipart, this application's client credentials as HTTP basic auth) and
accepts the answer only when it is the same PDF with one more signature appended as an
incremental update. Every failure is a `BsreError` (an `esign.SigningError`): `message_id` is a
stable key (`MESSAGES`), `user_message` what the signer reads, `str()` the English log line.
Nothing is signed or written on failure. BSrE names the signature field itself (the signer's
name and a number), so the field is not `esign.FIELDS[role]`; the role is in the custody event.

The API followed is BSrE's "API eSign Client Service" (Petunjuk Teknis v2.0, January 2024,
sections 5.1 Authorization and 5.2 Sign PDF; its v1 endpoints): see docs/esign.md for the
sources and what each field means.
"""

from __future__ import annotations

import logging
import re
from typing import Any, NoReturn

import httpx
from pydantic import SecretStr

from app.handover import esign
from app.settings import BsreSettings

logger = logging.getLogger(__name__)

__all__ = ["MESSAGES", "BsreError", "BsreSigner"]

# What the signer reads for each failure (message_id -> Indonesian text).
MESSAGES: dict[str, str] = {
    "wrong_passphrase": (
        "Passphrase salah. Periksa kembali passphrase sertifikat elektronik BSrE Anda, lalu "
        "coba lagi. Dokumen belum ditandatangani."
    ),
    "not_registered": (
        "NIK ini tidak terdaftar sebagai pemilik sertifikat elektronik di BSrE. Periksa NIK "
        "Anda atau hubungi koordinator TTE instansi Anda."
    ),
    "certificate_expired": (
        "Sertifikat elektronik BSrE Anda sudah habis masa berlakunya. Perpanjang sertifikat "
        "melalui koordinator TTE instansi Anda, lalu tanda tangani lagi."
    ),
    "certificate_revoked": (
        "Sertifikat elektronik BSrE Anda sudah dicabut dan tidak dapat dipakai menandatangani. "
        "Hubungi koordinator TTE instansi Anda."
    ),
    "no_certificate": (
        "NIK ini terdaftar di BSrE tetapi belum memiliki sertifikat elektronik yang aktif. "
        "Hubungi koordinator TTE instansi Anda."
    ),
    "unavailable": (
        "Layanan BSrE tidak dapat dihubungi saat ini. Dokumen belum ditandatangani; coba lagi "
        "beberapa saat lagi."
    ),
    "not_configured": (
        "Penandatanganan dengan sertifikat BSrE belum diatur di Saksi. Hubungi admin Saksi."
    ),
    "client_rejected": (
        "Layanan BSrE menolak akses aplikasi Saksi (kredensial aplikasi tidak berlaku). "
        "Dokumen belum ditandatangani; hubungi admin Saksi."
    ),
    "invalid_input": "NIK harus 16 angka dan passphrase harus diisi.",
    "refused": "BSrE menolak menandatangani dokumen ini. Dokumen belum ditandatangani.",
    "invalid_response": (
        "Jawaban layanan BSrE tidak dapat diterima: dokumen yang dikembalikan bukan dokumen ini "
        "dengan satu tanda tangan tambahan. Dokumen belum ditandatangani."
    ),
}

# BSrE's error codes (`{"status_code": …, "error": "…"}`, HTTP 400), as the clients of the API
# show them (docs/esign.md, "Sources followed": rsuppersahabatan/esign-bsre readme, a Laravel and
# a Go client of /api/sign/pdf): 2031 "Passphrase anda salah !!!", 2011 "Penandatangan tidak
# terdaftar" (the Laravel client: "User tidak terdaftar").
_WRONG_PASSPHRASE = 2031
_NOT_REGISTERED = 2011
# `GET /api/user/status/{nik}` answers `{"status": …}`: ISSUE (a valid certificate), RENEW,
# EXPIRED, REVOKE, NO_CERTIFICATE or NOT_REGISTERED (dptsi/laravel-esign-bsre `cekStatusUser`
# makes the call; a public status-sync script reads these values).
_SIGNING_STATES = frozenset({"ISSUE", "RENEW"})
_STATE_ERRORS = {
    "NOT_REGISTERED": "not_registered",
    "EXPIRED": "certificate_expired",
    "REVOKE": "certificate_revoked",
    "NO_CERTIFICATE": "no_certificate",
}
_NIK = re.compile(r"^[0-9]{16}$")
_MAX_DETAIL = 200


class BsreError(esign.SigningError):
    """A BSrE signing that did not happen: `message_id` (a key of `MESSAGES`), `user_message`
    (Indonesian, for the signer) and the English log message (`str()`), none of which carries
    the passphrase."""

    def __init__(self, message_id: str, log_message: str, *, detail: str | None = None) -> None:
        super().__init__(log_message)
        self.message_id = message_id
        user_message = MESSAGES[message_id]
        if detail:  # BSrE's own words for a refusal we have no better message for
            user_message = f"{user_message} Keterangan BSrE: {detail}"
        self.user_message = user_message


class BsreSigner:
    """Signs through BSrE as the holder of `nik`, with the passphrase they typed just now.

    `verification_url` (the BAST's public verification page) becomes the QR code of a visible
    signature in the request's placement; without it the signature is invisible. Raises
    `BsreError("not_configured")` when SAKSI_BSRE__… is incomplete and
    `BsreError("invalid_input")` for a NIK that is not 16 digits or an empty passphrase."""

    def __init__(
        self,
        settings: BsreSettings,
        *,
        nik: str,
        passphrase: str,
        verification_url: str | None = None,
    ) -> None:
        if not settings.configured:
            raise BsreError("not_configured", "BSrE signing is not configured (SAKSI_BSRE__…)")
        nik = nik.strip()
        if not _NIK.match(nik) or not passphrase:
            raise BsreError("invalid_input", "a NIK of 16 digits and a passphrase are required")
        self._settings = settings
        self._nik = nik
        self._passphrase = SecretStr(passphrase)
        self._verification_url = verification_url

    def __repr__(self) -> str:
        return f"BsreSigner(nik={_masked(self._nik)})"

    def sign(self, pdf: bytes, request: esign.SignatureRequest) -> bytes:
        before = len(esign.signed_fields(pdf))
        with self._client() as client:
            self._check_certificate(client)
            signed = self._sign_remotely(client, pdf, request)
        _check_appended(pdf, signed, before)
        logger.info(
            "BSrE signed %s for NIK %s (%d bytes appended)",
            request.field_name, _masked(self._nik), len(signed) - len(pdf),
        )  # fmt: skip
        return signed

    def _client(self) -> httpx.Client:
        settings = self._settings
        assert settings.url is not None
        assert settings.client_id is not None
        assert settings.client_secret is not None
        return httpx.Client(
            base_url=settings.url.rstrip("/"),
            auth=(settings.client_id, settings.client_secret.get_secret_value()),
            timeout=settings.timeout_seconds,
        )

    def _check_certificate(self, client: httpx.Client) -> None:
        """Refuse early, with a clear message, a NIK whose certificate cannot sign."""
        response = _send(client, "status", "GET", f"/api/user/status/{self._nik}")
        body = _json(response)
        state = str(body.get("status", "")).strip().upper()
        if response.status_code == httpx.codes.OK and state in _SIGNING_STATES:
            return
        if state in _STATE_ERRORS:
            raise BsreError(
                _STATE_ERRORS[state],
                f"BSrE: the certificate of NIK {_masked(self._nik)} is {state}",
            )
        _raise_refusal(response.status_code, body, self._passphrase, "status")

    def _sign_remotely(
        self, client: httpx.Client, pdf: bytes, request: esign.SignatureRequest
    ) -> bytes:
        fields = {
            "nik": self._nik,
            "passphrase": self._passphrase.get_secret_value(),
            "reason": request.reason,
            "location": request.location,
            **self._appearance(request),
        }
        files = {"file": ("dokumen.pdf", pdf, "application/pdf")}
        response = _send(client, "sign", "POST", "/api/sign/pdf", data=fields, files=files)
        fields.clear()
        status, content, body = response.status_code, response.content, _json(response)
        del response  # holds the request sent, passphrase included: not in any traceback
        if status == httpx.codes.OK:
            return content
        _raise_refusal(status, body, self._passphrase, "sign")

    def _appearance(self, request: esign.SignatureRequest) -> dict[str, str]:
        """Where the signature shows: BSrE draws a QR code of `linkQR` in the box (x, y of its
        lower left corner, width and height, in PDF points; `page` counts from 1)."""
        if self._verification_url is None:
            return {"tampilan": "invisible"}
        x1, y1, x2, y2 = request.placement.box
        return {
            "tampilan": "visible", "image": "false", "linkQR": self._verification_url,
            "page": str(request.placement.page + 1), "xAxis": str(x1), "yAxis": str(y1),
            "width": str(x2 - x1), "height": str(y2 - y1),
        }  # fmt: skip


def _send(client: httpx.Client, step: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """BSrE's answer, unless the service is down or refuses this application."""
    response = _request(client, step, method, path, **kwargs)
    if response is None:
        raise BsreError("unavailable", f"BSrE could not be reached ({step})")
    if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
        raise BsreError("unavailable", f"BSrE answered HTTP {response.status_code} ({step})")
    if response.status_code in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
        raise BsreError(
            "client_rejected",
            f"BSrE refused the client credentials (HTTP {response.status_code}, {step}); "
            "check SAKSI_BSRE__CLIENT_ID and SAKSI_BSRE__CLIENT_SECRET",
        )
    return response


def _request(
    client: httpx.Client, step: str, method: str, path: str, **kwargs: Any
) -> httpx.Response | None:
    """The answer, or None when BSrE cannot be reached. The httpx error is not kept (its request
    holds the passphrase), and an error is raised only outside this handler, so no exception
    chain leads back to it."""
    try:
        return client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        logger.warning("BSrE %s request failed: %s", step, type(exc).__name__)
        return None


def _raise_refusal(status: int, body: dict[str, Any], passphrase: SecretStr, step: str) -> NoReturn:
    code = body.get("status_code")
    text = _scrubbed(str(body.get("error") or body.get("message") or ""), passphrase)
    where = f"HTTP {status}, code {code}, {step}"
    if code == _WRONG_PASSPHRASE:
        raise BsreError("wrong_passphrase", f"BSrE: wrong passphrase ({where})")
    if code == _NOT_REGISTERED:
        raise BsreError("not_registered", f"BSrE: the NIK is not registered ({where})")
    if status == httpx.codes.OK:  # a 200 whose body is not what was asked
        raise BsreError("invalid_response", f"BSrE answered an unexpected body ({where})")
    raise BsreError("refused", f"BSrE refused ({where}): {text}", detail=text or None)


def _check_appended(pdf: bytes, signed: bytes, before: int) -> None:
    """BSrE's answer must be our PDF, untouched, with exactly one signature appended."""
    if not signed.startswith(pdf) or len(signed) == len(pdf):
        raise BsreError("invalid_response", "BSrE returned a PDF that does not extend the one sent")
    try:
        after = len(esign.signed_fields(signed))
    except Exception as exc:  # any parse failure means an unusable answer
        raise BsreError(
            "invalid_response", f"BSrE returned an unreadable PDF ({type(exc).__name__})"
        ) from None
    if after != before + 1:
        raise BsreError(
            "invalid_response", f"BSrE returned {after - before} new signatures, not one"
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _scrubbed(text: str, passphrase: SecretStr) -> str:
    """BSrE's words, shortened, and never the passphrase (should a service ever echo it)."""
    secret = passphrase.get_secret_value()
    if secret:
        text = text.replace(secret, "***")
    return text.strip()[:_MAX_DETAIL]


def _masked(nik: str) -> str:
    """A NIK as logs show it: its last four digits."""
    return f"…{nik[-4:]}"
