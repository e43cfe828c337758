"""Notifications the clock queues: the purge warning two days before a delivery's files are
deleted, and the officials' daily digest at the configured local hour; each once."""

from __future__ import annotations

from datetime import timedelta

from app.auth.models import Role
from app.clock import FrozenClock
from app.db import unit_of_work
from app.delivery.models import Delivery, DeliveryState
from app.notify import tasks
from app.runtime import Runtime
from tests.app.factories import Factory
from tests.app.notify.smtp import SmtpServer
from tests.app.notify.test_notifications import Office, address, assert_no_secrets, register
from tests.app.notify.test_notifications import office as office  # noqa: PLC0414 - fixture

RECIPIENT = "bripka.andi@polres-cirebon.example.go.id"


def shared_delivery(runtime: Runtime, request_id: int, by: int, purge_in: timedelta) -> int:
    """A delivery shared now and purged `purge_in` from now, as app.delivery records one."""
    now = runtime.clock.now()
    with unit_of_work(runtime.sessions) as session:
        delivery = Delivery(
            request_id=request_id, method="local", state=DeliveryState.SHARED,
            recipient=RECIPIENT, container_id="SKS-2026-00001", url=None, files=[], file_ids=[],
            permission_ids=[], created_at=now, created_by_id=by, shared_at=now,
            expires_at=now + purge_in, purge_due_at=now + purge_in, purge_attempts=0,
        )  # fmt: skip
        session.add(delivery)
        session.flush()
        return delivery.id


def test_the_recipient_is_warned_once_two_days_before_the_purge(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer, clock: FrozenClock
) -> None:
    rid = register(factory, office)
    operator = office.people[Role.OPERATOR].id
    shared_delivery(runtime, rid, operator, timedelta(days=14))
    assert tasks.purge_warnings() == 0  # 14 days ahead
    clock.advance(timedelta(days=11, hours=23))
    assert tasks.purge_warnings() == 0  # 2 days and 1 hour ahead
    clock.advance(timedelta(hours=1, minutes=15))
    assert tasks.purge_warnings() == 1
    clock.advance(timedelta(hours=6))
    assert tasks.purge_warnings() == 0  # once per delivery
    clock.advance(timedelta(days=3))
    assert tasks.purge_warnings() == 0  # past the purge: nothing to warn of

    tasks.send_pending()

    warnings = [m for m in smtp.mailbox.messages if str(m["To"]) == RECIPIENT]
    assert len(warnings) == 1
    subject = " ".join(str(warnings[0]["Subject"]).split())
    number = f"SKS-2026-{rid:05d}"
    assert subject == f"[Saksi] Rekaman {number} akan dimusnahkan pada 06-12-2026 10:00 WIB"
    body = warnings[0].get_content()
    assert "akan dimusnahkan pada 06-12-2026 10:00 WIB" in body
    assert "http://127.0.0.1:8000" in body  # the portal's address
    assert "B/123/XI/2026/Reskrim" in body
    assert_no_secrets(runtime, factory, smtp)


def test_officials_get_one_digest_a_day_at_the_configured_hour(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer, clock: FrozenClock
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"notify_digest_hour": 11})
    rid = register(factory, office)
    kadis, sekretaris = office.people[Role.KEPALA_DINAS], office.people[Role.SEKRETARIS]
    disposed = factory.client.post(
        f"/api/v1/requests/{rid}/dispose", headers=factory.headers(kadis), json={}
    )
    assert disposed.status_code == 200, disposed.text  # step 3 (sekretaris) due 10:15 WIB
    assert tasks.daily_digest() == 0  # 10:00 WIB: before the hour
    clock.advance(timedelta(hours=1))  # 11:00 WIB: step 3 is 45 minutes late
    assert tasks.daily_digest() == 2  # the sekretaris, and the kepala dinas above
    assert tasks.daily_digest() == 0  # once a day
    clock.advance(timedelta(hours=12, minutes=59))  # 23:59 WIB, the same day
    assert tasks.daily_digest() == 0
    clock.advance(timedelta(hours=11))  # 10:59 WIB the next day: before the hour
    assert tasks.daily_digest() == 0
    clock.advance(timedelta(minutes=1))
    assert tasks.daily_digest() == 2

    tasks.send_pending()

    digests = [m for m in smtp.mailbox.messages if "Ringkasan harian" in str(m["Subject"])]
    assert [str(m["To"]) for m in digests] == [address(kadis), address(sekretaris)] * 2
    subjects = [" ".join(str(m["Subject"]).split()) for m in digests]
    assert subjects[:2] == [
        "[Saksi] Ringkasan harian 22-11-2026: 0 menunggu, 1 terlambat",
        "[Saksi] Ringkasan harian 22-11-2026: 1 menunggu, 1 terlambat",
    ]
    assert subjects[2].startswith("[Saksi] Ringkasan harian 23-11-2026:")
    body = digests[1].get_content()
    number = f"SKS-2026-{rid:05d}"
    assert f"- {number} (Polres Cirebon Kota), langkah 3: " in body
    assert "batas waktu 22-11-2026 10:15 WIB, terlambat 45 menit" in body
    # The quiet and the departed kepala dinas (office fixture) hear nothing; nor do the
    # kepala bidang and subkoordinator, with nothing waiting on them or late below them.
    assert len(digests) == 4
    assert_no_secrets(runtime, factory, smtp)
