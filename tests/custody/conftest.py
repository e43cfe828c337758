"""Ledger fixtures: a migrated database of its own (real commits), an office key, events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.db import make_engine
from custody import CustodyEvent, Instrument, OfficeKey, Performer, load_or_create
from custody import append as append_event

ORIGIN = "diskominfo.example.go.id/saksi-test"
T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
OPERATOR = Performer(kind="user", identifier="7", name="Dewi Lestari", role="operator")
TOOL = Instrument(tool="saksi", version="test")


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def office_key(tmp_path: Path) -> OfficeKey:
    return load_or_create(tmp_path / "keys" / "office.pem")


def event(number: int) -> CustodyEvent:
    return CustodyEvent(
        action="export.file_written",
        performer=OPERATOR,
        instrument=TOOL,
        start_time=T0 + timedelta(seconds=number),
        object={
            "camera": f"Kamera {number}",
            "window": ["2026-11-21T02:00:00Z", "2026-11-21T03:00:00Z"],
        },
        result={"file": f"exports/{number}.mp4", "sha256": f"{number:064x}"},
        authorization="B/123/XI/2026",
        request_id=1 + number % 3,
    )


def fill(engine: Engine, count: int) -> None:
    """Append `count` events, one committed transaction each."""
    for number in range(count):
        with engine.begin() as connection:
            append_event(connection, event(number), T0 + timedelta(seconds=number))
