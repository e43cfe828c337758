"""Roots and proofs of the ledger's tree read from stored interior hashes, not every leaf.

RFC 9162 §2.1 builds every root and proof from the hashes of subtrees of the left-balanced
tree; each such subtree is a run of perfect, aligned subtrees (one per set bit of its size). As
tiled logs do (https://research.swtch.com/tlog#tiling_a_log, c2sp.org/tlog-tiles: only the
hashes of complete subtrees are stored, immutable once written), the ledger stores the hash of
every perfect subtree of 2**NODE_LEVEL leaves or more in the transaction that appends its last
leaf (`custody_merkle_nodes`, a row per node rather than the tlog-tiles files of 256 hashes);
smaller subtrees are computed from at most one tile of 16 leaf hashes. A proof at 100 000 events
thus reads about 17 stored nodes and two tiles of leaf hashes, in one query, whatever the size.

A missing node (a ledger written before the nodes table, or rows written by other means) is
computed from the level below, down to the leaves: slower, never wrong. The stored nodes are a
cache derived from the leaves, read through the caller's connection (so they are exactly as
committed as the leaves it sees); `verify ledger` recomputes every one from the events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Select, and_, insert, literal, or_, select, tuple_, union_all

from custody.frontier import Frontier
from custody.ledger import NODE_LEVEL, events_table, head_seq, nodes_table
from custody.merkle import (
    MerkleTree,
    RangeHash,
    consistency_path,
    fold_pieces,
    inclusion_path,
    node_hash,
    perfect_pieces,
)

Piece = tuple[int, int]  # (level, index): the perfect subtree of leaves [index << level, …)


def root(connection: Connection, size: int, held: int | None = None) -> bytes:
    """The root of the tree of the first `size` events (`held`: the ledger's size, if the
    caller just read it)."""
    return frontier(connection, size, held).root()


def frontier(connection: Connection, size: int, held: int | None = None) -> Frontier:
    """The tree's right frontier at `size` events (custody.frontier), from O(log n) nodes."""
    _check_size(connection, size, held)
    pieces = perfect_pieces(0, size)
    hashes = subtree_hashes(connection, pieces)
    return Frontier(size, tuple(hashes[piece] for piece in pieces))


def inclusion_proof(
    connection: Connection, index: int, size: int, held: int | None = None
) -> list[bytes]:
    """The audit path of leaf `index` (0-based) in the tree of `size` events."""
    _check_size(connection, size, held)
    return _built(connection, lambda hash_range: inclusion_path(index, size, hash_range))


def consistency_proof(
    connection: Connection, old: int, new: int, held: int | None = None
) -> list[bytes]:
    """The proof that the tree of `old` events is a prefix of the tree of `new`."""
    _check_size(connection, new, held)
    return _built(connection, lambda hash_range: consistency_path(old, new, hash_range))


def _check_size(connection: Connection, size: int, held: int | None) -> None:
    held = head_seq(connection) if held is None else held
    if not 0 <= size <= held:
        raise ValueError(f"the tree has {held} leaves, not {size}")


def _built(connection: Connection, build: Callable[[RangeHash], list[bytes]]) -> list[bytes]:
    """Run a proof's recursion twice: once to learn which subtrees it needs (its shape does not
    depend on their hashes), then with their hashes read in one query."""
    wanted: list[Piece] = []

    def note(start: int, size: int) -> bytes:
        wanted.extend(perfect_pieces(start, size))
        return bytes(32)

    build(note)
    hashes = subtree_hashes(connection, wanted)
    return build(lambda start, size: fold_pieces([hashes[p] for p in perfect_pieces(start, size)]))


def subtree_hashes(connection: Connection, pieces: Iterable[Piece]) -> dict[Piece, bytes]:
    """The hashes of perfect subtrees: stored ones read, small ones from their leaves (both in
    one query), missing stored ones computed from their children (read level by level, then
    hashed bottom up)."""
    known: dict[Piece, bytes] = {}
    wanted = set(pieces)
    high = {piece for piece in wanted if piece[0] >= NODE_LEVEL}
    low = wanted - high
    rounds: list[set[Piece]] = []
    while high or low:
        nodes, leaves = _read(connection, high, low)
        known.update(nodes)
        known.update(_hashed(low, leaves))
        missing = high - nodes.keys()
        rounds.append(missing)
        children = {(level - 1, 2 * index + side) for level, index in missing for side in (0, 1)}
        children -= known.keys()
        high = {child for child in children if child[0] >= NODE_LEVEL}
        low = children - high
    for missing in reversed(rounds):
        for level, index in sorted(missing):
            known[(level, index)] = node_hash(
                known[(level - 1, 2 * index)], known[(level - 1, 2 * index + 1)]
            )
    return known


def _read(
    connection: Connection, high: set[Piece], low: set[Piece]
) -> tuple[dict[Piece, bytes], dict[int, bytes]]:
    """Stored nodes among `high`, and the leaf hashes under `low` by 0-based index: one query
    (a UNION ALL) for what a proof needs; a long list of nodes in batches of 500."""
    keys = sorted(high)
    spans = list(_merged(sorted((i << level, (i + 1) << level) for level, i in low)))
    nodes, leaves = nodes_table.c, events_table.c
    parts: list[Select[Any]] = [
        select(nodes.level, nodes.node_index, nodes.hash).where(
            tuple_(nodes.level, nodes.node_index).in_(keys[start : start + 500])
        )
        for start in range(0, len(keys), 500)
    ]
    if spans:
        runs = [and_(leaves.seq > start, leaves.seq <= end) for start, end in spans]
        parts.append(select(literal(-1), leaves.seq, leaves.leaf_hash).where(or_(*runs)))
    found: dict[Piece, bytes] = {}
    hashes: dict[int, bytes] = {}
    if not parts:
        return found, hashes
    query = parts[0] if len(parts) == 1 else union_all(*parts)
    for row in connection.execute(query):
        level, index, digest = int(row[0]), int(row[1]), str(row[2])
        if level < 0:
            hashes[index - 1] = bytes.fromhex(digest)
        else:
            found[(level, index)] = bytes.fromhex(digest)
    return found, hashes


def _hashed(pieces: set[Piece], leaves: dict[int, bytes]) -> dict[Piece, bytes]:
    """Hash small perfect subtrees from their leaf hashes."""
    hashes = {}
    for level, index in pieces:
        first = index << level
        run = [leaves[i] for i in range(first, first + (1 << level)) if i in leaves]
        if len(run) != 1 << level:
            raise ValueError(f"leaves {first}–{first + (1 << level) - 1} are not all stored")
        hashes[(level, index)] = MerkleTree(run).root()
    return hashes


def _merged(spans: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    current: tuple[int, int] | None = None
    for start, end in spans:
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


def backfill(connection: Connection, batch: int = 5000) -> int:
    """Store every node of a completed perfect subtree (level >= NODE_LEVEL) not stored yet,
    computed from the stored leaf hashes in one pass (a migration, or events written by other
    means); return how many were stored."""
    columns = nodes_table.c
    stored = {
        (row[0], row[1]) for row in connection.execute(select(columns.level, columns.node_index))
    }
    rows: list[dict[str, object]] = []
    count = 0
    for level, index, value in _completed_nodes(_all_leaf_hashes(connection)):
        if (level, index) in stored:
            continue
        rows.append({"level": level, "node_index": index, "hash": value.hex()})
        if len(rows) == batch:
            connection.execute(insert(nodes_table), rows)
            count, rows = count + len(rows), []
    if rows:
        connection.execute(insert(nodes_table), rows)
    return count + len(rows)


def _all_leaf_hashes(connection: Connection) -> Iterator[bytes]:
    query = select(events_table.c.leaf_hash).order_by(events_table.c.seq)
    for digest in connection.execute(query.execution_options(yield_per=5000)).scalars():
        yield bytes.fromhex(digest)


def _completed_nodes(leaves: Iterable[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """(level, index, hash) of each perfect subtree of level >= NODE_LEVEL, as it completes."""
    stack: list[tuple[int, bytes]] = []
    for size, leaf in enumerate(leaves, start=1):
        level, value = 0, leaf
        while stack and stack[-1][0] == level:
            value = node_hash(stack.pop()[1], value)
            level += 1
            if level >= NODE_LEVEL:
                yield level, (size >> level) - 1, value
        stack.append((level, value))
