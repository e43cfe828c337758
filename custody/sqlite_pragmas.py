"""The connection settings SQLite needs for the append-only ledger to hold.

Without `recursive_triggers`, `INSERT OR REPLACE` deletes the conflicting row without firing its
DELETE trigger, so a rewritten event would slip past the append-only triggers. The pragma is per
connection, so it is installed as an engine event that runs on every new connection.
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
