"""Sharing rules: expiry where Drive accepts it, graceful fallback, anyone-with-link mode."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.auth.transport.requests import AuthorizedSession
from googleapiclient.errors import HttpError

from drive_sync import (
    DeliveryError,
    DeliveryRecord,
    DriveBackend,
    DriveConfig,
    JsonFileStateStore,
    build_service,
    load_credentials,
)
from tests.drive_sync.conftest import make_file
from tests.fakes.drive import FakeDrive

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


@pytest.fixture
def drive_client(fake: FakeDrive, sa_key: Path) -> Iterator[Any]:
    service = build_service(load_credentials(sa_key), fake.url)
    yield service
    service.close()


def _create(client: Any, folder: str, body: dict[str, Any]) -> Any:
    perms = client.permissions()
    return perms.create(fileId=folder, body=body, supportsAllDrives=True).execute()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"type": "anyone", "expirationTime": "2026-12-01T00:00:00Z"}, "OnAnyoneOrDomain"),
        ({"type": "user", "expirationTime": "2026-11-20T00:00:00Z"}, "MustBeInTheFuture"),
        ({"type": "user", "expirationTime": "2028-01-01T00:00:00Z"}, "TooFarInFuture"),
    ],
)
def test_fake_enforces_drive_expiry_rules(
    fake: FakeDrive, backend: DriveBackend, drive_client: Any, body: dict[str, Any], reason: str
) -> None:
    fake.now = lambda: NOW
    folder = backend.create_container("R-20")
    full = {"role": "reader", "emailAddress": "a@example.go.id", **body}
    if body["type"] == "anyone":
        del full["emailAddress"]
    with pytest.raises(HttpError) as info:
        _create(drive_client, folder.id, full)
    assert reason in info.value.content.decode()
    assert fake.permissions[folder.id] == []


def test_domain_refusing_expiry_falls_back_to_plain_reader(
    backend: DriveBackend, fake: FakeDrive
) -> None:
    fake.now = lambda: NOW
    fake.faults.expiry_refused = True
    folder = backend.create_container("R-21")
    share = backend.share(folder, "a@example.go.id", NOW)
    assert share.expires_at is None
    assert share.purge_due == NOW + timedelta(days=14)  # the purge job still knows when
    [perm] = fake.permissions[folder.id]
    assert "expirationTime" not in perm
    assert perm["id"] == share.permission_ids[0]


def test_an_expiry_refused_on_insert_is_set_by_an_update(
    backend: DriveBackend, fake: FakeDrive
) -> None:
    """Drive has answered cannotSetExpirationOnInsert: the grant is made, then given its expiry."""
    fake.now = lambda: NOW
    fake.faults.expiry_only_on_update = True
    folder = backend.create_container("R-23")

    share = backend.share(folder, "a@example.go.id", NOW)

    assert share.expires_at == NOW + timedelta(days=14)
    [perm] = fake.permissions[folder.id]
    assert perm["expirationTime"].startswith((NOW + timedelta(days=14)).strftime("%Y-%m-%dT"))


def test_anyone_with_link_has_no_expiry_and_only_purge_ends_it(
    fake: FakeDrive, sa_key: Path, config: DriveConfig, tmp_path: Path
) -> None:
    fake.now = lambda: NOW
    config.anyone_with_link = True
    config.send_notification_email = True
    store = JsonFileStateStore(tmp_path / "s.json")
    with DriveBackend(load_credentials(sa_key), config, store) as backend:
        folder = backend.create_container("R-22")
        up = backend.upload(folder, make_file(tmp_path / "a.bin", 100))
        share = backend.share(folder, "a@example.go.id", NOW)
        kinds = {p["type"]: p for p in fake.permissions[folder.id]}
        assert set(kinds) == {"user", "anyone"}
        assert "expirationTime" not in kinds["anyone"]
        assert kinds["user"]["notified"] is True
        record = DeliveryRecord("drive", folder.id, (up.file_id,), share.permission_ids)
        assert set(backend.purge(record).revoked_permission_ids) == set(share.permission_ids)
    assert folder.id not in fake.files


def test_folder_name_must_be_a_request_number(backend: DriveBackend) -> None:
    """Guards the SOP rule: no personal data (names with spaces etc.) in Drive names."""
    with pytest.raises(DeliveryError):
        backend.create_container("Budi Santoso - rekaman")


def test_fake_rejects_non_final_chunk_off_the_256k_grid(
    fake: FakeDrive, backend: DriveBackend, sa_key: Path
) -> None:
    folder = backend.create_container("R-23")
    with AuthorizedSession(load_credentials(sa_key)) as http:
        opened = http.post(
            f"{fake.url}/upload/drive/v3/files",
            params={"uploadType": "resumable", "supportsAllDrives": "true"},
            json={"name": "x", "parents": [folder.id]},
            headers={"X-Upload-Content-Length": "300000"},
        )
        chunk = http.put(
            opened.headers["Location"],
            data=b"x" * 100_000,
            headers={"Content-Range": "bytes 0-99999/300000"},
        )
    assert chunk.status_code == 400
    assert "256 KiB" in chunk.text
