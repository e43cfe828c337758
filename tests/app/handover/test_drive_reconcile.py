"""Reconciliation of Saksi's Drive with its database (issue 16 item 4, must-show g), through the
real client against the fake Drive: a planted orphan is found, reported while young, deleted
once older than the TTL; a live delivery's items are never touched; each run is on record."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app.auth.models import Role
from app.custody import service as custody
from app.delivery import reconcile, tasks
from app.delivery import service as delivery_service
from app.delivery.backends import drive_backend
from app.runtime import set_current
from tests.app.factories import PASSWORD, Factory
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

    set_current(runtime)
    assert tasks.reconcile_drive() == 2  # the periodic job, as a worker runs it
    [run] = _reconciled(world)
    assert {o["id"] for o in run["result"]["orphans"]} == {old, young}
    assert (run["result"]["deleted"], run["result"]["kept"]) == ([old], [young])
    _check_alerts_show(world, young)
    clock.advance(timedelta(seconds=1))

    report = reconcile.reconcile_drive(runtime, clock.now())

    assert {o.id for o in report.orphans} == {young}
    assert (report.deleted, report.kept) == ([], [young])
    assert old not in drive.files
    assert drive.children(old) == []  # the folder went with what was in it
    assert live <= set(drive.files)  # the live delivery is the purge's, not touched
    with runtime.sessions() as session:
        [still] = reconcile.open_orphans(session)
    assert (still["id"], still["name"], still["children"]) == (young, "SKS-2025-00008", 1)
    clock.advance(timedelta(days=14))
    again = reconcile.reconcile_drive(runtime, clock.now())

    assert again.deleted == [young]
    assert young not in drive.files
    with runtime.sessions() as session:
        assert reconcile.open_orphans(session) == []
    assert len(_reconciled(world)) == 3
    assert world["client"].get("/readyz").json()["alerts"] == []
    assert live <= set(drive.files)
    assert delivery_id


def _check_alerts_show(world: dict[str, Any], orphan: str) -> None:
    """The young orphan is an alert in /readyz and a table on the admin page."""
    client, runtime = world["client"], world["runtime"]
    ready = client.get("/readyz").json()
    assert [a for a in ready["alerts"] if a.startswith("drive orphans: 1 ")] == [
        f"drive orphans: 1 items on Drive no delivery owns (ids {orphan})"
    ]
    with runtime.sessions() as session:
        Factory(session, runtime, client).user(Role.ADMIN, username="admin-drive")
    client.post("/masuk", data={"username": "admin-drive", "password": PASSWORD})
    page = client.get("/admin").text
    assert "Berkas di Google Drive tanpa penyerahan" in page
    assert f"<code>{orphan}</code>" in page
    assert "SKS-2025-00008" in page


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
