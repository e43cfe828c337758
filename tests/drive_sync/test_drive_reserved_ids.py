"""Drive items named before they exist (issue 16 item 1): ids from files.generateIds are put on
record by the caller, then the folder and every upload attempt are created under them, so
nothing Saksi puts on Drive is ever unknown to its database."""

from __future__ import annotations

from pathlib import Path

import pytest

from drive_sync import CHUNK_UNIT, DeliveryRecord, DriveBackend, DriveError
from tests.drive_sync.conftest import make_file
from tests.fakes.drive import FakeDrive


def test_the_folder_and_the_file_take_the_reserved_ids(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path
) -> None:
    folder_id, *file_ids = backend.reserve_ids(1 + backend.upload_attempts)
    src = make_file(tmp_path / "paket.zip", 2 * CHUNK_UNIT + 7)

    folder = backend.create_container("SKS-2026-00101", folder_id)
    result = backend.upload(folder, src, file_ids=file_ids)

    assert folder.id == folder_id
    assert result.file_id == file_ids[0]
    assert fake.content(file_ids[0]) == src.read_bytes()
    assert [f["id"] for f in fake.children(folder_id)] == [file_ids[0]]


def test_a_checksum_retry_uploads_under_the_next_reserved_id(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path
) -> None:
    folder_id, *file_ids = backend.reserve_ids(1 + backend.upload_attempts)
    folder = backend.create_container("SKS-2026-00102", folder_id)
    fake.faults.corrupt_checksums = 1

    result = backend.upload(folder, make_file(tmp_path / "paket.zip", 1000), file_ids=file_ids)

    assert (result.file_id, result.attempts) == (file_ids[1], 2)
    assert file_ids[0] not in fake.files  # the bad copy was deleted
    assert [f["id"] for f in fake.children(folder_id)] == [file_ids[1]]


def test_creating_the_folder_again_reuses_it(backend: DriveBackend, fake: FakeDrive) -> None:
    """A job rerun after a crash creates the folder under the id it recorded: Drive answers
    409 (no duplicate) and the existing folder is used."""
    [folder_id] = backend.reserve_ids(1)
    first = backend.create_container("SKS-2026-00103", folder_id)
    again = backend.create_container("SKS-2026-00103", folder_id)

    assert first.id == again.id == folder_id
    assert (409, "conflict") in fake.stats.errors_sent
    assert [f for f in fake.files.values() if f["name"] == "SKS-2026-00103"] == [
        fake.files[folder_id]
    ]


def test_an_id_drive_did_not_hand_out_is_refused(backend: DriveBackend) -> None:
    with pytest.raises(DriveError) as caught:
        backend.create_container("SKS-2026-00104", "1" + "0" * 32)
    assert caught.value.status == 400


def test_a_reserved_id_never_used_is_verified_absent_by_the_purge(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path
) -> None:
    """Reserved for a checksum retry that was not needed: the purge proves it absent (the
    Shared Drive still answers), it does not claim to have deleted it."""
    folder_id, *file_ids = backend.reserve_ids(1 + backend.upload_attempts)
    folder = backend.create_container("SKS-2026-00105", folder_id)
    backend.upload(folder, make_file(tmp_path / "paket.zip", 1000), file_ids=file_ids)

    removed = backend.purge(DeliveryRecord("drive", folder_id, tuple(file_ids)))

    assert set(removed.deleted_ids) == {folder_id, file_ids[0]}
    assert set(removed.already_gone) == set(file_ids[1:])
    assert fake.children(folder_id) == []
    assert folder_id not in fake.files
