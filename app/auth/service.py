"""Users and authentication. Services never commit: the caller's unit of work does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import errors
from app.agencies.models import Agency
from app.auth import sessions
from app.auth.models import Role, User
from app.auth.schemas import ProfileUpdate, UserCreate, UserUpdate
from app.custody import service as custody
from app.security import hash_password, verify_password
from custody import Performer

# Verifying against a real hash when the user does not exist keeps the timing the same, so the
# response time does not tell which usernames exist.
_DUMMY_HASH = hash_password("saksi-timing-equaliser")
# Changes after which no session of the account may go on: a reactivated account starts afresh.
SESSION_ENDING_CHANGES = frozenset({"password", "active", "role", "agency_id"})


def create_user(session: Session, data: UserCreate, now: datetime, *, by: Performer) -> User:
    """Add a user; a pemohon must belong to an active agency, staff to none. On record: who
    may act on evidence, and with which role."""
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise errors.AlreadyExists(f"the username {data.username!r} is taken")
    _check_agency(session, data.role, data.agency_id)
    user = User(
        username=data.username,
        full_name=data.full_name,
        role=data.role,
        id_number=data.id_number,
        position=data.position,
        email=str(data.email) if data.email else None,
        agency_id=data.agency_id,
        password_hash=hash_password(data.password),
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    custody.record(
        session, "user.created", by, now,
        object={"user": user.id, "username": user.username, "name": user.full_name,
                "role": user.role.value, "agency": user.agency_id},
    )  # fmt: skip
    return user


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise errors.UserNotFound(f"no user named {username!r}")
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise errors.UserNotFound(f"user {user_id} does not exist")
    return user


def update_profile(session: Session, user: User, data: ProfileUpdate, now: datetime) -> User:
    """A user changes their own address or e-mail setting (the API's PATCH /auth/me and the
    profile page): the same change as an admin's, on record as theirs."""
    update = UserUpdate.model_validate(data.model_dump(exclude_unset=True))
    return update_user(session, user, update, now, by=custody.performer(user))


def update_user(
    session: Session, user: User, data: UserUpdate, now: datetime, *, by: Performer
) -> User:
    """Change an account: deactivate or reactivate it, reset its password (either ends every
    session it has at once), correct its details. On record when anything changed; never the
    password. The last active administrator cannot be deactivated."""
    asked = data.model_dump(exclude_unset=True, exclude_none=True, exclude={"password"})
    changes = {field: value for field, value in asked.items() if getattr(user, field) != value}
    if changes.get("active") is False and user.role is Role.ADMIN and _active_admins(session) <= 1:
        raise errors.LastAdministrator("the last active administrator cannot be deactivated")
    for field, value in changes.items():
        setattr(user, field, value)
    if data.password is not None:
        user.password_hash = hash_password(data.password)
        user.password_changed_at = now
        changes["password"] = "reset"
    if changes.keys() & SESSION_ENDING_CHANGES:
        sessions.end_all(user)
    if changes:
        session.flush()
        shown = custody.fields({"user": user.id, "username": user.username, "changes": changes})
        custody.record(session, "user.changed", by, now, object=shown)
    return user


def _active_admins(session: Session) -> int:
    query = select(User.id).where(User.role == Role.ADMIN, User.active.is_(True))
    return len(session.scalars(query).all())


def _check_agency(session: Session, role: Role, agency_id: int | None) -> None:
    if role is not Role.PEMOHON:
        if agency_id is not None:
            raise errors.ValidationFailed("only a pemohon belongs to an agency")
        return
    if agency_id is None:
        raise errors.ValidationFailed("a pemohon must belong to an agency (agency_id)")
    agency = session.get(Agency, agency_id)
    if agency is None or not agency.active:
        raise errors.AgencyNotAuthorized(f"agency {agency_id} is unknown or not authorised")


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the active user with these credentials, or raise InvalidCredentials."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        raise errors.InvalidCredentials("wrong username or password")
    if not verify_password(user.password_hash, password) or not user.active:
        raise errors.InvalidCredentials("wrong username or password")
    return user


def list_users(session: Session, role: Role | None = None) -> list[User]:
    query = select(User).order_by(User.username)
    if role is not None:
        query = query.where(User.role == role)
    return list(session.scalars(query))


def count_users(session: Session) -> int:
    return len(session.scalars(select(User.id)).all())
