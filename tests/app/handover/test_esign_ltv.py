"""PAdES B-LT (issue 19, item 1): the signer's revocation data embedded when it is reachable.

A throw-away CA whose signer certificate names a CRL on a loopback HTTP server, and the test
time-stamping authority (`openssl ts`): the signature embeds the CRL and reaches B-LT; with the
CRL server gone it falls back to B-T; a certificate the CRL lists as revoked signs nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from app.handover import esign, pdf_verify
from app.handover.bast_pdf import render_bast_pdf
from tests.app.handover.fixtures import bast_document
from tests.custody.tsa import LocalAuthority

NOW = datetime.now(UTC)


@dataclass
class Pki:
    ca_key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate
    signer_key: ec.EllipticCurvePrivateKey
    signer: x509.Certificate
    crl: bytes = b""


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pki(crl_url: str) -> Pki:
    ca_key, signer_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = (
        x509.CertificateBuilder().subject_name(_name("Uji CA")).issuer_name(_name("Uji CA"))
        .public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
    signer = (
        x509.CertificateBuilder().subject_name(_name("Dewi Lestari")).issuer_name(ca.subject)
        .public_key(signer_key.public_key()).serial_number(1001)
        .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.CRLDistributionPoints([point]), critical=False)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                       critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    return Pki(ca_key, ca, signer_key, signer)


def _crl(pki: Pki, revoked: list[int]) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder().issuer_name(pki.ca.subject)
        .last_update(NOW - timedelta(hours=1)).next_update(NOW + timedelta(days=1))
    )  # fmt: skip
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(NOW - timedelta(hours=1)).build()
        )  # fmt: skip
    return builder.sign(pki.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@dataclass
class World:
    pki: Pki
    crl_server: ThreadingHTTPServer
    tsa: LocalAuthority
    p12: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("ltv")
    holder: dict[str, Pki] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = holder["pki"].crl
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pki = _pki(f"http://127.0.0.1:{server.server_address[1]}/uji.crl")
    pki.crl = _crl(pki, [])
    holder["pki"] = pki
    tsa = LocalAuthority(root / "tsa")
    tsa_ca = x509.load_pem_x509_certificate((root / "tsa" / "ca.pem").read_bytes())
    p12 = root / "signer.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"signer", pki.signer_key, pki.signer, [pki.ca, tsa_ca], serialization.NoEncryption(),
    ))  # fmt: skip
    yield World(pki, server, tsa, p12)
    server.shutdown()  # (again, if a test stopped it: both calls are idempotent)
    server.server_close()
    tsa.close()


def _sign(world: World) -> bytes:
    unsigned = render_bast_pdf(bast_document())
    request = esign.SignatureRequest(
        field_name="PihakPertama", placement=esign.placements(unsigned)["operator"],
        name="Dewi Lestari", id_line="NIP. 199201012020122001",
        signed_at="4 Desember 2026 15:30:00 WIB", reason="Serah terima rekaman CCTV",
        location="Sumber", timestamp_url=world.tsa.url,
    )  # fmt: skip
    return esign.Pkcs12Signer(world.p12, None).sign(unsigned, request)


def test_the_revocation_data_is_embedded_when_the_crl_answers(world: World) -> None:
    signed = _sign(world)

    assert esign.pades_level(signed) == "B-LT"
    assert world.pki.crl in signed  # the CRL itself, in the document security store
    ca = asn1_x509.Certificate.load(world.pki.ca.public_bytes(serialization.Encoding.DER))
    report = pdf_verify.verify_pdf(signed, [ca])
    assert report.ok  # the revision adding the validation data is no change to the document
    assert [c.after for c in report.signatures] == ["validation"]


def test_a_revoked_certificate_signs_nothing(world: World) -> None:
    good = world.pki.crl
    world.pki.crl = _crl(world.pki, [world.pki.signer.serial_number])
    try:
        with pytest.raises(esign.SigningError, match="revoked"):
            _sign(world)
    finally:
        world.pki.crl = good


def test_without_the_crl_the_signature_falls_back_to_b_t(world: World) -> None:
    world.crl_server.shutdown()
    world.crl_server.server_close()

    signed = _sign(world)

    assert esign.pades_level(signed) == "B-T"
    assert world.pki.crl not in signed
