"""Rows removed from the middle of the ledger behind the triggers: named once, precisely."""

from __future__ import annotations

from sqlalchemy import Engine

from custody import OfficeKey
from tests.custody.conftest import fill
from tests.custody.test_ledger import _bypass_triggers, checkpoint_now, report_for


def test_a_deleted_event_is_named_and_the_rest_is_not_flooded(
    engine: Engine, office_key: OfficeKey
) -> None:
    """Guards against one deleted row reporting every later event as a sequence gap."""
    fill(engine, 12)
    checkpoint_now(engine, office_key)
    with engine.begin() as connection:
        for statement in _bypass_triggers(engine):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql("DELETE FROM custody_events WHERE seq = 5")

    findings = report_for(engine, office_key)

    assert findings[0].startswith("seq 5: "), findings
    assert "missing" in findings[0]
    assert len(findings) <= 3, findings
    assert any("checkpoint 1" in f for f in findings)
