"""A Google Drive delivery from the service: the real client against the protocol-level fake.

The letter asks for Google Drive and the office configured it: the package is uploaded in
resumable chunks, checked against Drive's SHA-256 before any permission exists, shared with the
recipient until day 14, named in the BAST, and deleted with its grants by the purge.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth.models import Role
from app.cameras.models import NvrVendor
from app.clock import FrozenClock
from app.db import unit_of_work
from app.delivery import purge
from app.delivery import service as delivery_service
from app.delivery.models import Delivery
from app.demo import NvrEndpoint, sample_request, seed
from app.exports import pipeline
from app.main import create_app
from app.requests.models import DeliveryMethod, EvidenceRequest
from app.runtime import build_runtime, set_current
from app.settings import Settings
from nvr_sim import NvrSimulator
from tests.app.factories import bearer, walk_runtime_to_export_step
from tests.fakes.drive import FakeDrive
from tests.nvr_sim.conftest import PASSWORD, USER, anchor, sim_cache, simulator

__all__ = ["anchor", "sim_cache", "simulator"]


@pytest.fixture
def drive(tmp_path: Path) -> Iterator[FakeDrive]:
    store = tmp_path / "fake-drive"
    store.mkdir()
    with FakeDrive(store) as fake:
        yield fake


@pytest.fixture
def world(
    fresh_database_url: str, tmp_path: Path, simulator: NvrSimulator, anchor: datetime,
    drive: FakeDrive,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    key = tmp_path / "service-account.json"
    key.write_text(json.dumps(drive.service_account_info()))
    settings = Settings(
        data_dir=tmp_path / "data", database_url=fresh_database_url, queue_url="memory://",
        delivery_backend="drive",
        drive_credentials_file=key, drive_shared_drive_id=drive.add_shared_drive(),
        drive_api_endpoint=drive.url, drive_activity_api_endpoint=drive.url, _env_file=None,
    )  # fmt: skip
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    runtime = build_runtime(settings, clock=clock)
    ends = simulator.endpoints
    endpoint = NvrEndpoint("127.0.0.1", ends.http_port, ends.rtsp_port, USER, PASSWORD,
                           vendor=NvrVendor.ONVIF)  # fmt: skip
    demo = seed(runtime, endpoint)
    demo.camera_ids = demo.camera_ids[:1]
    rid = sample_request(runtime, demo, (anchor, anchor + timedelta(seconds=6)))
    with unit_of_work(runtime.sessions) as session:
        request = session.get(EvidenceRequest, rid)
        assert request is not None
        request.delivery_method = DeliveryMethod.GOOGLE_DRIVE
    walk_runtime_to_export_step(runtime, rid)
    with TestClient(create_app(runtime)) as client:
        headers = bearer(runtime, Role.OPERATOR)
        for export in client.post(f"/api/v1/requests/{rid}/exports", headers=headers).json():
            pipeline.run(runtime, export["id"], "test-worker")
        assert client.post(f"/api/v1/requests/{rid}/complete", json={}, headers=headers).is_success
        yield {"runtime": runtime, "client": client, "id": rid, "clock": clock, "h": headers}
    runtime.close()
    set_current(None)


def test_drive_delivery_is_verified_shared_named_in_the_bast_and_purged(
    world: dict[str, Any], drive: FakeDrive
) -> None:
    runtime, client, rid, headers = world["runtime"], world["client"], world["id"], world["h"]
    package = client.post(f"/api/v1/requests/{rid}/package", headers=headers).json()
    started = client.post(f"/api/v1/requests/{rid}/deliveries", headers=headers).json()
    delivery_service.perform(runtime, started["id"])

    delivery = client.get(f"/api/v1/deliveries/{started['id']}", headers=headers).json()
    assert started["method"] == "drive"
    assert started["link"] is None  # Drive links are Drive's: nothing minted by Saksi
    assert delivery["state"] == "shared"
    [uploaded] = delivery["files"]
    assert uploaded["sha256"] == uploaded["remote_checksum"] == package["zip_sha256"]
    assert uploaded["algorithm"] == "sha256"
    [folder] = [f for f in drive.files.values() if f.get("name") == f"SKS-{_year()}-{rid:05d}"]
    [stored] = drive.children(folder["id"])
    assert drive.content(stored["id"]) == (runtime.settings.data_dir / "packages" /
                                           f"SKS-{_year()}-{rid:05d}.zip").read_bytes()  # fmt: skip
    grants = drive.permissions[folder["id"]]
    reader = [
        p for p in grants if p.get("emailAddress") == "reskrim@polresta-cirebon.example.go.id"
    ]
    assert reader
    assert reader[0]["role"] == "reader"

    bast = client.post(f"/api/v1/requests/{rid}/bast", headers=headers)
    pdf = client.get(f"/api/v1/requests/{rid}/bast.pdf", headers=headers).content
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()  # fmt: skip
    assert bast.status_code == 201
    assert "Google Drive" in text
    assert "14" in text

    world["clock"].advance(timedelta(days=14, seconds=1))
    report = purge.purge_due(runtime, world["clock"].now())
    again = purge.purge_due(runtime, world["clock"].now())

    assert report.purged == [started["id"]]
    assert again.due == []
    assert stored["id"] not in drive.files
    assert not drive.permissions.get(folder["id"])


def _year() -> int:
    return datetime.now(UTC).year


def test_a_refused_credential_fails_the_delivery_on_record(
    world: dict[str, Any], drive: FakeDrive
) -> None:
    """The key was revoked in Google Cloud: google-auth's RefreshError, not a Drive answer."""
    runtime, client, rid, headers = world["runtime"], world["client"], world["id"], world["h"]
    client.post(f"/api/v1/requests/{rid}/package", headers=headers)
    started = client.post(f"/api/v1/requests/{rid}/deliveries", headers=headers).json()
    drive.trusted_keys.clear()

    with pytest.raises(Exception, match="invalid_grant"):
        delivery_service.perform(runtime, started["id"])

    delivery = client.get(f"/api/v1/deliveries/{started['id']}", headers=headers).json()
    assert delivery["state"] == "failed"
    assert "RefreshError" in delivery["last_error"]
    events = client.get(f"/api/v1/requests/{rid}/custody", headers=headers).json()
    assert [e["action"] for e in events][-1] == "delivery.failed"


def _delivered(world: dict[str, Any], drive: FakeDrive) -> tuple[int, str, str]:
    """Package, deliver to Drive; the delivery id, its folder id and its file id."""
    runtime, client, rid, headers = world["runtime"], world["client"], world["id"], world["h"]
    client.post(f"/api/v1/requests/{rid}/package", headers=headers)
    started = client.post(f"/api/v1/requests/{rid}/deliveries", headers=headers).json()
    delivery_service.perform(runtime, started["id"])
    [folder] = [f for f in drive.files.values() if f.get("name") == f"SKS-{_year()}-{rid:05d}"]
    [stored] = drive.children(folder["id"])
    return started["id"], folder["id"], stored["id"]


def _actions(world: dict[str, Any]) -> list[str]:
    client, rid, headers = world["client"], world["id"], world["h"]
    return [e["action"] for e in client.get(f"/api/v1/requests/{rid}/custody",
                                            headers=headers).json()]  # fmt: skip


def test_a_shared_drive_viewer_member_does_not_stop_the_purge(
    world: dict[str, Any], drive: FakeDrive
) -> None:
    """Issue 16: revoke deleted every reader it listed, including the permission a Viewer
    member inherits from the Shared Drive; Drive refused (403), the files stayed."""
    runtime = world["runtime"]
    drive_id = runtime.settings.drive_shared_drive_id
    drive.add_drive_viewer(drive_id, "arsip@diskominfo.example.go.id")
    delivery_id, folder_id, file_id = _delivered(world, drive)

    world["clock"].advance(timedelta(days=14, seconds=1))
    report = purge.purge_due(runtime, world["clock"].now())

    assert report.purged == [delivery_id], report.failed
    assert folder_id not in drive.files
    assert file_id not in drive.files
    assert (403, "cannotDeletePermission") not in drive.stats.errors_sent
    assert "destruction.recorded" in _actions(world)


def test_lost_access_fails_the_purge_on_record_and_claims_no_deletion(
    world: dict[str, Any], drive: FakeDrive
) -> None:
    """Issue 16: with the service account removed from the Shared Drive every item answered
    404, the purge recorded `already_gone` and a destruction record listing the ZIP as deleted
    while it still existed."""
    runtime, client, headers = world["runtime"], world["client"], world["h"]
    delivery_id, folder_id, file_id = _delivered(world, drive)
    drive.faults.lost_access = True

    world["clock"].advance(timedelta(days=14, seconds=1))
    report = purge.purge_due(runtime, world["clock"].now())

    assert report.purged == []
    assert "DriveAccessLost" in report.failed[delivery_id]
    assert {folder_id, file_id} <= set(drive.files)  # still there: nothing was claimed
    actions = _actions(world)
    assert actions[-1] == "delivery.purge_failed"
    ledger = client.get(f"/api/v1/requests/{world['id']}/custody", headers=headers).json()
    [failed] = [e for e in ledger if e["action"] == "delivery.purge_failed"]
    assert failed["event"]["object"]["error"] == "DriveAccessLost"
    assert "delivery.purged" not in actions
    assert "destruction.recorded" not in actions
    delivery = client.get(f"/api/v1/deliveries/{delivery_id}", headers=headers).json()
    assert delivery["state"] == "shared"
    with runtime.sessions() as session:
        stored = session.get(Delivery, delivery_id)
        assert stored is not None
        assert stored.destruction_path is None
    world["clock"].advance(timedelta(minutes=runtime.settings.purge_alert_minutes + 1))
    ready = client.get("/readyz").json()
    assert any("purge" in alert for alert in ready.get("alerts", [])), ready

    drive.faults.lost_access = False  # access restored: the next run purges for real
    assert purge.purge_due(runtime, world["clock"].now()).purged == [delivery_id]
    assert file_id not in drive.files


def _drive_items_of(drive: FakeDrive, rid: int) -> list[dict[str, Any]]:
    folders = [f for f in drive.files.values() if f.get("name") == f"SKS-{_year()}-{rid:05d}"]
    return folders + [child for f in folders for child in drive.children(f["id"])]


def test_a_recipient_drive_cannot_share_with_fails_before_upload_and_leaves_nothing(
    world: dict[str, Any], drive: FakeDrive
) -> None:
    """Issue 16: an address with no Google account answered 400 invalidSharingRequest, read as
    an expiry refusal; the delivery failed and its uploaded ZIP and folder stayed on the
    Shared Drive for ever (the folder was never recorded). Here the office's policy is `fail`
    (the default falls back to Saksi's download: test_drive_unshareable.py)."""
    runtime, client, rid, headers = world["runtime"], world["client"], world["id"], world["h"]
    runtime.settings.drive_unshareable_policy = "fail"
    drive.non_google.add("reskrim@polresta-cirebon.example.go.id")  # the letter's recipient
    client.post(f"/api/v1/requests/{rid}/package", headers=headers)
    started = client.post(f"/api/v1/requests/{rid}/deliveries", headers=headers).json()

    with pytest.raises(Exception, match="invalidSharingRequest"):
        delivery_service.perform(runtime, started["id"])

    delivery = client.get(f"/api/v1/deliveries/{started['id']}", headers=headers).json()
    assert delivery["state"] == "failed"
    assert delivery["last_error"].startswith("RecipientUnshareable: Google Drive tidak dapat")
    assert "penyerahan dihentikan" in delivery["last_error"]  # the operator's words
    assert drive.stats.sessions_opened == 0  # the trial grant came before any upload
    actions = _actions(world)
    assert actions[-3:] == [
        "delivery.drive_items_reserved",
        "delivery.recipient_unshareable",
        "delivery.failed",
    ]
    assert _drive_items_of(drive, rid)  # the empty folder, owned by the purge

    report = purge.purge_due(runtime, world["clock"].now())  # due at once, not in 14 days

    assert report.purged == [started["id"]]
    assert _drive_items_of(drive, rid) == []
    assert _actions(world)[-1] == "delivery.purged"
    assert "destruction.recorded" not in _actions(world)  # nothing was handed over


def test_three_checksum_failures_leave_nothing_on_drive(
    world: dict[str, Any], drive: FakeDrive
) -> None:
    """Issue 16: a delivery that failed its checksum three times left an empty folder."""
    runtime, client, rid, headers = world["runtime"], world["client"], world["id"], world["h"]
    client.post(f"/api/v1/requests/{rid}/package", headers=headers)
    started = client.post(f"/api/v1/requests/{rid}/deliveries", headers=headers).json()
    drive.faults.corrupt_checksums = 3

    with pytest.raises(Exception, match="checksum"):
        delivery_service.perform(runtime, started["id"])

    assert client.get(f"/api/v1/deliveries/{started['id']}", headers=headers).json()[
        "state"] == "failed"  # fmt: skip
    assert purge.purge_due(runtime, world["clock"].now()).purged == [started["id"]]
    assert _drive_items_of(drive, rid) == []
    assert purge.purge_due(runtime, world["clock"].now()).due == []  # once
