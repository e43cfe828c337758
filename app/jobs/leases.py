"""One run of each periodic job per period, by whichever worker gets there first.

Every worker may run Huey's scheduler (`saksi worker`, `saksi serve`): each then enqueues every
periodic job when it is due, so with N workers N copies arrive. A copy runs only if it claims
the job's lease in the database: the claim succeeds when no run holds the lease (or the holder's
lease expired: it died) and the job has not run in this period yet. So one worker runs each job
at a time, once per period, and when the worker that ran them dies (a kill -9, a lost host)
any other takes over at the next period (a run killed midway: once its unrenewed lease has
expired). Before, one
process ran the scheduler and nothing recovered or purged while it was down (issue 18).

The claim is one conditional UPDATE (after an INSERT … ON CONFLICT DO NOTHING of the row), so
it is atomic on SQLite and PostgreSQL alike, across processes and hosts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from app.clock import Clock
from app.db import Base, UtcDateTime, unit_of_work

logger = logging.getLogger(__name__)

# A run renews its lease every quarter of this while it works; one not renewed this long is
# taken for dead, so another worker takes the job over at the first period after that.
LEASE = timedelta(minutes=2)


class JobLease(Base):
    """Who runs (or last ran) a periodic job, until when, and for which period."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    period: Mapped[datetime] = mapped_column(UtcDateTime)
    leased_until: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True, slots=True)
class Leases:
    """Claims and releases of periodic jobs' leases, in the service's database."""

    sessions: sessionmaker[Session]
    clock: Clock
    lease: timedelta = LEASE

    def claim(self, name: str, holder: str) -> bool:
        """Take `name`'s lease for this period; False if it is held or already ran."""
        now = self.clock.now()
        period = now.replace(second=0, microsecond=0)  # crontab periods are whole minutes
        with unit_of_work(self.sessions) as session:
            _ensure_row(session, name)
            claimed = session.execute(  # a CursorResult: the rows the UPDATE changed
                update(JobLease)
                .where(JobLease.name == name, JobLease.period < period,
                       JobLease.leased_until <= now)
                .values(holder=holder, period=period, leased_until=now + self.lease)
            )  # fmt: skip
            return bool(claimed.rowcount)  # type: ignore[attr-defined]

    def renew(self, name: str, holder: str) -> None:
        """Keep `holder`'s lease of `name` while its run goes on."""
        self._set_until(name, holder, self.clock.now() + self.lease)

    def release(self, name: str, holder: str) -> None:
        """End `holder`'s run of `name` (the row keeps who ran it last, and for which period):
        the next period's copy may run anywhere."""
        self._set_until(name, holder, self.clock.now())

    def _set_until(self, name: str, holder: str, until: datetime) -> None:
        with unit_of_work(self.sessions) as session:
            session.execute(
                update(JobLease)
                .where(JobLease.name == name, JobLease.holder == holder)
                .values(leased_until=until)
            )


def _ensure_row(session: Session, name: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    never = datetime(1970, 1, 1, tzinfo=UTC)
    session.execute(
        insert(JobLease)
        .values(name=name, holder="", period=never, leased_until=never)
        .on_conflict_do_nothing(index_elements=["name"])
    )
