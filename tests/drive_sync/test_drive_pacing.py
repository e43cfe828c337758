"""Drive's pacing rules (issue 16): `Retry-After` on 429 and 503 is honoured (a 429 with
`Retry-After: 5` used to be retried after 0.5-2 s), other failures back off exponentially with
jitter, and `sendNotificationEmail` goes only with user and group grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from drive_sync import DriveBackend, DriveConfig, load_credentials
from drive_sync._retry import retry_after_seconds
from tests.fakes.drive import FakeDrive

NOW = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(("status", "fault"), [(429, "too_many_requests"), (503, "unavailable")])
def test_retry_after_is_waited_exactly(
    fake: FakeDrive, backend: DriveBackend, config: DriveConfig, status: int, fault: str
) -> None:
    slept: list[float] = []
    config.retry.sleep = slept.append  # the clock the policy waits on, under the test's control
    setattr(fake.faults, fault, 1)
    fake.faults.retry_after = "5"

    folder = backend.create_container("SKS-2026-00042")

    assert folder.id in fake.files
    assert (status, "rateLimitExceeded" if status == 429 else "backendError") in (
        fake.stats.errors_sent
    )
    assert slept == [5.0]


def test_an_upload_chunk_answered_429_waits_as_told(
    fake: FakeDrive, backend: DriveBackend, config: DriveConfig, tmp_path: Path
) -> None:
    slept: list[float] = []
    config.retry.sleep = slept.append
    folder = backend.create_container("SKS-2026-00043")
    clip = tmp_path / "klip.mp4"
    clip.write_bytes(b"\x00" * 1000)
    fake.faults.too_many_requests, fake.faults.retry_after = 1, "7"

    backend.upload(folder, clip)

    assert slept == [7.0]


def test_without_retry_after_it_backs_off_exponentially_with_jitter(
    fake: FakeDrive, backend: DriveBackend, config: DriveConfig
) -> None:
    slept: list[float] = []
    config.retry.sleep = slept.append
    fake.faults.too_many_requests = 3
    backend.create_container("SKS-2026-00044")
    base = config.retry.base
    assert len(slept) == 3
    for attempt, pause in enumerate(slept):
        floor = min(config.retry.cap, base * 2**attempt)
        assert floor <= pause <= floor + base


def test_a_retry_after_date_is_reckoned_on_the_policy_clock(
    fake: FakeDrive, backend: DriveBackend, config: DriveConfig
) -> None:
    """The server's date form of `Retry-After`: the wait is that date minus the policy's clock
    (not the machine's), so a test's clock decides it exactly."""
    slept: list[float] = []
    config.retry.sleep, config.retry.clock = slept.append, lambda: NOW
    fake.faults.unavailable = 1
    fake.faults.retry_after = format_datetime(NOW + timedelta(seconds=42), usegmt=True)

    backend.create_container("SKS-2026-00046")

    assert slept == [42.0]


def test_a_retry_after_beyond_the_cap_is_cut_to_it(
    fake: FakeDrive, backend: DriveBackend, config: DriveConfig
) -> None:
    slept: list[float] = []
    config.retry.sleep, config.retry.max_retry_after = slept.append, 90.0
    fake.faults.too_many_requests, fake.faults.retry_after = 1, "86400"

    backend.create_container("SKS-2026-00047")

    assert slept == [90.0]


def test_retry_after_as_an_http_date() -> None:
    later = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(later, NOW) == 30.0
    assert retry_after_seconds("12", NOW) == 12.0
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None


def test_anyone_with_link_is_shared_without_a_notification_parameter(
    fake: FakeDrive, sa_key: Path, config: DriveConfig
) -> None:
    config.anyone_with_link = True
    with DriveBackend(load_credentials(sa_key), config) as backend:
        folder = backend.create_container("SKS-2026-00045")
        shared = backend.share(folder, "penyidik@gmail.example", NOW)
    perms = {p["type"]: p for p in fake.permissions[folder.id]}
    assert set(perms) >= {"user", "anyone"}
    assert perms["anyone"]["notified"] is False
    assert len(shared.permission_ids) == 2
