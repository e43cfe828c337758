"""One session model for API tokens and browser cookies.

Every token carries its account's session generation; a request counts only while the account
is active and still at that generation. Logout, a password reset, deactivation and reactivation
raise the generation (`end_all`), so every token and cookie issued before ends at once, and a
reactivated account starts with none. A browser's cookie also names a server-side web session,
which ends once it has been idle longer than `web_session_idle_minutes`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from app import errors
from app.auth.models import User, WebSession
from app.db import reading, unit_of_work
from app.runtime import Runtime
from app.security import TokenClaims, issue_token

# The last use of a web session is written at most this often (a write per page view would
# queue every reader behind a write lock on SQLite).
TOUCH_AT_MOST_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime


def end_all(user: User) -> None:
    """End every session of `user`: tokens and cookies issued before stop counting."""
    user.session_generation = (user.session_generation or 0) + 1


def issue(runtime: Runtime, user: User, session_id: str | None = None) -> IssuedToken:
    """Sign a token for `user`'s current session generation."""
    now = runtime.clock.now()
    ttl = timedelta(minutes=runtime.settings.token_ttl_minutes)
    token = issue_token(
        runtime.token_key, user.id, user.role.value, now, ttl,
        generation=user.session_generation or 0, session_id=session_id,
    )  # fmt: skip
    return IssuedToken(token=token, expires_at=now + ttl)


def session_user(session: Session, claims: TokenClaims) -> User:
    """The active account a token speaks for, if its session has not ended."""
    user = session.get(User, claims.user_id)
    if user is None or not user.active:
        raise errors.InvalidToken("the account of this token no longer exists or is disabled")
    if claims.generation != (user.session_generation or 0):
        raise errors.InvalidToken(
            "this session has ended (logout, password reset or account change): sign in again"
        )
    return user


def open_web_session(session: Session, user: User, now: datetime, idle: timedelta) -> str:
    """Start a browser session for `user` and return its id; drop the user's idle ones."""
    session.execute(
        delete(WebSession).where(
            WebSession.user_id == user.id, WebSession.last_seen_at < now - idle
        )
    )
    sid = secrets.token_urlsafe(32)
    session.add(WebSession(sid=sid, user_id=user.id, started_at=now, last_seen_at=now))
    return sid


def touch_web_session(
    factory: sessionmaker[Session], claims: TokenClaims, now: datetime, idle: timedelta
) -> None:
    """Refuse a web session that is unknown or was idle too long; else note its use. Runs in
    transactions of its own, before the request's session reads anything."""
    with reading(factory) as session:
        row = session.get(WebSession, claims.session_id)
        last_seen = row.last_seen_at if row and row.user_id == claims.user_id else None
    if last_seen is None:
        raise errors.InvalidToken("this session has ended: sign in again")
    if now - last_seen > idle:
        raise errors.InvalidToken("this session was idle too long: sign in again")
    if now - last_seen >= min(TOUCH_AT_MOST_EVERY, idle / 10):
        with unit_of_work(factory) as session:
            session.execute(
                update(WebSession).where(WebSession.sid == claims.session_id)
                .values(last_seen_at=now)
            )  # fmt: skip


def idle_limit(runtime: Runtime) -> timedelta:
    return timedelta(minutes=runtime.settings.web_session_idle_minutes)
