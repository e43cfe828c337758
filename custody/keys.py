"""The office's Ed25519 key: it signs checkpoints and evidence packages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custody.atomic import create_once
from custody.errors import OfficeKeyError


@dataclass(frozen=True)
class OfficeKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def public_bytes(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def load_or_create(path: Path) -> OfficeKey:
    """Load the office key from a PEM file, creating it (owner-only) on first use."""
    if path.exists():
        return load(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Two processes starting at once: one key is published, whole, and both use it.
    if create_once(path, pem) != pem:
        return load(path)
    return OfficeKey(key)


def load(path: Path) -> OfficeKey:
    """Load an Ed25519 private key from a PEM file."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise OfficeKeyError(f"cannot read the office key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise OfficeKeyError(f"{path} is not an Ed25519 key")
    return OfficeKey(key)
