"""Throttling shared by every process: counters in the database, lock-outs that double.

A key (`login:account:<name>`, `login:address:<ip>`, `download:link:<hash>`, …) counts hits in a
fixed window; the hit that reaches the policy's limit locks the key out for the lock-out time,
doubled with every lock-out since the key last stayed quiet for the cap. While a key is locked
out, `guard` answers `TooManyAttempts` (429) with the seconds to wait.

Counters are written in transactions of their own, committed whatever becomes of the request
that hit them: a failed login rolls its request back, and its failure must still count. On
SQLite every writer begins IMMEDIATE (serialised); on PostgreSQL the counter row is locked
`FOR UPDATE`, so two processes never lose a hit between them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from app import errors
from app.auth.models import ThrottleCounter
from app.db import reading, unit_of_work
from app.http import ErrorEnvelope
from app.settings import Settings

logger = logging.getLogger(__name__)


class TooManyAttempts(errors.SaksiError):
    """A throttled key: answered 429 with `Retry-After: <retry_after>`."""

    status_code: ClassVar[int] = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Policy:
    limit: int
    window: timedelta
    lockout: timedelta
    lockout_cap: timedelta

    def lockout_for(self, lockouts: int) -> timedelta:
        """The `lockouts`-th lock-out in a row lasts base·2^(n-1), capped."""
        doubled: timedelta = self.lockout * 2 ** min(lockouts - 1, 30)
        return min(doubled, self.lockout_cap)


def policy(settings: Settings, limit: int) -> Policy:
    """A policy with the deployment's window and lock-out times."""
    return Policy(
        limit=limit,
        window=timedelta(seconds=settings.throttle_window_seconds),
        lockout=timedelta(seconds=settings.throttle_lockout_seconds),
        lockout_cap=timedelta(seconds=settings.throttle_lockout_max_seconds),
    )


def guard(factory: sessionmaker[Session], keys: Iterable[str], now: datetime) -> None:
    """Raise TooManyAttempts if any of `keys` is locked out at `now`."""
    with reading(factory) as session:
        until = [
            moment
            for moment in session.scalars(
                select(ThrottleCounter.locked_until).where(
                    ThrottleCounter.key.in_(list(keys)), ThrottleCounter.locked_until > now
                )
            )
            if moment is not None
        ]
    if until:
        wait = max(until) - now
        raise TooManyAttempts(
            f"too many attempts: try again in {retry_seconds(wait)} s", retry_seconds(wait)
        )


def hit(factory: sessionmaker[Session], key: str, rule: Policy, now: datetime) -> bool:
    """Count one hit of `key` (in its own committed transaction); True if it locked the key."""
    with unit_of_work(factory) as session:
        counter = _locked_row(session, key, now)
        if counter.locked_until is not None and now - counter.locked_until > rule.lockout_cap:
            counter.lockouts = 0  # quiet long enough: the next lock-out starts short again
        if counter.window_started_at <= now - rule.window:
            counter.hits, counter.window_started_at = 0, now
        counter.hits += 1
        counter.updated_at = now
        if counter.hits < rule.limit:
            return False
        counter.lockouts += 1
        counter.locked_until = now + rule.lockout_for(counter.lockouts)
        counter.hits, counter.window_started_at = 0, now
        logger.warning(
            "throttle: %s locked out until %s (lock-out %d in a row)",
            key, counter.locked_until.isoformat(), counter.lockouts,
        )  # fmt: skip
        return True


def admit(factory: sessionmaker[Session], key: str, rule: Policy, now: datetime) -> None:
    """Let one request through `key`'s limit, or raise TooManyAttempts."""
    guard(factory, [key], now)
    hit(factory, key, rule, now)


def clear(factory: sessionmaker[Session], key: str) -> None:
    """Forget `key`'s failures in its window (a successful login); its lock-outs still count
    towards the next one's length."""
    with unit_of_work(factory) as session:
        counter = session.get(ThrottleCounter, key)
        if counter is not None and counter.hits:
            counter.hits = 0


def locked_out(session: Session, now: datetime) -> list[ThrottleCounter]:
    """The keys locked out at `now`, the longest lock first (for the administrators)."""
    query = (
        select(ThrottleCounter)
        .where(ThrottleCounter.locked_until > now)
        .order_by(ThrottleCounter.locked_until.desc())
    )
    return list(session.scalars(query))


def retry_seconds(wait: timedelta) -> int:
    return max(1, math.ceil(wait.total_seconds()))


def _locked_row(session: Session, key: str, now: datetime) -> ThrottleCounter:
    """The counter of `key`, created if new, locked against other writers until commit."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    fresh = {"key": key, "hits": 0, "window_started_at": now, "lockouts": 0, "updated_at": now}
    session.execute(
        insert(ThrottleCounter).values(**fresh).on_conflict_do_nothing(index_elements=["key"])
    )
    query = (
        select(ThrottleCounter)
        .where(ThrottleCounter.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).one()


class ThrottledRoute(APIRoute):
    """A route whose TooManyAttempts answers 429 in the one envelope, with `Retry-After`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except TooManyAttempts as exc:
                return throttled_response(exc)

        return handle


def throttled_response(exc: TooManyAttempts) -> JSONResponse:
    body = ErrorEnvelope(error=exc.code, detail=exc.detail)
    headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(body.model_dump(exclude_none=True), status_code=429, headers=headers)
