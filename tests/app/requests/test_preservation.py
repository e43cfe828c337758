"""Preservation at intake: windows close to the NVR's oldest recording are flagged and copied early.

The simulator keeps one hour of footage, so with the default margin of three days every window it
still holds is at risk, and a window older than an hour is gone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.cameras.models import Camera, Nvr, NvrVendor
from app.db import unit_of_work
from app.demo import NvrEndpoint, sample_request, seed
from app.exports import pipeline
from app.exports.models import Export, ExportPurpose, ExportState
from app.main import create_app
from app.requests import preservation
from app.requests.models import EvidenceRequest, Preservation, RequestItem
from app.runtime import Runtime, build_runtime, set_current
from app.settings import Settings
from custody import ledger
from nvr_sim import NvrSimulator
from tests.app.factories import bearer
from tests.nvr_sim.conftest import PASSWORD, USER, anchor, sim_cache, simulator

__all__ = ["anchor", "sim_cache", "simulator"]


@dataclass
class World:
    runtime: Runtime
    request_id: int
    client: TestClient

    def token(self, role: Role) -> dict[str, str]:
        return bearer(self.runtime, role)


def _world(url: str, data_dir: Path, sim: NvrSimulator, window: tuple[datetime, datetime]) -> World:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=data_dir, database_url=url, queue_url="memory://", _env_file=None
    )
    runtime = build_runtime(settings)
    ends = sim.endpoints
    demo = seed(runtime, NvrEndpoint("127.0.0.1", ends.http_port, ends.rtsp_port, USER, PASSWORD,
                                     vendor=NvrVendor.ONVIF))  # fmt: skip
    demo.camera_ids = demo.camera_ids[:2]
    request_id = sample_request(runtime, demo, window)
    return World(runtime, request_id, TestClient(create_app(runtime)))


@pytest.fixture
def world(
    fresh_database_url: str, tmp_path: Path, simulator: NvrSimulator, anchor: datetime
) -> Iterator[World]:
    window = (anchor + timedelta(seconds=24), anchor + timedelta(seconds=44))
    built = _world(fresh_database_url, tmp_path / "data", simulator, window)
    with built.client:
        yield built
    built.runtime.close()
    set_current(None)


def _items(runtime: Runtime, request_id: int) -> list[RequestItem]:
    with unit_of_work(runtime.sessions) as session:
        query = select(RequestItem).where(RequestItem.request_id == request_id)
        items = list(session.scalars(query.order_by(RequestItem.position)))
        session.expunge_all()
        return items


def test_a_window_near_the_oldest_recording_is_flagged_with_what_the_nvr_said(
    world: World, simulator: NvrSimulator
) -> None:
    verdicts = preservation.check(world.runtime, world.request_id)

    assert verdicts == [Preservation.AT_RISK, Preservation.AT_RISK]
    oldest = simulator.archive.oldest() - simulator.config.clock_offset  # true UTC
    for item in _items(world.runtime, world.request_id):
        assert item.oldest_recording_at is not None
        assert abs((item.oldest_recording_at - oldest).total_seconds()) <= 10
        assert item.preservation_checked_at is not None
        assert item.preservation_error is None
    continuous, motion = _items(world.runtime, world.request_id)
    assert continuous.coverage is not None
    assert continuous.coverage["gaps"] == []
    assert motion.coverage is not None
    assert len(motion.coverage["gaps"]) == 1  # the NVR's search, before anything is exported
    staff = world.token(Role.SUBKOORDINATOR)
    listed = world.client.get("/api/v1/requests", headers=staff).json()
    assert [r["at_risk"] for r in listed] == [True]
    read = world.client.get(f"/api/v1/requests/{world.request_id}", headers=staff).json()
    assert {i["preservation"] for i in read["items"]} == {"at_risk"}
    with unit_of_work(world.runtime.sessions) as session:
        events = list(ledger.read(session.connection(), world.request_id))
    [checked] = [e for e in events if e.action == "request.preservation_checked"]
    result = json.loads(checked.canonical)["result"]
    assert [i["preservation"] for i in result["items"]] == ["at_risk", "at_risk"]


def test_an_operator_preserves_at_risk_items_before_the_dispositions(world: World) -> None:
    preservation.check(world.runtime, world.request_id)
    url = f"/api/v1/requests/{world.request_id}/preservation-exports"

    refused = world.client.post(url, headers=world.token(Role.PEMOHON))
    started = world.client.post(url, headers=world.token(Role.OPERATOR))

    assert refused.status_code == 403
    assert refused.json()["error"] == "RoleNotPermitted"
    assert started.status_code == 202, started.text
    assert [e["purpose"] for e in started.json()] == ["preservation", "preservation"]
    states = [pipeline.run(world.runtime, e["id"], "test") for e in started.json()]
    assert states == [ExportState.DONE, ExportState.PARTIAL]  # camera 2 records on motion only
    again = world.client.post(url, headers=world.token(Role.OPERATOR))
    listed = world.client.get("/api/v1/requests", headers=world.token(Role.OPERATOR)).json()
    assert [r["at_risk"] for r in listed] == [False]  # every item has its clip now
    assert again.status_code == 202
    assert again.json() == []
    with unit_of_work(world.runtime.sessions) as session:
        actions = [e.action for e in ledger.read(session.connection(), world.request_id)]
        request = session.get(EvidenceRequest, world.request_id)
        assert request is not None
        assert request.current_step == 2
    assert actions.count("export.preservation_started") == 1
    assert actions.count("export.file_written") == 2


def test_preservation_copies_stand_for_their_items_at_the_export_step(world: World) -> None:
    preservation.check(world.runtime, world.request_id)
    started = world.client.post(
        f"/api/v1/requests/{world.request_id}/preservation-exports",
        headers=world.token(Role.OPERATOR),
    ).json()
    for export in started:
        pipeline.run(world.runtime, export["id"], "test")
    _walk_to_export_step(world)

    evidence = world.client.post(
        f"/api/v1/requests/{world.request_id}/exports", headers=world.token(Role.OPERATOR)
    )
    completed = world.client.post(
        f"/api/v1/requests/{world.request_id}/complete",
        headers=world.token(Role.OPERATOR), json={"step": 6},
    )  # fmt: skip

    assert evidence.status_code == 202
    assert evidence.json() == []
    assert completed.status_code == 200, completed.text
    with unit_of_work(world.runtime.sessions) as session:
        purposes = {e.purpose for e in session.scalars(select(Export))}
    assert purposes == {ExportPurpose.PRESERVATION}


def test_nothing_at_risk_refuses_a_preservation_copy(world: World) -> None:
    with unit_of_work(world.runtime.sessions) as session:
        for item in session.scalars(select(RequestItem)):
            item.preservation = Preservation.SAFE

    refused = world.client.post(
        f"/api/v1/requests/{world.request_id}/preservation-exports",
        headers=world.token(Role.OPERATOR),
    )

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "InvalidTransition"
    assert "at risk" in refused.json()["detail"]


def test_an_unreachable_nvr_leaves_the_verdict_unknown_with_the_reason(world: World) -> None:
    with unit_of_work(world.runtime.sessions) as session:
        for nvr in session.scalars(select(Nvr)):
            nvr.http_port = 9  # discard: nothing listens

    verdicts = preservation.check(world.runtime, world.request_id)

    assert verdicts == [Preservation.UNKNOWN, Preservation.UNKNOWN]
    [item, _] = _items(world.runtime, world.request_id)
    assert item.preservation_error is not None
    assert "NvrUnreachable" in item.preservation_error
    assert item.oldest_recording_at is None


def test_a_window_older_than_the_nvr_keeps_is_reported_overwritten(
    fresh_database_url: str, tmp_path: Path, simulator: NvrSimulator, anchor: datetime
) -> None:
    old = anchor - timedelta(hours=3)
    built = _world(fresh_database_url, tmp_path / "data", simulator,
                   (old, old + timedelta(seconds=20)))  # fmt: skip
    try:
        assert preservation.check(built.runtime, built.request_id) == [
            Preservation.OVERWRITTEN, Preservation.OVERWRITTEN,
        ]  # fmt: skip
    finally:
        built.runtime.close()
        set_current(None)


def test_registering_a_request_schedules_the_check_and_staff_can_ask_again(world: World) -> None:
    assert _queued_names(world.runtime) == ["requests.check_preservation"]

    again = world.client.post(
        f"/api/v1/requests/{world.request_id}/preservation-check",
        headers=world.token(Role.OPERATOR),
    )
    refused = world.client.post(
        f"/api/v1/requests/{world.request_id}/preservation-check",
        headers=world.token(Role.PEMOHON),
    )

    assert again.status_code == 202
    assert refused.status_code == 403
    assert _queued_names(world.runtime) == ["requests.check_preservation"] * 2


def _queued_names(runtime: Runtime) -> list[str]:
    return [task.name for task in runtime.queue.huey.pending()]


def _walk_to_export_step(world: World) -> None:
    base = f"/api/v1/requests/{world.request_id}"
    for role in (Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG):
        assert world.client.post(f"{base}/dispose", headers=world.token(role), json={}).is_success
    with unit_of_work(world.runtime.sessions) as session:
        operator = session.scalar(select(User).where(User.role == Role.OPERATOR))
        assert operator is not None
        operator_id = operator.id
    assigned = world.client.post(
        f"{base}/assign", headers=world.token(Role.SUBKOORDINATOR),
        json={"operator_id": operator_id},
    )  # fmt: skip
    assert assigned.status_code == 200, assigned.text


def test_two_windows_of_one_camera_each_get_their_own_coverage(
    world: World, anchor: datetime
) -> None:
    """The motion camera misses anchor +30 s to +40 s: one window spans the gap, one does not."""
    with unit_of_work(world.runtime.sessions) as session:
        first, second = session.scalars(select(RequestItem).order_by(RequestItem.position))
        second.camera_id = first.camera_id = _motion_camera(session)
        first.window_start_at, first.window_end_at = (anchor + timedelta(seconds=24),
                                                      anchor + timedelta(seconds=44))  # fmt: skip
        second.window_start_at, second.window_end_at = (anchor + timedelta(seconds=41),
                                                        anchor + timedelta(seconds=49))  # fmt: skip

    preservation.check(world.runtime, world.request_id)

    spanning, clear = _items(world.runtime, world.request_id)
    assert spanning.coverage is not None
    assert clear.coverage is not None
    assert len(spanning.coverage["gaps"]) == 1
    assert clear.coverage["gaps"] == []


def _motion_camera(session: Session) -> int:
    """The demo's second camera, on the simulator's motion-only channel 2."""
    camera = session.scalar(select(Camera).where(Camera.channel == 2))
    assert camera is not None
    return camera.id


def test_a_window_the_camera_did_not_record_is_absent_not_overwritten(
    world: World, anchor: datetime
) -> None:
    """The motion camera recorded nothing from anchor +30 s to +40 s: a window inside that gap is
    reported as holding no footage (the device keeps that time; nothing was recorded in it)."""
    with unit_of_work(world.runtime.sessions) as session:
        quiet, _ = session.scalars(select(RequestItem).order_by(RequestItem.position))
        quiet.camera_id = _motion_camera(session)
        quiet.window_start_at, quiet.window_end_at = (anchor + timedelta(seconds=31),
                                                      anchor + timedelta(seconds=39))  # fmt: skip

    verdicts = preservation.check(world.runtime, world.request_id)

    assert verdicts[0] is Preservation.ABSENT
    quiet_item, _ = _items(world.runtime, world.request_id)
    assert quiet_item.coverage is not None
    assert quiet_item.coverage["recorded"] == []
    assert quiet_item.oldest_recording_at is not None


@pytest.mark.parametrize(
    ("oldest", "recorded", "expected"),
    [
        (None, None, Preservation.ABSENT),  # nothing of the camera: overwritten or never recorded
        (timedelta(hours=2), [], Preservation.OVERWRITTEN),  # the ring has moved past the window
        (timedelta(days=-30), [], Preservation.ABSENT),
        (timedelta(days=-30), [{"start": "", "end": ""}], Preservation.SAFE),
        (timedelta(days=-1), [{"start": "", "end": ""}], Preservation.AT_RISK),
        (timedelta(days=-1), None, Preservation.AT_RISK),  # no search answer: the oldest decides
    ],
)
def test_verdicts(
    oldest: timedelta | None, recorded: list[dict[str, str]] | None, expected: Preservation
) -> None:
    start = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    item = RequestItem(window_start_at=start, window_end_at=start + timedelta(minutes=10))
    answer = preservation.Answer(
        oldest=None if oldest is None else start + oldest,
        coverage=None if recorded is None else {"recorded": recorded, "gaps": []},
    )
    assert preservation.verdict(item, answer, timedelta(days=3)) is expected
