"""Events numbered at their transaction's commit on PostgreSQL (custody.at_commit, issue 18):
the same ledger `append` makes, the same guarantees, the transaction's own reads see them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.orm import sessionmaker

from app.custody import service
from app.db import make_engine
from custody import MerkleTree, OfficeKey, at_commit, ledger, verify_ledger
from custody import append as append_event
from custody.ledger import events_table, head_seq, leaf_hashes, nodes_table, read
from custody.merkle import leaf_hash
from tests.conftest import fresh_postgres_database
from tests.custody.conftest import ORIGIN, T0, event
from tests.custody.test_ledger import checkpoint_now

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine() -> Iterator[Engine]:
    """PostgreSQL's only: SQLite numbers events at once (its writers are serialised anyway)."""
    with fresh_postgres_database() as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def queue(engine: Engine, number: int) -> None:
    with engine.begin() as connection:
        assert at_commit.append_at_commit(connection, event(number), T0 + timedelta(seconds=number))


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_numbered_at_commit_as_append_numbers_them_with_the_same_nodes(
    engine: Engine, office_key: OfficeKey
) -> None:
    """The trigger's bytes, leaf hashes and stored Merkle nodes are the ones Python makes: the
    same events appended by `append` in another database give the same ledger."""
    for number in range(70):
        queue(engine, number)
    with fresh_postgres_database() as other_url:
        other = make_engine(other_url)
        for number in range(70):
            with other.begin() as connection:
                append_event(connection, event(number), T0 + timedelta(seconds=number))
        columns = (events_table.c.seq, events_table.c.canonical, events_table.c.leaf_hash,
                   events_table.c.prev_hash)  # fmt: skip
        with engine.connect() as mine, other.connect() as theirs:
            assert mine.execute(select(*columns).order_by(events_table.c.seq)).all() == (
                theirs.execute(select(*columns).order_by(events_table.c.seq)).all()
            )
            nodes = select(nodes_table).order_by(nodes_table.c.level, nodes_table.c.node_index)
            assert mine.execute(nodes).all() == theirs.execute(nodes).all()
        other.dispose()
    assert count(engine, nodes_table) == 4 + 2 + 1  # tiles 1-4, two of 32, one of 64
    checkpoint_now(engine, office_key)
    with engine.connect() as connection:
        report = verify_ledger(connection, ORIGIN, office_key.public_bytes)
    assert report.ok, report.findings
    with engine.connect() as connection:
        for row in connection.execute(select(events_table.c.canonical, events_table.c.leaf_hash)):
            assert leaf_hash(row.canonical.encode()).hex() == row.leaf_hash


def test_an_event_commits_with_its_transaction_or_not_at_all(engine: Engine) -> None:
    queue(engine, 1)
    with engine.connect() as connection:
        failed = connection.begin()
        at_commit.append_at_commit(connection, event(2), T0)
        failed.rollback()  # the action failed
    with engine.connect() as connection:
        savepoint_kept = connection.begin()
        at_commit.append_at_commit(connection, event(3), T0)
        nested = connection.begin_nested()
        at_commit.append_at_commit(connection, event(4), T0)
        nested.rollback()  # a rolled-back savepoint discards its queued numbering
        savepoint_kept.commit()

    with engine.connect() as connection:
        actions = [(e.seq, e.canonical) for e in read(connection)]
    assert [seq for seq, _ in actions] == [1, 2]
    assert b'"exports/3.mp4"' in actions[1][1]
    assert count(engine, at_commit.pending_table) == 0


def test_the_transaction_reads_its_own_events_numbered(engine: Engine) -> None:
    """Before any statement naming the ledger, the queued events are numbered (the triggers
    fired by SET CONSTRAINTS ... IMMEDIATE), in the order they were recorded, also before an
    event appended at once in the same transaction."""
    queue(engine, 0)
    with engine.begin() as connection:
        at_commit.append_at_commit(connection, event(1), T0)
        at_commit.append_at_commit(connection, event(2), T0)
        assert head_seq(connection) == 3
        stored = append_event(connection, event(3), T0)  # numbered at once from here on
        assert stored.seq == 4
        at_commit.append_at_commit(connection, event(4), T0)
        assert [e.seq for e in read(connection, request_id=event(4).request_id)][-1] == 5
    with engine.connect() as connection:
        tree = MerkleTree(digest for _seq, digest in leaf_hashes(connection))
        files = [e.canonical for e in read(connection)]
    assert tree.size == 5
    assert [f'"exports/{n}.mp4"'.encode() in files[n] for n in range(5)] == [True] * 5


def test_verify_reports_an_event_committed_but_never_numbered(
    engine: Engine, office_key: OfficeKey
) -> None:
    """A session in replica mode (PostgreSQL: ordinary triggers do not fire there, as on a
    logical replica applying changes) commits its queued event without the trigger: the event
    is kept, not lost, and `verify ledger` says it was never numbered."""
    queue(engine, 1)
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        assert at_commit.append_at_commit(connection, event(2), T0)
    assert count(engine, at_commit.pending_table) == 1
    with engine.connect() as connection:
        report = verify_ledger(connection, ORIGIN, office_key.public_bytes)
    assert report.events == 1
    assert [str(f) for f in report.findings] == [
        "1 event committed with its action but never numbered (waiting in custody_pending): "
        "the numbering trigger did not run for its transaction"
    ]


def test_four_writers_at_commit_leave_a_gapless_chain(engine: Engine) -> None:
    def writer(offset: int) -> None:
        for number in range(offset, offset + 40):
            queue(engine, number)

    threads = [threading.Thread(target=writer, args=(i * 100,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with engine.connect() as connection:
        events = list(read(connection))
    assert [e.seq for e in events] == list(range(1, 161))
    assert all(e.prev_hash == p.leaf_hash.hex() for p, e in zip(events, events[1:], strict=False))
    assert count(engine, nodes_table) == 10 + 5 + 2 + 1  # 160 leaves: 10 tiles, 5, 2, 1 above


def test_numbering_undone_with_a_savepoint_is_done_again(engine: Engine) -> None:
    """A read inside a savepoint numbers the queued event; rolling the savepoint back undoes
    that and PostgreSQL queues the trigger again: the transaction's next read numbers it again,
    and it is numbered once."""
    with engine.connect() as connection:
        whole = connection.begin()
        at_commit.append_at_commit(connection, event(1), T0)
        inner = connection.begin_nested()
        assert head_seq(connection) == 1
        inner.rollback()
        assert head_seq(connection) == 1
        whole.commit()
    with engine.connect() as connection:
        assert [e.seq for e in read(connection)] == [1]
    assert count(engine, at_commit.pending_table) == 0


def test_the_checkpoint_due_after_a_commit_is_signed_then_and_never_waited_for(
    engine: Engine, office_key: OfficeKey
) -> None:
    """After the commit, in a transaction of its own, if N events followed the last one; while
    another transaction holds the checkpoint lock (an outer one of the same thread, say) the
    check gives way at once instead of waiting for it."""
    policy = service.CheckpointPolicy(office_key, ORIGIN, 4)
    sessions = sessionmaker(bind=engine)
    for number in range(3):
        with sessions.begin() as session:
            session.info[service.CHECKPOINT_POLICY] = policy
            service.record(session, "test.event", service.SYSTEM, T0 + timedelta(seconds=number))
    with engine.connect() as connection:
        assert ledger.checkpoints(connection) == []
    with engine.connect() as holder:
        holder.begin()
        assert ledger.try_checkpoint_lock(holder)
        with sessions.begin() as session:
            session.info[service.CHECKPOINT_POLICY] = policy
            service.record(session, "test.event", service.SYSTEM, T0)
        with engine.connect() as connection:
            assert ledger.checkpoints(connection) == []  # gave way, did not wait
        holder.rollback()
    signed = service.sign_checkpoint_if_due(engine, policy, T0)

    assert signed is not None
    assert signed.tree_size == 4
    assert service.sign_checkpoint_if_due(engine, policy, T0) is None  # not due again
