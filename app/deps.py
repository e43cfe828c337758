"""Dependencies shared by every router: runtime, the request's session, the current user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import STAFF_ROLES, WRITING_ROLES, WRITING_STAFF_ROLES, Role, User
from app.db import unit_of_work
from app.runtime import Runtime
from app.security import TokenClaims, read_token

SESSION_COOKIE = "saksi_session"
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """Yield the request's session; commit once, before the response is sent."""
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
    claims = read_token(runtime.token_key, token, runtime.clock.now())
    user = session.get(User, claims.user_id)
    if user is None or not user.active:
        raise errors.InvalidToken("the account of this token no longer exists or is disabled")
    if _issued_before_reset(claims, user):
        raise errors.InvalidToken("the password of this account was reset: sign in again")
    return user


def _issued_before_reset(claims: TokenClaims, user: User) -> bool:
    changed = user.password_changed_at
    if changed is None:
        return False
    return claims.issued_at is None or claims.issued_at < changed.replace(microsecond=0)


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
