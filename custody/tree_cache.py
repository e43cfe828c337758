"""The ledger's Merkle tree kept in memory and caught up with committed events on each use.

Building the tree from 100 000 stored leaf hashes costs a full table read per call; the cache
reads only the events committed since its last use. It reads through its own short connection,
so it never sees a caller's uncommitted (and possibly rolled back) appends: committed events are
always a prefix of the ledger, because appenders are serialised until they commit. If the stored
chain does not continue the cached one (a database restored or rebuilt), the cache starts over.
Proofs are served from stored leaf hashes; `verify_ledger`, not this cache, recomputes them.
On SQLite with `BEGIN IMMEDIATE` engines, do not let it open its own connection while you hold a
write transaction on the same database (it would wait for yours): pass your `connection`, which
it then reads through. What it reads there may include your own uncommitted appends; if they are
rolled back, the next catch-up finds the chain does not continue and starts over.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection, Engine, func, select

from custody.ledger import events_table
from custody.merkle import MerkleTree


class LedgerTreeCache:
    """Roots and proofs of the ledger without rebuilding the tree per call (thread-safe)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._tree = MerkleTree()
        self._last = ""

    def size(self, connection: Connection | None = None) -> int:
        """Catch up; return the number of committed events."""
        with self._lock:
            self._catch_up(connection)
            return self._tree.size

    def root(
        self, size: int | None = None, connection: Connection | None = None
    ) -> tuple[int, bytes]:
        """Return (size, root) of the tree at `size` (the whole committed ledger by default)."""
        with self._lock:
            self._catch_up(connection)
            size = self._tree.size if size is None else size
            return size, self._tree.root(size)

    def leaf(self, index: int, connection: Connection | None = None) -> bytes:
        """Return the stored leaf hash at `index` (0-based)."""
        with self._lock:
            self._catch_up(connection)
            return self._tree.leaf(index)

    def inclusion_proof(
        self, index: int, size: int | None = None, connection: Connection | None = None
    ) -> tuple[int, list[bytes]]:
        """Return (size, audit path) of leaf `index` (0-based) in the tree at `size`."""
        with self._lock:
            self._catch_up(connection)
            size = self._tree.size if size is None else size
            return size, self._tree.inclusion_proof(index, size)

    def consistency_proof(
        self, old: int, new: int | None = None, connection: Connection | None = None
    ) -> tuple[int, list[bytes]]:
        """Return (new size, proof) that the tree at `old` is a prefix of the tree at `new`."""
        with self._lock:
            self._catch_up(connection)
            new = self._tree.size if new is None else new
            return new, self._tree.consistency_proof(old, new)

    def _catch_up(self, connection: Connection | None) -> None:
        if connection is not None:
            self._catch_up_with(connection)
            return
        with self._engine.connect() as own:
            self._catch_up_with(own)

    def _catch_up_with(self, connection: Connection) -> None:
        if not self._extend(connection, check_chain=True):
            self._tree, self._last = MerkleTree(), ""
            self._extend(connection, check_chain=False)

    def _extend(self, connection: Connection, *, check_chain: bool) -> bool:
        """Append the events committed since; False if the ledger does not continue the cached
        one (it shrank, or the last cached event changed).

        Each query names its rows by the primary key exactly (`max`, `=`, a closed range), so
        PostgreSQL uses the index whatever its statistics say: after a bulk load, before any
        ANALYZE, `seq >= n` was planned as a parallel scan of the whole table (30 ms per proof
        at 100 000 events, issue 18)."""
        columns = events_table.c
        cached = self._tree.size
        head = connection.execute(select(func.max(columns.seq))).scalar() or 0
        if cached:
            last = connection.execute(
                select(columns.leaf_hash).where(columns.seq == cached)
            ).scalar()
            if last != self._last or head < cached:
                return False
        if head == cached:
            return True
        query = (
            select(columns.seq, columns.leaf_hash, columns.prev_hash)
            .where(columns.seq > cached, columns.seq <= head)
            .order_by(columns.seq)
        )
        for row in connection.execute(query):
            follows = row.seq == self._tree.size + 1 and row.prev_hash == self._last
            if check_chain and not follows:
                return False
            self._tree.append_hash(bytes.fromhex(row.leaf_hash))
            self._last = row.leaf_hash
        return True
