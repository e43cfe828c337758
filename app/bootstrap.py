"""Start-up chores shared by `saksi serve`, `saksi demo` and the CLI."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from app import migrate
from app.auth.models import Role, User
from app.auth.schemas import UserCreate
from app.auth.service import create_user
from app.custody import service as custody
from app.db import unit_of_work
from app.runtime import Runtime

FIRST_ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    username: str
    password: str
    password_file: Path


def upgrade_database(runtime: Runtime) -> None:
    """Bring the schema to the newest migration."""
    settings = runtime.settings
    migrate.upgrade(settings.resolved_database_url, app_role=settings.database_app_role)


def ensure_first_admin(runtime: Runtime) -> FirstAdmin | None:
    """Create the first admin account with a random password if there is no admin yet."""
    with unit_of_work(runtime.sessions) as session:
        if session.scalar(select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None:
            return None
        password = secrets.token_urlsafe(12)
        data = UserCreate(
            username=FIRST_ADMIN, full_name="Administrator", role=Role.ADMIN, password=password
        )
        create_user(session, data, runtime.clock.now(), by=custody.SYSTEM)
    path = runtime.settings.data_dir / "secrets" / "initial-admin-password"
    _write_private(path, password + "\n")
    return FirstAdmin(username=FIRST_ADMIN, password=password, password_file=path)


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
