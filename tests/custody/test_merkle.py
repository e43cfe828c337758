"""RFC 6962 Merkle tree against the transparency-dev/merkle reference vectors."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from custody.errors import ProofError
from custody.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion

DATA = Path(__file__).parent / "data" / "merkle"
REFERENCE = json.loads((DATA / "reference.json").read_text())
LEAVES = [bytes.fromhex(h) for h in REFERENCE["leaf_inputs_hex"]]
ROOTS = [bytes.fromhex(h) for h in REFERENCE["root_hashes_hex"]]


def _vectors(kind: str) -> list[Any]:
    files = sorted((DATA / kind).rglob("*.json"))
    return [pytest.param(json.loads(f.read_text()), id=str(f.relative_to(DATA))) for f in files]


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def test_reference_roots_at_every_size() -> None:
    tree = MerkleTree()
    assert tree.root() == ROOTS[0]
    for size, data in enumerate(LEAVES, start=1):
        tree.append(data)
        assert tree.root() == ROOTS[size], f"root of size {size}"
    for size in range(9):
        assert tree.root(size) == ROOTS[size]


@pytest.mark.parametrize("vector", _vectors("inclusion"))
def test_inclusion_vectors(vector: dict[str, Any]) -> None:
    arguments = (
        _b64(vector["leafHash"]),
        vector["leafIdx"],
        vector["treeSize"],
        [_b64(p) for p in vector["proof"] or []],
        _b64(vector["root"]),
    )
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*arguments)
    else:
        verify_inclusion(*arguments)


@pytest.mark.parametrize("vector", _vectors("consistency"))
def test_consistency_vectors(vector: dict[str, Any]) -> None:
    arguments = (
        vector["size1"],
        vector["size2"],
        [_b64(p) for p in vector["proof"] or []],
        _b64(vector["root1"]),
        _b64(vector["root2"]),
    )
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*arguments)
    else:
        verify_consistency(*arguments)


def test_our_proofs_verify_for_every_pair_of_sizes() -> None:
    tree = MerkleTree(leaf_hash(bytes([i])) for i in range(33))
    for size in range(1, 34):
        root = tree.root(size)
        for index in range(size):
            verify_inclusion(tree.leaf(index), index, size, tree.inclusion_proof(index, size), root)
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old, size)
            verify_consistency(old, size, proof, tree.root(old), root)


def test_proofs_match_the_reference_happy_paths() -> None:
    tree = MerkleTree()
    for data in LEAVES:
        tree.append(data)
    happy = json.loads((DATA / "inclusion" / "1" / "happy-path.json").read_text())
    proof = tree.inclusion_proof(happy["leafIdx"], happy["treeSize"])
    assert [base64.b64encode(p).decode() for p in proof] == happy["proof"]
    consistency = json.loads((DATA / "consistency" / "1" / "happy-path.json").read_text())
    proof = tree.consistency_proof(consistency["size1"], consistency["size2"])
    assert [base64.b64encode(p).decode() for p in proof] == consistency["proof"]
