"""Exports end to end: a request at its export step, the simulator, real commits and files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from app.auth.models import Role, User
from app.cameras.models import NvrVendor
from app.cameras.schemas import NvrUpdate
from app.cameras.service import update_nvr
from app.custody.service import SYSTEM
from app.db import unit_of_work
from app.demo import NvrEndpoint, sample_request, seed
from app.exports import pipeline
from app.exports import service as export_service
from app.exports.models import Export, ExportState
from app.main import create_app
from app.requests.models import EvidenceRequest
from app.runtime import Runtime, build_runtime, set_current
from app.settings import Settings
from custody import ledger
from nvr_adapters import NvrAuthFailed, RecordingNotFound
from nvr_sim import NvrSimulator
from tests.app.factories import bearer, walk_runtime_to_export_step
from tests.nvr_sim.conftest import PASSWORD, USER, anchor, sim_cache, simulator

__all__ = ["anchor", "sim_cache", "simulator"]


@pytest.fixture
def world(
    fresh_database_url: str, tmp_path: Path, simulator: NvrSimulator, anchor: datetime
) -> Iterator[dict[str, Any]]:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data", database_url=fresh_database_url, queue_url="memory://",
        _env_file=None,
    )  # fmt: skip
    runtime = build_runtime(settings)
    ends = simulator.endpoints
    endpoint = NvrEndpoint("127.0.0.1", ends.http_port, ends.rtsp_port, USER, PASSWORD,
                           vendor=NvrVendor.ONVIF)  # fmt: skip
    demo = seed(runtime, endpoint)
    # Two cameras of the simulator: 1 continuous, 2 motion-only with a gap at anchor + 30 s.
    demo.camera_ids = demo.camera_ids[:2]
    request_id = sample_request(
        runtime, demo, (anchor + timedelta(seconds=24), anchor + timedelta(seconds=44))
    )
    walk_runtime_to_export_step(runtime, request_id)
    yield {"runtime": runtime, "request_id": request_id}
    runtime.close()
    set_current(None)


def test_the_operator_exports_every_item_bit_exact_with_custody(world: dict[str, Any]) -> None:
    runtime: Runtime = world["runtime"]
    with TestClient(create_app(runtime)) as client:
        started = client.post(
            f"/api/v1/requests/{world['request_id']}/exports",
            headers=bearer(runtime, Role.OPERATOR),
        )
    assert started.status_code == 202, started.text
    queued = [task.name for task in runtime.queue.huey.pending()]
    assert queued.count("exports.fetch_item") == 2  # enqueued after the commit

    states = [pipeline.run(runtime, e["id"], "test-worker") for e in started.json()]

    assert states == [ExportState.DONE, ExportState.PARTIAL]  # camera 2 has a gap
    with unit_of_work(runtime.sessions) as session:
        exports = list(session.scalars(select(Export).order_by(Export.id)))
        actions = [e.action for e in ledger.read(session.connection(), world["request_id"])]
        for export in exports:
            path = runtime.settings.data_dir / str(export.file_path)
            assert export.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
            sheet = runtime.settings.data_dir / str(export.contact_sheet_path)
            assert sheet.read_bytes()[:2] == b"\xff\xd8"  # a JPEG
            assert [a.outcome.value for a in export.attempts] == [export.state.value]
        assert exports[1].gaps
        assert exports[0].gaps == []
    assert actions.count("export.started") == 2
    assert actions.count("export.searching") == 2  # probed: make, model, clock offset on record
    assert actions.count("export.fetching") == 2  # searched: coverage on record
    assert exports[0].device is not None
    assert exports[0].device["model"] == "NVR Simulator"
    assert exports[0].clock is not None
    assert exports[0].clock["method"].startswith("onvif")
    assert exports[1].coverage is not None
    assert exports[1].coverage["gaps"]  # the NVR's own search reports the motion camera's gap
    assert actions.count("export.file_written") == 2
    assert pipeline.run(runtime, exports[0].id, "again") is ExportState.DONE  # idempotent


def test_a_failure_is_recorded_with_its_reason_and_not_retried(world: dict[str, Any]) -> None:
    """A wrong NVR password: the attempt fails with a clear reason, on record, and stays failed."""
    runtime: Runtime = world["runtime"]
    with unit_of_work(runtime.sessions) as session:
        request = session.get(EvidenceRequest, world["request_id"])
        assert request is not None
        update_nvr(session, request.items[0].camera.nvr, NvrUpdate(password=SecretStr("salah")),
                   runtime.secret_box, runtime.clock.now(), by=SYSTEM)  # fmt: skip
        operator = session.scalar(select(User).where(User.role == Role.OPERATOR))
        assert operator is not None
        [first, _second] = export_service.start_exports(
            session, runtime.sop, request, operator, datetime.now(UTC)
        )
        export_id = first.id

    with pytest.raises(NvrAuthFailed):
        pipeline.run(runtime, export_id, "test-worker")
    again = pipeline.run(runtime, export_id, "test-worker")

    with unit_of_work(runtime.sessions) as session:
        export = session.get(Export, export_id)
        assert export is not None
        assert export.state is ExportState.FAILED
        assert export.error_code == "NvrAuthFailed"
        assert [a.outcome.value for a in export.attempts] == ["failed"]
        actions = [e.action for e in ledger.read(session.connection(), world["request_id"])]
    assert again is ExportState.FAILED  # nothing more to do for a finished export
    assert actions[-1] == "export.attempt_ended"


def test_a_window_the_camera_recorded_nothing_in_fails_with_that_reason(
    world: dict[str, Any], anchor: datetime
) -> None:
    """The motion camera recorded nothing from anchor +30 s to +40 s (its item reads `absent` at
    intake): exporting that window fails on record, saying so, and leaves no file."""
    runtime: Runtime = world["runtime"]
    with unit_of_work(runtime.sessions) as session:
        request = session.get(EvidenceRequest, world["request_id"])
        assert request is not None
        quiet = request.items[1]  # the motion camera
        quiet.window_start_at = anchor + timedelta(seconds=31)
        quiet.window_end_at = anchor + timedelta(seconds=39)
        operator = session.scalar(select(User).where(User.role == Role.OPERATOR))
        assert operator is not None
        [_first, second] = export_service.start_exports(
            session, runtime.sop, request, operator, datetime.now(UTC)
        )
        export_id = second.id

    with pytest.raises(RecordingNotFound):  # the device answers PLAY of that range with 404
        pipeline.run(runtime, export_id, "test-worker")

    with unit_of_work(runtime.sessions) as session:
        export = session.get(Export, export_id)
        assert export is not None
        assert export.state is ExportState.FAILED
        assert [a.outcome.value for a in export.attempts] == ["failed"]
        assert export.error_code == "RecordingNotFound"
        assert "nothing at that address or in that range" in str(export.error_detail)
    assert list((runtime.settings.data_dir / "exports").rglob("*.mp4")) == []
