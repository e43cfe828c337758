"""Witness cosigning (c2sp.org/tlog-witness, tlog-cosignature; issue 20, items 7b/7c).

Two Saksi offices in one test, each with its own database: A's checkpoints are cosigned by B,
reached over HTTP (uvicorn on loopback), and a consistent rewrite of an early event in A, made
as an insider would, is located by `saksi verify ledger` from B's cosignatures.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text

from app import migrate
from app.clock import FrozenClock
from app.commands import evidence
from app.custody import service, tasks, witnessing
from app.db import unit_of_work
from app.main import create_app
from app.runtime import Runtime, build_runtime, set_current
from app.settings import Settings, WitnessedLog, WitnessEndpoint
from custody import (
    MerkleTree,
    OfficeKey,
    load_or_create,
    sign,
    stored_tree,
    verifier_key,
    verify_ledger,
)
from custody.events import canonical_bytes
from custody.merkle import leaf_hash
from custody.note import Checkpoint
from custody.schema import append_only_statements, drop_statements
from custody.witness import (
    COSIGNATURE_TYPE,
    AddCheckpoint,
    cosign,
    cosigner_verifier_key,
    open_cosignature,
    parse_add_checkpoint,
    parse_verifier_key,
    stored_cosignatures,
)
from tests.conftest import BACKENDS, fresh_postgres_database

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
ORIGIN_A = "a.example.go.id/saksi"
WITNESS_B = "b.example.go.id/witness"
SIZE_TYPE = "text/x.tlog.size"


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite database, copied for every office (a migration run per office
    would cost seconds)."""
    path = tmp_path_factory.mktemp("template") / "saksi.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _office(template: Path, data_dir: Path, origin: str, **settings: Any) -> Runtime:
    """An office on a copy of the migrated SQLite template, or on `database_url` if given."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if settings.get("database_url") is None:
        shutil.copy(template, data_dir / "saksi.db")
    config = Settings(  # type: ignore[call-arg]
        data_dir=data_dir, queue_url="memory://", custody_origin=origin, _env_file=None,
        **settings,
    )  # fmt: skip
    return build_runtime(config, clock=FrozenClock(T0))


def _office_key(data_dir: Path) -> OfficeKey:
    return load_or_create(data_dir / "keys" / "office-ed25519.pem")


@dataclass
class Witness:
    runtime: Runtime
    verifier_key: str


@pytest.fixture
def witness_b(template_db: Path, tmp_path: Path) -> Iterator[Witness]:
    """Office B, witnessing office A's ledger (A's key is made first, as A publishes it)."""
    key_a = _office_key(tmp_path / "a")
    runtime = _office(
        template_db, tmp_path / "b", "b.example.go.id/saksi", witness_name=WITNESS_B,
        witness_logs=[WitnessedLog(origin=ORIGIN_A,
                                   key=verifier_key(ORIGIN_A, key_a.public_bytes))],
    )  # fmt: skip
    vkey = witnessing.witness_verifier_key(runtime.settings)
    assert vkey is not None
    yield Witness(runtime, vkey)
    runtime.close()
    set_current(None)


@pytest.fixture
def witness_url(witness_b: Witness) -> Iterator[str]:
    """B served by uvicorn on a free loopback port, in a thread."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(witness_b.runtime), host="127.0.0.1", port=port, log_level="warning",
        lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/api/v1/witness"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(params=BACKENDS)
def a_database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Office A's database: a copy of the SQLite template, or a PostgreSQL one of its own (the
    witness B stays on SQLite: two offices need not run the same database)."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def office_a(
    template_db: Path, tmp_path: Path, witness_b: Witness, witness_url: str,
    a_database: str | None,
) -> Iterator[Runtime]:  # fmt: skip
    runtime = _office(
        template_db, tmp_path / "a", ORIGIN_A, database_url=a_database,
        witnesses=[WitnessEndpoint(url=witness_url, key=witness_b.verifier_key)],
    )  # fmt: skip
    yield runtime
    runtime.close()


def _record(runtime: Runtime, count: int) -> None:
    with unit_of_work(runtime.sessions) as session:
        for _ in range(count):
            size = service.current_frontier(session).size
            service.record(session, "test.noted", service.SYSTEM, runtime.clock.now(),
                           object={"n": size + 1, "note": f"event {size + 1}"})  # fmt: skip


def _checkpoint(runtime: Runtime) -> int:
    with unit_of_work(runtime.sessions) as session:
        issued = service.issue_checkpoint(
            session, runtime.office_key, runtime.settings.custody_origin, runtime.clock.now()
        )
    return issued.tree_size


def _rewrite(runtime: Runtime, k: int) -> None:
    """An insider's consistent rewrite: event k's bytes changed, every later leaf hash and
    prev link recomputed, the stored interior hashes recomputed, the checkpoint rows deleted and
    a fresh one signed with the office key; the append-only triggers dropped for it and put
    back."""
    tables = ("custody_events", "custody_checkpoints", "custody_merkle_nodes")
    with runtime.engine.begin() as connection:
        dialect = connection.dialect.name
        for statement in drop_statements(dialect, tables):
            connection.exec_driver_sql(statement)
        rows = connection.execute(
            text("SELECT seq, canonical FROM custody_events WHERE seq >= :k ORDER BY seq"),
            {"k": k},
        ).all()
        prev = connection.execute(
            text("SELECT leaf_hash FROM custody_events WHERE seq = :p"), {"p": k - 1}
        ).scalar_one()
        for row in rows:
            document = json.loads(row.canonical)
            seq = document.pop("seq")
            document.pop("prev")
            if seq == k:
                document["object"]["note"] = "something else entirely"
            data = canonical_bytes(document, seq, prev)
            digest = leaf_hash(data).hex()
            connection.execute(
                text("UPDATE custody_events SET canonical = :c, leaf_hash = :h, prev_hash = :p "
                     "WHERE seq = :s"),
                {"c": data.decode(), "h": digest, "p": prev, "s": seq},
            )  # fmt: skip
            prev = digest
        connection.exec_driver_sql("DELETE FROM custody_checkpoints")
        connection.exec_driver_sql("DELETE FROM custody_merkle_nodes")
        stored_tree.backfill(connection)
        for statement in append_only_statements(dialect, tables):
            connection.execute(text(statement))  # text(): psycopg would read its '%' as a bind
    runtime.tree_cache = type(runtime.tree_cache)(runtime.engine)
    _checkpoint(runtime)


def _cli_env(runtime: Runtime) -> dict[str, str]:
    settings = runtime.settings
    witnesses = [w.model_dump() for w in settings.witnesses]
    return {
        "SAKSI_DATA_DIR": str(settings.data_dir),
        "SAKSI_DATABASE_URL": settings.resolved_database_url,
        "SAKSI_QUEUE_URL": "memory://",
        "SAKSI_CUSTODY_ORIGIN": settings.custody_origin,
        "SAKSI_WITNESSES": json.dumps(witnesses),
        "SAKSI_WITNESS_QUORUM": str(settings.witness_quorum),
        "SAKSI_NVR_CLOCK_PROBE_SECONDS": "0",
    }


def _verify_cli(runtime: Runtime) -> subprocess.CompletedProcess[str]:
    """`saksi verify ledger`, run as the command it is, on A's data directory."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **_cli_env(runtime)}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "verify", "ledger"], env=env, capture_output=True,
        text=True, check=False, timeout=60,
    )  # fmt: skip


def test_a_consistent_rewrite_is_located_by_the_witness_cosignatures(
    office_a: Runtime,
    witness_b: Witness,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _record(office_a, 4)
    assert _checkpoint(office_a) == 4
    assert [(r.tree_size, r.ok) for r in witnessing.submit_checkpoints(office_a)] == [(4, True)]
    _record(office_a, 4)
    assert _checkpoint(office_a) == 8
    assert [(r.tree_size, r.ok) for r in witnessing.submit_checkpoints(office_a)] == [(8, True)]
    _record(office_a, 4)
    assert _checkpoint(office_a) == 12
    # Submitted as if A had lost track of B's state: B's 409 names size 8, A resends from it.
    ((url, key),) = witnessing.configured_witnesses(office_a.settings)
    with unit_of_work(office_a.sessions) as session:
        latest = service.latest_checkpoint(session)
    assert latest is not None
    with httpx.Client() as client:
        result = witnessing._submit_one(office_a, client, url, key, latest, 0)
    assert (result.tree_size, result.ok) == (12, True), result.message
    with office_a.engine.connect() as connection:
        cosigned = stored_cosignatures(connection)
    assert [(c.witness, c.tree_size) for c in cosigned] == [(WITNESS_B, s) for s in (4, 8, 12)]
    _record(office_a, 4)
    _checkpoint(office_a)  # 16, not yet cosigned

    # What the command runs, in this process (the command itself runs below).
    for name, value in _cli_env(office_a).items():
        monkeypatch.setenv(name, value)
    assert evidence.check_ledger(argparse.Namespace(checkpoint=[])) == 0
    whole = capsys.readouterr().out
    set_current(office_a)
    assert "witnesses: 3 checkpoint(s) cosigned" in whole
    assert "proven up to event 12" in whole

    k = 6
    _rewrite(office_a, k)
    # The rewritten ledger re-signs with the office key and verifies against its own rows;
    # only what B cosigned tells otherwise.
    with office_a.engine.connect() as connection:
        alone = verify_ledger(connection, ORIGIN_A, office_a.office_key.public_bytes)
    assert alone.ok, alone.findings
    # And B refuses to cosign the rewritten ledger: it does not extend what B holds.
    refused = witnessing.submit_checkpoints(office_a)
    assert [(r.tree_size, r.ok) for r in refused] == [(16, False)]
    assert "HTTP 422" in refused[0].message

    found = _verify_cli(office_a)
    assert found.returncode == 1, found.stdout + found.stderr
    spans = [
        (int(m.group(1)), int(m.group(2)))
        for line in found.stdout.splitlines()
        if (m := re.match(r"^FAIL .*events (\d+)–(\d+)", line))
    ]
    assert spans, found.stdout
    first, last = spans[0]
    assert first <= k <= last, found.stdout
    assert (first, last) == (5, 8), found.stdout
    # Only what still matches counts as proven: B's cosigned 8 and 12 expose the rewrite.
    assert "proven up to event 4" in found.stdout, found.stdout


def _checkpoint_note(key: OfficeKey, size: int, origin: str = ORIGIN_A) -> tuple[str, MerkleTree]:
    tree = MerkleTree(leaf_hash(f"leaf {i}".encode()) for i in range(size))
    return sign(Checkpoint(origin, size, tree.root()), origin, key), tree


def _post(client: TestClient, body: str) -> Any:
    return client.post(
        "/api/v1/witness/add-checkpoint", content=body.encode(),
        headers={"Content-Type": "text/plain"},
    )  # fmt: skip


@pytest.fixture
def b_client(witness_b: Witness) -> Iterator[TestClient]:
    with TestClient(create_app(witness_b.runtime)) as client:
        yield client


def test_the_witness_cosigns_then_answers_409_with_its_size(
    b_client: TestClient, witness_b: Witness, tmp_path: Path
) -> None:
    key_a = _office_key(tmp_path / "a")
    note3, _tree = _checkpoint_note(key_a, 3)
    first = _post(b_client, AddCheckpoint(0, [], note3).body())
    assert first.status_code == 200, first.text
    witness = parse_verifier_key(witness_b.verifier_key, COSIGNATURE_TYPE)
    checkpoint, when = open_cosignature(note3 + first.text, witness)
    assert (checkpoint.size, when) == (3, int(T0.timestamp()))

    note5, tree5 = _checkpoint_note(key_a, 5)
    stale = _post(b_client, AddCheckpoint(0, [], note5).body())
    assert stale.status_code == 409
    assert stale.text == "3\n"
    assert stale.headers["content-type"].startswith(SIZE_TYPE)
    # From the right size with the right proof, it cosigns; the same request again is 409.
    good = AddCheckpoint(3, tree5.consistency_proof(3), note5).body()
    assert _post(b_client, good).status_code == 200
    again = _post(b_client, good)
    assert (again.status_code, again.text) == (409, "5\n")


def test_the_witness_answers_422_to_a_bad_proof(b_client: TestClient, tmp_path: Path) -> None:
    key_a = _office_key(tmp_path / "a")
    note3, _tree = _checkpoint_note(key_a, 3)
    assert _post(b_client, AddCheckpoint(0, [], note3).body()).status_code == 200
    # A log whose first 3 leaves differ from those B cosigned: its proof cannot lead to both.
    other = MerkleTree(leaf_hash(f"other {i}".encode()) for i in range(5))
    note5 = sign(Checkpoint(ORIGIN_A, 5, other.root()), ORIGIN_A, key_a)
    bad = _post(b_client, AddCheckpoint(3, other.consistency_proof(3), note5).body())
    assert bad.status_code == 422, bad.text
    # Nor does B roll back or move: it still holds size 3.
    _note5, tree5 = _checkpoint_note(key_a, 5)
    stale = _post(b_client, AddCheckpoint(0, [], _note5).body())
    assert (stale.status_code, stale.text) == (409, "3\n")
    resumed = _post(b_client, AddCheckpoint(3, tree5.consistency_proof(3), _note5).body())
    assert resumed.status_code == 200


def test_the_witness_refuses_unknown_logs_and_keys(b_client: TestClient, tmp_path: Path) -> None:
    stranger = _office_key(tmp_path / "stranger")
    # The known origin, signed by a key B does not trust for it: 403.
    forged, _tree = _checkpoint_note(stranger, 3)
    assert _post(b_client, AddCheckpoint(0, [], forged).body()).status_code == 403
    # An origin B does not witness at all: 404 (tlog-witness).
    unknown, _tree = _checkpoint_note(stranger, 3, origin="c.example.go.id/saksi")
    assert _post(b_client, AddCheckpoint(0, [], unknown).body()).status_code == 404
    # Malformed bodies, and an old size beyond the checkpoint's: 400.
    key_a = _office_key(tmp_path / "a")
    note3, _tree = _checkpoint_note(key_a, 3)
    assert _post(b_client, "old x\n\n" + note3).status_code == 400
    assert _post(b_client, "old 0\nnot base64!\n\n" + note3).status_code == 400
    assert _post(b_client, AddCheckpoint(4, [], note3).body()).status_code == 400


def test_cosignature_format(tmp_path: Path) -> None:
    key = _office_key(tmp_path / "w")
    vkey = cosigner_verifier_key("w.example/witness", key.public_bytes)
    parsed = parse_verifier_key(vkey, COSIGNATURE_TYPE)
    assert base64.b64decode(vkey.split("+", 2)[2])[:1] == b"\x04"
    body = Checkpoint(ORIGIN_A, 7, bytes(32)).body()
    line = cosign(body, "w.example/witness", key, 1_700_000_000)
    raw = base64.b64decode(line.split(" ")[2])
    assert len(raw) == 76
    assert raw[:4] == parsed.key_id
    assert int.from_bytes(raw[4:12], "big") == 1_700_000_000
    key.public.verify(raw[12:], f"cosignature/v1\ntime 1700000000\n{body}".encode())
    request = AddCheckpoint(3, [bytes(32), b"\x01" * 32], "note\n")
    assert parse_add_checkpoint(request.body()) == request


def test_verify_requires_a_quorum(office_a: Runtime, witness_b: Witness) -> None:
    _record(office_a, 3)
    _checkpoint(office_a)
    set_current(office_a)  # as the worker's periodic job finds it
    assert tasks.submit_to_witnesses() == 1
    assert tasks.submit_to_witnesses() == 0  # cosigned already: nothing to send
    ((_url, key),) = witnessing.configured_witnesses(office_a.settings)
    public = office_a.office_key.public_bytes
    with office_a.engine.connect() as connection:
        one = verify_ledger(connection, ORIGIN_A, public, witnesses=[key], quorum=1)
        two = verify_ledger(connection, ORIGIN_A, public, witnesses=[key], quorum=2)
    assert one.ok
    assert (one.cosigned, one.anchored_size) == (1, 3)
    assert not two.ok
    assert two.cosigned == 0
    assert any("no checkpoint carries the cosignatures of 2" in str(f) for f in two.findings)
