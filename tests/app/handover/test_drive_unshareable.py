"""Drive items owned by the purge from the moment they exist, and recipients Drive cannot share
with (issue 16 items 1-2), through the real client against the fake Drive.

The letter's recipient (`reskrim@polresta-cirebon.example.go.id`) has no Google account: Drive
answers `400 invalidSharingRequest` to a grant that sends no invitation e-mail. What happens
next is the office's policy (`SAKSI_DRIVE_UNSHAREABLE_POLICY`): Saksi's own download (the
default), an anyone-with-link share, or a failed delivery; in every case on record, and in every
case nothing of the request stays on Drive after the purge.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from app.delivery import purge
from app.delivery import service as delivery_service
from app.delivery.backends import drive_backend
from app.delivery.models import DriveItem
from tests.app.handover.test_drive_delivery import drive, world
from tests.fakes.drive import FakeDrive
from tests.nvr_sim.conftest import anchor, sim_cache, simulator

__all__ = ["anchor", "drive", "sim_cache", "simulator", "world"]

RECIPIENT = "reskrim@polresta-cirebon.example.go.id"  # the demo letter's recipient


def _start(world: dict[str, Any]) -> int:
    client, rid, headers = world["client"], world["id"], world["h"]
    assert client.post(f"/api/v1/requests/{rid}/package", headers=headers).status_code == 201
    started = client.post(f"/api/v1/requests/{rid}/deliveries", headers=headers).json()
    assert started["method"] == "drive"
    return int(started["id"])


def _delivery(world: dict[str, Any], delivery_id: int) -> dict[str, Any]:
    response = world["client"].get(f"/api/v1/deliveries/{delivery_id}", headers=world["h"])
    return dict(response.json())


def _events(world: dict[str, Any], action: str | None = None) -> list[dict[str, Any]]:
    client, rid, headers = world["client"], world["id"], world["h"]
    rows = client.get(f"/api/v1/requests/{rid}/custody", headers=headers).json()
    return [r for r in rows if action is None or r["action"] == action]


def _on_drive(drive: FakeDrive) -> list[dict[str, Any]]:
    """Everything in the Shared Drive: Saksi's request folders and whatever is in them."""
    return list(drive.files.values())


def _items(world: dict[str, Any], delivery_id: int) -> list[DriveItem]:
    with world["runtime"].sessions() as session:
        return delivery_service.drive_items_of(session, delivery_id)


def test_a_non_google_recipient_gets_saksi_download_and_drive_keeps_nothing(
    world: dict[str, Any], drive: FakeDrive
) -> None:
    """Must-show (a): the default policy. The refusal is known from the trial grant on the
    empty folder, so not a byte is uploaded to Drive; the delivery goes on by Saksi's own
    download, and the next purge run deletes the empty folder at once."""
    runtime, clock = world["runtime"], world["clock"]
    drive.non_google.add(RECIPIENT)
    delivery_id = _start(world)

    delivery_service.perform(runtime, delivery_id)

    delivery = _delivery(world, delivery_id)
    assert (delivery["method"], delivery["state"]) == ("local", "shared")
    assert delivery["purge_due_at"] is not None
    assert "diserahkan lewat unduhan Saksi" in delivery["last_error"]  # shown to the operator
    assert drive.stats.sessions_opened == 0
    assert (400, "invalidSharingRequest") in drive.stats.errors_sent
    [refused] = _events(world, "delivery.recipient_unshareable")
    assert refused["event"]["object"]["reason"] == "invalidSharingRequest"
    assert refused["event"]["result"]["policy"] == "local_link"
    [copy] = (runtime.settings.data_dir / "deliveries").rglob(delivery["files"][0]["name"])
    assert delivery["files"][0]["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    [folder] = _on_drive(drive)  # only the empty folder, owned by the purge
    assert folder["id"] in {i.item_id for i in _items(world, delivery_id)}

    report = purge.purge_due(runtime, clock.now())  # at once, not in 14 days

    assert report.failed == {}
    assert _on_drive(drive) == []
    assert {i.outcome for i in _items(world, delivery_id)} == {"deleted", "verified_absent"}
    [swept] = _events(world, "delivery.drive_items_purged")
    assert swept["event"]["result"]["deleted"] == [folder["id"]]
    assert _delivery(world, delivery_id)["state"] == "shared"  # the download lives on

    clock.advance(timedelta(days=14, seconds=1))
    assert purge.purge_due(runtime, clock.now()).purged == [delivery_id]
    assert _delivery(world, delivery_id)["state"] == "purged"
    assert _events(world, "destruction.recorded")
    assert _on_drive(drive) == []


def test_anyone_with_link_policy_shares_the_folder_by_link_only(
    world: dict[str, Any], drive: FakeDrive
) -> None:
    """The office allows it: the package is uploaded and the folder opened to whoever has its
    link, with no user grant and no sendNotificationEmail (Drive's reference: only for user and
    group grants). Drive puts no expiry on such a link; the day-14 purge ends it."""
    runtime, clock = world["runtime"], world["clock"]
    runtime.settings.drive_unshareable_policy = "anyone_with_link"
    drive.non_google.add(RECIPIENT)
    delivery_id = _start(world)

    delivery_service.perform(runtime, delivery_id)

    delivery = _delivery(world, delivery_id)
    assert (delivery["method"], delivery["state"]) == ("drive", "shared")
    assert delivery["expires_at"] is None
    assert "siapa saja yang memiliki" in delivery["last_error"]
    [folder] = [f for f in _on_drive(drive) if "parents" in f and f["mimeType"].endswith("folder")]
    [grant] = drive.permissions[folder["id"]]
    assert (grant["type"], grant["notified"]) == ("anyone", False)
    [shared] = _events(world, "delivery.shared")
    assert shared["event"]["object"]["anyone_with_link"] is True

    clock.advance(timedelta(days=14, seconds=1))
    assert purge.purge_due(runtime, clock.now()).purged == [delivery_id]
    assert _on_drive(drive) == []


def test_every_item_is_on_record_before_it_exists(world: dict[str, Any], drive: FakeDrive) -> None:
    """Issue 16 item 1: the folder's and every upload attempt's ids come from files.generateIds
    and are committed before the folder is created; the file Drive holds is one of them."""
    runtime = world["runtime"]
    delivery_id = _start(world)

    delivery_service.perform(runtime, delivery_id)

    [reserved] = _events(world, "delivery.drive_items_reserved")
    ids = {reserved["event"]["result"]["folder"], *reserved["event"]["result"]["files"]}
    assert {f["id"] for f in _on_drive(drive)} <= ids
    assert len(_on_drive(drive)) == 2  # the folder and the verified copy
    actions = [e["action"] for e in _events(world)]
    assert actions.index("delivery.drive_items_reserved") < actions.index("delivery.shared")
    requests = [path for _, path in drive.stats.requests if "/token" not in path]
    assert requests.index("/drive/v3/files/generateIds") < requests.index("/drive/v3/files")


def test_an_abandoned_delivery_is_purged_when_its_ttl_runs_out(
    world: dict[str, Any], drive: FakeDrive
) -> None:
    """A worker died after making the folder (killed mid-upload, say): the delivery stays
    pending for ever, but its reserved items are due after the TTL like any delivery, and the
    purge deletes them without writing a destruction record (nothing was handed over)."""
    runtime, clock = world["runtime"], world["clock"]
    delivery_id = _start(world)
    with drive_backend(runtime) as backend:  # the worker's first steps, then it is gone
        folder_id, _ = delivery_service._reserve_drive_items(runtime, backend, delivery_id)
        backend.create_container(f"SKS-{clock.now().year}-{world['id']:05d}", folder_id)
    assert [f["id"] for f in _on_drive(drive)] == [folder_id]

    clock.advance(timedelta(days=14, seconds=1))
    report = purge.purge_due(runtime, clock.now())

    assert report.purged == [delivery_id]
    assert _on_drive(drive) == []
    delivery = _delivery(world, delivery_id)
    assert delivery["state"] == "failed"
    assert delivery["last_error"].startswith("Abandoned")
    assert not _events(world, "destruction.recorded")
    assert all(i.outcome for i in _items(world, delivery_id))


def test_lost_access_leaves_the_fallback_leftovers_on_record_and_alerts(
    world: dict[str, Any], drive: FakeDrive
) -> None:
    """The empty folder of a fallen-back delivery cannot be purged while Drive answers 404 for
    its parent too: nothing is claimed, the failure is on record and, past the grace, alerts."""
    runtime, clock, client = world["runtime"], world["clock"], world["client"]
    drive.non_google.add(RECIPIENT)
    delivery_id = _start(world)
    delivery_service.perform(runtime, delivery_id)
    drive.faults.lost_access = True

    report = purge.purge_due(runtime, clock.now())

    assert "DriveAccessLost" in report.failed[delivery_id]
    [failed] = _events(world, "delivery.purge_failed")
    assert (failed["event"]["object"]["scope"], failed["event"]["object"]["error"]) == (
        "drive_items", "DriveAccessLost"
    )  # fmt: skip
    assert not _events(world, "delivery.drive_items_purged")
    assert all(i.outcome is None for i in _items(world, delivery_id))
    clock.advance(timedelta(minutes=runtime.settings.purge_alert_minutes + 1))
    assert any("purge" in alert for alert in client.get("/readyz").json().get("alerts", []))

    drive.faults.lost_access = False
    assert purge.purge_due(runtime, clock.now()).failed == {}
    assert _on_drive(drive) == []
