"""Service configuration: one `Settings`, read from `SAKSI_*` environment variables.

Secrets may be given inline (`SAKSI_SECRET_KEY`) or as a file (`SAKSI_SECRET_KEY_FILE`), the
Docker/Kubernetes convention. In development, secrets that are not supplied are generated into the
data directory on first start (owner-only permissions); production refuses to start without them.
"""

from __future__ import annotations

import math
import secrets
from collections import Counter
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from custody.atomic import create_once

MIN_SECRET_LENGTH = 32
# A random secret of that length: 32 base64 characters carry ~5.8 bits each by this measure.
MIN_SECRET_BITS, MIN_DISTINCT = 128, 12
WEAK_SECRETS = frozenset({"changeme", "secret", "password", "saksi", "development", "admin"})


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class OfficeSettings(BaseModel):
    """The office that runs Saksi: used in documents and the SOP."""

    government: str = "PEMERINTAH KABUPATEN CIREBON"
    name: str = "Dinas Komunikasi dan Informatika Kabupaten Cirebon"
    agency: str = "DINAS KOMUNIKASI DAN INFORMATIKA"
    address: str = "Jl. Sunan Drajat No. 15"
    phone: str = "(0231) 8330580"
    website: str = "https://diskominfo.cirebonkab.go.id"
    email: str = "diskominfo@cirebonkab.go.id"
    city: str = "Sumber"
    postal_code: str = "45611"


# Who signs the BAST electronically: Pihak Pertama, Pihak Kedua and Mengetahui.
SignerRole = Literal["operator", "recipient", "subkoordinator"]
# The keys Saksi may hold: one per signer role, and the office seal, which signs a recipient's
# uncertified electronic approval on their behalf (app.handover.signing).
SigningKeyName = Literal["operator", "recipient", "subkoordinator", "seal"]


class Pkcs12Key(BaseModel):
    """A signer's certificate and private key as a PKCS#12 file, and the file of its passphrase
    (none: the file is not encrypted)."""

    p12_file: Path
    passphrase_file: Path | None = None


class BsreSettings(BaseModel):
    """BSrE's signing service (BSSN "API eSign Client Service", app.handover.bsre): its base URL
    (`…/api/sign/pdf` is appended) and this application's client credentials (HTTP basic auth).
    The signer's NIK and passphrase are never settings: each signer types them when signing."""

    url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    @model_validator(mode="after")
    def _read_secret_file(self) -> BsreSettings:
        if self.client_secret is None and self.client_secret_file is not None:
            self.client_secret = SecretStr(_read_secret_file(self.client_secret_file))
        return self

    @property
    def configured(self) -> bool:
        return bool(self.url and self.client_id and self.client_secret)


def known_zone(value: str) -> str:
    """An IANA zone name this machine knows, else a validation error (ZoneInfoNotFoundError is
    a KeyError, which pydantic would let escape as a crash)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class WitnessedLog(BaseModel):
    """A log this office cosigns as a witness: its origin line and its verifier key."""

    origin: str = Field(min_length=1, max_length=255, pattern=r"^[^\n]+$")
    key: str = Field(min_length=1)


class WitnessEndpoint(BaseModel):
    """A witness this office submits checkpoints to: submission prefix and verifier key."""

    url: str = Field(pattern=r"^https?://[^\s]+$")
    key: str = Field(min_length=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SAKSI_", env_nested_delimiter="__", extra="ignore",
        hide_input_in_errors=True,  # a refused setting may be a secret: never echo it
    )  # fmt: skip

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("./saksi-data")
    database_url: str | None = None
    # The database password kept apart from the URL (a Docker secret): put into the URL when
    # the URL carries none. Saksi reads it itself, so the file's owner and mode are the
    # deployment's choice (libpq's PGPASSFILE would ignore a file the container user cannot
    # own with mode 0600).
    database_password_file: Path | None = None
    queue_url: str | None = None
    timezone: str = "Asia/Jakarta"

    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    nvr_secret_key: SecretStr | None = None
    nvr_secret_key_file: Path | None = None

    token_ttl_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)
    max_window_hours: float = Field(default=24.0, gt=0)
    letter_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    sop_file: Path | None = None
    worker_threads: int = Field(default=2, ge=0, le=32)
    # Requests computed at once by one API process (each holds a database connection and a
    # thread until its response starts); up to `request_queue` more wait at most
    # `request_queue_wait_s`, the rest get 503. One process runs Python on one core at a time:
    # 50 clients on 2 cores answered p95 0.41-0.58 s with 3-8 here, 0.77 s with 16 (GIL and
    # thread switching), so 8 (benchmarks/load_bench.py).
    max_concurrent_requests: int = Field(default=8, ge=1, le=256)
    request_queue: int = Field(default=256, ge=0, le=10_000)
    request_queue_wait_s: float = Field(default=10.0, gt=0, le=120)
    # A web session unused this long ends (the API's bearer tokens end at `token_ttl_minutes`).
    web_session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Throttling, counted in the database so every process of a deployment shares it. Login:
    # this many failures per window for one account, or from one address, lock it out for
    # `throttle_lockout_seconds`, doubling with every further lock-out up to the cap.
    throttle_window_seconds: int = Field(default=60, ge=1, le=3600)
    login_failures_per_account: int = Field(default=5, ge=1, le=1000)
    login_failures_per_address: int = Field(default=20, ge=1, le=10_000)
    throttle_lockout_seconds: int = Field(default=60, ge=1, le=24 * 3600)
    throttle_lockout_max_seconds: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    # Requests per window on one download link, and on the public verification pages from one
    # address.
    download_requests_per_link: int = Field(default=600, ge=1, le=1_000_000)
    verification_requests_per_address: int = Field(default=60, ge=1, le=1_000_000)
    # Requests of one file through one link by one client within this many minutes of each
    # other are one download session: one `delivery.accessed` custody event.
    download_session_minutes: int = Field(default=30, ge=1, le=24 * 60)
    office: OfficeSettings = OfficeSettings()
    # The name the ledger's checkpoints carry (c2sp.org/tlog-checkpoint origin and signer).
    custody_origin: str = Field(
        default="diskominfo.cirebonkab.go.id/saksi", pattern=r"^[A-Za-z0-9.\-/_]+$"
    )
    office_key_file: Path | None = None
    checkpoint_every_minutes: int = Field(default=10, ge=1)
    checkpoint_every_events: int = Field(default=100, ge=1)
    # NVRs allow few simultaneous playback sessions; exports of one NVR wait for a free one.
    nvr_playback_limit: int = Field(default=2, ge=1, le=16)
    # How long a clock probe may keep reading the NVR's clock to narrow its offset (a tick of
    # a whole-second clock always falls within 1.2 s); 0 takes one reading (±0.5 s and more).
    nvr_clock_probe_seconds: float = Field(default=1.2, ge=0, le=10)
    # An export retries a busy or unreachable NVR up to this many tries that reach it, waiting
    # between half and all of base·2^(n-1) seconds (capped) before try n+1.
    export_max_attempts: int = Field(default=5, ge=1, le=50)
    export_retry_base_seconds: float = Field(default=15.0, gt=0, le=3600)
    export_retry_cap_seconds: float = Field(default=600.0, gt=0, le=24 * 3600)
    # How long an export waits in its NVR's line for a playback slot before its job gives the
    # worker thread back (and is queued again at once, keeping its place).
    export_slot_wait_seconds: float = Field(default=10.0, ge=0, le=600)
    # Free space an export must leave in the data directory (for the database, the ledger and
    # the packages); an export that would eat into it waits, and /readyz warns below it.
    min_free_bytes: int = Field(default=1_000_000_000, ge=0)
    # The bitrate assumed for a window whose NVR does not announce its files' sizes (a 1080p
    # camera records about 4 000 kbit/s), to tell before fetching whether the clip fits.
    export_estimate_kbps: int = Field(default=4000, ge=1, le=100_000)
    # A window whose start is within this many days of the NVR's oldest recording is at risk of
    # being overwritten: flagged at intake, and its preservation copy may be taken at once.
    preservation_margin_days: int = Field(default=3, ge=0, le=90)
    # RFC 3161 time-stamping authority for checkpoints (optional): e.g. http://tsa.example/tsr
    timestamp_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    # PAdES signatures on the BAST (app.handover.esign), one PKCS#12 key per signer role, e.g.
    # SAKSI_SIGNING__OPERATOR__P12_FILE and SAKSI_SIGNING__OPERATOR__PASSPHRASE_FILE; the
    # signatures are time-stamped by `timestamp_url` when it is set.
    # SAKSI_SIGNING__SEAL__P12_FILE: the office seal for recipients' uncertified approvals.
    signing: dict[SigningKeyName, Pkcs12Key] = Field(default_factory=dict)
    # Remote signing with BSrE (SAKSI_BSRE__URL, __CLIENT_ID, __CLIENT_SECRET[_FILE],
    # __TIMEOUT_SECONDS): a signer with a BSrE certificate signs with their NIK and passphrase.
    bsre: BsreSettings = BsreSettings()
    database_app_role: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # Where recipients reach this service: links, the verification page, the BAST's QR code.
    public_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s]+$")
    # The interactive API documentation (/docs, /redoc, /openapi.json): on in development, off
    # in production unless asked for (it maps every route for whoever finds the server).
    api_docs: bool | None = None
    # Delivery: `local` (links served by Saksi, the default) or `drive` (Google Drive).
    delivery_backend: Literal["local", "drive"] = "local"
    delivery_ttl_days: int = Field(default=14, ge=1, le=90)
    # A delivery not purged this long after it expired raises the purge alert.
    purge_alert_minutes: int = Field(default=30, ge=1)
    drive_credentials_file: Path | None = None  # service-account key or OAuth token (JSON)
    drive_shared_drive_id: str | None = None
    drive_parent_folder_id: str | None = None
    drive_anyone_with_link: bool = False
    drive_api_endpoint: str = Field(
        default="https://www.googleapis.com", pattern=r"^https?://[^\s]+$"
    )
    # Drive Activity API v2 (optional: read with the drive.activity.readonly scope, skipped
    # with a note when the credentials or the Cloud project do not allow it).
    drive_activity_api_endpoint: str = Field(
        default="https://driveactivity.googleapis.com", pattern=r"^https?://[^\s]+$"
    )
    # When Drive cannot share with the letter's address (no Google account behind it, or a
    # domain policy): `local_link` delivers by Saksi's own download instead, `anyone_with_link`
    # opens the Drive folder to whoever has its link, `fail` stops the delivery.
    drive_unshareable_policy: Literal["local_link", "anyone_with_link", "fail"] = "local_link"
    # E-mail notifications (app.notify): `smtp://host:port`, `smtps://` (implicit TLS) or
    # `smtp+starttls://`; a user and password in the URL log in. Unset: nothing is sent, the
    # outbox keeps its messages pending. `smtp_from` defaults to the office's address.
    smtp_url: SecretStr | None = None
    smtp_from: str | None = Field(default=None, max_length=254)
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # A message the server did not accept is tried again after base·2^(n-1) seconds (capped),
    # up to this many tries; then it is marked failed (visible at GET /api/v1/notifications).
    notify_max_attempts: int = Field(default=10, ge=1, le=100)
    notify_retry_base_seconds: float = Field(default=60.0, gt=0, le=3600)
    notify_retry_cap_seconds: float = Field(default=3600.0, gt=0, le=24 * 3600)
    # Every notification also POSTed as JSON to the office's own channel (e.g. a WhatsApp
    # gateway), signed `X-Saksi-Signature: sha256=<HMAC-SHA256 of the body>` with this secret
    # (see docs/notifications.md). Unset URL: no webhook.
    webhook_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    webhook_secret: SecretStr | None = None
    webhook_secret_file: Path | None = None
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # The officials' daily digest (what waits on them, what is overdue), at this local hour.
    notify_digest_hour: int = Field(default=7, ge=0, le=23)
    # Witnessing (c2sp.org/tlog-witness). As a witness for other offices' ledgers: this
    # witness's name (unset: POST /api/v1/witness/add-checkpoint answers 404 to every log), its
    # Ed25519 key (created in the data directory on first use, like the office key) and the logs
    # it cosigns, each an origin and that log's verifier key `name+hex+base64`.
    witness_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.\-/_]+$")
    witness_key_file: Path | None = None
    witness_logs: list[WitnessedLog] = []
    # The witnesses this office submits its checkpoints to (custody.witness job): each the
    # submission prefix (`…/add-checkpoint` is appended) and its cosignature/v1 verifier key;
    # `saksi verify ledger` requires `witness_quorum` of them on the checkpoint it relies on.
    witnesses: list[WitnessEndpoint] = []
    witness_quorum: int = Field(default=1, ge=1)
    witness_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return known_zone(value)

    @model_validator(mode="after")
    def _read_secret_files(self) -> Settings:
        if self.secret_key is None and self.secret_key_file is not None:
            self.secret_key = SecretStr(_read_secret_file(self.secret_key_file))
        if self.nvr_secret_key is None and self.nvr_secret_key_file is not None:
            self.nvr_secret_key = SecretStr(_read_secret_file(self.nvr_secret_key_file))
        if self.webhook_secret is None and self.webhook_secret_file is not None:
            self.webhook_secret = SecretStr(_read_secret_file(self.webhook_secret_file))
        if self.webhook_url is not None and not self.webhook_secret:
            raise ValueError("SAKSI_WEBHOOK_URL needs SAKSI_WEBHOOK_SECRET (or _FILE)")
        if self.env is Environment.PRODUCTION:
            _require_strong("SAKSI_SECRET_KEY", self.secret_key)
            _require_strong("SAKSI_NVR_SECRET_KEY", self.nvr_secret_key)
            if "public_url" not in self.model_fields_set:
                # Every address printed into evidence (manifest, VERIFIKASI.txt, the BAST's QR
                # code, links) comes from it: a default of 127.0.0.1 would point nowhere.
                raise ValueError("SAKSI_PUBLIC_URL is required in production")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return _with_password(self.database_url, self.database_password_file)
        return f"sqlite:///{(self.data_dir / 'saksi.db').resolve()}"

    @property
    def resolved_queue_url(self) -> str:
        if self.queue_url:
            return self.queue_url
        return f"sqlite:///{(self.data_dir / 'queue.db').resolve()}"

    @property
    def witness_key_path(self) -> Path:
        return self.witness_key_file or self.data_dir / "keys" / "witness-ed25519.pem"

    @property
    def office_key_path(self) -> Path:
        return self.office_key_file or self.data_dir / "keys" / "office-ed25519.pem"

    @property
    def api_docs_served(self) -> bool:
        """Whether /docs, /redoc and /openapi.json are served (SAKSI_API_DOCS, else not in
        production)."""
        if self.api_docs is not None:
            return self.api_docs
        return self.env is not Environment.PRODUCTION

    def token_signing_key(self) -> bytes:
        """Return the key that signs access tokens, generating it in development."""
        return self._secret(self.secret_key, "token-signing.key")

    def nvr_encryption_key(self) -> bytes:
        """Return the key that encrypts NVR passwords at rest, generating it in development."""
        return self._secret(self.nvr_secret_key, "nvr-encryption.key")

    def _secret(self, supplied: SecretStr | None, filename: str) -> bytes:
        if supplied is not None:
            return supplied.get_secret_value().encode()
        return ensure_generated_secret(self.data_dir / "secrets" / filename)


def _with_password(url: str, password_file: Path | None) -> str:
    """The URL with the file's password, unless it has one already (or there is no file)."""
    parsed = make_url(url)
    if password_file is None or parsed.password is not None:
        return url
    password = _read_secret_file(password_file)
    return parsed.set(password=password).render_as_string(hide_password=False)


def _read_secret_file(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def _require_strong(name: str, value: SecretStr | None) -> None:
    if value is None:
        raise ValueError(f"{name} (or {name}_FILE) is required in production")
    secret = value.get_secret_value()
    weak = len(secret) < MIN_SECRET_LENGTH or secret.lower() in WEAK_SECRETS
    if weak or entropy_bits(secret) < MIN_SECRET_BITS or len(set(secret)) < MIN_DISTINCT:
        # Never the value itself: errors reach logs and terminals.
        raise ValueError(
            f"{name} is too weak: use at least {MIN_SECRET_LENGTH} random characters "
            "(e.g. `openssl rand -base64 48`)"
        )


def entropy_bits(secret: str) -> float:
    """What the secret's own characters can carry at most: its length times the Shannon
    entropy of their distribution. `aaaa…` or `abab…` carry next to nothing, however long."""
    counts = Counter(secret)
    per_char = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return per_char * len(secret)


def ensure_generated_secret(path: Path) -> bytes:
    """Read a generated secret, creating it with owner-only permissions on first use; two
    processes starting at once both get the one that was published, whole (`create_once`)."""
    if path.exists():
        return path.read_bytes().strip()
    return create_once(path, secrets.token_urlsafe(48).encode()).strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings read from the environment."""
    return Settings()
