"""C2SP signed notes and checkpoints, anchored to the Go sumdb/note reference example."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody import Checkpoint, OfficeKey, open_note, sign, verifier_key
from custody.errors import SignatureError
from custody.note import key_id, open_text, sign_text

GO = json.loads((Path(__file__).parent / "data" / "note" / "go-sumdb-note.json").read_text())


def go_key() -> OfficeKey:
    # The key material's base64 itself contains '+': split off the three fixed fields only.
    _, _, name, _, material = GO["signer_key"].split("+", 4)
    raw = base64.b64decode(material)
    assert name == "PeterNeumann"
    assert raw[0] == 1
    return OfficeKey(Ed25519PrivateKey.from_private_bytes(raw[1:]))


def test_the_go_example_note_is_reproduced_byte_for_byte() -> None:
    key = go_key()
    assert sign_text(GO["text"], "PeterNeumann", key) == GO["note"]
    assert verifier_key("PeterNeumann", key.public_bytes) == GO["verifier_key"]
    assert key_id("PeterNeumann", key.public_bytes).hex() == "c74f20a3"


def test_the_go_example_note_verifies() -> None:
    public = base64.b64decode(GO["verifier_key"].split("+", 2)[2])[1:]
    assert open_text(GO["note"], "PeterNeumann", public) == GO["text"]


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda n: n.replace("cryptography", "cryptographY"), "invalid"),
        (lambda n: n.replace("PeterNeumann x08", "EnochRoot x08"), "no signature by"),
        (lambda n: n.replace("\n\n", "\n"), "no blank line"),
        (lambda n: n.replace("\u2014", "-"), "malformed signature line"),
        (lambda n: n.replace("x08go/", "x08go!"), "base64"),
        (lambda n: n.removesuffix("\n"), "no blank line"),
    ],
)
def test_a_mangled_go_note_is_refused(mangle: object, message: str) -> None:
    public = base64.b64decode(GO["verifier_key"].split("+", 2)[2])[1:]
    assert callable(mangle)
    with pytest.raises(SignatureError, match=message):
        open_text(mangle(GO["note"]), "PeterNeumann", public)


def test_a_checkpoint_round_trips(office_key: OfficeKey) -> None:
    checkpoint = Checkpoint("example.go.id/saksi", 8, bytes(range(32)))
    note = sign(checkpoint, "example.go.id/saksi", office_key)
    body, _, signature = note.partition("\n\n")
    assert body == f"example.go.id/saksi\n8\n{base64.b64encode(bytes(range(32))).decode()}"
    assert signature.startswith("\u2014 example.go.id/saksi ")
    assert open_note(note, "example.go.id/saksi", office_key.public_bytes) == checkpoint


def test_another_key_with_the_same_name_is_refused(office_key: OfficeKey) -> None:
    note = sign(Checkpoint("o", 1, b"\x01" * 32), "o", office_key)
    stranger = Ed25519PrivateKey.generate()
    with pytest.raises(SignatureError, match="no signature by o"):
        open_note(note, "o", OfficeKey(stranger).public_bytes)


def test_a_signed_body_that_is_no_checkpoint_is_refused(office_key: OfficeKey) -> None:
    note = sign_text("o\nsize\nAAAA\n", "o", office_key)
    with pytest.raises(SignatureError, match="malformed"):
        open_note(note, "o", office_key.public_bytes)
    short_root = sign_text("o\n3\nAAAA\n", "o", office_key)
    with pytest.raises(SignatureError, match="not a SHA-256"):
        open_note(short_root, "o", office_key.public_bytes)
