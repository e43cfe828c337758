"""BAST numbers: `NNN/BAST/YYYY`, consecutive per year, never reused and never skipped.

The counter row is incremented by an upsert inside the transaction that issues the BAST. On
PostgreSQL the row lock makes concurrent issuers wait for each other; on SQLite the IMMEDIATE
transaction does. If the issuing transaction rolls back, so does the increment, so a number is
only ever consumed by a BAST that exists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.handover.models import BastCounter


def allocate(session: Session, year: int) -> int:
    """Take the next BAST sequence number of `year` within the caller's transaction."""
    insert: Any = (
        postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )
    statement = (
        insert(BastCounter)
        .values(year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=[BastCounter.year],
            set_={"last_number": BastCounter.last_number + 1},
        )
        .returning(BastCounter.last_number)
    )
    return int(session.execute(statement).scalar_one())


def format_number(sequence: int, year: int) -> str:
    """Write a BAST number the way the office does: 007/BAST/2026."""
    return f"{sequence:03d}/BAST/{year}"
