"""Classify Drive errors and wait: as `Retry-After` says on 429 and 503, else with truncated
exponential backoff and jitter.

Drive's usage-limits guide asks clients to back off exponentially with jitter
(https://developers.google.com/drive/api/guides/limits), and HTTP says a 429 or 503 may carry
`Retry-After` (RFC 9110 §10.2.3: seconds, or an HTTP date); a 429 with `Retry-After: 5` used to
be retried after 0.5-2 s (issue 16).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from .errors import DriveError, DriveQuotaExceeded, DriveRateLimited

Verdict = Literal["retry", "quota", "session", "fatal"]

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
QUOTA_REASONS = frozenset(
    {
        "storageQuotaExceeded",
        "quotaExceeded",
        "dailyLimitExceeded",
        "teamDriveFileLimitExceeded",
        "numChildrenInNonRootLimitExceeded",
        "uploadLimitExceeded",
    }
)


def error_reason(body: bytes | str | None) -> str | None:
    """Return the first `reason` of a Google JSON error body, if any."""
    if not body:
        return None
    try:
        doc = json.loads(body)
        errors = doc["error"].get("errors") or []
        reason = errors[0].get("reason") if errors else doc["error"].get("status")
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None
    return str(reason) if reason else None


def classify(status: int, reason: str | None) -> Verdict:
    """Decide what a failed response means for the caller."""
    if reason in QUOTA_REASONS:
        return "quota"
    if status >= 500 or status == 429:
        return "retry"
    if status == 403 and reason in RATE_LIMIT_REASONS:
        return "retry"
    if status in (404, 410):
        return "session"
    return "fatal"


def raise_for(status: int, reason: str | None, what: str) -> None:
    """Raise the matching DriveError for a non-retryable failure."""
    if reason in QUOTA_REASONS:
        raise DriveQuotaExceeded(
            f"{what}: Drive quota exhausted ({reason}); free space or raise the quota, "
            "retrying will not help",
            status,
            reason,
        )
    raise DriveError(f"{what}: HTTP {status} ({reason or 'no reason'})", status, reason)


RETRY_AFTER_STATUSES = frozenset({429, 503})


def _utcnow() -> datetime:
    return datetime.now(UTC)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The wait a `Retry-After` header asks for (delay-seconds or an HTTP date), if any."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class RetryPolicy:
    """Truncated exponential backoff: min(cap, base * 2**n) plus up to `base` of jitter; a
    server's `Retry-After` (up to `max_retry_after` seconds) instead when it sends one.

    `sleep` and `clock` are the policy's time: a test replaces both, so a wait (and an
    HTTP-date `Retry-After`, read against `clock`) is checked without sleeping."""

    max_attempts: int = 8
    base: float = 1.0
    cap: float = 64.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    waits: list[float] = field(default_factory=list)
    max_retry_after: float = 600.0
    clock: Callable[[], datetime] = _utcnow

    def asked(self, header: str | None) -> float | None:
        """The wait a `Retry-After` header asks for, reckoned on this policy's clock."""
        return retry_after_seconds(header, self.clock())

    def delay(self, attempt: int) -> float:
        """Return the wait before retry number `attempt` (0-based)."""
        jitter: float = self.rng.uniform(0, self.base)
        return min(self.cap, self.base * 2.0**attempt) + jitter

    def wait(
        self, attempt: int, status: int, reason: str | None, what: str,
        retry_after: float | None = None,
    ) -> None:  # fmt: skip
        """Sleep before the next attempt, or give up when attempts are spent."""
        if attempt + 1 >= self.max_attempts:
            if reason in RATE_LIMIT_REASONS or status == 429:
                raise DriveRateLimited(f"{what}: still rate limited", status, reason)
            raise DriveError(f"{what}: HTTP {status} after {attempt + 1} attempts", status)
        if retry_after is not None and status in RETRY_AFTER_STATUSES:
            pause = min(retry_after, self.max_retry_after)
        else:
            pause = self.delay(attempt)
        self.waits.append(pause)
        self.sleep(pause)
