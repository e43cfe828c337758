"""The signed webhook: every notification also POSTed as JSON to the office's own channel.

Each webhook delivery is its own outbox row (`models.WEBHOOK_ADDRESS`, queued beside the e-mail
by `outbox.webhook_twin`), claimed, sent and retried exactly like an e-mail
(`sender.claim`/`mark_sent`/`record_failure`), so an outage of the receiver loses nothing and
a message is marked sent only after the receiver answered 2xx.

The signature follows GitHub's `X-Hub-Signature-256` ("Validating webhook deliveries",
docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries): `sha256=` and the hex
HMAC-SHA256 of the raw body under the shared secret. GitHub's body carries no time, so a
captured delivery could be replayed; as Stripe's and Svix's signing schemes do (a timestamp
under the signature, deliveries older than 5 minutes rejected, a fresh one on every retry),
the body holds `timestamp` (Unix seconds at sending), repeated in `X-Saksi-Timestamp`; the
receiver checks both agree and are recent. `X-Saksi-Delivery` (the row's id, the same on every
try, like GitHub's `X-GitHub-Delivery`) lets it drop the one duplicate a crash mid-send can
cause.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime
from typing import Any

import httpx

from app.db import unit_of_work
from app.notify.models import Channel
from app.notify.sender import BATCH, Claimed, SendReport, claim, describe, mark_sent, record_failure
from app.runtime import Runtime

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Saksi-Signature"
TIMESTAMP_HEADER = "X-Saksi-Timestamp"
DELIVERY_HEADER = "X-Saksi-Delivery"
# Answers that say the request itself is wrong: trying again will not help. 408 (timeout),
# 409 and 429 (rate limit) are worth another try, as every 5xx is.
PERMANENT = frozenset(range(400, 500)) - {408, 409, 425, 429}


def signature(secret: bytes, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of body>`, the value of X-Saksi-Signature."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def payload(item: Claimed, now: datetime) -> bytes:
    """The body POSTed: the row's JSON (queued with the event) with its id and the time of
    this try, compact and in a fixed key order."""
    data: dict[str, Any] = json.loads(item.body)
    data.update(id=item.id, timestamp=int(now.timestamp()))
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def headers(secret: bytes, body: bytes, item: Claimed, now: datetime) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Saksi-Webhook/1",
        SIGNATURE_HEADER: signature(secret, body),
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        DELIVERY_HEADER: str(item.id),
    }


def send_pending(runtime: Runtime, *, limit: int = BATCH) -> SendReport:
    """POST the due pending webhook rows once; return what became of each claimed one."""
    report = SendReport()
    settings = runtime.settings
    if settings.webhook_url is None or settings.webhook_secret is None:
        return report
    token = secrets.token_hex(16)
    with unit_of_work(runtime.sessions) as session:
        batch = claim(session, token, runtime.clock.now(), limit, channel=Channel.WEBHOOK)
    if not batch:
        return report
    secret = settings.webhook_secret.get_secret_value().encode()
    with httpx.Client(timeout=settings.webhook_timeout_seconds) as client:
        for item in batch:
            _post(runtime, client, settings.webhook_url, secret, item, token, report)
    return report


def _post(
    runtime: Runtime, client: httpx.Client, url: str, secret: bytes, item: Claimed, token: str,
    report: SendReport,
) -> None:  # fmt: skip
    now = runtime.clock.now()
    body = payload(item, now)
    try:
        answer = client.post(url, content=body, headers=headers(secret, body, item, now))
    except httpx.HTTPError as exc:  # refused, timed out, reset: the receiver is down
        record_failure(runtime, item, token, describe(exc), False, report)
        return
    if answer.is_success:
        mark_sent(runtime, item, token)
        report.sent.append(item.id)
        return
    error = f"HTTP {answer.status_code}: {answer.text[:500]}"
    record_failure(runtime, item, token, error, answer.status_code in PERMANENT, report)
