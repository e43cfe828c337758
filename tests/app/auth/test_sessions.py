"""One session model: logout, a password reset, deactivation end every session of an account,
bearer tokens and browser cookies alike; reactivation revives none; idle web sessions end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from app.auth.models import Role, User
from app.clock import FrozenClock
from app.deps import SESSION_COOKIE
from app.runtime import Runtime
from tests.app.factories import PASSWORD, Factory

NEW_PASSWORD = "Sandi-Baru-Yang-Panjang-2026"
KINDS = ["bearer", "cookie"]
Check = Callable[[], bool]


def _bearer(client: TestClient, username: str, password: str = PASSWORD) -> str:
    answer = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def _cookie(client: TestClient, username: str, password: str = PASSWORD) -> str:
    client.cookies.clear()
    answer = client.post("/masuk", data={"username": username, "password": password},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    cookie = answer.cookies[SESSION_COOKIE]
    client.cookies.clear()
    return cookie


def _bearer_works(client: TestClient, token: str) -> bool:
    answer = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code in (200, 401), answer.text
    if answer.status_code == 401:
        assert set(answer.json()) == {"error", "detail"}
    return answer.status_code == 200


def _cookie_works(client: TestClient, cookie: str) -> bool:
    """The cookie opens the dashboard (a copy of it, sent by whoever holds it)."""
    client.cookies.clear()
    page = client.get("/", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
                      follow_redirects=False)  # fmt: skip
    assert page.status_code in (200, 303)
    return page.status_code == 200


def _sign_in(client: TestClient, kind: str, username: str, password: str = PASSWORD) -> Check:
    if kind == "bearer":
        token = _bearer(client, username, password)
        return lambda: _bearer_works(client, token)
    cookie = _cookie(client, username, password)
    return lambda: _cookie_works(client, cookie)


def _patch(factory: Factory, admin: User, user: User, change: dict[str, object]) -> None:
    answer = factory.client.patch(f"/api/v1/users/{user.id}", json=change,
                                  headers=factory.headers(admin))  # fmt: skip
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("kind", KINDS)
def test_logout_ends_every_session_of_the_account(factory: Factory, kind: str) -> None:
    """Issue 17: a cookie copied before /keluar still worked after it."""
    user = factory.user(Role.OPERATOR, username="operator-keluar")
    client = factory.client
    this, other_bearer, other_cookie = (
        _sign_in(client, kind, user.username), _sign_in(client, "bearer", user.username),
        _sign_in(client, "cookie", user.username),
    )  # fmt: skip
    assert this()
    assert other_bearer()
    assert other_cookie()

    if kind == "bearer":
        token = _bearer(client, user.username)
        answer = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 204
    else:
        cookie = _cookie(client, user.username)
        answer = client.post("/keluar", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
                             follow_redirects=False)  # fmt: skip
        assert (answer.status_code, answer.headers["location"]) == (303, "/masuk")
        assert not _cookie_works(client, cookie)

    assert not this()
    assert not other_bearer()
    assert not other_cookie()
    assert _sign_in(client, kind, user.username)()  # signing in again works


@pytest.mark.parametrize("kind", KINDS)
def test_a_password_reset_ends_every_session(factory: Factory, kind: str) -> None:
    """Issue 17: after a reset the web cookie still read requests and posted forms."""
    admin = factory.user(Role.ADMIN)
    user = factory.user(Role.OPERATOR, username="operator-lupa")
    works = _sign_in(factory.client, kind, user.username)
    assert works()

    _patch(factory, admin, user, {"password": NEW_PASSWORD})

    assert not works()
    assert _sign_in(factory.client, kind, user.username, NEW_PASSWORD)()


@pytest.mark.parametrize("kind", KINDS)
def test_deactivation_ends_sessions_and_reactivation_revives_none(
    factory: Factory, kind: str
) -> None:
    """Issue 17: a token issued before deactivation worked again after reactivation."""
    admin = factory.user(Role.ADMIN)
    user = factory.user(Role.AUDITOR, username="auditor-cuti")
    works = _sign_in(factory.client, kind, user.username)
    assert works()

    _patch(factory, admin, user, {"active": False})
    assert not works()
    _patch(factory, admin, user, {"active": True})

    assert not works()
    assert _sign_in(factory.client, kind, user.username)()


def test_an_idle_web_session_ends_and_a_used_one_goes_on(
    factory: Factory, clock: FrozenClock, runtime: Runtime
) -> None:
    idle = timedelta(minutes=runtime.settings.web_session_idle_minutes)
    user = factory.user(Role.OPERATOR, username="operator-sibuk")
    client = factory.client
    used, left = _cookie(client, user.username), _cookie(client, user.username)

    for _ in range(6):  # an hour of use, a page every ten minutes
        clock.advance(timedelta(minutes=10))
        assert _cookie_works(client, used)
    assert not _cookie_works(client, left)  # unused for an hour: ended

    clock.advance(idle + timedelta(seconds=1))
    assert not _cookie_works(client, used)
    # The cookie also counts for API reads; there too its idleness ends it.
    client.cookies.clear()
    me = client.get("/api/v1/auth/me", headers={"Cookie": f"{SESSION_COOKIE}={used}"})
    assert me.status_code == 401
    assert me.json()["detail"] == "this session was idle too long: sign in again"


def test_a_bearer_token_has_no_idle_timeout_only_its_lifetime(
    factory: Factory, clock: FrozenClock, runtime: Runtime
) -> None:
    """API clients (scripts) keep their token for its lifetime; idleness ends web sessions."""
    user = factory.user(Role.OPERATOR, username="operator-skrip")
    works = _sign_in(factory.client, "bearer", user.username)
    clock.advance(timedelta(minutes=runtime.settings.web_session_idle_minutes * 2))
    assert works()
    clock.advance(timedelta(minutes=runtime.settings.token_ttl_minutes))
    assert not works()


def test_a_token_from_before_session_generations_is_refused(
    factory: Factory, clock: FrozenClock, runtime: Runtime
) -> None:
    """Tokens without the `gen` claim (issued before this change) no longer count."""
    user = factory.user(Role.OPERATOR)
    now = int(clock.now().timestamp())
    claims = {"sub": str(user.id), "role": "operator", "aud": "saksi", "iat": now,
              "exp": now + 3600}  # fmt: skip
    old = jwt.encode(claims, runtime.token_key, algorithm="HS256")
    assert not _bearer_works(factory.client, old)
