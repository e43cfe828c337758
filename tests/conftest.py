"""Fixtures shared by the whole suite: databases on both engines, built by the migrations."""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine, text

from app import migrate, security
from app.db import make_engine
from nvr_adapters import clock_probe

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# One clock reading per probe in tests (the multi-reading probe costs up to a second each);
# tests/nvr_adapters/test_clock_probe.py and the walkthroughs (run as programs) take the
# default. Runtimes built in tests read it from the environment.
os.environ.setdefault("SAKSI_NVR_CLOCK_PROBE_SECONDS", "0")
clock_probe.configure(0)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    name = f"saksi_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'saksi.db'}"


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on a database whose schema was built by the Alembic migrations."""
    url = request.getfixturevalue(f"{request.param}_url")
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Hash test passwords with minimal argon2 cost; the production cost is tested on its own."""
    production = security.password_hasher()
    security.set_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    security.set_password_hasher(production)


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a PostgreSQL database of its own, migrated; drop it afterwards."""
    name = f"saksi_fresh_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, migrated, for tests that need real commits (concurrency, crashes)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        migrate.upgrade(url)
        yield url
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """Under `scripts/test` (SAKSI_REQUIRE_PEERS=1) a skipped test fails: the independent peers
    (ffmpeg, GStreamer, minisign, libx265) are installed there, so a skip means a missing install
    that a green run would hide. Run pytest directly to skip what this machine lacks."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("SAKSI_REQUIRE_PEERS") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but scripts/test requires every peer: {report.longrepr}"
