"""A protocol-level fake of Google Drive v3 for the real googleapiclient / google-auth.

It speaks the wire protocol the real client sends: the OAuth token endpoint (JWT
bearer grant for service accounts, refresh-token grant for user tokens), files.*,
permissions.* and resumable upload sessions. Stored bytes live on disk, so a 2 GiB
upload stays small in memory. Faults are injected through `FakeDrive.faults`.
"""

from __future__ import annotations

import secrets
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.drive_activity import ActivityLog, person
from tests.fakes.drive_handler import (
    DRIVE_SCOPE,
    FOLDER_MIME,
    UNIT,
    DriveApiError,
    DriveHandler,
    UploadSession,
)

__all__ = ["FOLDER_MIME", "UNIT", "DriveApiError", "FakeDrive", "Faults", "Stats"]


@dataclass
class Faults:
    """Knobs a test turns; each one-shot fault is consumed when it fires."""

    chunk_status: dict[int, int] = field(default_factory=dict)  # data PUT index -> status
    rate_limited: int = 0  # next N API or upload calls answer 403 rateLimitExceeded
    too_many_requests: int = 0  # next N calls answer 429
    unavailable: int = 0  # next N calls answer 503 backendError
    # Sent with those 429s and 503s (RFC 9110 §10.2.3). Drive's usage-limits guide
    # (https://developers.google.com/drive/api/guides/limits) names the 403 userRateLimitExceeded
    # and 429 answers and asks for truncated exponential backoff; it does not promise a
    # Retry-After, so the client honours one when present and backs off otherwise.
    retry_after: str | None = None
    # The service account was removed from the Shared Drive: Drive then answers 404 notFound
    # for every item and for the drive itself, exactly as for items that do not exist (the
    # error guide's 404: the user has no read access to the file, or it does not exist,
    # https://developers.google.com/drive/api/guides/handle-errors).
    lost_access: bool = False
    session_gone_at_chunk: int | None = None  # data PUT index -> 404, session dropped
    corrupt_checksums: int = 0  # next N finished uploads get wrong checksums
    quota_exceeded: bool = False  # opening a session answers storageQuotaExceeded
    expiry_refused: bool = False  # the domain forbids expirations (cannotSetExpiration)
    expiry_only_on_update: bool = False  # create refuses an expiry (cannotSetExpirationOnInsert)
    no_sha256: bool = False  # answer like older items: md5Checksum only
    hang_at_chunk: int | None = None  # data PUT index: read it, then wait for release
    hang_reached: threading.Event = field(default_factory=threading.Event)
    hang_release: threading.Event = field(default_factory=threading.Event)


@dataclass
class Stats:
    """What the fake saw on the wire."""

    chunk_puts: int = 0
    bytes_received: int = 0
    status_queries: int = 0
    tokens_issued: int = 0
    sessions_opened: int = 0
    errors_sent: list[tuple[int, str]] = field(default_factory=list)
    missing_all_drives: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)


class FakeDrive:
    """State of the fake: files, permissions, sessions, credentials it trusts."""

    def __init__(self, root: Path | None = None) -> None:
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="fakedrive-")
        self.root = root or Path(self._tmp.name)  # type: ignore[union-attr]
        self.lock = threading.RLock()
        self.files: dict[str, dict[str, Any]] = {}
        self.permissions: dict[str, list[dict[str, Any]]] = {}
        self.sessions: dict[str, UploadSession] = {}
        self.generated_ids: set[str] = set()  # handed out by files.generateIds
        self.shared_drives: set[str] = set()
        self.drive_members: dict[str, list[str]] = {}  # Shared Drive id -> Viewer members
        # Addresses with no Google account behind them (a police mail server, say).
        self.non_google: set[str] = set()
        # Addresses whose invitation e-mail bounces: the grant is made all the same.
        self.undeliverable_mail: set[str] = set()
        self.trusted_keys: dict[str, rsa.RSAPublicKey] = {}
        self.refresh_tokens: set[str] = set()
        self.refresh_scopes: dict[str, set[str]] = {}  # what each user token was granted
        self.tokens: set[str] = set()
        self.token_grants: dict[str, tuple[str, set[str]]] = {}  # token -> principal, scopes
        self.faults = Faults()
        self.stats = Stats()
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.activity = ActivityLog(now=self._now)  # follows a test's replacement of `now`
        self.scheme = "http"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _now(self) -> datetime:
        return self.now()

    # -- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Return the endpoint root, e.g. http://127.0.0.1:PORT."""
        assert self._server is not None
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    def start(self, port: int = 0, tls: ssl.SSLContext | None = None) -> FakeDrive:
        """Listen on a loopback port (ephemeral by default) in a background thread; over
        HTTPS when given a server-side TLS context."""
        handler = type("Handler", (DriveHandler,), {"drive": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the stored bytes."""
        self.faults.hang_release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> FakeDrive:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- credentials -----------------------------------------------------------------
    def service_account_info(
        self, email: str = "saksi@saksi-test.iam.gserviceaccount.com"
    ) -> dict[str, Any]:
        """Generate a real RSA service-account key whose token_uri is this fake."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.trusted_keys[email] = key.public_key()
        return {
            "type": "service_account",
            "project_id": "saksi-test",
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": email,
            "client_id": "1000",
            "token_uri": f"{self.url}/token",
        }

    def authorized_user_info(self, scopes: tuple[str, ...] = (DRIVE_SCOPE,)) -> dict[str, Any]:
        """Return an OAuth user token file whose refresh goes to this fake; the user granted
        `scopes` when the token was made."""
        refresh = secrets.token_urlsafe(16)
        self.refresh_tokens.add(refresh)
        self.refresh_scopes[refresh] = set(scopes)
        return {
            "type": "authorized_user",
            "client_id": "saksi-desktop.apps.googleusercontent.com",
            "client_secret": "not-a-secret",
            "refresh_token": refresh,
            "token_uri": f"{self.url}/token",
        }

    def add_shared_drive(self) -> str:
        """Create a Shared Drive and return its id."""
        drive_id = "0A" + secrets.token_hex(8)
        with self.lock:
            self.shared_drives.add(drive_id)
        return drive_id

    def add_drive_viewer(self, drive_id: str, email: str) -> None:
        """Make `email` a Viewer member of a Shared Drive: a permission every item inherits."""
        with self.lock:
            self.drive_members.setdefault(drive_id, []).append(email)

    # -- helpers for tests -----------------------------------------------------------
    def content(self, file_id: str) -> bytes:
        """Return a stored file's bytes (tests use small files)."""
        return (self.root / file_id).read_bytes()

    def ancestors(self, item_id: str) -> list[str]:
        """The item's parents up to the Shared Drive, nearest first."""
        found: list[str] = []
        with self.lock:
            parents = list(self.files.get(item_id, {}).get("parents", []))
            while parents:
                found.append(parents[0])
                parents = list(self.files.get(parents[0], {}).get("parents", []))
        return found

    def act(self, item_id: str, actor: str, detail: dict[str, Any]) -> str:
        """Someone else (the recipient, in the Drive UI) acted on an item: on the activity
        log as the API would show it. Returns the actor's `people/…` name."""
        with self.lock:
            item = dict(self.files[item_id])
        self.activity.record(item, self.ancestors(item_id), detail, actor)
        return person(actor)

    def children(self, folder_id: str) -> list[dict[str, Any]]:
        """Return the files whose parent is `folder_id`."""
        with self.lock:
            return [f for f in self.files.values() if folder_id in f.get("parents", [])]
