"""Logging in, tokens, roles, and the first accounts."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import security
from app.auth.models import Role, User
from app.clock import FrozenClock
from app.db import make_engine
from app.runtime import Runtime
from custody import ledger
from tests.app.factories import PASSWORD, Factory


def test_password_login_returns_a_bearer_token(factory: Factory, runtime: Runtime) -> None:
    user = factory.user(Role.OPERATOR, username="operator-satu")

    response = factory.client.post(
        "/api/v1/auth/token", data={"username": "operator-satu", "password": PASSWORD}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "operator"
    me = factory.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["id"] == user.id
    assert "password_hash" not in me.text


@pytest.mark.parametrize(
    ("username", "password"),
    [("operator-satu", "wrong-password!"), ("nobody-here", PASSWORD)],
)
def test_wrong_credentials_get_the_same_401(factory: Factory, username: str, password: str) -> None:
    factory.user(Role.OPERATOR, username="operator-satu")

    response = factory.client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )

    assert response.status_code == 401
    assert response.json() == {
        "error": "InvalidCredentials",
        "detail": "wrong username or password",
    }


def test_token_expires_by_the_clock(factory: Factory, clock: FrozenClock, runtime: Runtime) -> None:
    user = factory.user(Role.AUDITOR)
    headers = factory.headers(user)
    assert factory.client.get("/api/v1/auth/me", headers=headers).status_code == 200

    clock.advance(timedelta(minutes=runtime.settings.token_ttl_minutes, seconds=1))
    response = factory.client.get("/api/v1/auth/me", headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": "InvalidToken", "detail": "the access token has expired"}


def test_token_signed_with_another_key_is_refused(factory: Factory, clock: FrozenClock) -> None:
    user = factory.user(Role.AUDITOR)
    forged = security.issue_token(b"x" * 48, user.id, "admin", clock.now(), timedelta(hours=1))

    response = factory.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401
    assert response.json()["error"] == "InvalidToken"


def test_a_disabled_account_loses_access(factory: Factory, session: Session) -> None:
    user = factory.user(Role.OPERATOR)
    headers = factory.headers(user)
    user.active = False
    session.commit()

    assert factory.client.get("/api/v1/auth/me", headers=headers).status_code == 401
    login = factory.client.post(
        "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
    )
    assert login.status_code == 401


def test_only_admins_create_users(factory: Factory) -> None:
    admin, operator = factory.user(Role.ADMIN), factory.user(Role.OPERATOR)
    new = {
        "username": "staf-baru",
        "full_name": "Staf Baru",
        "role": "operator",
        "password": "Kantor-Cirebon-2026",
    }

    refused = factory.client.post("/api/v1/users", json=new, headers=factory.headers(operator))
    created = factory.client.post("/api/v1/users", json=new, headers=factory.headers(admin))
    again = factory.client.post("/api/v1/users", json=new, headers=factory.headers(admin))

    assert refused.status_code == 403
    assert refused.json()["error"] == "RoleNotPermitted"
    assert created.status_code == 201
    assert created.json()["role"] == "operator"
    assert again.status_code == 409
    assert again.json()["error"] == "AlreadyExists"


def test_a_pemohon_must_belong_to_an_authorised_agency(factory: Factory) -> None:
    admin = factory.user(Role.ADMIN)
    inactive = factory.agency("Lembaga Nonaktif", active=False)
    base = {"full_name": "Penyidik", "role": "pemohon", "password": "Penyidik-Cirebon-2026"}

    without = factory.client.post(
        "/api/v1/users", json={**base, "username": "penyidik-a"}, headers=factory.headers(admin)
    )
    with_inactive = factory.client.post(
        "/api/v1/users",
        json={**base, "username": "penyidik-b", "agency_id": inactive.id},
        headers=factory.headers(admin),
    )

    assert without.status_code == 422
    assert with_inactive.status_code == 422
    assert with_inactive.json()["error"] == "AgencyNotAuthorized"


def test_production_password_hashing_uses_argon2id_defaults() -> None:
    """Tests hash cheaply; this guards that the service's own hasher was not weakened."""
    hashed = PasswordHasher().hash("kata-sandi-panjang")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert security.verify_password(hashed, "kata-sandi-panjang")
    assert not security.verify_password(hashed, "kata-sandi-salah")


def test_cli_adds_a_user_with_password_from_stdin(tmp_path: Path) -> None:
    env = {"SAKSI_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    saksi = [sys.executable, "-m", "app.cli"]
    subprocess.run([*saksi, "db", "upgrade"], env=env, check=True, capture_output=True)

    added = subprocess.run(
        [
            *saksi,
            "user",
            "add",
            "--username",
            "kadis",
            "--role",
            "kepala_dinas",
            "--password-stdin",
        ],
        input="sangat-rahasia-123\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    weak = subprocess.run(
        [*saksi, "user", "add", "--username", "lemah", "--role", "operator", "--password-stdin"],
        input="pendek\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert added.returncode == 0, added.stderr
    assert "kadis" in added.stdout
    assert weak.returncode == 2
    assert "password" in weak.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'saksi.db'}")
    with Session(engine) as check:
        user = check.scalar(select(User).where(User.username == "kadis"))
        assert user is not None
        assert user.role is Role.KEPALA_DINAS
        assert security.verify_password(user.password_hash, "sangat-rahasia-123")
    engine.dispose()


def test_cli_sets_a_forgotten_password(tmp_path: Path) -> None:
    """The only administrator forgot the password: the server's console is the way back in."""
    env = {"SAKSI_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    saksi = [sys.executable, "-m", "app.cli"]
    subprocess.run([*saksi, "db", "upgrade"], env=env, check=True, capture_output=True)
    add = [*saksi, "user", "add", "--username", "admin2", "--role", "admin", "--password-stdin"]
    subprocess.run(add, input="lama-sekali-123\n", env=env, check=True, capture_output=True,
                   text=True)  # fmt: skip

    def passwd(username: str, password: str) -> subprocess.CompletedProcess[str]:
        argv = [*saksi, "user", "passwd", "--username", username, "--password-stdin"]
        return subprocess.run(argv, input=password + "\n", env=env, capture_output=True,
                              text=True, check=False)  # fmt: skip

    done, unknown = passwd("admin2", "baru-sekali-456"), passwd("siapa", "baru-sekali-456")

    assert done.returncode == 0, done.stderr
    assert unknown.returncode == 2
    assert unknown.stderr.strip().endswith("saksi: no user named 'siapa'")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'saksi.db'}")
    with Session(engine) as check:
        user = check.scalar(select(User).where(User.username == "admin2"))
        assert user is not None
        assert security.verify_password(user.password_hash, "baru-sekali-456")
        [event] = [e for e in ledger.read(check.connection()) if e.action == "user.changed"]
        assert json.loads(event.canonical)["performer"]["kind"] == "console"
    engine.dispose()
