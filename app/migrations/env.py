from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import app.models  # noqa: F401  (registers every table on the metadata)
from app.db import Base, make_engine
from app.migrate import grants
from custody.ledger import metadata as custody_metadata

target_metadata = [Base.metadata, custody_metadata]


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        _grant_app_role(connection)


def _grant_app_role(connection: Connection) -> None:
    """Give the application role its privileges; on the ledger only SELECT and INSERT."""
    role = context.config.attributes.get("app_role")
    if not role or connection.dialect.name != "postgresql":
        return
    for statement in grants(role):
        connection.exec_driver_sql(statement)


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as new_connection:
            _run(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run `saksi db upgrade`")
run_migrations_online()
