"""Database-side enforcement of the append-only ledger, as SQL for the service's migrations.

PostgreSQL: triggers refuse UPDATE, DELETE and TRUNCATE and are set `ENABLE ALWAYS`, so even a
session in replica mode fires them; the application role may only SELECT and INSERT. SQLite:
BEFORE UPDATE/DELETE triggers; every connection must run `PRAGMA recursive_triggers = ON`, or an
`INSERT OR REPLACE` deletes the old row without firing the DELETE trigger.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from custody.ledger import ALL_APPEND_ONLY_TABLES, APPEND_ONLY_TABLES
from custody.witness import COSIGNATURE_TABLES

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION custody_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def append_only_statements(dialect: str, tables: Sequence[str] = APPEND_ONLY_TABLES) -> list[str]:
    """Return the statements that make `tables` append-only on `dialect`."""
    if dialect == "postgresql":
        return [_PG_FUNCTION, *[s for t in tables for s in _pg_triggers(t)]]
    if dialect == "sqlite":
        return [s for table in tables for s in _sqlite_triggers(table)]
    raise ValueError(f"no append-only enforcement for {dialect!r}")


def _pg_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION custody_refuse_change()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION custody_refuse_change()",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_change",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate",
    ]


def _sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]


def drop_statements(dialect: str, tables: Sequence[str] = APPEND_ONLY_TABLES) -> list[str]:
    """Undo `append_only_statements` (for a migration's downgrade)."""
    if dialect == "postgresql":
        drops = [
            f"DROP TRIGGER IF EXISTS {t}_no_{kind} ON {t}"
            for t in tables
            for kind in ("change", "truncate")
        ]
        if tuple(tables) == APPEND_ONLY_TABLES:
            drops.append("DROP FUNCTION IF EXISTS custody_refuse_change()")
        return drops
    return [f"DROP TRIGGER IF EXISTS {t}_no_{op}" for t in tables for op in ("update", "delete")]


def grant_statements(app_role: str) -> list[str]:
    """Let the application role read and append to the ledger and to the witnesses'
    cosignatures, and nothing else (PostgreSQL). Each table only where it exists: a database
    migrated to an earlier revision (before 0020's cosignatures, say) is granted what it has,
    and the next upgrade, which grants again, covers the tables it adds."""
    if not _ROLE.match(app_role):
        raise ValueError(f"not a plain role name: {app_role!r}")
    return [
        f"DO $$ BEGIN IF to_regclass('public.{table}') IS NOT NULL THEN "
        f"REVOKE ALL ON {table} FROM {app_role}; "
        f"GRANT SELECT, INSERT ON {table} TO {app_role}; END IF; END $$"
        for table in (*ALL_APPEND_ONLY_TABLES, *COSIGNATURE_TABLES)
    ]
