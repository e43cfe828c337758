"""Hash-while-writing, and the SQLite connection settings the ledger depends on."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from custody import append
from custody.hashing import HashingWriter, copy_hashing, sha256_file
from custody.ledger import metadata, read
from custody.schema import append_only_statements
from custody.sqlite_pragmas import install_recursive_triggers, install_sqlite_ledger_settings
from custody.verify import verify_ledger
from tests.custody.conftest import T0, event


def test_the_digest_is_of_the_bytes_that_reached_the_file(tmp_path: Path) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    target = tmp_path / "clip.mp4"
    with target.open("wb") as handle, HashingWriter(handle) as writer:
        for start in range(0, len(payload), 65_537):
            writer.write(memoryview(payload)[start : start + 65_537])
    assert writer.hexdigest() == hashlib.sha256(target.read_bytes()).hexdigest()
    assert writer.size == target.stat().st_size == len(payload)
    assert sha256_file(str(target)) == (writer.hexdigest(), len(payload))


def test_partial_writes_of_a_raw_file_are_completed(tmp_path: Path) -> None:
    """Guards against hashing bytes a raw (unbuffered) file did not take in one call."""

    class Dribble(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: object) -> int:
            chunk = bytes(memoryview(b)[:7])  # type: ignore[arg-type]
            self.data += chunk
            return len(chunk)

    sink = Dribble()
    writer = HashingWriter(sink)  # type: ignore[arg-type]
    writer.write(b"0123456789" * 10)
    assert bytes(sink.data) == b"0123456789" * 10
    assert writer.hexdigest() == hashlib.sha256(b"0123456789" * 10).hexdigest()
    sink.close()


def test_copy_hashing_streams_in_chunks(tmp_path: Path) -> None:
    payload = os.urandom(200_000)
    target = tmp_path / "copy.bin"
    with target.open("wb") as handle:
        digest, size = copy_hashing(io.BytesIO(payload), handle, chunk=4096)
    assert (digest, size) == (hashlib.sha256(payload).hexdigest(), len(payload))
    assert target.read_bytes() == payload


def test_the_installer_stops_insert_or_replace_on_every_connection(tmp_path: Path) -> None:
    """Guards against REPLACE deleting an event without firing the DELETE trigger."""
    engine = create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    install_recursive_triggers(engine)
    metadata.create_all(engine)
    with engine.begin() as connection:
        for statement in append_only_statements("sqlite"):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql(
            "INSERT INTO custody_events VALUES (1, 'a', NULL, NULL, '2026-11-22', '{}', 'h', '')"
        )
    for _ in range(2):  # a second pooled connection gets the pragma too
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA recursive_triggers").scalar() == 1
    with pytest.raises(Exception, match="append-only: DELETE refused"), engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT OR REPLACE INTO custody_events "
            "VALUES (1, 'b', NULL, NULL, '2026-11-22', '{}', 'h', '')"
        )
    engine.dispose()
    plain = sqlite3.connect(tmp_path / "ledger.db")
    try:
        assert plain.execute("SELECT action FROM custody_events").fetchall() == [("a",)]
    finally:
        plain.close()


def test_concurrent_appenders_on_a_plain_sqlite_engine_are_gapless(tmp_path: Path) -> None:
    """Guards the library on its own (without the service's engine factory) under 4 writers."""
    engine = create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    install_sqlite_ledger_settings(engine)
    metadata.create_all(engine)

    def writer(number: int) -> None:
        for index in range(15):
            with engine.begin() as connection:
                append(connection, event(number * 100 + index), T0)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as connection:
        assert [e.seq for e in read(connection)] == list(range(1, 61))
        report = verify_ledger(connection, "o", b"\x00" * 32)
        assert connection.exec_driver_sql("PRAGMA recursive_triggers").scalar() == 1
    engine.dispose()
    assert report.ok, report.findings
    assert report.events == 60
