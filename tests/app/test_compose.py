"""The compose deployment starts from nothing (issue 18 item 5), shown without Docker: the
commands its services run, with their environments as docker-compose.yml gives them, run in the
order compose runs them against the test PostgreSQL and Redis: PostgreSQL's init script (the
app role), `init` (the office key), `migrate` (as the schema owner, granting the app role),
`app` (as the app role: /readyz answers) and the worker's health check. The app role then cannot
change or delete a ledger row. `docker compose config` validates the file where the client has
the compose plugin."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from sqlalchemy import func, select

from app.custody import service
from app.db import make_engine
from custody import CustodyEvent, at_commit, ledger

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def test_services_start_in_order_and_the_app_runs_as_the_app_role() -> None:
    services = _services()
    assert services["init"]["command"] == ["saksi", "key", "init"]
    assert services["migrate"]["depends_on"]["init"] == {
        "condition": "service_completed_successfully"
    }
    for name in ("app", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert services[name]["environment"]["SAKSI_DATABASE_URL"].startswith(
            "postgresql+psycopg://saksi_app@"
        )
    assert services["migrate"]["environment"]["SAKSI_DATABASE_APP_ROLE"] == "saksi_app"
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "saksi", "check"]
    # Compose refuses to start without it ("${VAR:?message}"): every printed address uses it.
    assert services["app"]["environment"]["SAKSI_PUBLIC_URL"].startswith("${SAKSI_PUBLIC_URL:?")
    mounted = services["postgres"]["volumes"][1].split(":")[0]
    assert (ROOT / mounted).is_file()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A fresh database and app role, the deployment's secret files, a data volume."""
    database, role = f"saksi_compose_{uuid.uuid4().hex[:8]}", f"saksi_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    run = tmp_path / "run-secrets"
    run.mkdir()
    for name in ("saksi_secret_key", "saksi_nvr_secret_key"):
        (run / name).write_text(secrets.token_urlsafe(48) + "\n")
    for name in ("postgres_password", "saksi_app_db_password"):
        (run / name).write_text(secrets.token_hex(24) + "\n")
    try:
        yield {"database": database, "role": role, "secrets": run, "data": tmp_path / "data",
               "port": _free_port(), "redis_db": 9}  # fmt: skip
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def _env(service: str, world: dict[str, Any]) -> dict[str, str]:
    """The service's environment from docker-compose.yml, with the compose network's names put
    to this machine's: postgres and redis on loopback, this test's database, role, secrets."""
    declared = _services()[service]["environment"]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SAKSI_", "PG"))}
    env = dict(base)
    for key, value in declared.items():
        text = str(value)
        text = text.replace("/run/secrets/", f"{world['secrets']}/")
        text = text.replace("@postgres:5432/saksi", f"@127.0.0.1:5432/{world['database']}")
        text = text.replace("://saksi_app@", f"://{world['role']}@")
        text = text.replace("://saksi@", "://postgres@")  # the schema owner (trust auth here)
        text = text.replace("redis://redis:6379/0", f"redis://127.0.0.1:6379/{world['redis_db']}")
        text = re.sub(r"\$\{SAKSI_PUBLIC_URL:\?[^}]*\}", f"http://127.0.0.1:{world['port']}", text)
        env[key] = world["role"] if text == "saksi_app" else text
    env["SAKSI_DATA_DIR"] = str(world["data"])  # the volume
    return env


def _run(argv: list[str], env: dict[str, str]) -> str:
    argv = [str(ROOT / ".venv" / "bin" / argv[0]), *argv[1:]] if argv[0] == "saksi" else argv
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


def test_init_migrate_app_and_worker_check_in_compose_order(world: dict[str, Any]) -> None:
    services = _services()
    declared = services["postgres"]["environment"]
    assert declared["SAKSI_APP_ROLE"] == "saksi_app"
    script = ROOT / services["postgres"]["volumes"][1].split(":")[0]
    _run(["sh", str(script)], {**os.environ, "PGHOST": "127.0.0.1", "POSTGRES_USER": "postgres",
         "POSTGRES_DB": world["database"], "SAKSI_APP_ROLE": world["role"],
         "SAKSI_APP_PASSWORD_FILE": str(world["secrets"] / "saksi_app_db_password")})  # fmt: skip

    printed = _run(services["init"]["command"], _env("init", world))
    assert "checkpoint verifier key:" in printed
    assert (world["data"] / "keys" / "office-ed25519.pem").is_file()
    assert _run(services["migrate"]["command"], _env("migrate", world)).startswith("database at")

    app_env = _env("app", world)
    command = [*services["app"]["command"]]
    command[command.index("0.0.0.0")] = "127.0.0.1"
    command[command.index("8000")] = str(world["port"])
    argv = [str(ROOT / ".venv" / "bin" / "saksi"), *command[1:]]
    with subprocess.Popen(argv, env=app_env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as app:  # fmt: skip
        try:
            ready = _ready(world["port"], app)
        finally:
            app.terminate()
            app.wait(30)
    assert ready["status"] in ("ready", "degraded")
    assert ready["database"] == "postgresql"
    assert _run(services["worker"]["healthcheck"]["test"][1:], _env("worker", world)).startswith(
        "ok: database at")  # fmt: skip
    _check_ledger_is_append_only_for(world)


T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def _ready(port: int, app: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise AssertionError(f"app exited: {app.stderr.read() if app.stderr else ''}")
        try:
            reply = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            if reply.status_code == 200:
                ready: dict[str, Any] = reply.json()
                return ready
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("the app did not answer /readyz in 60 s")


def _check_ledger_is_append_only_for(world: dict[str, Any]) -> None:
    """As the app role: reading and appending the ledger is allowed, changing it is not."""
    url = f"postgresql://{world['role']}@127.0.0.1:5432/{world['database']}"
    with psycopg.connect(url, autocommit=True) as connection:
        assert connection.execute("SELECT count(*) FROM custody_events").fetchone() is not None
        for statement in ("UPDATE custody_events SET action = action",
                          "DELETE FROM custody_events"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(statement)
    _append_as(f"postgresql+psycopg://{world['role']}@127.0.0.1:5432/{world['database']}")


def _append_as(url: str) -> None:
    """The service's append as the app role: queued, numbered at commit by the trigger (which
    runs with the role's rights: INSERT on the ledger and its nodes, DELETE of its queue)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            before = ledger.head_seq(connection)
        for number in range(16):  # the 16th completes a tile: a node stored as the role
            with engine.begin() as connection:
                event = CustodyEvent(action="test.appended", performer=service.SYSTEM,
                                     instrument=service.INSTRUMENT, start_time=T0,
                                     object={"n": number})  # fmt: skip
                assert at_commit.append_at_commit(connection, event, T0)
        with engine.connect() as connection:
            assert ledger.head_seq(connection) == before + 16
            assert connection.execute(select(func.count()).select_from(
                at_commit.pending_table)).scalar_one() == 0  # fmt: skip
    finally:
        engine.dispose()


def test_the_compose_file_is_valid_where_the_compose_plugin_is_installed(tmp_path: Path) -> None:
    """`docker compose config` needs the plugin, not an engine; this machine's client may lack
    it (then the structure test above is what checks the file)."""
    docker = shutil.which("docker")
    probe = subprocess.run([docker or "false", "compose", "version"], capture_output=True,
                           check=False)  # fmt: skip
    if probe.returncode != 0:
        assert _services()["app"]["command"][0] == "saksi"
        return
    copy = tmp_path / "compose"
    shutil.copytree(ROOT / "deploy", copy / "deploy")
    shutil.copy(COMPOSE, copy / "docker-compose.yml")
    (copy / "secrets").mkdir()
    for name in ("saksi_secret_key", "saksi_nvr_secret_key", "postgres_password",
                 "saksi_app_db_password"):  # fmt: skip
        (copy / "secrets" / name).write_text("x\n")
    env = {**os.environ, "SAKSI_PUBLIC_URL": "https://saksi.example.go.id"}
    subprocess.run([str(docker), "compose", "config", "-q"], cwd=copy, env=env, check=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
