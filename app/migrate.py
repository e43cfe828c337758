"""Schema migrations: the schema always comes from Alembic, in production and in tests."""

from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from custody import schema as custody_schema

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(
    database_url: str, connection: Connection | None = None, app_role: str | None = None
) -> Config:
    """Build the Alembic configuration for a database (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "file_template",
        "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s",
    )
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    config.attributes["app_role"] = app_role
    return config


def upgrade(database_url: str, revision: str = "head", app_role: str | None = None) -> None:
    """Apply migrations up to `revision`, as the schema owner; grant `app_role` its rights."""
    command.upgrade(alembic_config(database_url, app_role=app_role), revision)


def grants(app_role: str) -> list[str]:
    """PostgreSQL privileges of the application role: full DML except on the ledger."""
    if not re.match(r"^[a-z_][a-z0-9_]{0,62}$", app_role):
        raise ValueError(f"not a plain role name: {app_role!r}")
    return [
        f"GRANT USAGE ON SCHEMA public TO {app_role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app_role}",
        *custody_schema.grant_statements(app_role),
    ]


def current_revision(connection: Connection) -> str | None:
    """Return the revision the database is at, or None before the first migration."""
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """Return the newest migration's revision."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
