"""Errors of the custody library.

CustodyError
├── LedgerError
│   ├── AppendOnlyViolation     the database refused a change to an append-only table
│   └── LedgerCorrupt           stored events do not recompute to what was recorded
├── ProofError                  an inclusion or consistency proof does not verify
├── SignatureError              a signed note or signature does not verify
├── OfficeKeyError              the office key is missing, unreadable or of the wrong kind
└── TimestampUnavailable        (custody.timestamp) no RFC 3161 token now: queue, retry
    └── TimestampMismatch       the authority's token is not for what was asked
"""

from __future__ import annotations


class CustodyError(Exception):
    pass


class LedgerError(CustodyError):
    pass


class AppendOnlyViolation(LedgerError):
    pass


class LedgerCorrupt(LedgerError):
    pass


class ProofError(CustodyError):
    pass


class SignatureError(CustodyError):
    pass


class OfficeKeyError(CustodyError):
    pass
