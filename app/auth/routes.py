from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from app.auth import service, sessions, throttle
from app.auth.login import client_address, sign_in
from app.auth.models import Role, User
from app.auth.schemas import (
    LockoutRead,
    ProfileUpdate,
    TokenResponse,
    UserCreate,
    UserRead,
    UserUpdate,
)
from app.auth.throttle import ThrottledRoute
from app.custody import service as custody
from app.deps import AdminUser, CurrentUser, RuntimeDep, SessionDep, StaffUser, WritingUser
from app.http import ERROR_RESPONSES, ErrorEnvelope, PathId
from app.paging import Paging, page_by_id

router = APIRouter(
    prefix="/api/v1", tags=["auth"], responses=ERROR_RESPONSES, route_class=ThrottledRoute
)


@router.post(
    "/auth/token", response_model=TokenResponse,
    responses={429: {"model": ErrorEnvelope, "description": "Too many failed logins"}},
)  # fmt: skip
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, runtime: RuntimeDep
) -> TokenResponse:
    """Exchange a username and password for a bearer token (OAuth2 password flow); throttled
    per account and per client address."""
    user = sign_in(runtime, form.username, form.password, client_address(request))
    issued = sessions.issue(runtime, user)
    return TokenResponse(access_token=issued.token, expires_at=issued.expires_at, role=user.role)


@router.post("/auth/logout", status_code=204)
def logout(user: CurrentUser, _session: SessionDep) -> None:
    """End every session of the signed-in account: all its tokens and browser cookies."""
    sessions.end_all(user)


@router.get("/auth/lockouts", response_model=list[LockoutRead])
def lockouts(_admin: AdminUser, session: SessionDep, runtime: RuntimeDep) -> list[LockoutRead]:
    """The accounts, addresses and links locked out now by throttling (admin)."""
    return [
        LockoutRead.model_validate(c) for c in throttle.locked_out(session, runtime.clock.now())
    ]


@router.get("/auth/me", response_model=UserRead)
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.patch("/auth/me", response_model=UserRead)
def update_me(
    data: ProfileUpdate, user: WritingUser, session: SessionDep, runtime: RuntimeDep
) -> UserRead:
    """Change your own address or turn e-mail notifications on or off (`notify_email`); an
    auditor writes nothing (an admin changes it for them)."""
    return UserRead.model_validate(service.update_profile(session, user, data, runtime.clock.now()))


@router.get("/users", response_model=list[UserRead])
def list_users(
    _user: StaffUser, session: SessionDep, paging: Paging, response: Response,
    role: Annotated[Role | None, Query()] = None,
) -> list[UserRead]:  # fmt: skip
    """List users (office staff only), e.g. the operators a subkoordinator can assign; by id,
    a page at a time."""
    query = select(User) if role is None else select(User).where(User.role == role)
    return [
        UserRead.model_validate(u) for u in page_by_id(session, query, User.id, paging, response)
    ]


@router.patch("/users/{user_id}", response_model=UserRead)
def update_user(
    user_id: PathId, data: UserUpdate, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> UserRead:
    """Deactivate an account, reset its password or correct its details (admin)."""
    user = service.get_user(session, user_id)
    by = custody.performer(admin)
    return UserRead.model_validate(
        service.update_user(session, user, data, runtime.clock.now(), by=by)
    )


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(
    data: UserCreate, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> UserRead:
    by = custody.performer(admin)
    return UserRead.model_validate(service.create_user(session, data, runtime.clock.now(), by=by))
