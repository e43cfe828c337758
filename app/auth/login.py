"""Signing in, throttled per account and per client address (the API's and the web's alike).

Each step is a transaction of its own, one after the other: the lock-out check, the password
check (read only), then the failure counted (committed, though the login itself fails).
"""

from __future__ import annotations

from fastapi import Request

from app import errors
from app.auth import service, throttle
from app.auth.models import User
from app.db import reading
from app.runtime import Runtime

USERNAME_KEY_LENGTH = 64


def client_address(request: Request) -> str:
    """The peer's address (behind a proxy, run uvicorn with `--proxy-headers`)."""
    return request.client.host if request.client else "unknown"


def login_keys(username: str, address: str) -> tuple[str, str]:
    """The throttle keys of a login: the account asked for, and the client's address."""
    account = username.strip().lower()[:USERNAME_KEY_LENGTH]
    return f"login:account:{account}", f"login:address:{address}"


def sign_in(runtime: Runtime, username: str, password: str, address: str) -> User:
    """Return the user these credentials name, unless the account or address is locked out
    (TooManyAttempts, even with the right password); count a failure against both."""
    now = runtime.clock.now()
    account_key, address_key = login_keys(username, address)
    throttle.guard(runtime.sessions, (account_key, address_key), now)
    try:
        with reading(runtime.sessions) as session:
            user = service.authenticate(session, username.strip(), password)
            session.expunge(user)  # outlives the read-only session, unexpired
    except errors.InvalidCredentials:
        _count_failure(runtime, account_key, address_key)
        raise
    throttle.clear(runtime.sessions, account_key)
    return user


def _count_failure(runtime: Runtime, account_key: str, address_key: str) -> None:
    settings, now = runtime.settings, runtime.clock.now()
    per_account = throttle.policy(settings, settings.login_failures_per_account)
    per_address = throttle.policy(settings, settings.login_failures_per_address)
    throttle.hit(runtime.sessions, account_key, per_account, now)
    throttle.hit(runtime.sessions, address_key, per_address, now)
