"""The fake Drive as a server of its own, over HTTPS with its own CA: for a Saksi started in
another process, configured only through the environment the way an office configures real
Drive (`SAKSI_DRIVE_API_ENDPOINT`, the service-account key whose `token_uri` is this server, and
the CA in `REQUESTS_CA_BUNDLE` / `HTTPLIB2_CA_CERTS`, which requests and httplib2 read).

    python -m tests.fakes.drive_server DIR [--non-google DOMAIN]

writes DIR/ca.pem, DIR/service-account.json and DIR/drive.env (the variables to export), prints
one JSON line (url, shared drive id) once listening, and serves until killed. GET /_fake/items
lists what it stores.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import signal
import ssl
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.fakes.drive import FakeDrive

_Key = rsa.RSAPrivateKey


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str, key: _Key, issuer: tuple[str, _Key] | None, *, ca: bool
) -> x509.Certificate:
    now = datetime.now(UTC)
    issuer_name, signer = issuer if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject)).issuer_name(_name(issuer_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )  # fmt: skip
    if not ca:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer, hashes.SHA256())


def tls_context(directory: Path) -> ssl.SSLContext:
    """A throw-away CA (DIR/ca.pem) and a server certificate for 127.0.0.1 it signed."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = _certificate("Saksi test CA", ca_key, None, ca=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = _certificate("127.0.0.1", key, ("Saksi test CA", ca_key), ca=False)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = directory / "server.pem"
    chain.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM)
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain)
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="drive_server")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--non-google", action="append", default=[],
                        help="an address with no Google account behind it")  # fmt: skip
    args = parser.parse_args(argv)
    directory: Path = args.directory
    directory.mkdir(parents=True, exist_ok=True)
    fake = FakeDrive(directory / "store")
    (directory / "store").mkdir(exist_ok=True)
    fake.non_google.update(args.non_google)
    fake.start(tls=tls_context(directory))
    drive_id = fake.add_shared_drive()
    key = directory / "service-account.json"
    key.write_text(json.dumps(fake.service_account_info()))
    ca = directory / "ca.pem"
    env = {
        "SAKSI_DELIVERY_BACKEND": "drive", "SAKSI_DRIVE_API_ENDPOINT": fake.url,
        "SAKSI_DRIVE_ACTIVITY_API_ENDPOINT": fake.url, "SAKSI_DRIVE_CREDENTIALS_FILE": str(key),
        "SAKSI_DRIVE_SHARED_DRIVE_ID": drive_id, "REQUESTS_CA_BUNDLE": str(ca),
        "HTTPLIB2_CA_CERTS": str(ca),
    }  # fmt: skip
    (directory / "drive.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    sys.stdout.write(json.dumps({"url": fake.url, "shared_drive_id": drive_id, "env": env}) + "\n")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
