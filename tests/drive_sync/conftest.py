"""Fixtures: a started fake Drive, a real service-account key trusted by it, a backend."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from drive_sync import (
    CHUNK_UNIT,
    DriveBackend,
    DriveConfig,
    JsonFileStateStore,
    RetryPolicy,
    load_credentials,
)
from tests.fakes.drive import FakeDrive


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeDrive]:
    store = tmp_path / "fake-drive"
    store.mkdir()
    with FakeDrive(store) as drive:
        yield drive


@pytest.fixture
def sa_key(fake: FakeDrive, tmp_path: Path) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(fake.service_account_info()))
    return path


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def config(fake: FakeDrive, waits: list[float]) -> DriveConfig:
    retry = RetryPolicy(max_attempts=5, base=0.01, cap=0.05, waits=waits)
    return DriveConfig(
        api_endpoint=fake.url,
        shared_drive_id=fake.add_shared_drive(),
        chunk_size=CHUNK_UNIT,
        retry=retry,
    )


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "upload-state.json"


@pytest.fixture
def backend(sa_key: Path, config: DriveConfig, state_path: Path) -> Iterator[DriveBackend]:
    with DriveBackend(load_credentials(sa_key), config, JsonFileStateStore(state_path)) as b:
        yield b


def make_file(path: Path, size: int) -> Path:
    """Write `size` pseudo-random bytes (not compressible, not repeating)."""
    path.write_bytes(os.urandom(size))
    return path
