"""Roots and proofs from the stored interior hashes: the same as the whole tree's, whatever is
stored, and a stored hash is never trusted blindly (issue 18)."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from app import migrate
from app.custody import service
from custody import MerkleTree, OfficeKey, verify_ledger
from custody import stored_tree as stored
from custody.ledger import leaf_hashes, nodes_table
from custody.tree_cache import LedgerTreeCache
from tests.custody.conftest import ORIGIN, T0, fill
from tests.custody.test_ledger import _bypass_triggers, checkpoint_now


def whole(engine: Engine) -> MerkleTree:
    with engine.connect() as connection:
        return MerkleTree(digest for _seq, digest in leaf_hashes(connection))


def node_keys(engine: Engine) -> set[tuple[int, int]]:
    columns = nodes_table.c
    with engine.connect() as connection:
        rows = connection.execute(select(columns.level, columns.node_index))
        return {(row[0], row[1]) for row in rows}


def assert_same_answers(engine: Engine, tree: MerkleTree) -> None:
    with engine.connect() as connection:
        for size in (1, 15, 16, 17, 32, 33, 63, 64, tree.size):
            assert stored.root(connection, size) == tree.root(size)
            for index in {0, 5, 15, 16, 31, 47, size - 1} & set(range(size)):
                path = stored.inclusion_proof(connection, index, size)
                assert path == tree.inclusion_proof(index, size)
            for old in (1, 7, 16, 31, 33, size):
                if old <= size:
                    proof = stored.consistency_proof(connection, old, size)
                    assert proof == tree.consistency_proof(old, size)


# At 70 events: 4 tiles of 16 leaves, 2 subtrees of 32, 1 of 64 completed.
NODES_AT_70 = {(4, 0), (4, 1), (4, 2), (4, 3), (5, 0), (5, 1), (6, 0)}


def test_appends_store_each_completed_subtree_and_proofs_read_them(engine: Engine) -> None:
    fill(engine, 70)

    assert node_keys(engine) == NODES_AT_70
    assert_same_answers(engine, whole(engine))
    with engine.connect() as connection, pytest.raises(ValueError, match="not 71"):
        stored.inclusion_proof(connection, 0, 71)
    # Nodes missing (a ledger written by other means): computed from the level below.
    _bypass(engine, "DELETE FROM custody_merkle_nodes WHERE level >= 5 OR node_index = 1")
    assert_same_answers(engine, whole(engine))
    with engine.begin() as connection:
        assert stored.backfill(connection) == 4
    assert node_keys(engine) == NODES_AT_70


def test_a_ledger_from_before_the_nodes_table_is_backfilled_and_proofs_read_the_nodes(
    engine: Engine, fresh_database_url: str
) -> None:
    fill(engine, 70)
    engine.dispose()
    command.downgrade(migrate.alembic_config(fresh_database_url), "0021")
    migrate.upgrade(fresh_database_url)

    assert node_keys(engine) == NODES_AT_70
    tree = whole(engine)
    assert_same_answers(engine, tree)
    # What a new API process's first proof reads: the nodes, not the leaves under them.
    with engine.begin() as connection:
        for statement in _bypass_triggers(engine):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql("DELETE FROM custody_events WHERE seq BETWEEN 2 AND 60")
    assert LedgerTreeCache(engine).inclusion_proof(66) == (70, tree.inclusion_proof(66))


def test_a_wrong_stored_hash_is_refused_named_and_never_signed(
    engine: Engine, office_key: OfficeKey
) -> None:
    fill(engine, 33)
    checkpoint_now(engine, office_key)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.exec_driver_sql("UPDATE custody_merkle_nodes SET hash = hash")
    _bypass(engine, f"UPDATE custody_merkle_nodes SET hash = '{'ab' * 32}' WHERE level = 5")
    fill(engine, 1)

    with sessionmaker(bind=engine).begin() as session:
        issued = service.issue_checkpoint(session, office_key, ORIGIN, T0)
    assert (issued.tree_size, issued.root_hash) == (34, whole(engine).root())
    with engine.connect() as connection:
        report = verify_ledger(connection, ORIGIN, office_key.public_bytes)
    assert [str(f) for f in report.findings] == [
        "the stored interior hash of events 1–32 (level 5) does not match the events: "
        "proofs read from it do not verify"
    ]


def _bypass(engine: Engine, statement: str) -> None:
    """What a superuser with full access does to edit the nodes behind the triggers."""
    table = "custody_merkle_nodes"
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_change")
        else:
            connection.exec_driver_sql(f"DROP TRIGGER {table}_no_update")
            connection.exec_driver_sql(f"DROP TRIGGER {table}_no_delete")
        connection.exec_driver_sql(statement)
