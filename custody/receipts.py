"""Receipts: proof that an event is in the ledger, in the C2SP tlog-proof shape.

    c2sp.org/tlog-proof@v1
    extra <base64 of the event's canonical bytes>
    index <leaf index>
    <base64 proof hash>
    ...
    <blank line>
    <signed checkpoint note>

Offline, a recipient recomputes the leaf hash from the event bytes, walks the audit path to the
checkpoint's root, and checks the checkpoint's signature with the office key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from custody.errors import ProofError
from custody.merkle import MerkleTree, leaf_hash, verify_inclusion
from custody.note import Checkpoint, open_note

HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True, slots=True)
class Receipt:
    event: bytes
    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: str

    def text(self) -> str:
        lines = [HEADER, f"extra {base64.b64encode(self.event).decode()}", f"index {self.index}"]
        lines += [base64.b64encode(h).decode() for h in self.proof]
        return "\n".join(lines) + "\n\n" + self.checkpoint_note


def issue(tree: MerkleTree, index: int, event: bytes, checkpoint_note: str, size: int) -> Receipt:
    """Make the receipt of leaf `index` against the checkpoint of `size` leaves."""
    if leaf_hash(event) != tree.leaf(index):
        raise ProofError("the event bytes are not the leaf at that index")
    return Receipt(event, index, tuple(tree.inclusion_proof(index, size)), checkpoint_note)


def parse(text: str) -> Receipt:
    head, separator, note = text.partition("\n\n")
    lines = head.split("\n")
    if not separator or not lines or lines[0] != HEADER:
        raise ProofError("not a c2sp.org/tlog-proof@v1 receipt")
    fields = lines[1:]
    if len(fields) < 2 or not fields[0].startswith("extra ") or not fields[1].startswith("index "):
        raise ProofError("the receipt lacks its event or index")
    try:
        event = base64.b64decode(fields[0].removeprefix("extra "), validate=True)
        proof = tuple(base64.b64decode(line, validate=True) for line in fields[2:])
        index = int(fields[1].removeprefix("index "))
    except ValueError as exc:
        raise ProofError("the receipt is malformed") from exc
    return Receipt(event, index, proof, note)


def verify(receipt: Receipt, signer: str, public_key: bytes) -> Checkpoint:
    """Check a receipt offline; return the checkpoint it is proven against."""
    checkpoint = open_note(receipt.checkpoint_note, signer, public_key)
    verify_inclusion(
        leaf_hash(receipt.event), receipt.index, checkpoint.size, receipt.proof, checkpoint.root
    )
    return checkpoint
