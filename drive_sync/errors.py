"""Errors raised by drive_sync.

Hierarchy::

    DeliveryError
    ├── DriveError
    │   ├── DriveQuotaExceeded
    │   ├── DriveRateLimited
    │   ├── UploadSessionExpired
    │   ├── ActivityUnavailable
    │   └── ChecksumMismatch
    ├── LinkNotFound
    ├── LinkExpired
    └── LinkRevoked
"""

from __future__ import annotations


class DeliveryError(Exception):
    """Base class of every delivery failure."""


class DriveError(DeliveryError):
    """Google Drive answered with an error we cannot recover from here."""

    def __init__(self, message: str, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class DriveAccessLost(DriveError):
    """Drive answers 404 for the delivery's items and its parent alike: the service account
    has lost access (removed from the Shared Drive, say), so nothing can be said about whether
    the items still exist. A purge that meets it fails on record and claims no deletion."""


class RecipientUnshareable(DriveError):
    """Drive will not share with this address (no Google account behind it, or a domain
    policy against sharing there): not an expiry problem, and retrying will not help."""


class ActivityUnavailable(DriveError):
    """The Drive Activity API cannot be read with these credentials: the token lacks the
    activity scope, or the API is not enabled in the Google Cloud project. Optional: the
    caller skips with a note, never fails."""


class DriveQuotaExceeded(DriveError):
    """The Drive (or the project) is out of storage or API quota; retrying will not help."""


class DriveRateLimited(DriveError):
    """Drive kept rate limiting after every retry was spent."""


class UploadSessionExpired(DriveError):
    """The resumable session is gone (404/410); the upload must restart from zero."""


class ChecksumMismatch(DriveError):
    """Drive's checksum of the uploaded copy differs from ours after every retry."""

    def __init__(self, message: str, local: str, remote: str) -> None:
        super().__init__(message)
        self.local = local
        self.remote = remote


class LinkNotFound(DeliveryError):
    """No delivery matches the presented token."""


class LinkExpired(DeliveryError):
    """The link's expiry time has passed."""


class LinkRevoked(DeliveryError):
    """The link was revoked before it expired."""
