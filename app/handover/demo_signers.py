"""Throw-away signing keys for the demo: a CA and one PKCS#12 file per signer of the BAST, and
the office seal that signs a recipient's uncertified approval (`seal`, see `seal_person`).

Generated into `<data dir>/secrets/esign/` on first use (owner-only), never shipped: the CA's
private key is not kept, so nothing else can be issued under it. Validators take `ca.pem` as
their trust root (`pyhanko sign validate --trust ca.pem`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.settings import Pkcs12Key

CA_NAME = "Saksi Demo CA (bukan untuk produksi)"
VALIDITY = timedelta(days=365)
# The document-signing purpose (1.3.6.1.4.1.311.10.3.12, as Acrobat and NSS know it).
_DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
_Name = TypeVar("_Name", bound=str)


def demo_dir(data_dir: Path) -> Path:
    return data_dir / "secrets" / "esign"


def seal_person(office: str) -> tuple[str, str]:
    """The office seal's certificate names the office itself (an electronic seal, no person);
    a common name holds at most 64 characters (RFC 5280 ub-common-name)."""
    name = f"Segel {office}"
    return (name if len(name) <= 64 else name[:64].rsplit(" ", 1)[0], office)


def ensure_demo_signers(
    data_dir: Path, people: Mapping[_Name, tuple[str, str]], office: str, now: datetime
) -> tuple[Path, dict[_Name, Pkcs12Key]]:
    """The demo CA certificate (of `office`) and each key (role or `seal` -> name and
    organization), made on first use."""
    directory = demo_dir(data_dir)
    ca_file = directory / "ca.pem"
    keys = {role: _key_paths(directory, role) for role in people}
    if ca_file.exists() and all(key.p12_file.exists() for key in keys.values()):
        return ca_file, keys
    directory.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.mkdir(exist_ok=True, mode=0o700)
    ca_file.unlink(missing_ok=True)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = _ca_certificate(ca_key, office, now)
    for role, (person, organization) in people.items():
        passphrase = secrets.token_urlsafe(24).encode()
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = _signer_certificate(key.public_key(), person, organization, (ca_key, ca_cert), now)
        bundle = pkcs12.serialize_key_and_certificates(
            role.encode(), key, cert, [ca_cert],
            serialization.BestAvailableEncryption(passphrase),
        )  # fmt: skip
        paths = keys[role]
        assert paths.passphrase_file is not None
        _write_private(paths.passphrase_file, passphrase)
        _write_private(paths.p12_file, bundle)
    # Last: a CA file means its signers' files are complete (an interrupted run makes all anew).
    _write_private(ca_file, ca_cert.public_bytes(serialization.Encoding.PEM))
    return ca_file, keys


def _write_private(path: Path, content: bytes) -> None:
    """Replace `path` with `content`, owner-only, in one step."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _key_paths(directory: Path, role: str) -> Pkcs12Key:
    return Pkcs12Key(p12_file=directory / f"{role}.p12",
                     passphrase_file=directory / f"{role}.passphrase")  # fmt: skip


def _ca_certificate(key: rsa.RSAPrivateKey, organization: str, now: datetime) -> x509.Certificate:
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
    ])  # fmt: skip
    usage = x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _signer_certificate(
    public_key: rsa.RSAPublicKey,
    person: str,
    organization: str,
    issuer: tuple[rsa.RSAPrivateKey, x509.Certificate],
    now: datetime,
) -> x509.Certificate:
    ca_key, ca_cert = issuer
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, person),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
    ])  # fmt: skip
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=True, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    purposes = x509.ExtendedKeyUsage([_DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION])
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(purposes, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
