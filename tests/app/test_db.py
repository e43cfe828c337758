"""Database plumbing on both engines: the migrated schema, UTC times, commit hooks."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.agencies.models import Agency, AgencyKind
from app.db import Base, after_commit, after_rollback, make_engine, snapshot
from app.migrate import current_revision
from custody.ledger import metadata as custody_metadata


def test_migrations_build_exactly_the_models_schema(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, [Base.metadata, custody_metadata])
        assert current_revision(connection) is not None

    assert differences == []


def test_every_table_comes_from_the_migrations(migrated_engine: Engine) -> None:
    tables = set(inspect(migrated_engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert {"custody_events", "custody_checkpoints"} <= tables
    assert "alembic_version" in tables


def test_times_are_stored_in_utc_and_read_back_aware(connection: Connection) -> None:
    wib = timezone(timedelta(hours=7))
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        agency = Agency(
            name="Polres Uji", kind=AgencyKind.POLRI, active=True,
            created_at=datetime(2026, 11, 22, 10, 0, tzinfo=wib),
        )  # fmt: skip
        session.add(agency)
        session.commit()
        session.expire_all()
        loaded = session.get(Agency, agency.id)

    assert loaded is not None
    assert loaded.created_at == datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    assert loaded.created_at.tzinfo is UTC
    assert loaded.kind is AgencyKind.POLRI


def test_naive_times_are_refused(connection: Connection) -> None:
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        session.add(
            Agency(name="Naif", kind=AgencyKind.KPK, active=True, created_at=datetime(2026, 1, 1))
        )  # noqa: DTZ001
        with pytest.raises(Exception, match="naive datetime refused"):
            session.flush()


def test_after_commit_runs_only_on_commit(connection: Connection) -> None:
    ran: list[str] = []
    sessions = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")

    with sessions() as session:
        after_commit(session, lambda: ran.append("committed"))
        after_rollback(session, lambda: ran.append("undo"))
        session.execute(text("SELECT 1"))
        session.commit()
    with sessions() as session:
        after_commit(session, lambda: ran.append("never"))
        after_rollback(session, lambda: ran.append("rolled back"))
        session.execute(text("SELECT 1"))
        session.rollback()

    assert ran == ["committed", "rolled back"]


def test_a_snapshot_sees_one_state_and_holds_up_no_writer(fresh_database_url: str) -> None:
    """What the ledger verification reads in: a writer commits meanwhile (SQLite would make it
    wait for the busy timeout under BEGIN IMMEDIATE), and the snapshot keeps its own view."""
    engine = make_engine(fresh_database_url)
    rows = "SELECT count(*) FROM agencies"
    insert = (
        "INSERT INTO agencies (name, kind, active, created_at) VALUES (:name, 'polri', true, :at)"
    )
    try:
        with snapshot(engine) as reader:
            before = reader.execute(text(rows)).scalar_one()
            started = time.monotonic()
            with engine.begin() as writer:
                writer.execute(text(insert), {"name": "Polres Cirebon", "at": datetime.now(UTC)})
            waited = time.monotonic() - started
            during = reader.execute(text(rows)).scalar_one()
            with pytest.raises(DBAPIError):  # PostgreSQL: read-only; SQLite: a stale snapshot
                reader.execute(text(insert), {"name": "Polresta", "at": datetime.now(UTC)})
        with engine.connect() as fresh:
            after = fresh.execute(text(rows)).scalar_one()
    finally:
        engine.dispose()
    assert waited < 5
    assert during == before
    assert after == before + 1
