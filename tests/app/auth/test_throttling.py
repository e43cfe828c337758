"""Login throttling per account and per address, API and web alike, shared by processes.

Issue 17: 200 wrong passwords on /api/v1/auth/token in 62 s were all answered 401 and then the
right one worked; /masuk with 100 wrong passwords gave 500s.
"""

from __future__ import annotations

import logging
import signal
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.auth.models import Role
from app.clock import FrozenClock
from app.runtime import Runtime
from tests.app.factories import PASSWORD, Factory
from tests.app.test_cli_serve import SAKSI, _wait_ready, environment, free_port

WRONG = "not-the-password-at-all"


def _token(client: TestClient, username: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def _fail(client: TestClient, username: str, times: int) -> list[int]:
    return [_token(client, username, WRONG).status_code for _ in range(times)]


def test_the_api_locks_an_account_out_after_five_failures(
    factory: Factory, runtime: Runtime, clock: FrozenClock
) -> None:
    user = factory.user(Role.OPERATOR, username="operator-tebak")
    limit = runtime.settings.login_failures_per_account

    assert _fail(factory.client, user.username, limit) == [401] * limit  # the last locks
    refused = _token(factory.client, user.username, PASSWORD)  # even the right password

    assert refused.status_code == 429
    assert set(refused.json()) == {"error", "detail"}
    assert refused.json()["error"] == "TooManyAttempts"
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= runtime.settings.throttle_lockout_seconds
    clock.advance(timedelta(seconds=wait))
    assert _token(factory.client, user.username, PASSWORD).status_code == 200


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_lockouts_double_and_are_shown_to_admins_and_logged(
    factory: Factory, runtime: Runtime, clock: FrozenClock
) -> None:
    admin = factory.user(Role.ADMIN)
    headers = factory.headers(admin)
    user = factory.user(Role.OPERATOR, username="operator-ulang")
    limit, base = (
        runtime.settings.login_failures_per_account,
        runtime.settings.throttle_lockout_seconds,
    )
    waits = []
    log, logger = _Lines(), logging.getLogger("app.auth.throttle")
    logger.addHandler(log)
    try:
        for _ in range(3):
            _fail(factory.client, user.username, limit)
            answer = _token(factory.client, user.username, WRONG)
            waits.append(int(answer.headers["Retry-After"]))
            clock.advance(timedelta(seconds=waits[-1]))
    finally:
        logger.removeHandler(log)

    assert waits == [base, 2 * base, 4 * base]
    assert [line.split(" until ")[0] for line in log.lines] == [
        "throttle: login:account:operator-ulang locked out"
    ] * 3
    _fail(factory.client, user.username, limit)
    shown = factory.client.get("/api/v1/auth/lockouts", headers=headers)
    assert shown.status_code == 200
    assert [row["key"] for row in shown.json()] == ["login:account:operator-ulang"]
    assert shown.json()[0]["lockouts"] == 4
    operator = factory.client.get(
        "/api/v1/auth/lockouts", headers=factory.headers(factory.user(Role.OPERATOR))
    )
    assert operator.status_code == 403


def test_one_address_guessing_many_accounts_is_locked_out(
    factory: Factory, runtime: Runtime
) -> None:
    """Spraying one password over many usernames stays under each account's limit."""
    limit = runtime.settings.login_failures_per_address
    answers = [_token(factory.client, f"tebak-{n}", WRONG).status_code for n in range(limit + 1)]
    assert answers == [401] * limit + [429]
    user = factory.user(Role.OPERATOR, username="operator-lain")
    assert _token(factory.client, user.username, PASSWORD).status_code == 429


def test_the_web_login_is_throttled_with_a_page_in_indonesian(
    factory: Factory, runtime: Runtime
) -> None:
    user = factory.user(Role.OPERATOR, username="operator-web")
    client = factory.client
    for _ in range(runtime.settings.login_failures_per_account):
        client.post("/masuk", data={"username": user.username, "password": WRONG})
    page = client.post("/masuk", data={"username": user.username, "password": PASSWORD},
                       follow_redirects=False)  # fmt: skip

    assert page.status_code == 429
    assert int(page.headers["Retry-After"]) > 0
    assert "Terlalu banyak percobaan masuk" in page.text
    assert "text/html" in page.headers["content-type"]


def test_a_successful_login_forgets_earlier_failures(factory: Factory, runtime: Runtime) -> None:
    user = factory.user(Role.OPERATOR, username="operator-lupa-sekali")
    limit = runtime.settings.login_failures_per_account
    for _ in range(3):
        assert _fail(factory.client, user.username, limit - 1) == [401] * (limit - 1)
        assert _token(factory.client, user.username, PASSWORD).status_code == 200


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """Two `saksi serve` processes on one data directory (one SQLite database)."""
    env = {**environment(tmp_path / "data"), "SAKSI_WORKER_THREADS": "0"}
    ports = [free_port(), free_port()]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:  # one after the other: the first creates the database and admin
            argv = [*SAKSI, "serve", "--port", str(port)]
            quiet = subprocess.DEVNULL
            processes.append(subprocess.Popen(argv, env=env, stdout=quiet, stderr=quiet))
            _wait_ready(f"http://127.0.0.1:{port}", processes[-1])  # type: ignore[arg-type]
        password = (tmp_path / "data" / "secrets" / "initial-admin-password").read_text().strip()
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", password
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)


def test_failures_count_across_two_server_processes(two_servers: tuple[str, str, str]) -> None:
    """Five failures split over two processes lock the account out in both (the counters
    are in the database, not in a process's memory)."""
    first, second, password = two_servers
    statuses = []
    for n in range(5):
        base = first if n % 2 == 0 else second
        answer = httpx.post(f"{base}/api/v1/auth/token",
                            data={"username": "admin", "password": WRONG}, timeout=30)  # fmt: skip
        statuses.append(answer.status_code)

    assert statuses == [401] * 5
    for base in (first, second):
        login = {"username": "admin", "password": password}
        right = httpx.post(f"{base}/api/v1/auth/token", data=login, timeout=30)
        assert right.status_code == 429
        assert int(right.headers["Retry-After"]) > 0
