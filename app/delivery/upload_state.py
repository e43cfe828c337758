"""Resumable-upload state in the database: a row per upload session (issue 16, item 6).

The session URI and the offset Drive acknowledged used to live in one JSON file, rewritten
read-modify-write under a lock only one process knew about: two workers uploading at once could
each write back the file without the other's session, and a restart then began that upload from
byte 0. A row per key, written in its own transaction (an upsert), is safe with any number of
workers on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from app.clock import Clock
from app.db import Base, UtcDateTime, reading, unit_of_work
from drive_sync import UploadState


class DriveUploadSession(Base):
    """Where one resumable upload stands: Drive's session URI and the bytes it acknowledged."""

    __tablename__ = "drive_upload_sessions"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    session_uri: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DatabaseStateStore:
    """drive_sync's UploadStateStore on the service's database."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions, self._clock = sessions, clock

    def load(self, key: str) -> UploadState | None:
        """Return the saved state, or None."""
        with reading(self._sessions) as session:
            row = session.get(DriveUploadSession, key)
            if row is None:
                return None
            return UploadState(row.session_uri, row.size, row.offset, row.mtime_ns)

    def save(self, key: str, state: UploadState) -> None:
        """Store the state (committed) before the next chunk is sent."""
        values = {"session_uri": state.session_uri, "size": state.size, "offset": state.offset,
                  "mtime_ns": state.mtime_ns, "updated_at": self._clock.now()}  # fmt: skip
        with unit_of_work(self._sessions) as session:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            session.execute(
                insert(DriveUploadSession)
                .values(key=key, **values)
                .on_conflict_do_update(index_elements=["key"], set_=values)
            )

    def clear(self, key: str) -> None:
        """Forget the key; missing keys are fine."""
        with unit_of_work(self._sessions) as session:
            session.execute(delete(DriveUploadSession).where(DriveUploadSession.key == key))
