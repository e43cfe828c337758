"""What anchors the ledger outside the office, and what the check says without one (issue 20:
a tail cut off, or a consistent rewrite, together with the checkpoint rows read plain "OK")."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.db import make_engine
from custody import OfficeKey, verify_ledger
from custody.ledger import append_timestamp, checkpoints
from custody.timestamp import request_der
from tests.custody.conftest import fill
from tests.custody.test_ledger import ORIGIN, T0, checkpoint_now
from tests.custody.tsa import LocalAuthority


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAuthority]:
    local = LocalAuthority(tmp_path_factory.mktemp("tsa"))
    yield local
    local.close()


def _stamp_latest(engine: Engine, authority: LocalAuthority) -> int:
    """Time-stamp the latest checkpoint as the custody.timestamp job does; its tree size."""
    with engine.begin() as connection:
        latest = checkpoints(connection)[-1]
        reply = authority.reply(request_der(latest.note.encode()))
        append_timestamp(connection, latest.id, authority.url, reply, T0)
    return latest.tree_size


def _drop_delete_triggers(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table in ("custody_events", "custody_checkpoints"):
                connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_change")
        else:
            for table in ("custody_events", "custody_checkpoints"):
                connection.exec_driver_sql(f"DROP TRIGGER {table}_no_delete")


def test_a_time_stamped_checkpoint_anchors_the_ledger(
    engine: Engine, office_key: OfficeKey, authority: LocalAuthority
) -> None:
    fill(engine, 6)
    checkpoint_now(engine, office_key)
    anchored = _stamp_latest(engine, authority)
    fill(engine, 2)
    with engine.connect() as connection:
        report = verify_ledger(connection, ORIGIN, office_key.public_bytes)
    assert report.ok, report.findings
    assert (report.timestamped, report.anchored_size, report.events) == (1, anchored, 8)


def test_deleting_a_time_stamped_checkpoint_with_the_tail_is_found(
    engine: Engine, office_key: OfficeKey, authority: LocalAuthority
) -> None:
    """The tail and its checkpoint rows deleted: the time-stamp row outlives them."""
    fill(engine, 8)
    checkpoint_now(engine, office_key)
    _stamp_latest(engine, authority)
    _drop_delete_triggers(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM custody_events WHERE seq > 5")
        connection.exec_driver_sql("DELETE FROM custody_checkpoints")
    with engine.connect() as connection:
        report = verify_ledger(connection, ORIGIN, office_key.public_bytes)
    assert not report.ok
    assert any("the checkpoint it stamps is gone" in str(f) for f in report.findings)


def test_a_time_stamp_for_other_bytes_is_found(
    engine: Engine, office_key: OfficeKey, authority: LocalAuthority
) -> None:
    fill(engine, 3)
    checkpoint_now(engine, office_key)
    with engine.begin() as connection:
        latest = checkpoints(connection)[-1]
        forged = authority.reply(request_der(b"another checkpoint altogether"))
        append_timestamp(connection, latest.id, authority.url, forged, T0)
    with engine.connect() as connection:
        report = verify_ledger(connection, ORIGIN, office_key.public_bytes)
    assert [str(f) for f in report.findings] == [
        f"seq 3: time-stamp of checkpoint {latest.id} ({authority.url}): "
        "the time-stamp token is for other data"
    ]
    assert report.anchored_size == 0


def test_the_cli_warns_when_nothing_outside_anchors_the_ledger(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = {"SAKSI_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    saksi = [sys.executable, "-m", "app.cli"]
    subprocess.run([*saksi, "db", "upgrade"], env=env, check=True, capture_output=True)
    fill(make_engine(f"sqlite:///{data_dir / 'saksi.db'}"), 4)
    alone = subprocess.run([*saksi, "verify", "ledger"], env=env, capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert alone.returncode == 0, alone.stdout + alone.stderr
    warning = [line for line in alone.stdout.splitlines() if line.startswith("WARNING:")]
    assert warning
    assert "cannot detect events cut off the end" in alone.stdout
    assert "consistent rewrite" in alone.stdout
    assert "proven up to event 0" in alone.stdout
