"""Browser sessions for the web UI: a signed cookie, and a CSRF token bound to it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from fastapi import Request, Response

from app import errors
from app.auth.models import User
from app.deps import SESSION_COOKIE as COOKIE
from app.runtime import Runtime
from app.security import issue_token
from app.settings import Environment


def open_session(response: Response, runtime: Runtime, user: User) -> None:
    """Log the browser in: the same signed token as the API, in an HttpOnly cookie."""
    ttl = timedelta(minutes=runtime.settings.token_ttl_minutes)
    token = issue_token(runtime.token_key, user.id, user.role.value, runtime.clock.now(), ttl)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=runtime.settings.env is Environment.PRODUCTION,
        path="/",
    )


def close_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def session_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def csrf_token(runtime: Runtime, request: Request) -> str:
    """Derive the form token from the session cookie, so a forged form cannot carry it."""
    token = session_token(request) or ""
    return hmac.new(runtime.token_key, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def check_csrf(runtime: Runtime, request: Request, submitted: str) -> None:
    """Refuse a form whose CSRF token does not match the session."""
    if not hmac.compare_digest(csrf_token(runtime, request), submitted):
        raise errors.Forbidden("the form has expired or did not come from Saksi; reload the page")
