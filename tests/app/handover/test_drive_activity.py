"""Drive Activity on record (issue 16 item 7, must-show h): through the real
google-api-python-client against the fake's `v2/activity:query`, what Drive says happened to a
delivered folder lands in the custody ledger as `delivery.drive_activity` events, once each; the
recipient's actions (not Saksi's own) show on the BAST's public page; the last read happens just
before the purge; credentials without the scope, or a project without the API, skip the read
with a note and never fail."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from app.custody import service as custody
from app.delivery import activity, purge, tasks
from app.delivery import service as delivery_service
from app.delivery.models import Delivery
from app.runtime import set_current
from drive_sync import ActivityReader, ActivityUnavailable, load_credentials
from drive_sync._retry import RetryPolicy
from tests.app.handover.test_drive_delivery import drive, world
from tests.fakes.drive import FakeDrive
from tests.fakes.drive_activity import person
from tests.nvr_sim.conftest import anchor, sim_cache, simulator

__all__ = ["anchor", "drive", "sim_cache", "simulator", "world"]
RECIPIENT = "reskrim@polresta-cirebon.example.go.id"


def _delivered(world: dict[str, Any], drive: FakeDrive) -> tuple[int, str, str]:
    """Package, deliver by Drive, issue the BAST: the delivery, its folder and its ZIP."""
    client, rid, headers = world["client"], world["id"], world["h"]
    assert client.post(f"/api/v1/requests/{rid}/package", headers=headers).status_code == 201
    started = client.post(f"/api/v1/requests/{rid}/deliveries", headers=headers).json()
    delivery_service.perform(world["runtime"], started["id"])
    with world["runtime"].sessions() as session:
        folder = str(session.get(Delivery, started["id"]).container_id)
    [stored] = drive.children(folder)
    assert client.post(f"/api/v1/requests/{rid}/bast", headers=headers).status_code == 201
    return int(started["id"]), folder, stored["id"]


def _activity_events(world: dict[str, Any]) -> list[dict[str, Any]]:
    with world["runtime"].sessions() as session:
        events = custody.events_of_request(session, world["id"])
    return [json.loads(e.canonical) for e in events if e.action == activity.ACTION]


def test_drive_activity_lands_in_the_ledger_once_and_on_the_public_page(
    world: dict[str, Any], drive: FakeDrive
) -> None:
    runtime, client, clock = world["runtime"], world["client"], world["clock"]
    delivery_id, folder, zip_id = _delivered(world, drive)
    clock.advance(timedelta(hours=2))
    drive.act(zip_id, RECIPIENT, {"comment": {"post": {"subtype": "ADDED"}}})
    grantee = {"role": "READER", "user": {"knownUser": {"personName": person(RECIPIENT)}}}
    who = drive.act(folder, RECIPIENT, {"permissionChange": {"removedPermissions": [grantee]}})
    set_current(runtime)

    recorded = tasks.read_drive_activity()  # the periodic job, as a worker runs it

    events = _activity_events(world)
    assert recorded == len(events)
    mine = [e for e in events if e["result"]["by_saksi"]]
    theirs = [e for e in events if not e["result"]["by_saksi"]]
    # Saksi's own steps as Drive saw them: the folder, the upload, the grants.
    assert {e["result"]["action"] for e in mine} >= {"create", "permissionChange"}
    assert [(e["result"]["action"], e["result"]["actors"], e["object"]["item"])
            for e in theirs] == [("comment", [who], zip_id),
                                 ("permissionChange", [who], folder)]  # fmt: skip
    assert all(e["object"]["delivery"] == delivery_id for e in events)
    assert tasks.read_drive_activity() == 0  # nothing twice
    assert len(_activity_events(world)) == recorded

    handover = client.get(f"/api/v1/requests/{world['id']}/bast", headers=world["h"]).json()
    page = client.get(f"/verifikasi/bast/{quote(handover['number'], safe='')}").text
    assert "Tindakan penerima pada folder Google Drive" in page
    assert page.count("Memberi komentar") == 1
    assert page.count("Mengubah akses berbagi") == 1
    assert RECIPIENT not in page  # times and kinds of action, no names

    drive.act(zip_id, RECIPIENT, {"edit": {}})  # just before the 14 days are over
    clock.advance(timedelta(days=14))
    assert purge.purge_due(runtime, clock.now()).purged == [delivery_id]
    last = _activity_events(world)[-1]
    assert (last["result"]["action"], last["result"]["by_saksi"]) == ("edit", False)


def test_a_project_without_the_activity_api_is_skipped_with_a_note(
    world: dict[str, Any], drive: FakeDrive, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = world["runtime"]
    _delivered(world, drive)
    drive.activity.enabled = False

    with caplog.at_level(logging.WARNING):
        report = activity.collect_activity(runtime, world["clock"].now())

    assert (report.deliveries, report.recorded) == (1, 0)
    assert report.skipped is not None
    assert "SERVICE_DISABLED" in report.skipped
    assert "drive.activity.readonly" in report.skipped
    assert report.skipped in caplog.text
    assert _activity_events(world) == []


def test_an_oauth_token_without_the_activity_scope_is_unavailable_not_an_error(
    drive: FakeDrive, tmp_path: Any
) -> None:
    """An office token made with the Drive scope only: the Activity API answers 403
    ACCESS_TOKEN_SCOPE_INSUFFICIENT, which the reader reports as ActivityUnavailable."""
    token = tmp_path / "token.json"
    token.write_text(json.dumps(drive.authorized_user_info()))
    reader = ActivityReader(load_credentials(token), drive.url, RetryPolicy(sleep=lambda _: None))
    with pytest.raises(ActivityUnavailable) as raised:
        reader.since("1abc", None)
    reader.close()
    assert (raised.value.status, raised.value.reason) == (403, "ACCESS_TOKEN_SCOPE_INSUFFICIENT")
