"""Receipts in the c2sp.org/tlog-proof shape, checked offline against the signed checkpoint."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody import Checkpoint, OfficeKey, sign
from custody.errors import ProofError, SignatureError
from custody.merkle import MerkleTree
from custody.receipts import HEADER, Receipt, issue, parse, verify

ORIGIN = "diskominfo.example.go.id/saksi-test"


def ledger(count: int) -> tuple[MerkleTree, list[bytes]]:
    events = [f'{{"seq":{n}}}'.encode() for n in range(1, count + 1)]
    tree = MerkleTree()
    for data in events:
        tree.append(data)
    return tree, events


def receipt_for(key: OfficeKey, index: int, size: int = 13) -> Receipt:
    tree, events = ledger(size)
    note = sign(Checkpoint(ORIGIN, size, tree.root()), ORIGIN, key)
    return issue(tree, index, events[index], note, size)


@pytest.mark.parametrize("index", [0, 6, 12])
def test_a_receipt_round_trips_and_verifies(office_key: OfficeKey, index: int) -> None:
    receipt = receipt_for(office_key, index)
    text = receipt.text()
    assert text.startswith(f"{HEADER}\nextra ")
    assert f"\nindex {index}\n" in text
    parsed = parse(text)
    assert parsed == receipt
    checkpoint = verify(parsed, ORIGIN, office_key.public_bytes)
    assert checkpoint.size == 13


def test_a_receipt_for_a_changed_event_is_refused(office_key: OfficeKey) -> None:
    text = receipt_for(office_key, 4).text()
    forged = text.replace(
        base64.b64encode(b'{"seq":5}').decode(), base64.b64encode(b'{"seq":6}').decode()
    )
    with pytest.raises(ProofError, match="does not lead to the root"):
        verify(parse(forged), ORIGIN, office_key.public_bytes)


def test_a_receipt_with_another_index_is_refused(office_key: OfficeKey) -> None:
    text = receipt_for(office_key, 4).text().replace("\nindex 4\n", "\nindex 5\n")
    with pytest.raises(ProofError):
        verify(parse(text), ORIGIN, office_key.public_bytes)


def test_a_receipt_with_a_dropped_proof_line_is_refused(office_key: OfficeKey) -> None:
    lines = receipt_for(office_key, 4).text().split("\n")
    del lines[3]
    with pytest.raises(ProofError, match="shorter"):
        verify(parse("\n".join(lines)), ORIGIN, office_key.public_bytes)


def test_a_receipt_signed_by_another_key_is_refused(office_key: OfficeKey) -> None:
    stranger = OfficeKey(Ed25519PrivateKey.generate())
    with pytest.raises(SignatureError):
        verify(receipt_for(stranger, 1), ORIGIN, office_key.public_bytes)


def test_issuing_for_bytes_that_are_not_the_leaf_is_refused(office_key: OfficeKey) -> None:
    tree, events = ledger(4)
    note = sign(Checkpoint(ORIGIN, 4, tree.root()), ORIGIN, office_key)
    with pytest.raises(ProofError, match="not the leaf"):
        issue(tree, 1, events[2], note, 4)


@pytest.mark.parametrize(
    "text",
    ["", "c2sp.org/tlog-proof@v2\nextra AA==\nindex 0\n\nnote", f"{HEADER}\nindex 0\n\nnote"],
)
def test_malformed_receipts_are_refused(text: str) -> None:
    with pytest.raises(ProofError):
        parse(text)
