"""Keep secrets out of the logs: download-link tokens, `token=` parameters, credentials.

A local delivery link (`/unduh/<token>/…`) is the recipient's key to the evidence; uvicorn's
access log wrote it in full at every request (issue 17). Records are rewritten before any
handler formats them, whoever logs them (uvicorn's access and error logs, httpx, ours).
"""

from __future__ import annotations

import logging
import re

REDACTED = "[disembunyikan]"
SECRETS = (
    (re.compile(r"(/unduh/)[^/\s?\"']+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"((?:access_)?token=)[^&\s\"']+", re.IGNORECASE), rf"\g<1>{REDACTED}"),
    (re.compile(r"(authorization:?\s*(?:bearer|basic|digest)?\s*)\S+", re.IGNORECASE),
     rf"\g<1>{REDACTED}"),
    (re.compile(r"(password=)[^&\s\"']+", re.IGNORECASE), rf"\g<1>{REDACTED}"),
    # A signer's NIK (national ID number) in BSrE's certificate-status path (app.handover.bsre).
    (re.compile(r"(/api/user/status/)[^/\s?\"']+"), rf"\g<1>{REDACTED}"),
)  # fmt: skip
# The loggers that write request lines: uvicorn's, and httpx's on the client side.
REQUEST_LOGGERS = ("uvicorn.access", "uvicorn.error", "httpx", "")


def redact(text: str) -> str:
    """The text with every secret the patterns know replaced."""
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and arguments with their secrets redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def _redacted(arg: object) -> object:
    """A log argument with its secrets redacted: strings, and objects that print as one with a
    secret in it (httpx logs its request lines with `httpx.URL` arguments)."""
    if isinstance(arg, str):
        return redact(arg)
    if isinstance(arg, int | float) or arg is None:
        return arg
    text = str(arg)
    cleaned = redact(text)
    return arg if cleaned == text else cleaned


def install() -> None:
    """Put the filter on the request-logging loggers and on every root handler (idempotent)."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in REQUEST_LOGGERS]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())
