"""Dependencies shared by every router: runtime, the request's session, the current user."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from app import errors
from app.auth import sessions
from app.auth.models import STAFF_ROLES, WRITING_ROLES, WRITING_STAFF_ROLES, Role, User
from app.db import reading, unit_of_work
from app.runtime import Runtime
from app.security import read_token

SESSION_COOKIE = "saksi_session"
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


# GET and HEAD only read, except a download or a clip played, which are recorded (an access
# event): their session writes and commits like any other.
READ_METHODS = frozenset({"GET", "HEAD"})
RECORDED_READS = re.compile(r"^/unduh/|^/api/v1/exports/\d+/clip$")


def get_session(request: Request, runtime: RuntimeDep) -> Iterator[Session]:
    """Yield the request's session: a read-only one for reads (no write lock on SQLite, so
    readers never queue behind each other), else one that commits once, before the response
    is sent."""
    if request.method in READ_METHODS and not RECORDED_READS.match(request.url.path):
        with reading(runtime.sessions) as session:
            yield session
        return
    with unit_of_work(runtime.sessions) as session:
        yield session


# scope="function": the commit runs before the response leaves, so a failed commit is an error
# response, never a 200 for data that was not saved.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_current_user(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    bearer: Annotated[str | None, Depends(_bearer)],
) -> User:
    token = bearer or _cookie_token(request)
    if token is None:
        raise errors.Unauthorized("authentication required: send a bearer token")
    now = runtime.clock.now()
    claims = read_token(runtime.token_key, token, now)
    if claims.session_id is not None:  # a browser's cookie: its idle timeout applies too
        sessions.touch_web_session(runtime.sessions, claims, now, sessions.idle_limit(runtime))
    return sessions.session_user(session, claims)


def _cookie_token(request: Request) -> str | None:
    # The browser's session cookie counts only for reading: every change made by a browser goes
    # through the web UI's forms, which carry a CSRF token.
    if request.method not in {"GET", "HEAD"}:
        return None
    return request.cookies.get(SESSION_COOKIE)


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    """Build a dependency that lets only `roles` through."""
    allowed = frozenset(roles)

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise errors.RoleNotPermitted(f"the role {user.role.value!r} may not do this")
        return user

    return check


StaffUser = Annotated[User, Depends(require_roles(*STAFF_ROLES))]
# Every change goes through one of these: the read-only roles (auditors) are refused before the
# route looks at the request's state, so they get 403 whatever that state is.
WritingUser = Annotated[User, Depends(require_roles(*WRITING_ROLES))]
WritingStaff = Annotated[User, Depends(require_roles(*WRITING_STAFF_ROLES))]
AdminUser = Annotated[User, Depends(require_roles(Role.ADMIN))]
