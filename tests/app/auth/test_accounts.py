"""An admin deactivates an account or resets its password: its tokens stop, it is on record."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.clock import FrozenClock
from custody import ledger
from tests.app.factories import PASSWORD, Factory

NEW_PASSWORD = "Sandi-Baru-Operator-2026"


def _login(client: TestClient, username: str, password: str) -> int:
    data = {"username": username, "password": password}
    return client.post("/api/v1/auth/token", data=data).status_code


def test_a_deactivated_account_is_refused_at_once(factory: Factory) -> None:
    admin = factory.headers(factory.user(Role.ADMIN))
    operator = factory.user(Role.OPERATOR, username="operator-keluar")
    token = factory.headers(operator)

    changed = factory.client.patch(f"/api/v1/users/{operator.id}", json={"active": False},
                                   headers=admin)  # fmt: skip

    assert changed.status_code == 200
    assert changed.json()["active"] is False
    refused = factory.client.get("/api/v1/auth/me", headers=token)
    assert refused.status_code == 401
    assert refused.json()["error"] == "InvalidToken"
    assert _login(factory.client, "operator-keluar", PASSWORD) == 401


def test_a_reset_password_ends_the_old_tokens(
    factory: Factory, clock: FrozenClock, session: Session
) -> None:
    admin = factory.headers(factory.user(Role.ADMIN))
    operator = factory.user(Role.OPERATOR, username="operator-lupa")
    old = factory.headers(operator)
    clock.advance(timedelta(minutes=5))

    reset = factory.client.patch(f"/api/v1/users/{operator.id}", json={"password": NEW_PASSWORD},
                                 headers=admin)  # fmt: skip

    assert reset.status_code == 200
    assert factory.client.get("/api/v1/auth/me", headers=old).status_code == 401
    assert _login(factory.client, "operator-lupa", PASSWORD) == 401
    fresh = factory.client.post(
        "/api/v1/auth/token", data={"username": "operator-lupa", "password": NEW_PASSWORD}
    ).json()["access_token"]
    me = factory.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh}"})
    assert me.status_code == 200
    recorded = [json.loads(e.canonical) for e in ledger.read(session.connection())
                if e.action == "user.changed"]  # fmt: skip
    assert recorded[0]["object"]["changes"] == {"password": "reset"}
    assert NEW_PASSWORD not in json.dumps(recorded)


def test_the_last_active_administrator_stays(factory: Factory) -> None:
    admin = factory.user(Role.ADMIN)
    headers = factory.headers(admin)

    refused = factory.client.patch(f"/api/v1/users/{admin.id}", json={"active": False},
                                   headers=headers)  # fmt: skip

    assert refused.status_code == 409
    assert refused.json()["error"] == "LastAdministrator"
    assert factory.client.get("/api/v1/auth/me", headers=headers).status_code == 200


def test_only_an_admin_changes_accounts_and_role_never(factory: Factory) -> None:
    operator = factory.user(Role.OPERATOR)
    other = factory.user(Role.OPERATOR)
    admin = factory.headers(factory.user(Role.ADMIN))

    by_operator = factory.client.patch(f"/api/v1/users/{other.id}", json={"active": False},
                                       headers=factory.headers(operator))  # fmt: skip
    new_role = factory.client.patch(f"/api/v1/users/{other.id}", json={"role": "admin"},
                                    headers=admin)  # fmt: skip
    short = factory.client.patch(f"/api/v1/users/{other.id}", json={"password": "pendek"},
                                 headers=admin)  # fmt: skip

    assert by_operator.status_code == 403
    assert (new_role.status_code, short.status_code) == (422, 422)
    assert new_role.json()["fields"][0]["field"] == "role"


def test_the_admin_page_deactivates_and_resets(factory: Factory, client: TestClient) -> None:
    factory.user(Role.ADMIN, username="admin-akun")
    operator = factory.user(Role.OPERATOR, username="operator-web")
    client.post("/masuk", data={"username": "admin-akun", "password": PASSWORD})
    page = client.get("/admin")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    csrf = found.group(1)

    short = client.post(f"/admin/pengguna/{operator.id}/sandi",
                        data={"csrf": csrf, "password": "pendek"})  # fmt: skip
    reset = client.post(f"/admin/pengguna/{operator.id}/sandi", follow_redirects=False,
                        data={"csrf": csrf, "password": NEW_PASSWORD})  # fmt: skip
    off = client.post(f"/admin/pengguna/{operator.id}/status", data={"csrf": csrf},
                      follow_redirects=False)  # fmt: skip

    assert short.status_code == 422
    assert f'<details id="pengguna-{operator.id}" open>' in short.text
    assert (reset.status_code, off.status_code) == (303, 303)
    listed = client.get("/admin").text
    assert re.search(rf'data-user="{operator.id}">.*?Nonaktif<', listed, re.S)
    assert _login(client, "operator-web", NEW_PASSWORD) == 401  # inactive now
