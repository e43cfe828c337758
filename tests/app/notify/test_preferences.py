"""Each user turns e-mail on or off in their own profile (PATCH /api/v1/auth/me), an admin can
too (PATCH /api/v1/users/{id}); the sender honours it; admins see what was sent or failed on
the admin page."""

from __future__ import annotations

import re

from app.auth.models import Role
from app.notify import sender
from app.runtime import Runtime
from tests.app.factories import PASSWORD, Factory, walk_runtime_to_export_step
from tests.app.notify.smtp import SmtpServer
from tests.app.notify.test_notifications import Office, address, register
from tests.app.notify.test_notifications import office as office  # noqa: PLC0414 - fixture


def test_a_user_who_turns_email_off_gets_none_until_an_admin_turns_it_on(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer
) -> None:
    sekretaris, admin = office.people[Role.SEKRETARIS], office.people[Role.ADMIN]
    me = factory.client.get("/api/v1/auth/me", headers=factory.headers(sekretaris)).json()
    assert me["notify_email"] is True
    off = factory.client.patch(
        "/api/v1/auth/me", headers=factory.headers(sekretaris), json={"notify_email": False}
    )
    assert off.status_code == 200, off.text
    assert off.json()["notify_email"] is False
    sneaky = factory.client.patch(
        "/api/v1/auth/me", headers=factory.headers(sekretaris), json={"role": "admin"}
    )
    assert sneaky.status_code == 422  # only the address and the preference

    first = register(factory, office)
    walk_runtime_to_export_step(runtime, first)
    sender.send_pending(runtime)
    assert address(sekretaris) not in smtp.mailbox.to()
    assert len(smtp.mailbox.messages) == 4

    on = factory.client.patch(
        f"/api/v1/users/{sekretaris.id}", headers=factory.headers(admin),
        json={"notify_email": True},
    )  # fmt: skip
    assert on.status_code == 200, on.text
    assert on.json()["notify_email"] is True
    office.payload["letter_number"] = "B/124/XI/2026/Reskrim"
    second = register(factory, office)
    walk_runtime_to_export_step(runtime, second)
    sender.send_pending(runtime)
    assert smtp.mailbox.to()[4:] == [
        address(office.people[role])
        for role in (Role.KEPALA_DINAS, Role.SEKRETARIS, Role.KEPALA_BIDANG,
                     Role.SUBKOORDINATOR, Role.OPERATOR)
    ]  # fmt: skip


def test_the_admin_page_lists_recent_notifications_sent_and_failed(
    factory: Factory, office: Office, runtime: Runtime, smtp: SmtpServer
) -> None:
    smtp.mailbox.refuse.add(address(office.people[Role.SEKRETARIS]))
    rid = register(factory, office)
    walk_runtime_to_export_step(runtime, rid)
    sender.send_pending(runtime)
    admin = office.people[Role.ADMIN]
    client = factory.client
    signed_in = client.post("/masuk", data={"username": admin.username, "password": PASSWORD},
                            follow_redirects=False)  # fmt: skip
    assert signed_in.status_code == 303, signed_in.text

    page = client.get("/admin").text

    section = page[page.index('id="notifikasi"') :]
    assert 'class="table-cards"' in section
    rows = re.findall(r'<tr data-notification="\d+" data-state="(\w+)">(.*?)</tr>', section, re.S)
    newest_first = ["sent", "sent", "sent", "failed", "sent"]
    assert [state for state, _ in rows] == newest_first
    failed = rows[3][1]
    assert address(office.people[Role.SEKRETARIS]) in failed
    assert "Gagal" in failed
    assert "550" in failed  # the server's answer, as the last error
    assert "Langkah menunggu" in failed
    assert 'data-label="Percobaan">1<' in failed
    assert "Terkirim" in rows[0][1]
