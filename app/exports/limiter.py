"""A per-NVR limit on simultaneous playback sessions, shared by every worker process.

NVRs allow few playback sessions (often 2–4 per device). A slot is a row `(nvr_id, slot)` with a
lease: taking one is an INSERT that the primary key lets through only once, so the limit holds
across processes and machines on SQLite and PostgreSQL alike. A lease that is not renewed expires,
so a crashed worker cannot keep a slot for ever.

Exports that find every slot taken wait in a line per NVR (`NvrSlotTicket`), served in ticket
order: a slot goes to a waiter only while fewer live tickets than free slots are ahead of it, so a
newcomer never overtakes an export that was waiting. A ticket stays the export's across its job
being queued again; one whose waiter stopped refreshing it (`alive_until`) no longer holds the
line up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.db import unit_of_work
from app.exports.models import NvrSlot, NvrSlotTicket


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

    def take_in_turn(
        self, nvr_id: int, export_id: int, holder: str, alive: timedelta
    ) -> Lease | None:
        """A slot for the export if its turn has come, else None (its place in the line kept
        `alive` longer). Leaving the line is part of taking the slot."""
        ticket = self._ticket(nvr_id, export_id, alive)
        now = self._clock.now()
        with self._sessions() as session:
            ahead = session.scalar(
                select(func.count()).select_from(NvrSlotTicket).where(
                    NvrSlotTicket.nvr_id == nvr_id, NvrSlotTicket.ticket < ticket,
                    NvrSlotTicket.alive_until >= now,
                )
            )  # fmt: skip
        if (ahead or 0) >= self._limit - self.busy(nvr_id, now):
            return None
        lease = self.acquire(nvr_id, holder)
        if lease is not None:
            self.leave_line(export_id)
        return lease

    def ahead_of(self, export_id: int) -> int | None:
        """How many live waiters are before the export in its NVR's line; None if not in one."""
        now = self._clock.now()
        with self._sessions() as session:
            mine = session.scalars(
                select(NvrSlotTicket).where(NvrSlotTicket.export_id == export_id)
            ).one_or_none()
            if mine is None:
                return None
            return int(session.scalar(
                select(func.count()).select_from(NvrSlotTicket).where(
                    NvrSlotTicket.nvr_id == mine.nvr_id, NvrSlotTicket.ticket < mine.ticket,
                    NvrSlotTicket.alive_until >= now,
                )
            ) or 0)  # fmt: skip

    def leave_line(self, export_id: int) -> None:
        with unit_of_work(self._sessions) as session:
            session.execute(delete(NvrSlotTicket).where(NvrSlotTicket.export_id == export_id))

    def _ticket(self, nvr_id: int, export_id: int, alive: timedelta) -> int:
        """The export's ticket, taken now or kept from before; refreshed either way."""
        try:
            return self._ticket_once(nvr_id, export_id, alive)
        except IntegrityError:  # a second job of the same export took it meanwhile: share it
            return self._ticket_once(nvr_id, export_id, alive)

    def _ticket_once(self, nvr_id: int, export_id: int, alive: timedelta) -> int:
        now = self._clock.now()
        with unit_of_work(self._sessions) as session:
            kept = session.execute(
                update(NvrSlotTicket)
                .where(NvrSlotTicket.export_id == export_id)
                .values(alive_until=now + alive)
                .returning(NvrSlotTicket.ticket)
            ).scalar_one_or_none()
            if kept is not None:
                return int(kept)
            ticket = NvrSlotTicket(nvr_id=nvr_id, export_id=export_id, enqueued_at=now,
                                   alive_until=now + alive)  # fmt: skip
            session.add(ticket)
            session.flush()
            return ticket.ticket

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
