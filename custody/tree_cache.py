"""The ledger's roots and proofs for the API, from the stored interior hashes.

It used to keep the whole tree in memory, built by reading every leaf once per process (666 ms
at 100 000 events for the first proof, issue 18); now each call reads the O(log n) stored nodes
and at most two tiles of leaf hashes it needs (custody.stored_tree), so the first call costs
what every call costs and each API process holds nothing. It reads through its own short
connection, so it never sees a caller's uncommitted (and possibly rolled back) appends. On
SQLite with `BEGIN IMMEDIATE` engines, do not let it open its own connection while you hold a
write transaction on the same database (it would wait for yours): pass your `connection`, which
it then reads through, seeing exactly what that transaction sees (its own appends included).
Proofs are served from stored hashes; `verify_ledger`, not this module, recomputes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine, select

from custody import stored_tree
from custody.ledger import events_table, head_seq

T = TypeVar("T")


class LedgerTreeCache:
    """Roots and proofs of the ledger without reading every leaf (thread-safe: no state)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def size(self, connection: Connection | None = None) -> int:
        """Return the number of committed events."""
        return self._read(connection, head_seq)

    def root(
        self, size: int | None = None, connection: Connection | None = None
    ) -> tuple[int, bytes]:
        """Return (size, root) of the tree at `size` (the whole committed ledger by default)."""

        def read(own: Connection) -> tuple[int, bytes]:
            held = head_seq(own)
            at = held if size is None else size
            return at, stored_tree.root(own, at, held)

        return self._read(connection, read)

    def leaf(self, index: int, connection: Connection | None = None) -> bytes:
        """Return the stored leaf hash at `index` (0-based)."""

        def read(own: Connection) -> bytes:
            column = events_table.c
            digest = own.execute(select(column.leaf_hash).where(column.seq == index + 1)).scalar()
            if digest is None:
                raise ValueError(f"the ledger holds no leaf {index}")
            return bytes.fromhex(digest)

        return self._read(connection, read)

    def inclusion_proof(
        self, index: int, size: int | None = None, connection: Connection | None = None
    ) -> tuple[int, list[bytes]]:
        """Return (size, audit path) of leaf `index` (0-based) in the tree at `size`."""

        def read(own: Connection) -> tuple[int, list[bytes]]:
            held = head_seq(own)
            at = held if size is None else size
            return at, stored_tree.inclusion_proof(own, index, at, held)

        return self._read(connection, read)

    def consistency_proof(
        self, old: int, new: int | None = None, connection: Connection | None = None
    ) -> tuple[int, list[bytes]]:
        """Return (new size, proof) that the tree at `old` is a prefix of the tree at `new`."""

        def read(own: Connection) -> tuple[int, list[bytes]]:
            held = head_seq(own)
            at = held if new is None else new
            return at, stored_tree.consistency_proof(own, old, at, held)

        return self._read(connection, read)

    def _read(self, connection: Connection | None, read: Callable[[Connection], T]) -> T:
        if connection is not None:
            return read(connection)
        with self._engine.connect() as own:
            return read(own)
