"""Fixtures for notifications: a real SMTP server on loopback (aiosmtpd) that can be stopped
and started again on the same port, and a runtime whose settings point at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.main import create_app
from app.runtime import Runtime
from app.settings import Settings
from tests.app.notify.smtp import Mailbox, SmtpServer

__all__ = ["Mailbox", "SmtpServer"]

SENDER = "saksi@diskominfo.cirebonkab.go.id"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(data_dir: Path, smtp: SmtpServer) -> Settings:
    return Settings(
        data_dir=data_dir, queue_url="memory://", smtp_url=SecretStr(smtp.url), smtp_from=SENDER,
        notify_retry_base_seconds=60, notify_retry_cap_seconds=600, notify_max_attempts=5,
        _env_file=None,
    )  # fmt: skip


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client
