from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UtcDateTime, str_enum


class Role(StrEnum):
    ADMIN = "admin"
    KEPALA_DINAS = "kepala_dinas"
    SEKRETARIS = "sekretaris"
    KEPALA_BIDANG = "kepala_bidang"
    SUBKOORDINATOR = "subkoordinator"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    PEMOHON = "pemohon"


STAFF_ROLES = frozenset(set(Role) - {Role.PEMOHON})
# Auditors read the ledger, verify it and export reports: they change nothing else (issue 17).
READ_ONLY_ROLES = frozenset({Role.AUDITOR})
WRITING_ROLES = frozenset(set(Role) - READ_ONLY_ROLES)
WRITING_STAFF_ROLES = STAFF_ROLES - READ_ONLY_ROLES


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # A pemohon acts for exactly one agency; office staff belong to none.
        CheckConstraint("(role = 'pemohon') = (agency_id IS NOT NULL)", name="pemohon_has_agency"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    id_number: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    # E-mail notifications (app.notify) go to `email` unless the user turned them off.
    notify_email: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    role: Mapped[Role] = mapped_column(str_enum(Role))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Tokens issued before the password was last reset no longer count.
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Every token and cookie carries the generation it was issued under; raising it (logout,
    # password reset, deactivation, reactivation) ends every session of the account at once.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ThrottleCounter(Base):
    """Hits (login failures, or requests) of one key in its current window, and its lock-out.
    In the database, so every process of a deployment counts together."""

    __tablename__ = "throttle_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lockouts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A browser's sign-in: when it was last used, so an idle one ends (the cookie names it)."""

    __tablename__ = "web_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
