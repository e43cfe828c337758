"""Every request action leaves a custody event; checkpoints sign them; the CLI verifies them."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.custody import service
from app.custody.tasks import checkpoint, timestamp_checkpoints
from app.db import make_engine
from app.runtime import Runtime
from custody import ledger, open_note
from custody.frontier import Frontier
from tests.app.factories import Factory, walk_to_export_step
from tests.custody.conftest import fill
from tests.custody.tsa import LocalAuthority


def _walk_to_assignment(factory: Factory) -> tuple[dict[str, Any], dict[Role, Any]]:
    return walk_to_export_step(factory, note="Dewi, tolong dicek")


def test_each_step_of_a_request_is_a_custody_event(factory: Factory) -> None:
    created, people = _walk_to_assignment(factory)

    response = factory.client.get(
        f"/api/v1/requests/{created['id']}/custody", headers=factory.headers(people[Role.AUDITOR])
    )

    events = response.json()
    assert [e["action"] for e in events] == ["request.registered"] + ["sop.step_completed"] * 5
    registered = events[0]["event"]
    assert registered["result"]["sha256"] == created["letter_sha256"]
    assert registered["authorization"] == "B/123/XI/2026/Reskrim"
    assert registered["performer"]["role"] == "pemohon"
    assert registered["instrument"]["tool"] == "saksi"
    assert [e["event"]["performer"]["role"] for e in events[1:]] == [
        "pemohon", "kepala_dinas", "sekretaris", "kepala_bidang", "subkoordinator",
    ]  # fmt: skip
    assign = events[-1]["event"]
    assert assign["object"]["step"] == 5
    assert assign["object"]["assigned_operator_id"] == people[Role.OPERATOR].id
    assert assign["object"]["note"] == "Dewi, tolong dicek"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)


def test_a_refused_action_leaves_no_custody_event(factory: Factory, session: Session) -> None:
    created, people = _walk_to_assignment(factory)
    before = len(service.events_of_request(session, created["id"]))

    refused = factory.client.post(
        f"/api/v1/requests/{created['id']}/dispose",
        headers=factory.headers(people[Role.KEPALA_DINAS]),
        json={},
    )

    assert refused.status_code in {403, 409}
    session.expire_all()
    assert len(service.events_of_request(session, created["id"])) == before


def test_checkpoints_are_signed_notes_of_the_ledger(
    factory: Factory, runtime: Runtime, session: Session
) -> None:
    created, _people = _walk_to_assignment(factory)

    size = checkpoint()
    again = checkpoint()

    # The request's six events, after the registry and accounts it was made with.
    recorded = list(ledger.read(session.connection()))
    assert [e.action for e in recorded if e.request_id == created["id"]] == [
        "request.registered",
        *["sop.step_completed"] * 5,
    ]
    assert {e.action.split(".")[0] for e in recorded if e.request_id is None} == {
        "registry",
        "user",
    }
    assert size == len(recorded)
    assert again is None  # nothing new since
    latest = factory.client.get("/api/v1/custody/checkpoint").json()
    key = factory.client.get("/api/v1/custody/public-key").json()
    opened = open_note(latest["note"], key["name"], base64.b64decode(key["public_key"]))
    assert opened.size == size
    assert opened.root.hex() == latest["root_hash"]
    assert key["verifier_key"].startswith(f"{runtime.settings.custody_origin}+")


def test_saksi_verify_ledger_names_the_tampered_event(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"SAKSI_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    saksi = [sys.executable, "-m", "app.cli"]
    subprocess.run([*saksi, "db", "upgrade"], env=env, check=True, capture_output=True)
    engine = make_engine(f"sqlite:///{data_dir / 'saksi.db'}")
    fill(engine, 5)
    clean = subprocess.run(
        [*saksi, "verify", "ledger"], env=env, capture_output=True, text=True, check=False
    )
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER custody_events_no_update")
        connection.exec_driver_sql(
            "UPDATE custody_events SET canonical = replace(canonical, 'Kamera 2', 'Kamera 9') "
            "WHERE seq = 3"
        )
    engine.dispose()

    tampered = subprocess.run(
        [*saksi, "verify", "ledger"], env=env, capture_output=True, text=True, check=False
    )

    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "OK: every event and checkpoint verifies" in clean.stdout
    assert tampered.returncode == 1
    assert "FAIL seq 3: the event's bytes no longer match its leaf hash" in tampered.stdout
    assert "the first failing sequence number is 3" in tampered.stdout


def test_a_checkpoint_is_signed_every_n_events(
    factory: Factory, session: Session, runtime: Runtime
) -> None:
    """Signed after the commit that completes N events, in its own transaction (issue 18:
    a checkpoint states a committed size; signing it is outside the append lock)."""
    policy = service.CheckpointPolicy(runtime.office_key, runtime.settings.custody_origin, 4)
    session.info[service.CHECKPOINT_POLICY] = policy
    for _ in range(3):
        service.record(session, "test.event", service.SYSTEM, runtime.clock.now())
        session.commit()
    service.record(session, "test.event", service.SYSTEM, runtime.clock.now())
    session.rollback()  # the 4th event never happened: no checkpoint states it
    assert service.ledger.checkpoints(session.connection()) == []
    session.rollback()
    for _ in range(6):
        service.record(session, "test.event", service.SYSTEM, runtime.clock.now())
        session.commit()

    sizes = [c.tree_size for c in service.ledger.checkpoints(session.connection())]

    assert sizes == [4, 8]


def test_checkpoints_are_time_stamped_and_an_outage_only_delays_it(
    factory: Factory, session: Session, runtime: Runtime, tmp_path: Path
) -> None:
    authority = LocalAuthority(tmp_path / "tsa")
    try:
        _walk_to_assignment(factory)
        checkpoint()
        runtime.settings.timestamp_url = "http://127.0.0.1:1/tsr"  # the authority is down

        during_outage = timestamp_checkpoints()
        runtime.settings.timestamp_url = authority.url
        after = timestamp_checkpoints()
        again = timestamp_checkpoints()
    finally:
        authority.close()

    assert (during_outage, after, again) == (0, 1, 0)
    session.expire_all()
    assert service.ledger.unstamped_checkpoints(session.connection()) == []


def test_each_checkpoint_root_comes_from_the_last_frontier_and_equals_the_full_tree(
    factory: Factory, session: Session, runtime: Runtime
) -> None:
    """Issue 18 item 3: a checkpoint keeps the tree's right frontier; the next one extends it
    by the leaves since, instead of reading every leaf. A frontier that does not give its
    checkpoint's signed root is not used (the root is then rebuilt from every leaf)."""
    policy = service.CheckpointPolicy(runtime.office_key, runtime.settings.custody_origin, 5)
    session.info[service.CHECKPOINT_POLICY] = policy
    for _ in range(23):
        service.record(session, "test.event", service.SYSTEM, runtime.clock.now())
        session.commit()
    connection = session.connection()
    rows = connection.execute(
        select(ledger.checkpoints_table.c.tree_size, ledger.checkpoints_table.c.frontier)
    ).all()  # fmt: skip
    assert [r.tree_size for r in rows][-4:] == [5, 10, 15, 20]
    for stored in ledger.checkpoints(connection):
        assert stored.root_hash == service.current_tree(session).root(stored.tree_size)
    assert Frontier.decode(rows[-1].frontier).size == 20

    bad = Frontier(20, tuple(bytes(32) for _ in range(2)))  # a wrong (e.g. tampered) cache
    ledger.append_checkpoint(connection, 20, bytes(32), "not signed", runtime.clock.now(),
                             bad.encode())  # fmt: skip
    assert service.current_frontier(session).root() == service.current_tree(session).root()
