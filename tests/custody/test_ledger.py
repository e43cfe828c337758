"""The ledger: gapless under concurrency, append-only in the database, tampering found."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from app import migrate
from app.db import make_engine
from custody import Checkpoint, MerkleTree, OfficeKey, ledger, sign, verify_ledger
from custody import append as append_event
from custody.events import canonical_bytes
from custody.ledger import append_checkpoint, leaf_hashes
from custody.merkle import leaf_hash
from tests.conftest import POSTGRES_ADMIN_URL, fresh_postgres_database
from tests.custody.conftest import ORIGIN, T0, event, fill


def checkpoint_now(engine: Engine, key: OfficeKey) -> str:
    """Sign and store a checkpoint of the whole ledger; return its note."""
    with engine.begin() as connection:
        tree = MerkleTree(digest for _seq, digest in leaf_hashes(connection))
        note = sign(Checkpoint(ORIGIN, tree.size, tree.root()), ORIGIN, key)
        append_checkpoint(connection, tree.size, tree.root(), note, T0)
    return note


def report_for(engine: Engine, key: OfficeKey, notes: tuple[str, ...] = ()) -> list[str]:
    with engine.connect() as connection:
        report = verify_ledger(connection, ORIGIN, key.public_bytes, notes)
    return [str(finding) for finding in report.findings]


def test_concurrent_appends_are_gapless_and_chained(engine: Engine, office_key: OfficeKey) -> None:
    def writer(offset: int) -> None:
        for number in range(25):
            with engine.begin() as connection:
                append_event(connection, event(offset * 100 + number), T0)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    with engine.connect() as connection:
        seqs = [seq for seq, _digest in leaf_hashes(connection)]
    assert seqs == list(range(1, 101))
    checkpoint_now(engine, office_key)
    assert report_for(engine, office_key) == []


def test_every_event_gets_the_bytes_python_makes_for_it(
    engine: Engine, office_key: OfficeKey
) -> None:
    """On PostgreSQL the database splices the position into the event's bytes and hashes them
    (custody.ledger.APPEND_FUNCTION); they must be Python's, for any text, and an event that
    holds the splice marks themselves is appended by reading the head first."""
    marked = event(2)
    marked.object["note"] = f"{ledger._SEQ_MARK} {ledger._PREV_MARK}"
    unusual = event(3)
    unusual.object["camera"] = 'Kamera – lantai 2 ✓ 監視 \u2028 "kutip" \\'
    with engine.begin() as connection:
        stored = [append_event(connection, e, T0) for e in (event(1), marked, unusual)]
    with engine.connect() as connection:
        rows = list(ledger.read(connection))

    for given, row, source in zip(stored, rows, (event(1), marked, unusual), strict=True):
        assert row.canonical == given.canonical
        assert row.canonical == canonical_bytes(source.document(), row.seq, row.prev_hash)
    checkpoint_now(engine, office_key)
    assert report_for(engine, office_key) == []


def _refused(
    engine: Engine, statement: str, match: str = "append-only", *, replica: bool = False
) -> None:
    with pytest.raises(DBAPIError, match=match):
        _execute(engine, statement, replica=replica)


def _execute(engine: Engine, statement: str, *, replica: bool = False) -> None:
    with engine.begin() as connection:
        if replica:
            # Replica mode skips ordinary triggers; ENABLE ALWAYS ones must still fire.
            connection.exec_driver_sql("SET session_replication_role = replica")
        connection.exec_driver_sql(statement)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE custody_events SET action = 'x' WHERE seq = 2",
        "DELETE FROM custody_events WHERE seq = 3",
        "UPDATE custody_checkpoints SET tree_size = 1",
        "DELETE FROM custody_checkpoints",
    ],
)
def test_changes_are_refused_by_the_database(
    engine: Engine, office_key: OfficeKey, statement: str
) -> None:
    fill(engine, 5)
    checkpoint_now(engine, office_key)

    _refused(engine, statement)

    assert report_for(engine, office_key) == []


def test_insert_or_replace_cannot_slip_past_on_sqlite(tmp_path: Path) -> None:
    """Without recursive_triggers, REPLACE deletes the old row silently; it must be refused."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    fill(engine, 3)

    _refused(
        engine,
        "INSERT OR REPLACE INTO custody_events (seq, action, request_id, sha256, recorded_at, "
        "canonical, leaf_hash, prev_hash) VALUES (2, 'x', 1, NULL, '2026-01-01', '{}', 'a', 'b')",
    )
    engine.dispose()


def _bypass_triggers(engine: Engine) -> list[str]:
    """What a superuser with full access does to edit the ledger behind the triggers."""
    if engine.dialect.name == "postgresql":
        return ["ALTER TABLE custody_events DISABLE TRIGGER custody_events_no_change"]
    return ["DROP TRIGGER custody_events_no_update", "DROP TRIGGER custody_events_no_delete"]


def test_a_row_changed_behind_the_triggers_is_named(engine: Engine, office_key: OfficeKey) -> None:
    fill(engine, 6)
    checkpoint_now(engine, office_key)
    with engine.begin() as connection:
        for statement in _bypass_triggers(engine):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql(
            "UPDATE custody_events SET canonical = "
            "replace(canonical, 'Dewi Lestari', 'Orang Lain') WHERE seq = 4"
        )

    findings = report_for(engine, office_key)

    assert findings[0] == "seq 4: the event's bytes no longer match its leaf hash"
    assert any("checkpoint 1" in f and "no longer hash to the signed root" in f for f in findings)


def test_a_row_rewritten_with_its_leaf_hash_is_still_named(
    engine: Engine, office_key: OfficeKey
) -> None:
    fill(engine, 6)
    with engine.connect() as connection:
        original = connection.exec_driver_sql(
            "SELECT canonical FROM custody_events WHERE seq = 3"
        ).scalar_one()
    forged = original.replace("Dewi Lestari", "Orang Lain")

    with engine.begin() as connection:
        for statement in _bypass_triggers(engine):
            connection.exec_driver_sql(statement)
        connection.execute(
            text("UPDATE custody_events SET canonical = :c, leaf_hash = :h WHERE seq = 3"),
            {"c": forged, "h": leaf_hash(forged.encode()).hex()},
        )

    findings = report_for(engine, office_key)

    assert findings == [
        "seq 3: rewritten: its leaf hash differs from the one the next event recorded"
    ]


def test_a_truncated_tail_is_found_against_an_earlier_checkpoint(
    engine: Engine, office_key: OfficeKey
) -> None:
    fill(engine, 8)
    kept_in_the_bast_annex = checkpoint_now(engine, office_key)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET session_replication_role = replica")
            connection.exec_driver_sql(
                "ALTER TABLE custody_events DISABLE TRIGGER custody_events_no_change"
            )
            connection.exec_driver_sql(
                "ALTER TABLE custody_checkpoints DISABLE TRIGGER custody_checkpoints_no_change"
            )
        else:
            connection.exec_driver_sql("DROP TRIGGER custody_events_no_delete")
            connection.exec_driver_sql("DROP TRIGGER custody_checkpoints_no_delete")
        connection.exec_driver_sql("DELETE FROM custody_events WHERE seq > 6")
        connection.exec_driver_sql("DELETE FROM custody_checkpoints")

    assert report_for(engine, office_key) == []  # nothing inside the database betrays it
    findings = report_for(engine, office_key, (kept_in_the_bast_annex,))

    assert findings == [
        "seq 7: external checkpoint 1: signed for 8 events but the ledger holds 6: "
        "events 7–8 are missing"
    ]


@pytest.fixture
def app_role_engine() -> Iterator[tuple[Engine, Engine]]:
    """A PostgreSQL ledger owned by the migrating role, used by a separate application role."""
    role = f"saksi_app_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
    try:
        with fresh_postgres_database() as url:
            migrate.upgrade(url, app_role=role)
            owner = create_engine(url)
            app = create_engine(url.replace("postgres@", f"{role}@"))
            yield owner, app
            app.dispose()
            owner.dispose()
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE custody_events SET action = 'x'",
        "DELETE FROM custody_events",
        "TRUNCATE custody_events",
        "TRUNCATE custody_checkpoints",
        "UPDATE custody_checkpoints SET tree_size = 0",
        "TRUNCATE custody_merkle_nodes",
    ],
)
def test_the_application_role_may_only_read_and_append(
    app_role_engine: tuple[Engine, Engine], statement: str
) -> None:
    owner, app = app_role_engine
    with app.begin() as connection:
        append_event(connection, event(1), T0)
        append_event(connection, event(2), T0 + timedelta(seconds=1))
        append_checkpoint(connection, 2, b"\x00" * 32, "note", T0)

    _refused(app, statement, "permission denied")
    _refused(owner, statement, "append-only", replica=True)
    with app.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM custody_events").scalar() == 2
