"""A per-NVR limit on simultaneous playback sessions, shared by every worker process.

NVRs allow few playback sessions (often 2–4 per device). A slot is a row `(nvr_id, slot)` with a
lease: taking one is an INSERT that the primary key lets through only once, so the limit holds
across processes and machines on SQLite and PostgreSQL alike. A lease that is not renewed expires,
so a crashed worker cannot keep a slot for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.db import unit_of_work
from app.exports.models import NvrSlot


@dataclass(frozen=True, slots=True)
class Lease:
    nvr_id: int
    slot: int
    holder: str


class NvrSlots:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, limit: int, lease: timedelta
    ) -> None:
        if limit < 1:
            raise ValueError("an NVR needs at least one playback slot")
        self._sessions = sessions
        self._clock = clock
        self._limit = limit
        self._lease = lease

    def acquire(self, nvr_id: int, holder: str) -> Lease | None:
        """Take a free (or expired) slot of the NVR for `holder`; None when all are busy."""
        for slot in range(self._limit):
            if self._take(nvr_id, slot, holder):
                return Lease(nvr_id=nvr_id, slot=slot, holder=holder)
        return None

    def _take(self, nvr_id: int, slot: int, holder: str) -> bool:
        now = self._clock.now()
        until = now + self._lease
        try:
            with unit_of_work(self._sessions) as session:
                session.add(NvrSlot(nvr_id=nvr_id, slot=slot, holder=holder, leased_until=until))
                session.flush()
            return True
        except IntegrityError:
            pass
        # The slot exists: take it over only if its lease ran out (its holder crashed).
        with unit_of_work(self._sessions) as session:
            taken = session.execute(
                update(NvrSlot)
                .where(NvrSlot.nvr_id == nvr_id, NvrSlot.slot == slot, NvrSlot.leased_until < now)
                .values(holder=holder, leased_until=until)
            )
            return bool(taken.rowcount)  # type: ignore[attr-defined]

    def renew(self, lease: Lease) -> bool:
        """Extend a lease; False if it was lost (expired and taken by another holder)."""
        with unit_of_work(self._sessions) as session:
            renewed = session.execute(
                update(NvrSlot)
                .where(_owned(lease))
                .values(leased_until=self._clock.now() + self._lease)
            )
            return bool(renewed.rowcount)  # type: ignore[attr-defined]

    def release(self, lease: Lease) -> None:
        """Give the slot back."""
        with unit_of_work(self._sessions) as session:
            session.execute(delete(NvrSlot).where(_owned(lease)))

    def busy(self, nvr_id: int, now: datetime | None = None) -> int:
        """Count the live leases of an NVR."""
        moment = now or self._clock.now()
        with self._sessions() as session:
            rows = session.query(NvrSlot).filter(
                NvrSlot.nvr_id == nvr_id, NvrSlot.leased_until >= moment
            )
            return rows.count()


def _owned(lease: Lease) -> ColumnElement[bool]:
    return and_(
        NvrSlot.nvr_id == lease.nvr_id,
        NvrSlot.slot == lease.slot,
        NvrSlot.holder == lease.holder,
    )
