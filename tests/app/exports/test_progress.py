"""Export progress over REST and as a server-sent-event stream, with real commits."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.agencies.models import Agency, AgencyKind
from app.auth.models import Role, User
from app.cameras.models import Camera, Nvr, NvrVendor
from app.db import unit_of_work
from app.exports import service
from app.exports.models import AttemptOutcome, Export, ExportPurpose, ExportState
from app.main import create_app
from app.requests.models import DeliveryMethod, EvidenceRequest, RequestItem, RequestStatus
from app.runtime import Runtime, build_runtime, set_current
from app.security import issue_token
from app.settings import Settings

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def _arrange(runtime: Runtime) -> dict[str, int]:
    with unit_of_work(runtime.sessions) as session:
        agency = Agency(name="Polres", kind=AgencyKind.POLRI, active=True, created_at=NOW)
        nvr = Nvr(
            name="NVR", vendor=NvrVendor.ONVIF, host="127.0.0.1", http_port=80, rtsp_port=554,
            username="u", password_encrypted="x", timezone="Asia/Jakarta", active=True,
            created_at=NOW,
        )  # fmt: skip
        operator = User(
            username="operator", full_name="Operator", role=Role.OPERATOR, password_hash="x",
            active=True, created_at=NOW,
        )  # fmt: skip
        session.add_all([agency, nvr, operator])
        session.flush()
        camera = Camera(
            name="K1", location="L1", nvr_id=nvr.id, channel=1, active=True, created_at=NOW
        )
        session.add(camera)
        session.flush()
        request = _request(agency.id, operator.id)
        request.items = [
            RequestItem(position=0, camera_id=camera.id, window_start_at=NOW - timedelta(hours=2),
                        window_end_at=NOW - timedelta(hours=1)),
        ]  # fmt: skip
        session.add(request)
        session.flush()
        export = Export(
            request_id=request.id, item_id=request.items[0].id, purpose=ExportPurpose.EVIDENCE,
            state=ExportState.QUEUED, created_by_id=operator.id, created_at=NOW, updated_at=NOW,
            bytes_written=0, media_seconds=0.0, percent=0.0,
        )  # fmt: skip
        session.add(export)
        session.flush()
        return {"export": export.id, "request": request.id, "operator": operator.id}


def _request(agency_id: int, creator_id: int) -> EvidenceRequest:
    person = {
        f"{who}_{field}": "x"
        for who in ("officer", "recipient")
        for field in ("name", "id_number", "position", "institution", "email")
    }
    return EvidenceRequest(
        agency_id=agency_id, letter_number="B/9", letter_number_key="B/9",
        letter_date=date(2026, 11, 21), letter_path="letters/x.pdf", letter_sha256="0" * 64,
        letter_size=1, letter_filename="x.pdf", legal_basis="x", purpose="x", incident="x",
        delivery_method=DeliveryMethod.LOCAL_LINK, status=RequestStatus.IN_PROGRESS,
        sop_id="cctv-cirebon-2025", current_step=6, assigned_operator_id=creator_id,
        created_by_id=creator_id, created_at=NOW, updated_at=NOW, **person,
    )  # fmt: skip


@pytest.fixture
def world(fresh_database_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data", database_url=fresh_database_url, queue_url="memory://",
        _env_file=None,
    )  # fmt: skip
    runtime = build_runtime(settings)
    ids = _arrange(runtime)
    token = issue_token(
        runtime.token_key, ids["operator"], "operator", datetime.now(UTC), timedelta(hours=1)
    )
    with TestClient(create_app(runtime)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield {"runtime": runtime, "client": client, **ids}
    runtime.close()
    set_current(None)


def _drive(runtime: Runtime, export_id: int) -> None:
    """Move the export through its states the way a worker does, one commit per step."""
    steps = [
        (ExportState.PROBING, 0, 0.0),
        (ExportState.FETCHING, 1_000_000, 40.0),
        (ExportState.FETCHING, 2_500_000, 100.0),
        (ExportState.VERIFYING, 2_500_000, 100.0),
        (ExportState.DONE, 2_500_000, 100.0),
    ]
    with unit_of_work(runtime.sessions) as session:
        export = service.get_export(session, export_id)
        attempt = service.begin_attempt(session, export, "worker-test", datetime.now(UTC))
        attempt_id = attempt.id
    for state, written, percent in steps:
        time.sleep(0.3)
        with unit_of_work(runtime.sessions) as session:
            export = service.get_export(session, export_id)
            if state is not export.state:
                service.move(session, export, state, datetime.now(UTC))
            export.bytes_written, export.percent = written, percent
            if state is ExportState.DONE:
                [attempt] = [a for a in export.attempts if a.id == attempt_id]
                service.end_attempt(attempt, AttemptOutcome.DONE, datetime.now(UTC))


def test_progress_streams_until_the_export_finishes(world: dict[str, Any]) -> None:
    worker = threading.Thread(target=_drive, args=(world["runtime"], world["export"]))
    events: list[tuple[str, dict[str, Any]]] = []

    worker.start()
    with world["client"].stream("GET", f"/api/v1/exports/{world['export']}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    worker.join(timeout=30)

    states = [data["state"] for kind, data in events if kind == "progress"]
    assert states[0] in {"queued", "probing"}
    assert "fetching" in states
    assert states[-1] == "done"
    assert states.index("fetching") < states.index("done")
    assert events[-1] == ("end", {"state": "done"})
    percents = [data["percent"] for kind, data in events if kind == "progress"]
    assert percents == sorted(percents)


def test_export_and_its_attempts_over_rest(world: dict[str, Any]) -> None:
    _drive(world["runtime"], world["export"])

    one = world["client"].get(f"/api/v1/exports/{world['export']}").json()
    listed = world["client"].get(f"/api/v1/requests/{world['request']}/exports").json()

    assert one["state"] == "done"
    assert one["bytes_written"] == 2_500_000
    assert [a["outcome"] for a in one["attempts"]] == ["done"]
    assert [e["id"] for e in listed] == [world["export"]]


def test_exports_are_for_office_staff_only(world: dict[str, Any]) -> None:
    anonymous = TestClient(world["client"].app)

    response = anonymous.get(f"/api/v1/exports/{world['export']}")

    assert response.status_code == 401
    assert "state" not in response.text
