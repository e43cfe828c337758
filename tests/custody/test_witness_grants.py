"""The witnesses' cosignatures are evidence like the ledger: the application role may only read
and append them (issue 20), and a database migrated to a revision before they existed is still
granted its rights, the upgrade that adds them restricting them too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from app import migrate
from tests.conftest import POSTGRES_ADMIN_URL

INSERT = (
    "INSERT INTO custody_cosignatures (witness, tree_size, root_hash, checkpoint_id, note, "
    "cosigned_at, created_at) VALUES ('w.example/witness', 4, 'ab', NULL, 'note', 0, now())"
)


@pytest.fixture
def database_and_role() -> Iterator[tuple[str, str]]:
    name, role = f"saksi_grants_{uuid.uuid4().hex[:10]}", f"saksi_app_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", role
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def _run(engine: Engine, statement: str) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(statement)


@pytest.mark.postgres
def test_cosignatures_are_append_only_for_the_app_role_from_an_older_database_on(
    database_and_role: tuple[str, str],
) -> None:
    url, role = database_and_role
    migrate.upgrade(url, "0019", app_role=role)  # before the cosignatures (and later tables)
    app = create_engine(url.replace("postgres@", f"{role}@"))
    try:
        _run(app, "SELECT count(*) FROM custody_events")
        with pytest.raises(DBAPIError, match="permission denied"):
            _run(app, "DELETE FROM custody_events")

        migrate.upgrade(url, app_role=role)

        _run(app, INSERT)
        for statement in ("UPDATE custody_cosignatures SET note = 'x'",
                          "DELETE FROM custody_cosignatures",
                          "TRUNCATE custody_cosignatures"):  # fmt: skip
            with pytest.raises(DBAPIError, match="permission denied"):
                _run(app, statement)
        _run(app, "DELETE FROM custody_witnessed_logs")  # a witness's own state: not evidence
    finally:
        app.dispose()
