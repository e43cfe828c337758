"""The connection settings SQLite needs for the append-only ledger to hold.

Without `recursive_triggers`, `INSERT OR REPLACE` deletes the conflicting row without firing its
DELETE trigger, so a rewritten event would slip past the append-only triggers. The pragma is per
connection, so it is installed as an engine event that runs on every new connection.

Concurrent appenders need more: `install_sqlite_ledger_settings` also makes every transaction
`BEGIN IMMEDIATE` (a deferred transaction that reads the head and then writes fails with
"database is locked" under WAL instead of waiting) and sets a busy timeout. An engine made by the
service's own factory already does all of this; install one or the other, not both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

PRAGMAS = ("PRAGMA recursive_triggers = ON",)


def install_recursive_triggers(engine: Engine) -> None:
    """Turn on `recursive_triggers` for every connection `engine` opens (SQLite only)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()


def install_sqlite_ledger_settings(engine: Engine, busy_timeout_ms: int = 30_000) -> None:
    """Make a SQLite engine safe for concurrent appenders: pragmas and BEGIN IMMEDIATE."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the sqlite3 module, open transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in (*PRAGMAS, f"PRAGMA busy_timeout = {int(busy_timeout_ms)}"):
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
