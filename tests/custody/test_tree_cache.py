"""The API's roots and proofs (LedgerTreeCache): same answers as a fresh tree, never ahead of
what is committed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from custody import MerkleTree
from custody import append as append_event
from custody.ledger import leaf_hashes
from custody.merkle import verify_consistency, verify_inclusion
from custody.tree_cache import LedgerTreeCache
from tests.custody.conftest import T0, event, fill
from tests.custody.test_ledger import _bypass_triggers


def fresh(engine: Engine) -> MerkleTree:
    with engine.connect() as connection:
        return MerkleTree(digest for _seq, digest in leaf_hashes(connection))


def test_the_cache_catches_up_and_agrees_with_a_fresh_tree(engine: Engine) -> None:
    cache = LedgerTreeCache(engine)
    fill(engine, 5)
    assert cache.root() == (5, fresh(engine).root())
    fill(engine, 6)  # appends 6 more events
    size, proof = cache.inclusion_proof(3)
    tree = fresh(engine)
    assert size == tree.size == 11
    verify_inclusion(tree.leaf(3), 3, 11, proof, tree.root())
    _, consistency = cache.consistency_proof(5)
    verify_consistency(5, 11, consistency, tree.root(5), tree.root())


def test_an_uncommitted_append_is_not_cached(engine: Engine) -> None:
    """Guards against proofs for events whose transaction later rolled back."""
    fill(engine, 3)
    cache = LedgerTreeCache(engine)
    with engine.connect() as connection:
        transaction = connection.begin()
        append_event(connection, event(99), T0 + timedelta(seconds=99))
        if engine.dialect.name == "postgresql":  # on SQLite every BEGIN is IMMEDIATE: it waits
            assert cache.size() == 3
        transaction.rollback()
    assert cache.size() == 3
    fill(engine, 1)
    assert cache.root() == (4, fresh(engine).root())


def test_a_changed_ledger_is_rebuilt_not_continued(engine: Engine) -> None:
    fill(engine, 6)
    cache = LedgerTreeCache(engine)
    assert cache.size() == 6
    with engine.begin() as connection:
        for statement in _bypass_triggers(engine):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql("DELETE FROM custody_events WHERE seq > 4")
    assert cache.root() == (4, fresh(engine).root())
    with pytest.raises(ValueError, match="not 6"):
        cache.inclusion_proof(0, 6)


def test_a_callers_rolled_back_appends_are_dropped_on_the_next_use(engine: Engine) -> None:
    """Through the caller's connection (a web request's, under SQLite's write lock) the cache
    may see that transaction's own appends; once they roll back, it starts over."""
    fill(engine, 3)
    cache = LedgerTreeCache(engine)
    with engine.connect() as connection:
        transaction = connection.begin()
        append_event(connection, event(99), T0 + timedelta(seconds=99))
        assert cache.size(connection) == 4  # read in the caller's transaction: no deadlock
        transaction.rollback()
    fill(engine, 2)  # two other events take seq 4 and 5
    assert cache.root() == (5, fresh(engine).root())
    assert cache.leaf(3) == fresh(engine).leaf(3)
