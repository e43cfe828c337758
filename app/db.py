"""Database plumbing: declarative base, UTC timestamps, engines, sessions, commit hooks.

Services never commit. The request (or job step) that owns a session commits once; work that must
only happen if that commit succeeds (dispatching jobs, keeping a stored file) is registered with
`after_commit`, and work that undoes side effects of a rolled-back transaction with
`after_rollback`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from custody import at_commit

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_AFTER_COMMIT = "saksi_after_commit"
_SNAPSHOT = "saksi_snapshot"
_READ_ONLY = "saksi_read_only"
_AFTER_ROLLBACK = "saksi_after_rollback"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always tz-aware UTC in Python, whatever the engine stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store tz-aware UTC times only")
        value = value.astimezone(UTC)
        # SQLite has no time zone type; the column convention there is naive UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, triggers and real transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(normalise_url(url), pool_pre_ping=True, **kwargs)
    at_commit.install(engine)  # events numbered at commit, before any read of them (issue 18)
    return engine


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain `postgresql://` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (savepoints
        # and transactional DDL only work this way).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
            # Without it, INSERT OR REPLACE deletes rows without firing DELETE triggers.
            "PRAGMA recursive_triggers=ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_SNAPSHOT):
            # A reader: in WAL mode it sees the database as of its first read, and no writer
            # waits for it.
            connection.exec_driver_sql("BEGIN DEFERRED")
            return
        # IMMEDIATE takes the write lock up front, so two writers never deadlock on upgrade.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one consistent state of the database and holds up no
    writer, for long reads such as verifying the whole ledger: on SQLite a deferred transaction
    (WAL), on PostgreSQL a read-only REPEATABLE READ one."""
    options: dict[str, Any] = {_SNAPSHOT: True}
    if engine.dialect.name == "postgresql":
        options |= {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect().execution_options(**options) as connection, connection.begin():
        yield connection


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's transaction has committed; drop it on rollback."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def after_rollback(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` if the session's transaction rolls back; drop it on commit."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_ROLLBACK, None)
    for callback in session.info.pop(_AFTER_COMMIT, []):
        callback()


@event.listens_for(Session, "after_soft_rollback")
def _run_after_rollback(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested and previous_transaction.parent is None:
        session.info.pop(_AFTER_COMMIT, None)
        for callback in session.info.pop(_AFTER_ROLLBACK, []):
            callback()


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit once at the end, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that only reads: on SQLite a deferred transaction, which takes no write lock
    (so concurrent readers do not queue behind each other and behind writers, as every
    transaction begun IMMEDIATE did), on PostgreSQL a READ ONLY one. A write through it fails
    loudly: PostgreSQL refuses it, and on either database a flush of ORM changes raises."""
    session = factory()
    session.info[_READ_ONLY] = True
    bind = session.get_bind()
    try:
        if isinstance(bind, Engine):  # not a connection someone else's transaction holds
            options: dict[str, Any] = {_SNAPSHOT: True}
            if bind.dialect.name == "postgresql":
                options["postgresql_readonly"] = True
            session.connection(execution_options=options)
        yield session
    finally:
        session.rollback()
        session.close()


@event.listens_for(Session, "before_flush")
def _refuse_writes_when_reading(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(_READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a read-only session was asked to write: use unit_of_work")


def str_enum(enum_class: type[StrEnum], length: int = 32) -> SqlEnum:
    """Store a StrEnum as its value in a VARCHAR, and read it back as the enum."""
    return SqlEnum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
