"""E-mail notifications end to end: the SOP's events queue them in their own transaction, the
sender delivers them to a real SMTP server on loopback, once each, whatever the server does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.clock import FrozenClock
from app.db import unit_of_work
from app.notify import outbox, sender, tasks
from app.notify.models import Notification, NotificationKind, NotificationState
from app.runtime import Runtime
from tests.app.factories import (
    PASSWORD,
    Factory,
    multipart,
    request_payload,
    walk_runtime_to_export_step,
)
from tests.app.notify.conftest import SENDER, SmtpServer

CHAIN = (Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG, Role.SUBKOORDINATOR)


@dataclass
class Office:
    people: dict[Role, User]
    agency_id: int
    payload: dict[str, Any]


def address(user: User) -> str:
    return f"{user.username}@cirebonkab.go.id"


@pytest.fixture
def office(factory: Factory, session: Session) -> Office:
    """One user of every role with an address; before them, a Kepala Dinas who left (inactive)
    and one who turned e-mail off: neither hears anything."""
    agency = factory.agency()
    camera = factory.camera(factory.nvr())
    gone, quiet = factory.user(Role.KEPALA_DINAS), factory.user(Role.KEPALA_DINAS)
    people: dict[Role, User] = {
        role: factory.user(role) for role in Role if role is not Role.PEMOHON
    }
    people[Role.PEMOHON] = factory.user(Role.PEMOHON, agency=agency)
    for user in [gone, quiet, *people.values()]:
        user.email = address(user)
    gone.active, quiet.notify_email = False, False
    session.commit()
    return Office(people, agency.id, request_payload(agency, [camera], factory.now))


def register(factory: Factory, office: Office) -> int:
    response = factory.client.post(
        "/api/v1/requests",
        headers=factory.headers(office.people[Role.PEMOHON]),
        **multipart(office.payload),
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def outbox_rows(runtime: Runtime) -> list[Notification]:
    with unit_of_work(runtime.sessions) as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def assert_no_secrets(runtime: Runtime, factory: Factory, smtp: SmtpServer) -> None:
    secrets = [PASSWORD, "nvr-secret-1", *factory._tokens.values()]
    secrets += [runtime.token_key.decode(errors="ignore")]
    for mail in smtp.mailbox.messages:
        text = mail.as_string()
        for secret in secrets:
            assert secret not in text
        assert "token" not in text.lower()
        assert "/unduh/" not in text


def test_a_request_through_the_sop_tells_each_step_holder_in_turn(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer
) -> None:
    rid = register(factory, office)
    walk_runtime_to_export_step(runtime, rid)

    report = sender.send_pending(runtime)

    people = office.people
    expected = [*CHAIN, Role.OPERATOR]
    assert len(report.sent) == 5
    assert not report.retrying
    assert not report.failed
    assert smtp.mailbox.to() == [address(people[role]) for role in expected]
    assert [envelope[0] for envelope in smtp.mailbox.envelopes] == [SENDER] * 5
    number = f"SKS-2026-{rid:05d}"
    assert smtp.mailbox.subjects() == [
        f"[Saksi] {number}: langkah {step} menunggu tindakan Anda" for step in range(2, 7)
    ]
    first = smtp.mailbox.messages[0].get_content()
    assert "Mendisposisikan kepada Sekretaris Dinas" in first
    assert "Batas waktu: 22-11-2026 10:15 WIB (standar SOP 15 menit)" in first
    assert "B/123/XI/2026/Reskrim" in first
    assert_no_secrets(runtime, factory, smtp)
    rows = outbox_rows(runtime)
    assert {row.state for row in rows} == {NotificationState.SENT}
    assert all(row.attempts == 1 and row.sent_at == factory.now for row in rows)
    assert sender.send_pending(runtime).sent == []  # nothing twice


def test_a_returned_request_tells_the_pemohon_why(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer
) -> None:
    rid = register(factory, office)
    response = factory.client.post(
        f"/api/v1/requests/{rid}/return",
        headers=factory.headers(office.people[Role.KEPALA_DINAS]),
        json={"reason": "Surat permohonan belum ditandatangani pejabat berwenang"},
    )
    assert response.status_code == 200, response.text

    sender.send_pending(runtime)

    pemohon = office.people[Role.PEMOHON]
    assert smtp.mailbox.to() == [address(office.people[Role.KEPALA_DINAS]), address(pemohon)]
    returned = smtp.mailbox.messages[1]
    assert returned["Subject"] == f"[Saksi] Permohonan SKS-2026-{rid:05d} dikembalikan"
    body = returned.get_content()
    assert "Alasan: Surat permohonan belum ditandatangani pejabat berwenang" in body
    assert "langkah 2" in body
    assert_no_secrets(runtime, factory, smtp)


def test_an_overdue_step_is_reminded_then_escalated_once(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer, clock: FrozenClock
) -> None:
    rid = register(factory, office)
    kadis, sekretaris = office.people[Role.KEPALA_DINAS], office.people[Role.SEKRETARIS]
    disposed = factory.client.post(
        f"/api/v1/requests/{rid}/dispose", headers=factory.headers(kadis), json={}
    )
    assert disposed.status_code == 200, disposed.text  # step 3 due 15 minutes from now
    assert tasks.check_deadlines() == 0
    clock.advance(timedelta(minutes=7))
    assert tasks.check_deadlines() == 0  # not yet half the standard
    clock.advance(timedelta(minutes=1))
    assert tasks.check_deadlines() == 1  # the reminder
    assert tasks.check_deadlines() == 0
    clock.advance(timedelta(minutes=8))  # 16 minutes: overdue
    assert tasks.check_deadlines() == 1  # the escalation
    assert tasks.check_deadlines() == 0
    clock.advance(timedelta(hours=1))
    assert tasks.check_deadlines() == 0

    tasks.send_pending()

    # Step 2's holder, then step 3's, its reminder, and the escalation one role up.
    assert smtp.mailbox.to() == [address(kadis), address(sekretaris), address(sekretaris),
                                 address(kadis)]  # fmt: skip
    subjects = smtp.mailbox.subjects()
    assert subjects[2] == (
        f"[Saksi] Pengingat: SKS-2026-{rid:05d} langkah 3 jatuh tempo 22-11-2026 10:15 WIB"
    )
    assert subjects[3] == f"[Saksi] Eskalasi: SKS-2026-{rid:05d} langkah 3 melewati batas waktu"
    assert "(1 menit terlambat)" in smtp.mailbox.messages[3].get_content()
    kinds = [row.kind for row in outbox_rows(runtime)]
    assert kinds == [NotificationKind.STEP_DUE, NotificationKind.STEP_DUE,
                     NotificationKind.REMINDER, NotificationKind.ESCALATION]  # fmt: skip
    assert_no_secrets(runtime, factory, smtp)


def test_the_kepala_dinas_late_is_told_himself(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer, clock: FrozenClock
) -> None:
    register(factory, office)
    clock.advance(timedelta(minutes=20))
    assert tasks.check_deadlines() == 1  # past due, no reminder any more: the escalation
    tasks.send_pending()

    kadis = address(office.people[Role.KEPALA_DINAS])
    assert smtp.mailbox.to() == [kadis, kadis]
    assert "langkah 2 melewati batas waktu" in smtp.mailbox.subjects()[1]


def test_an_operator_late_with_the_export_is_escalated_to_the_subkoordinator(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer, clock: FrozenClock
) -> None:
    assigned = factory.user(Role.OPERATOR)  # the walk assigns the last operator created
    assigned.email = address(assigned)
    factory.session.commit()
    rid = register(factory, office)
    walk_runtime_to_export_step(runtime, rid)
    clock.advance(timedelta(hours=12, minutes=1))
    assert tasks.check_deadlines() == 1  # half of the 1440-minute standard: the reminder
    clock.advance(timedelta(hours=12))
    assert tasks.check_deadlines() == 1  # overdue: the escalation
    tasks.send_pending()

    # Step 6 is the assigned operator's alone: the other operator hears nothing.
    assert address(office.people[Role.OPERATOR]) not in smtp.mailbox.to()
    assert smtp.mailbox.to()[-3:] == [
        address(assigned),  # step 6 due
        address(assigned),  # its reminder
        address(office.people[Role.SUBKOORDINATOR]),  # its escalation
    ]
    assert smtp.mailbox.subjects()[-1] == (
        f"[Saksi] Eskalasi: SKS-2026-{rid:05d} langkah 6 melewati batas waktu"
    )


def test_an_smtp_outage_is_retried_and_each_message_delivered_once(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer, clock: FrozenClock
) -> None:
    rid = register(factory, office)
    walk_runtime_to_export_step(runtime, rid)
    smtp.stop()

    first = sender.send_pending(runtime)
    assert len(first.retrying) == 5
    assert not first.sent
    rows = outbox_rows(runtime)
    assert {(row.state, row.attempts) for row in rows} == {(NotificationState.PENDING, 1)}
    assert all(row.last_error and row.claim_token is None for row in rows)
    assert sender.send_pending(runtime).retrying == []  # not due again for 60 s
    clock.advance(timedelta(seconds=61))
    assert len(sender.send_pending(runtime).retrying) == 5  # still down: 2nd try
    clock.advance(timedelta(seconds=61))
    assert sender.send_pending(runtime).retrying == []  # backoff doubled: 120 s

    smtp.start()
    clock.advance(timedelta(seconds=60))
    assert len(sender.send_pending(runtime).sent) == 5
    clock.advance(timedelta(hours=2))
    assert sender.send_pending(runtime).sent == []

    assert len(smtp.mailbox.messages) == 5
    assert len({str(m["Message-ID"]) for m in smtp.mailbox.messages}) == 5
    rows = outbox_rows(runtime)
    assert {(row.state, row.attempts, row.last_error) for row in rows} == {
        (NotificationState.SENT, 3, None)
    }


def test_a_refused_address_fails_for_good_and_the_rest_are_sent(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer
) -> None:
    smtp.mailbox.refuse.add(address(office.people[Role.SEKRETARIS]))
    rid = register(factory, office)
    walk_runtime_to_export_step(runtime, rid)

    report = sender.send_pending(runtime)

    assert len(report.sent) == 4
    assert len(report.failed) == 1
    failed = [row for row in outbox_rows(runtime) if row.state is NotificationState.FAILED]
    assert [row.recipient_address for row in failed] == [address(office.people[Role.SEKRETARIS])]
    assert failed[0].last_error is not None
    assert "550" in failed[0].last_error


def test_a_claimed_row_is_not_claimed_again_until_its_lease_ends(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer
) -> None:
    register(factory, office)
    now = factory.now
    with unit_of_work(runtime.sessions) as session:
        first = sender.claim(session, "a" * 32, now)
    with unit_of_work(runtime.sessions) as session:
        second = sender.claim(session, "b" * 32, now)
    with unit_of_work(runtime.sessions) as session:
        later = sender.claim(session, "c" * 32, now + sender.CLAIM_LEASE + timedelta(seconds=1))

    assert len(first) == 1
    assert second == []
    assert [item.id for item in later] == [item.id for item in first]


def test_the_same_notification_is_never_queued_twice(
    factory: Factory, office: Office, runtime: Runtime
) -> None:
    rid = register(factory, office)
    with unit_of_work(runtime.sessions) as session:
        kwargs: dict[str, Any] = {
            "kind": NotificationKind.STEP_DUE, "dedupe_key": f"step_due:{rid}:2:x",
            "address": "a@b.go.id", "subject": "s", "body": "b", "now": factory.now,
        }  # fmt: skip
        assert outbox.queue(session, **kwargs) is not None
        assert outbox.queue(session, **kwargs) is None
    assert len(outbox_rows(runtime)) == 2


def test_admins_see_every_notification_paged(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer
) -> None:
    rid = register(factory, office)
    walk_runtime_to_export_step(runtime, rid)
    smtp.mailbox.refuse.add(address(office.people[Role.OPERATOR]))
    sender.send_pending(runtime)
    admin = factory.headers(office.people[Role.ADMIN])

    page = factory.client.get("/api/v1/notifications?limit=3", headers=admin)
    assert page.status_code == 200, page.text
    assert len(page.json()) == 3
    assert page.headers["X-Next-Cursor"]
    rest = factory.client.get(
        f"/api/v1/notifications?limit=3&cursor={page.headers['X-Next-Cursor']}", headers=admin
    ).json()
    states = [row["state"] for row in page.json() + rest]
    assert states == ["sent"] * 4 + ["failed"]
    failed = factory.client.get("/api/v1/notifications?state=failed", headers=admin).json()
    assert [row["recipient_address"] for row in failed] == [address(office.people[Role.OPERATOR])]
    assert failed[0]["last_error"]
    assert failed[0]["attempts"] == 1

    for role in (Role.PEMOHON, Role.KEPALA_DINAS, Role.AUDITOR):
        refused = factory.client.get(
            "/api/v1/notifications", headers=factory.headers(office.people[role])
        )
        assert refused.status_code == 403
        assert refused.json()["error"] == "RoleNotPermitted"
