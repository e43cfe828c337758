"""The password policy: at least 12 characters, not a common password, not the username.

"Common" is the shipped list of the 10 000 most common passwords (`common-passwords.txt`, from
Django's list); a password whose letters, stripped of the digits and symbols around them, are a
common password is common too (`Password2026!` is "password", `123456789012` is all digits).
NIST SP 800-63B §5.1.1.2 asks verifiers to refuse passwords found in such lists rather than to
impose composition rules, which is what this does.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

MIN_LENGTH, MAX_LENGTH = 12, 256
MIN_DISTINCT = 5
_AROUND = string.digits + string.punctuation + string.whitespace


@cache
def common_passwords() -> frozenset[str]:
    text = Path(__file__).with_name("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def weakness(password: str, username: str | None = None) -> str | None:
    """Why `password` is refused, or None if it is acceptable."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"the password must be {MIN_LENGTH} to {MAX_LENGTH} characters long"
    lowered = password.lower()
    core = lowered.strip(_AROUND)
    if len(set(lowered)) < MIN_DISTINCT:
        return f"the password must use at least {MIN_DISTINCT} different characters"
    if lowered in common_passwords() or not core or core in common_passwords():
        return "the password is one of the most common passwords: choose another"
    if username and username.lower() in lowered:
        return "the password must not contain the username"
    return None


def check(password: str, username: str | None = None) -> str:
    """Return `password` if the policy accepts it, else raise ValueError saying why (pydantic
    turns it into a 422)."""
    reason = weakness(password, username)
    if reason is not None:
        raise ValueError(reason)
    return password
