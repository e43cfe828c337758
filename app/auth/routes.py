from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.security import OAuth2PasswordRequestForm

from app.auth import service
from app.auth.models import Role
from app.auth.schemas import TokenResponse, UserCreate, UserRead, UserUpdate
from app.custody import service as custody
from app.deps import AdminUser, CurrentUser, RuntimeDep, SessionDep, StaffUser
from app.http import ERROR_RESPONSES
from app.security import issue_token

router = APIRouter(prefix="/api/v1", tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/auth/token", response_model=TokenResponse)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    runtime: RuntimeDep,
) -> TokenResponse:
    """Exchange a username and password for a bearer token (OAuth2 password flow)."""
    user = service.authenticate(session, form.username, form.password)
    now = runtime.clock.now()
    ttl = timedelta(minutes=runtime.settings.token_ttl_minutes)
    token = issue_token(runtime.token_key, user.id, user.role.value, now, ttl)
    return TokenResponse(access_token=token, expires_at=now + ttl, role=user.role)


@router.get("/auth/me", response_model=UserRead)
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.get("/users", response_model=list[UserRead])
def list_users(
    _user: StaffUser, session: SessionDep, role: Annotated[Role | None, Query()] = None
) -> list[UserRead]:
    """List users (office staff only), e.g. the operators a subkoordinator can assign."""
    return [UserRead.model_validate(u) for u in service.list_users(session, role)]


@router.patch("/users/{user_id}", response_model=UserRead)
def update_user(
    user_id: int, data: UserUpdate, admin: AdminUser, session: SessionDep, runtime: RuntimeDep
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
