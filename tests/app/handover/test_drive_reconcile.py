"""Reconciliation of Saksi's Drive with its database (issue 16 item 4, must-show g), through the
real client against the fake Drive: a planted orphan is found, reported while young, deleted
once older than the TTL; a live delivery's items are never touched; each run is on record."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app.custody import service as custody
from app.delivery import reconcile
from app.delivery import service as delivery_service
from app.delivery.backends import drive_backend
from tests.app.handover.test_drive_delivery import drive, world
from tests.fakes.drive import FakeDrive
from tests.nvr_sim.conftest import anchor, sim_cache, simulator

__all__ = ["anchor", "drive", "sim_cache", "simulator", "world"]


def _deliver(world: dict[str, Any]) -> int:
    client, rid, headers = world["client"], world["id"], world["h"]
    assert client.post(f"/api/v1/requests/{rid}/package", headers=headers).status_code == 201
    started = client.post(f"/api/v1/requests/{rid}/deliveries", headers=headers).json()
    delivery_service.perform(world["runtime"], started["id"])
    return int(started["id"])


def _plant(world: dict[str, Any], drive: FakeDrive, number: str, at: datetime, tmp: Path) -> str:
    """Someone (a crashed older version, a person in the Drive UI) left a folder with a file in
    Saksi's Shared Drive, never recorded: made through the real client, dated `at`."""
    real_now, drive.now = drive.now, lambda: at
    clip = tmp / f"{number}.mp4"
    clip.write_bytes(b"\x00" * 1000)
    with drive_backend(world["runtime"]) as backend:
        folder = backend.create_container(number)
        backend.upload(folder, clip)
    drive.now = real_now  # (it also checks the token's lifetime: real time)
    return folder.id


def _reconciled(world: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs on record, newest first: office events (tied to no request)."""
    with world["runtime"].sessions() as session:
        events = custody.office_events(session, 50)
    return [json.loads(e.canonical) for e in events if e.action == reconcile.ACTION]


def test_a_planted_orphan_is_reported_then_removed_and_live_items_stay(
    world: dict[str, Any], drive: FakeDrive, tmp_path: Path
) -> None:
    runtime, clock = world["runtime"], world["clock"]
    delivery_id = _deliver(world)
    live = {f["id"] for f in drive.files.values()}
    old = _plant(world, drive, "SKS-2025-00007", clock.now() - timedelta(days=20), tmp_path)
    young = _plant(world, drive, "SKS-2025-00008", clock.now() - timedelta(days=1), tmp_path)

    report = reconcile.reconcile_drive(runtime, clock.now())

    assert {o.id for o in report.orphans} == {old, young}
    assert (report.deleted, report.kept) == ([old], [young])
    assert old not in drive.files
    assert drive.children(old) == []  # the folder went with what was in it
    assert live <= set(drive.files)  # the live delivery is the purge's, not touched
    with runtime.sessions() as session:
        [still] = reconcile.open_orphans(session)
    assert (still["id"], still["name"], still["children"]) == (young, "SKS-2025-00008", 1)
    [run] = _reconciled(world)
    assert (run["result"]["deleted"], run["result"]["kept"]) == ([old], [young])

    clock.advance(timedelta(days=14))
    again = reconcile.reconcile_drive(runtime, clock.now())

    assert again.deleted == [young]
    assert young not in drive.files
    with runtime.sessions() as session:
        assert reconcile.open_orphans(session) == []
    assert len(_reconciled(world)) == 2
    assert live <= set(drive.files)
    assert delivery_id


def test_a_delivery_in_progress_is_not_an_orphan(world: dict[str, Any], drive: FakeDrive) -> None:
    """Its ids are on record before the folder exists: a reconciliation that runs between
    the folder's creation and the upload finds nothing to report."""
    runtime, clock = world["runtime"], world["clock"]
    client, rid, headers = world["client"], world["id"], world["h"]
    client.post(f"/api/v1/requests/{rid}/package", headers=headers)
    delivery_id = client.post(f"/api/v1/requests/{rid}/deliveries", headers=headers).json()["id"]
    with drive_backend(runtime) as backend:  # the worker's first steps
        folder_id, _ = delivery_service._reserve_drive_items(runtime, backend, delivery_id)
        backend.create_container(f"SKS-{clock.now().year}-{rid:05d}", folder_id)
    clock.advance(timedelta(days=13))

    report = reconcile.reconcile_drive(runtime, clock.now())

    assert report.listed == 1
    assert report.orphans == []
    assert folder_id in drive.files
