"""Schema migrations: the schema always comes from Alembic, in production and in tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str, connection: Connection | None = None) -> Config:
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
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def current_revision(connection: Connection) -> str | None:
    """Return the revision the database is at, or None before the first migration."""
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """Return the newest migration's revision."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
