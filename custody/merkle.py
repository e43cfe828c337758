"""The Merkle tree of RFC 6962 / RFC 9162 §2.1, with inclusion and consistency proofs.

Leaf hash `SHA-256(0x00 ‖ data)`, node hash `SHA-256(0x01 ‖ left ‖ right)`, the empty tree hashes
to `SHA-256("")`. `MerkleTree` keeps the hash of every complete (perfect, aligned) subtree as
leaves are appended, so a root or a proof at any size costs O(log² n) hashes, not O(n). The
proofs' recursions take their subtree hashes from a function (`RangeHash`), so the same code
serves a tree in memory and the stored interior hashes of the ledger (custody.stored_tree).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from custody.errors import ProofError

HASH_SIZE = 32


def leaf_hash(data: bytes) -> bytes:
    """Hash a leaf: SHA-256(0x00 ‖ data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash an interior node: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size ≥ 2)."""
    return 1 << ((size - 1).bit_length() - 1)


# The hash of the subtree of `size` leaves starting at `start` (a subtree of RFC 9162's
# left-balanced tree: `start` is a multiple of the largest power of two not above `size`).
RangeHash = Callable[[int, int], bytes]


def inclusion_path(index: int, size: int, hash_range: RangeHash) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]), its subtree hashes from `hash_range`."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    return _path(index, 0, size, hash_range)


def _path(index: int, start: int, size: int, hash_range: RangeHash) -> list[bytes]:
    if size == 1:
        return []
    k = _split(size)
    if index < k:
        return [*_path(index, start, k, hash_range), hash_range(start + k, size - k)]
    return [*_path(index - k, start + k, size - k, hash_range), hash_range(start, k)]


def consistency_path(old_size: int, new_size: int, hash_range: RangeHash) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]), its hashes from `hash_range`."""
    if not 0 <= old_size <= new_size:
        raise ValueError("the old size must not exceed the new size")
    if old_size in (0, new_size):
        return []
    return _subproof(old_size, 0, new_size, hash_range, complete=True)


def _subproof(
    m: int, start: int, size: int, hash_range: RangeHash, *, complete: bool
) -> list[bytes]:
    if m == size:
        return [] if complete else [hash_range(start, size)]
    k = _split(size)
    if m <= k:
        return [
            *_subproof(m, start, k, hash_range, complete=complete),
            hash_range(start + k, size - k),
        ]
    return [
        *_subproof(m - k, start + k, size - k, hash_range, complete=False),
        hash_range(start, k),
    ]


def perfect_pieces(start: int, size: int) -> list[tuple[int, int]]:
    """The perfect subtrees, as (level, index), that make up the subtree of `size` leaves at
    `start` (as `RangeHash` passes them), largest first: one per set bit of `size`."""
    pieces = []
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            pieces.append((level, start >> level))
            start += 1 << level
    return pieces


def fold_pieces(hashes: Sequence[bytes]) -> bytes:
    """The hash of a subtree from its perfect pieces' hashes, largest first (RFC 9162's
    recursion folds them from the right)."""
    folded = hashes[-1]
    for left in reversed(hashes[:-1]):
        folded = node_hash(left, folded)
    return folded


class MerkleTree:
    """An append-only Merkle tree over leaf hashes."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # levels[l][i] is the hash of the perfect subtree of 2**l leaves starting at i * 2**l.
        self._levels: list[list[bytes]] = [[]]
        for value in leaf_hashes:
            self.append_hash(value)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, data: bytes) -> int:
        """Append a leaf by its data; return its index."""
        return self.append_hash(leaf_hash(data))

    def append_hash(self, value: bytes) -> int:
        """Append a leaf by its hash; return its index."""
        if len(value) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        index = self.size
        self._levels[0].append(value)
        level = 0
        while len(self._levels[level]) % 2 == 0:
            pair = self._levels[level][-2:]
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(node_hash(pair[0], pair[1]))
            level += 1
        return index

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """Return the root hash of the first `size` leaves (all of them by default)."""
        size = self.size if size is None else size
        self._check_size(size)
        if size == 0:
            return hashlib.sha256(b"").digest()
        return self._hash(0, size)

    def _hash(self, start: int, size: int) -> bytes:
        if size & (size - 1) == 0 and start % size == 0:
            level = size.bit_length() - 1
            return self._levels[level][start >> level]
        k = _split(size)
        return node_hash(self._hash(start, k), self._hash(start + k, size - k))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the audit path of leaf `index` in the tree of `size` leaves (RFC 9162 PATH)."""
        size = self.size if size is None else size
        self._check_size(size)
        return inclusion_path(index, size, self._hash)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Prove the tree of `old_size` leaves is a prefix of `new_size` (RFC 9162 PROOF)."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        return consistency_path(old_size, new_size, self._hash)

    def subtree(self, level: int, index: int) -> bytes | None:
        """The hash of the perfect subtree of 2**level leaves starting at index * 2**level, if
        the tree holds all of them."""
        if level >= len(self._levels) or index >= len(self._levels[level]):
            return None
        return self._levels[level][index]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"the tree has {self.size} leaves, not {size}")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an audit path (RFC 9162 §2.1.3.2); raise ProofError if it does not verify."""
    _check_hashes(leaf, root, *proof)
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size}")
    computed = _root_from_path(leaf, index, size, proof)
    if computed != root:
        raise ProofError("the inclusion proof does not lead to the root")


def _root_from_path(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not (fn & 1 or fn == 0):
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return result


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check a consistency proof (RFC 9162 §2.1.4.2); raise ProofError if it does not verify."""
    if new_size < old_size:
        raise ProofError("the old tree cannot be larger than the new one")
    if old_size == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise ProofError("trees of equal size must have equal roots and an empty proof")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    _check_hashes(old_root, new_root, *proof)
    old, new = _roots_from_consistency(old_size, new_size, proof, old_root)
    if old != old_root or new != new_root:
        raise ProofError("the consistency proof does not lead to both roots")


def _roots_from_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes
) -> tuple[bytes, bytes]:
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            first, second = node_hash(sibling, first), node_hash(sibling, second)
            while not (fn & 1 or fn == 0):
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is too short")
    return first, second


def _check_hashes(*values: bytes) -> None:
    if any(len(value) != HASH_SIZE for value in values):
        raise ProofError("every hash in a proof is 32 bytes")
