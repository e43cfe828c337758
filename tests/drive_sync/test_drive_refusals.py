"""What Drive refuses, as its guides describe it, through the real client (issue 16): an address
it cannot share with, inherited Shared Drive permissions, and a 404 that may only mean the
caller lost access."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drive_sync import (
    DeliveryRecord,
    DriveAccessLost,
    DriveBackend,
    DriveConfig,
    RecipientUnshareable,
    load_credentials,
)
from tests.drive_sync.conftest import make_file
from tests.fakes.drive import FakeDrive

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
POLICE = "reskrim@polresta-cirebon.example.go.id"


def test_an_address_without_a_google_account_is_unshareable_not_an_expiry_problem(
    backend: DriveBackend, fake: FakeDrive
) -> None:
    """400 invalidSharingRequest used to be taken for an expiry refusal and retried without
    the expiry; it is a refusal of the address, known from a trial on the empty folder."""
    fake.non_google.add(POLICE)
    folder = backend.create_container("SKS-2026-00201")

    with pytest.raises(RecipientUnshareable) as trial:
        backend.check_recipient(folder, POLICE)
    with pytest.raises(RecipientUnshareable):
        backend.share(folder, POLICE, NOW)

    assert trial.value.reason == "invalidSharingRequest"
    assert fake.permissions.get(folder.id, []) == []
    # one refused grant each: no second try without the expiry
    assert fake.stats.errors_sent.count((400, "invalidSharingRequest")) == 2


def test_a_grant_made_whose_invitation_bounced_is_kept(
    fake: FakeDrive, sa_key: Path, config: DriveConfig
) -> None:
    """The error guide's other cause of invalidSharingRequest: the sharing succeeded and only
    the notification e-mail failed. With e-mails on, the grant that exists is used."""
    fake.undeliverable_mail.add("penyidik@kejari.example.go.id")
    config.send_notification_email = True
    with DriveBackend(load_credentials(sa_key), config) as backend:
        folder = backend.create_container("SKS-2026-00202")
        shared = backend.share(folder, "penyidik@kejari.example.go.id", NOW)

    [grant] = fake.permissions[folder.id]
    assert shared.permission_ids == (grant["id"],)
    assert grant["emailAddress"] == "penyidik@kejari.example.go.id"


def test_a_link_only_share_has_no_user_grant_and_no_notification(
    backend: DriveBackend, fake: FakeDrive
) -> None:
    folder = backend.create_container("SKS-2026-00203")

    shared = backend.share_link_only(folder, POLICE, NOW)

    [grant] = fake.permissions[folder.id]
    assert (grant["type"], grant["role"], grant["notified"]) == ("anyone", "reader", False)
    assert (shared.anyone_with_link, shared.expires_at) == (True, None)
    assert shared.url.endswith(folder.id)


def test_inherited_viewer_permissions_are_left_alone_and_the_purge_completes(
    backend: DriveBackend, fake: FakeDrive, config: DriveConfig, tmp_path: Path
) -> None:
    assert config.shared_drive_id is not None
    fake.add_drive_viewer(config.shared_drive_id, "arsip@diskominfo.example.go.id")
    folder = backend.create_container("SKS-2026-00204")
    uploaded = backend.upload(folder, make_file(tmp_path / "paket.zip", 1000))
    shared = backend.share(folder, "penyidik@polres.example.go.id", NOW)

    removed = backend.purge(DeliveryRecord("drive", folder.id, (uploaded.file_id,)))

    assert removed.revoked_permission_ids == shared.permission_ids
    assert set(removed.deleted_ids) == {folder.id, uploaded.file_id}
    assert (403, "cannotDeletePermission") not in fake.stats.errors_sent
    assert fake.files == {}


def test_a_404_without_a_visible_parent_is_lost_access_not_absence(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path
) -> None:
    folder = backend.create_container("SKS-2026-00205")
    uploaded = backend.upload(folder, make_file(tmp_path / "paket.zip", 1000))
    fake.faults.lost_access = True

    with pytest.raises(DriveAccessLost):
        backend.purge(DeliveryRecord("drive", folder.id, (uploaded.file_id,)))

    assert {folder.id, uploaded.file_id} <= set(fake.files)
