"""The right frontier gives the RFC 9162 root of every size, extended in any steps."""

from __future__ import annotations

import hashlib

import pytest

from custody.frontier import Frontier
from custody.merkle import MerkleTree, leaf_hash


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"event {i}".encode()) for i in range(n)]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 7, 8, 9, 100, 255, 256, 257, 1000])
def test_the_frontier_root_is_the_tree_root(size: int) -> None:
    leaves = _leaves(size)
    frontier = Frontier.of(leaves)
    assert frontier.size == size
    assert len(frontier.roots) == size.bit_count()
    assert frontier.root() == MerkleTree(leaves).root()


def test_extending_in_steps_and_through_its_encoding_matches_one_go() -> None:
    leaves = _leaves(1234)
    frontier = Frontier(0, ())
    for start in range(0, 1234, 100):  # a checkpoint every 100 events
        frontier = Frontier.decode(frontier.encode()).extended(leaves[start : start + 100])
        assert frontier.root() == MerkleTree(leaves[: frontier.size]).root()
    assert frontier == Frontier.of(leaves)


def test_a_malformed_frontier_is_refused() -> None:
    assert Frontier(0, ()).root() == hashlib.sha256(b"").digest()
    with pytest.raises(ValueError, match="one root per set bit"):
        Frontier.decode("3:" + "00" * 32)
