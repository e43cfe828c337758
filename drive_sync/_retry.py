"""Classify Drive errors and wait with truncated exponential backoff and jitter."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass
class RetryPolicy:
    """Truncated exponential backoff: min(cap, base * 2**n) plus up to `base` of jitter."""

    max_attempts: int = 8
    base: float = 1.0
    cap: float = 64.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    waits: list[float] = field(default_factory=list)

    def delay(self, attempt: int) -> float:
        """Return the wait before retry number `attempt` (0-based)."""
        jitter: float = self.rng.uniform(0, self.base)
        return min(self.cap, self.base * 2.0**attempt) + jitter

    def wait(self, attempt: int, status: int, reason: str | None, what: str) -> None:
        """Sleep before the next attempt, or give up when attempts are spent."""
        if attempt + 1 >= self.max_attempts:
            if reason in RATE_LIMIT_REASONS or status == 429:
                raise DriveRateLimited(f"{what}: still rate limited", status, reason)
            raise DriveError(f"{what}: HTTP {status} after {attempt + 1} attempts", status)
        pause = self.delay(attempt)
        self.waits.append(pause)
        self.sleep(pause)
