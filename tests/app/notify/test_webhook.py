"""The signed webhook against a real HTTP server on loopback: every notification arrives as
JSON whose HMAC-SHA256 the receiver verifies with the shared secret; an outage is retried
without losing or duplicating a delivery; the e-mails go on independently."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from app.auth.models import Role
from app.clock import FrozenClock
from app.db import unit_of_work
from app.notify import sender, tasks, webhook
from app.notify.models import WEBHOOK_ADDRESS, Channel, Notification, NotificationState
from app.runtime import Runtime
from app.settings import Settings
from tests.app.factories import PASSWORD, Factory, walk_runtime_to_export_step
from tests.app.notify.conftest import SENDER
from tests.app.notify.receiver import Receiver
from tests.app.notify.smtp import SmtpServer
from tests.app.notify.test_notifications import CHAIN, Office, register
from tests.app.notify.test_notifications import office as office  # noqa: PLC0414 - fixture

SECRET = "rahasia-webhook-kantor-0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(data_dir: Path, smtp: SmtpServer, receiver: Receiver) -> Settings:
    return Settings(
        data_dir=data_dir, queue_url="memory://", smtp_url=SecretStr(smtp.url), smtp_from=SENDER,
        webhook_url=receiver.url, webhook_secret=SecretStr(SECRET),
        notify_retry_base_seconds=60, notify_retry_cap_seconds=600, notify_max_attempts=5,
        _env_file=None,
    )  # fmt: skip


def verify(body: bytes, headers: dict[str, str]) -> dict[str, object]:
    """What a receiver does (docs/notifications.md): recompute the HMAC of the raw body and
    compare in constant time, then check the signed timestamp against the header's."""
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, headers["X-Saksi-Signature"])
    data: dict[str, object] = json.loads(body)
    assert str(data["timestamp"]) == headers["X-Saksi-Timestamp"]
    assert str(data["id"]) == headers["X-Saksi-Delivery"]
    return data


def test_every_notification_is_posted_signed_once(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer, receiver: Receiver,
    clock: FrozenClock,
) -> None:  # fmt: skip
    rid = register(factory, office)
    walk_runtime_to_export_step(runtime, rid)

    assert tasks.send_pending() == 10  # five e-mails, five webhook deliveries
    assert tasks.send_pending() == 0

    deliveries = [verify(r.body, r.headers) for r in receiver.inbox.received]
    number = f"SKS-2026-{rid:05d}"
    expected_roles = [role.value for role in (*CHAIN, Role.OPERATOR)]
    assert [d["recipient_role"] for d in deliveries] == expected_roles
    assert [d["step"] for d in deliveries] == [2, 3, 4, 5, 6]
    assert {d["kind"] for d in deliveries} == {"step_due"}
    assert {d["request_number"] for d in deliveries} == {number}
    assert [d["subject"] for d in deliveries] == smtp.mailbox.subjects()
    mails = [m.get_content().replace("\r\n", "\n") for m in smtp.mailbox.messages]
    assert [d["text"] for d in deliveries] == mails
    assert deliveries[0]["timestamp"] == int(clock.now().timestamp())
    assert str(deliveries[0]["created_at"]).startswith("2026-11-22T")
    raw = b"".join(r.body for r in receiver.inbox.received).decode()
    for secret in (PASSWORD, SECRET, *factory._tokens.values()):
        assert secret not in raw
    assert "@cirebonkab.go.id" not in raw  # roles, not addresses
    tampered = receiver.inbox.received[0].body.replace(b"langkah 2", b"langkah 9")
    with pytest.raises(AssertionError):
        verify(tampered, receiver.inbox.received[0].headers)


def test_a_receiver_outage_is_retried_without_loss_or_duplicates(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer, receiver: Receiver,
    clock: FrozenClock,
) -> None:  # fmt: skip
    rid = register(factory, office)
    walk_runtime_to_export_step(runtime, rid)
    receiver.inbox.status = 503  # the gateway answers, but is down
    first = webhook.send_pending(runtime)
    assert len(first.retrying) == 5
    assert len(smtp.mailbox.messages) == 0
    receiver.stop()  # then it is gone altogether
    clock.advance(timedelta(seconds=61))
    assert len(webhook.send_pending(runtime).retrying) == 5
    clock.advance(timedelta(seconds=61))
    assert webhook.send_pending(runtime).retrying == []  # backoff doubled: 120 s

    receiver.inbox.status = 200
    receiver.start()
    clock.advance(timedelta(seconds=60))
    assert len(webhook.send_pending(runtime).sent) == 5
    clock.advance(timedelta(hours=2))
    assert webhook.send_pending(runtime).sent == []

    ids = [verify(r.body, r.headers)["id"] for r in receiver.inbox.received]
    assert len(ids) == len(set(ids)) == 5
    with unit_of_work(runtime.sessions) as session:
        rows = list(session.scalars(select(Notification).order_by(Notification.id)))
    hooks = [row for row in rows if row.channel is Channel.WEBHOOK]
    assert {(row.state, row.attempts, row.last_error) for row in hooks} == {
        (NotificationState.SENT, 3, None)
    }
    assert all(row.recipient_address == WEBHOOK_ADDRESS for row in hooks)
    # The e-mails, their own rows, were never held back by the webhook's outage.
    emails = [row for row in rows if row.channel is Channel.EMAIL]
    assert [(row.state, row.attempts) for row in emails] == [(NotificationState.PENDING, 0)] * 5
    assert len(sender.send_pending(runtime).sent) == 5
    assert len(smtp.mailbox.messages) == 5
