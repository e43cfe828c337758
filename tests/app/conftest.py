"""Fixtures for the service: a runtime whose sessions live in a rolled-back transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FrozenClock
from app.main import create_app
from app.runtime import Runtime, build_runtime, set_current
from app.settings import Settings
from tests.app.factories import Factory

# Sunday 22 November 2026, 10:00 WIB.
T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def connection(migrated_engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back after the test."""
    with migrated_engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, queue_url="memory://", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def runtime(
    settings: Settings, clock: FrozenClock, connection: Connection, migrated_engine: Engine
) -> Iterator[Runtime]:
    # Each request's session commits a SAVEPOINT inside the test's transaction.
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    runtime = build_runtime(
        settings, clock=clock, engine=migrated_engine, sessions=sessions,
        # Long reads go through the test's connection too: it alone sees the test's data.
        snapshots=lambda: nullcontext(connection),
    )  # fmt: skip
    yield runtime
    runtime.queue.stop_consumer()
    set_current(None)


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    """A session for arranging and inspecting data, in the same transaction as the app."""
    with runtime.sessions() as session:
        yield session


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


@pytest.fixture
def factory(session: Session, runtime: Runtime, client: TestClient) -> Factory:
    return Factory(session=session, runtime=runtime, client=client)
