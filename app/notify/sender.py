"""Sending the outbox over SMTP: claim, send, mark; retries with backoff.

A sender claims a batch of due pending rows with one conditional UPDATE (its own random token,
a lease until `claimed_until`), so two workers never send the same row: on PostgreSQL the rows
are picked with FOR UPDATE SKIP LOCKED, and on either database the UPDATE re-checks that the row
is still pending and unclaimed. The claim is committed before the network is touched. A message
is marked sent, in its own transaction, only after the server accepted it; a refusal or an
outage counts an attempt and sets the next try at base·2^(n-1) seconds (capped), and after the
last try the row is marked failed. A sender that dies mid-batch leaves its rows to be claimed
again when the lease ends (the Message-ID is the same on every try, for the receiver to spot
the one duplicate such a crash can cause).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import unquote, urlparse

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.db import unit_of_work
from app.notify.models import WEBHOOK_ADDRESS, Channel, Notification, NotificationState
from app.runtime import Runtime

logger = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=15)
BATCH = 50
DEFAULT_PORTS = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}


class SmtpUrlError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://[user:pass@]host[:port]`, `smtps://…` (implicit TLS), `smtp+starttls://…`."""
    parsed = urlparse(url)
    if parsed.scheme not in DEFAULT_PORTS or not parsed.hostname:
        raise SmtpUrlError("SAKSI_SMTP_URL must be smtp://, smtps:// or smtp+starttls://host:port")
    return SmtpTarget(
        scheme=parsed.scheme,
        host=parsed.hostname,
        port=parsed.port or DEFAULT_PORTS[parsed.scheme],
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
    )


def connect(target: SmtpTarget, timeout: float) -> smtplib.SMTP:
    """An SMTP session to `target`, over TLS as its scheme asks, logged in if it has a user."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if target.scheme == "smtps":
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout)
        if target.scheme == "smtp+starttls":
            client.starttls(context=context)
    try:
        if target.username is not None:
            client.login(target.username, target.password or "")
    except BaseException:
        client.close()
        raise
    return client


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    address: str
    subject: str
    body: str
    dedupe_key: str
    attempts: int


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def claim(
    session: Session, token: str, now: datetime, limit: int = BATCH,
    channel: Channel = Channel.EMAIL,
) -> list[Claimed]:  # fmt: skip
    """Claim up to `limit` due pending rows of `channel` for `token` until now + CLAIM_LEASE."""
    webhook = Notification.recipient_address == WEBHOOK_ADDRESS
    claimable = (
        webhook if channel is Channel.WEBHOOK else ~webhook,
        Notification.state == NotificationState.PENDING,
        Notification.next_attempt_at <= now,
        or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
    )
    picked = (
        select(Notification.id)
        .where(*claimable)
        .order_by(Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's writers are serialised
    )
    session.execute(
        update(Notification)
        .where(Notification.id.in_(picked.scalar_subquery()), *claimable)
        .values(claim_token=token, claimed_until=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    rows = session.scalars(
        select(Notification).where(Notification.claim_token == token).order_by(Notification.id)
    )
    return [
        Claimed(n.id, n.recipient_address, n.subject, n.body, n.dedupe_key, n.attempts)
        for n in rows
    ]


def message(item: Claimed, sender: str, now: datetime) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = item.address
    mail["Subject"] = item.subject
    mail["Date"] = format_datetime(now)
    digest = hashlib.sha256(item.dedupe_key.encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "saksi.invalid"
    mail["Message-ID"] = f"<{digest}.{item.id}@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(item.body)
    return mail


def backoff(runtime: Runtime, attempts: int) -> timedelta:
    settings = runtime.settings
    seconds = settings.notify_retry_base_seconds * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.notify_retry_cap_seconds))


def mark_sent(runtime: Runtime, item: Claimed, token: str) -> None:
    with unit_of_work(runtime.sessions) as session:
        done = session.execute(
            update(Notification)
            .where(Notification.id == item.id, Notification.claim_token == token)
            .values(
                state=NotificationState.SENT,
                sent_at=runtime.clock.now(),
                attempts=Notification.attempts + 1,
                last_error=None,
                claim_token=None,
                claimed_until=None,
            )  # fmt: skip
            .execution_options(synchronize_session=False)
        )
    if getattr(done, "rowcount", 1) != 1:
        logger.warning("notification %d was sent after its claim had lapsed", item.id)


def mark_failed(
    runtime: Runtime, item: Claimed, token: str, error: str, *, permanent: bool
) -> NotificationState:
    attempts = item.attempts + 1
    now = runtime.clock.now()
    final = permanent or attempts >= runtime.settings.notify_max_attempts
    state = NotificationState.FAILED if final else NotificationState.PENDING
    with unit_of_work(runtime.sessions) as session:
        session.execute(
            update(Notification)
            .where(Notification.id == item.id, Notification.claim_token == token)
            .values(
                state=state,
                attempts=attempts,
                last_error=error[:2000],
                next_attempt_at=now + backoff(runtime, attempts),
                claim_token=None,
                claimed_until=None,
            )  # fmt: skip
            .execution_options(synchronize_session=False)
        )
    return state


def _permanent(exc: Exception) -> bool:
    """A 5xx answer about this message (not the connection): trying again will not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(
        exc, smtplib.SMTPServerDisconnected
    ):
        return exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError)
    return False


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def send_pending(runtime: Runtime, *, limit: int = BATCH) -> SendReport:
    """Send the due pending notifications once; return what became of each claimed one."""
    report = SendReport()
    settings = runtime.settings
    if settings.smtp_url is None:
        logger.debug("notifications: no SAKSI_SMTP_URL, nothing sent")
        return report
    target = parse_smtp_url(settings.smtp_url.get_secret_value())
    sender = settings.smtp_from or settings.office.email
    token = secrets.token_hex(16)
    with unit_of_work(runtime.sessions) as session:
        batch = claim(session, token, runtime.clock.now(), limit)
    if not batch:
        return report
    try:
        client = connect(target, settings.smtp_timeout_seconds)
    except OSError as exc:  # smtplib.SMTPException included
        logger.warning("notifications: SMTP server unreachable (%s); will retry", describe(exc))
        _give_back(runtime, batch, token, exc, report)
        return report
    try:
        _send_batch(runtime, client, batch, token, sender, report)
    finally:
        try:
            client.quit()
        except OSError:
            client.close()
    return report


def _send_batch(
    runtime: Runtime, client: smtplib.SMTP, batch: list[Claimed], token: str, sender: str,
    report: SendReport,
) -> None:  # fmt: skip
    for index, item in enumerate(batch):
        try:
            client.send_message(message(item, sender, runtime.clock.now()))
        except smtplib.SMTPException as exc:  # an answer about this message (SMTPException
            # is an OSError too, so it is told apart from a lost connection first)
            if not isinstance(exc, smtplib.SMTPServerDisconnected):
                record_failure(runtime, item, token, describe(exc), _permanent(exc), report)
                continue
            _give_back(runtime, batch[index:], token, exc, report)
            return
        except OSError as exc:
            _give_back(runtime, batch[index:], token, exc, report)
            return
        mark_sent(runtime, item, token)
        report.sent.append(item.id)


def _give_back(
    runtime: Runtime, rest: list[Claimed], token: str, exc: BaseException, report: SendReport
) -> None:
    """The connection is gone: this message and the rest of the batch wait for the next try."""
    for item in rest:
        record_failure(runtime, item, token, describe(exc), False, report)


def record_failure(
    runtime: Runtime, item: Claimed, token: str, error: str, permanent: bool, report: SendReport
) -> None:
    state = mark_failed(runtime, item, token, error, permanent=permanent)
    if state is NotificationState.FAILED:
        logger.error("notification %d to %s failed for good: %s", item.id, item.address, error)
        report.failed.append(item.id)
    else:
        report.retrying.append(item.id)
