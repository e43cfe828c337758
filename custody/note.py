"""Checkpoints in the C2SP signed-note format (c2sp.org/signed-note, c2sp.org/tlog-checkpoint).

A checkpoint body is `<origin>\\n<tree size>\\n<base64 root>\\n`; the note adds a blank line and
one signature line `— <key name> <base64(key id ‖ Ed25519 signature)>` per signer, where the key id
is the first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key) for Ed25519 keys.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.errors import SignatureError
from custody.keys import OfficeKey

EM_DASH = "\u2014"
ED25519_TYPE = b"\x01"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        if "\n" in self.origin or not self.origin:
            raise ValueError("a checkpoint origin is one non-empty line")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 note signer."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519_TYPE + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The signed-note verifier key string: `<name>+<hex key id>+<base64(0x01 ‖ key)>`."""
    encoded = base64.b64encode(ED25519_TYPE + public_key).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def sign(checkpoint: Checkpoint, name: str, key: OfficeKey) -> str:
    """Sign a checkpoint; return the whole note text."""
    return sign_text(checkpoint.body(), name, key)


def sign_text(text: str, name: str, key: OfficeKey) -> str:
    """Sign any note text (non-empty, ending in a newline); return the signed note."""
    if not text.endswith("\n") or "\n\n" in text:
        raise ValueError("a note text ends in a newline and has no blank line")
    signature = key.sign(text.encode())
    line = base64.b64encode(key_id(name, key.public_bytes) + signature).decode()
    return f"{text}\n{EM_DASH} {name} {line}\n"


def open_note(note: str, name: str, public_key: bytes) -> Checkpoint:
    """Verify a signed checkpoint note by `name`'s key and return the checkpoint."""
    return _parse_body(open_text(note, name, public_key))


def open_text(note: str, name: str, public_key: bytes) -> str:
    """Verify a signed note by `name`'s key and return its text."""
    body, separator, signatures = note.partition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise SignatureError("not a signed note: no blank line before the signatures")
    body += "\n"
    wanted = key_id(name, public_key)
    for line in signatures.removesuffix("\n").split("\n"):
        signer, signature = _signature_line(line)
        if signer != name or signature[:4] != wanted:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature[4:], body.encode())
        except InvalidSignature as exc:
            raise SignatureError(f"the signature of {name} on this note is invalid") from exc
        return body
    raise SignatureError(f"the note carries no signature by {name}")


def _signature_line(line: str) -> tuple[str, bytes]:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != EM_DASH:
        raise SignatureError(f"malformed signature line: {line!r}")
    try:
        return parts[1], base64.b64decode(parts[2], validate=True)
    except ValueError as exc:
        raise SignatureError("a signature is not valid base64") from exc


def _parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise SignatureError("the checkpoint body is malformed")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError as exc:
        raise SignatureError("the checkpoint root is not base64") from exc
    if len(root) != 32:
        raise SignatureError("the checkpoint root is not a SHA-256 hash")
    return Checkpoint(origin=lines[0], size=int(lines[1]), root=root)
