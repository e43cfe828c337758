"""`verify ledger`'s "proven up to" counts only a checkpoint held outside whose root the ledger,
recomputed from its events, still gives (issue 20): a cosigned root it no longer gives exposes
a rewrite; it does not prove the events up to its size."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import Engine

from custody import Checkpoint, OfficeKey, load_or_create, sign, verify_ledger
from custody.ledger import leaf_hashes
from custody.merkle import MerkleTree
from custody.witness import (
    VerifierKey,
    append_cosignature,
    cosign,
    cosigner_verifier_key,
    parse_verifier_key,
    split_note,
)
from tests.custody.conftest import ORIGIN, T0, fill

WITNESS = "w.example.go.id/witness"


def _cosigned(engine: Engine, office: OfficeKey, witness: OfficeKey, size: int, root: bytes,
              key: VerifierKey) -> None:  # fmt: skip
    """Store `witness`'s cosignature of the office's checkpoint (size, root), as Saksi keeps
    one it obtained: the office's note followed by the witness's line."""
    note = sign(Checkpoint(ORIGIN, size, root), ORIGIN, office)
    body, _lines = split_note(note)
    line = cosign(body, WITNESS, witness, 1_800_000_000 + size)
    with engine.begin() as connection:
        append_cosignature(connection, key, note + line, None, T0)


def test_a_cosigned_root_the_events_no_longer_give_proves_nothing(
    engine: Engine, office_key: OfficeKey, tmp_path: Path
) -> None:
    witness = load_or_create(tmp_path / "witness.pem")
    key = parse_verifier_key(cosigner_verifier_key(WITNESS, witness.public_bytes))
    fill(engine, 8)
    with engine.connect() as connection:
        tree = MerkleTree(digest for _seq, digest in leaf_hashes(connection))
    _cosigned(engine, office_key, witness, 4, tree.root(4), key)
    # What a witness cosigned before the office's events 5-8 were rewritten: a root they no
    # longer give.
    _cosigned(engine, office_key, witness, 8, hashlib.sha256(b"the past").digest(), key)

    with engine.connect() as connection:
        report = verify_ledger(connection, ORIGIN, office_key.public_bytes, witnesses=[key])

    assert report.cosigned == 2
    assert report.anchored_size == 4  # not 8
    assert any("events 5–8" in str(finding) for finding in report.findings), report.findings
