"""Uploads through the real googleapiclient/google-auth against the protocol-level fake."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drive_sync import (
    CHUNK_UNIT,
    ChecksumMismatch,
    DeliveryRecord,
    DriveBackend,
    DriveConfig,
    DriveQuotaExceeded,
    DriveRateLimited,
    MemoryStateStore,
    load_credentials,
)
from tests.drive_sync.conftest import make_file
from tests.fakes.drive import FakeDrive

SIZE = 5 * CHUNK_UNIT + 12_345  # five full chunks and a short tail


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_verifies_and_shares_with_expiry(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path
) -> None:
    src = make_file(tmp_path / "export-01.mp4", SIZE)
    folder = backend.create_container("SAKSI-2026-0007")
    result = backend.upload(folder, src)
    assert fake.content(result.file_id) == src.read_bytes()
    assert result.local_sha256 == result.remote_checksum == _sha256(src)
    assert (result.remote_algorithm, result.attempts, result.bytes_sent) == ("sha256", 1, SIZE)
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    fake.now = lambda: now
    share = backend.share(folder, "penyidik@polres.example.go.id", now)
    [perm] = fake.permissions[folder.id]
    assert perm["expirationTime"] == "2026-12-08T10:00:00.000Z"
    assert (perm["type"], perm["role"], perm["notified"]) == ("user", "reader", False)
    assert share.expires_at == share.purge_due == now + timedelta(days=14)
    assert fake.files[folder.id]["name"] == "SAKSI-2026-0007"
    assert fake.files[folder.id]["driveId"] == backend.config.shared_drive_id
    assert fake.stats.missing_all_drives == []
    assert fake.stats.chunk_puts == 6
    assert ("POST", "/upload/drive/v3/files") in fake.stats.requests


def test_resume_after_injected_503(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path, waits: list[float]
) -> None:
    src = make_file(tmp_path / "a.bin", SIZE)
    fake.faults.chunk_status = {2: 503}
    result = backend.upload(backend.create_container("R-1"), src)
    assert fake.content(result.file_id) == src.read_bytes()
    assert (503, "backendError") in fake.stats.errors_sent
    assert fake.stats.status_queries == 1  # asked where the session stood
    assert fake.stats.sessions_opened == 1
    assert fake.stats.bytes_received == SIZE + CHUNK_UNIT  # only the failed chunk again
    assert len(waits) == 1


def test_rate_limit_backs_off_then_succeeds(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path, waits: list[float]
) -> None:
    src = make_file(tmp_path / "a.bin", SIZE)
    folder = backend.create_container("R-2")
    fake.faults.rate_limited = 2
    fake.faults.too_many_requests = 1
    result = backend.upload(folder, src)
    assert result.local_sha256 == _sha256(src)
    assert [e for e in fake.stats.errors_sent if e[1] == "rateLimitExceeded"] == [
        (403, "rateLimitExceeded"),
        (403, "rateLimitExceeded"),
        (429, "rateLimitExceeded"),
    ]
    assert len(waits) == 3
    policy = backend.config.retry
    for attempt, wait in enumerate(waits):
        assert min(policy.cap, policy.base * 2**attempt) <= wait <= policy.cap + policy.base


def test_rate_limit_that_never_ends_raises(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path, waits: list[float]
) -> None:
    folder = backend.create_container("R-3")
    fake.faults.rate_limited = 100
    with pytest.raises(DriveRateLimited):
        backend.upload(folder, make_file(tmp_path / "a.bin", 1000))
    assert len(waits) == backend.config.retry.max_attempts - 1


def test_lost_session_restarts_from_zero(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path
) -> None:
    src = make_file(tmp_path / "a.bin", SIZE)
    fake.faults.session_gone_at_chunk = 3
    result = backend.upload(backend.create_container("R-4"), src)
    assert fake.content(result.file_id) == src.read_bytes()
    assert fake.stats.sessions_opened == 2
    assert result.local_sha256 == result.remote_checksum == _sha256(src)


def test_quota_exceeded_stops_with_clear_error(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path, waits: list[float]
) -> None:
    folder = backend.create_container("R-5")
    fake.faults.quota_exceeded = True
    with pytest.raises(DriveQuotaExceeded, match="storageQuotaExceeded") as info:
        backend.upload(folder, make_file(tmp_path / "a.bin", 1000))
    assert "retrying will not help" in str(info.value)
    assert waits == []


def test_corrupted_checksum_creates_no_permission(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path
) -> None:
    src = make_file(tmp_path / "a.bin", SIZE)
    folder = backend.create_container("R-6")
    fake.faults.corrupt_checksums = 10
    with pytest.raises(ChecksumMismatch) as info:
        backend.upload(folder, src)
    assert info.value.local == _sha256(src) != info.value.remote
    assert fake.children(folder.id) == []  # every bad copy was deleted
    assert fake.stats.sessions_opened == backend.config.checksum_retries + 1
    assert all(perms == [] for perms in fake.permissions.values())


def test_one_corrupted_copy_is_replaced(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path
) -> None:
    src = make_file(tmp_path / "a.bin", 3 * CHUNK_UNIT)
    folder = backend.create_container("R-7")
    fake.faults.corrupt_checksums = 1
    result = backend.upload(folder, src)
    assert result.attempts == 2
    assert [f["id"] for f in fake.children(folder.id)] == [result.file_id]


def test_md5_is_the_fallback_when_drive_has_no_sha256(
    backend: DriveBackend, fake: FakeDrive, tmp_path: Path
) -> None:
    src = make_file(tmp_path / "a.bin", 1000)
    fake.faults.no_sha256 = True
    result = backend.upload(backend.create_container("R-8"), src)
    assert result.remote_algorithm == "md5"
    assert result.remote_checksum == hashlib.md5(src.read_bytes()).hexdigest()
    assert result.local_sha256 == _sha256(src)


def test_oauth_user_token_works(fake: FakeDrive, config: DriveConfig, tmp_path: Path) -> None:
    token_file = tmp_path / "token.json"
    token_file.write_text(json.dumps(fake.authorized_user_info()))
    with DriveBackend(load_credentials(token_file), config, MemoryStateStore()) as backend:
        folder = backend.create_container("R-9")
        result = backend.upload(folder, make_file(tmp_path / "a.bin", 1000))
    assert fake.content(result.file_id) == (tmp_path / "a.bin").read_bytes()
    assert fake.stats.tokens_issued == 1


def test_purge_is_idempotent(backend: DriveBackend, fake: FakeDrive, tmp_path: Path) -> None:
    folder = backend.create_container("R-10")
    up = backend.upload(folder, make_file(tmp_path / "a.bin", 1000))
    share = backend.share(folder, "a@example.go.id", datetime.now(UTC))
    record = DeliveryRecord("drive", folder.id, (up.file_id,), share.permission_ids)
    assert backend.status(record).exists
    first = backend.purge(record)
    assert first.revoked_permission_ids == share.permission_ids
    assert set(first.deleted_ids) == {up.file_id, folder.id}
    assert folder.id not in fake.files
    assert up.file_id not in fake.files
    assert not (fake.root / up.file_id).exists()
    again = backend.purge(record)
    assert (again.revoked_permission_ids, again.deleted_ids) == ((), ())
    assert set(again.already_gone) == {up.file_id, folder.id}
    assert not backend.status(record).exists
