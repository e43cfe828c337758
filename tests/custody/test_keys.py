"""The office key: created owner-only on first use, the same key on every later start."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from custody import load_or_create
from custody.errors import OfficeKeyError
from custody.keys import load


def test_a_new_key_is_owner_only_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keys" / "office.pem"
    first = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_or_create(path)
    assert second.public_bytes == first.public_bytes
    assert len(first.public_bytes) == 32
    message = b"checkpoint"
    second.public.verify(first.sign(message), message)


def test_a_supplied_key_is_used_as_is(tmp_path: Path) -> None:
    supplied = load_or_create(tmp_path / "made-elsewhere.pem")
    assert load(tmp_path / "made-elsewhere.pem").public_bytes == supplied.public_bytes


def test_a_key_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ecdsa.pem"
    path.write_bytes(
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(OfficeKeyError, match="not an Ed25519 key"):
        load_or_create(path)


def test_an_unreadable_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "office.pem"
    path.write_text("not a key\n")
    with pytest.raises(OfficeKeyError, match="cannot read the office key"):
        load_or_create(path)
