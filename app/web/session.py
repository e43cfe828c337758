"""Browser sessions for the web UI: a signed cookie, and a CSRF token bound to it."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request, Response
from sqlalchemy.orm import Session

from app import errors
from app.auth import sessions
from app.auth.models import User
from app.deps import SESSION_COOKIE as COOKIE
from app.runtime import Runtime
from app.security import read_token
from app.settings import Environment


def open_session(response: Response, runtime: Runtime, session: Session, user: User) -> None:
    """Log the browser in: a web session (idle timeout), named by a signed token that also
    carries the account's session generation, in an HttpOnly cookie."""
    sid = sessions.open_web_session(
        session, user, runtime.clock.now(), sessions.idle_limit(runtime)
    )
    issued = sessions.issue(runtime, user, session_id=sid)
    response.set_cookie(
        COOKIE,
        issued.token,
        max_age=runtime.settings.token_ttl_minutes * 60,
        httponly=True,
        samesite="strict",
        secure=runtime.settings.env is Environment.PRODUCTION,
        path="/",
    )


def close_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def web_session_user(request: Request, runtime: Runtime, session: Session) -> User:
    """The user whose live session the browser's cookie names, else InvalidToken."""
    token = session_token(request)
    if token is None:
        raise errors.Unauthorized("login required")
    now = runtime.clock.now()
    claims = read_token(runtime.token_key, token, now)
    if claims.session_id is not None:  # a bearer token in a cookie has no idle timeout
        sessions.touch_web_session(runtime.sessions, claims, now, sessions.idle_limit(runtime))
    return sessions.session_user(session, claims)


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
