"""Signatures in minisign's format, made with the office Ed25519 key.

A recipient checks them with the stock tool: `minisign -V -p saksi.pub -m manifest.json`.
Public key: base64("Ed" ‖ key id (8 bytes) ‖ public key). Signature (pre-hashed, "ED"):
base64("ED" ‖ key id ‖ Ed25519(BLAKE2b-512(file))), then a trusted comment and its global
signature Ed25519(signature ‖ trusted comment).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.errors import SignatureError
from custody.keys import OfficeKey

CHUNK = 1024 * 1024


def key_id(public_key: bytes) -> bytes:
    """A stable 8-byte key id for the office key (minisign stores it little-endian)."""
    return hashlib.sha256(b"saksi minisign key id" + public_key).digest()[:8]


def public_key_file(key: OfficeKey) -> str:
    """The contents of `saksi.pub`."""
    ident = key_id(key.public_bytes)
    encoded = base64.b64encode(b"Ed" + ident + key.public_bytes).decode()
    return f"untrusted comment: minisign public key {ident[::-1].hex().upper()}\n{encoded}\n"


def _blake2b_file(path: Path) -> bytes:
    digest = hashlib.blake2b(digest_size=64)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.digest()


def sign_file(key: OfficeKey, path: Path, trusted_comment: str) -> str:
    """Return the contents of `<file>.minisig` for `path`."""
    if "\n" in trusted_comment:
        raise ValueError("a trusted comment is one line")
    signature = key.sign(_blake2b_file(path))
    line = base64.b64encode(b"ED" + key_id(key.public_bytes) + signature).decode()
    comment = trusted_comment.encode()
    global_signature = base64.b64encode(key.sign(signature + comment)).decode()
    return (
        "untrusted comment: signature from the Saksi office key\n"
        f"{line}\ntrusted comment: {trusted_comment}\n{global_signature}\n"
    )


def read_public_key(text: str) -> bytes:
    """Return the raw Ed25519 key of a minisign public key file."""
    return _read_public_key(text)[1]


def _read_public_key(text: str) -> tuple[bytes, bytes]:
    lines = [line for line in text.splitlines() if line.strip()]
    raw = _b64(lines[-1] if lines else "")
    if len(raw) != 42 or raw[:2] != b"Ed":
        raise SignatureError("not a minisign Ed25519 public key")
    return raw[2:10], raw[10:]


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise SignatureError("a minisign line is not valid base64") from exc


def verify_file(public_key_text: str, path: Path, signature_text: str) -> str:
    """Verify a minisign signature of `path`; return the trusted comment."""
    # The key id comes from the public key file, so keys made by minisign itself verify too.
    ident, public = _read_public_key(public_key_text)
    lines = signature_text.splitlines()
    if len(lines) < 4 or not lines[2].startswith("trusted comment: "):
        raise SignatureError("not a minisign signature file")
    raw = _b64(lines[1])
    if len(raw) != 74 or raw[:2] != b"ED":
        raise SignatureError("not a pre-hashed (ED) minisign signature")
    if raw[2:10] != ident:
        raise SignatureError("the signature was not made by this key")
    signature = raw[10:]
    comment = lines[2].removeprefix("trusted comment: ").encode()
    verifier = Ed25519PublicKey.from_public_bytes(public)
    try:
        verifier.verify(signature, _blake2b_file(path))
        verifier.verify(_b64(lines[3]), signature + comment)
    except InvalidSignature as exc:
        raise SignatureError(f"the signature of {path.name} does not verify") from exc
    return comment.decode()
