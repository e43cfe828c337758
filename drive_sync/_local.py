"""Local delivery: files served by Saksi under an unguessable, expiring, revocable link."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from ._models import (
    DEFAULT_TTL,
    Container,
    DeliveryRecord,
    DeliveryStatus,
    PurgeResult,
    ShareResult,
    UploadResult,
)
from ._ranges import FileResponse, serve_file
from .errors import DeliveryError, LinkExpired, LinkNotFound, LinkRevoked

_COPY_BLOCK = 1024 * 1024


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest under which a link token is stored."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class LocalLink:
    """A stored link: only the token's hash is kept, never the token."""

    token_hash: str
    container_id: str
    recipient: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    downloads: int = 0


class LinkStore(Protocol):
    """Persist links by token hash; the app supplies a database-backed one."""

    def put(self, link: LocalLink) -> None:
        """Insert or replace the link."""
        ...

    def get(self, token_hash: str) -> LocalLink | None:
        """Return the link stored under the hash, or None."""
        ...

    def for_container(self, container_id: str) -> list[LocalLink]:
        """Return every link of a container."""
        ...


class DownloadRecorder(Protocol):
    """Told about each access so the app can write a custody event."""

    def __call__(self, link: LocalLink, file_name: str, byte_range: tuple[int, int]) -> None:
        """Record one served response."""
        ...


class JsonLinkStore:
    """Links in one JSON file; fine for the embedded single-process deployment."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, object]]:
        try:
            data: dict[str, dict[str, object]] = json.loads(self._path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        return data

    def put(self, link: LocalLink) -> None:
        """Insert or replace the link."""
        with self._lock:
            data = self._load()
            data[link.token_hash] = _link_to_json(link)
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, sort_keys=True), "utf-8")
            tmp.replace(self._path)

    def get(self, token_hash: str) -> LocalLink | None:
        """Return the link stored under the hash, or None."""
        with self._lock:
            raw = self._load().get(token_hash)
        return _link_from_json(raw) if raw else None

    def for_container(self, container_id: str) -> list[LocalLink]:
        """Return every link of a container."""
        with self._lock:
            rows = list(self._load().values())
        return [_link_from_json(r) for r in rows if r["container_id"] == container_id]


def _link_to_json(link: LocalLink) -> dict[str, object]:
    return {
        "token_hash": link.token_hash,
        "container_id": link.container_id,
        "recipient": link.recipient,
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat(),
        "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
        "downloads": link.downloads,
    }


def _link_from_json(raw: dict[str, object]) -> LocalLink:
    revoked = raw.get("revoked_at")
    return LocalLink(
        token_hash=str(raw["token_hash"]),
        container_id=str(raw["container_id"]),
        recipient=str(raw["recipient"]),
        created_at=datetime.fromisoformat(str(raw["created_at"])),
        expires_at=datetime.fromisoformat(str(raw["expires_at"])),
        revoked_at=datetime.fromisoformat(str(revoked)) if revoked else None,
        downloads=int(str(raw.get("downloads", 0))),
    )


class LocalBackend:
    """Copy files under `root/<request number>/` and hand out hashed-token links."""

    method = "local"

    def __init__(
        self, root: Path, base_url: str, links: LinkStore, ttl: timedelta = DEFAULT_TTL
    ) -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")
        self.links = links
        self.ttl = ttl

    def _dir(self, container_id: str) -> Path:
        path = (self.root / container_id).resolve()
        if path.parent != self.root.resolve():
            raise DeliveryError(f"container id escapes the delivery root: {container_id!r}")
        return path

    def create_container(self, request_number: str) -> Container:
        """Create the directory named after the request number."""
        safe = request_number.replace("/", "_")
        self._dir(safe).mkdir(parents=True, exist_ok=True)
        return Container("local", safe, request_number)

    def upload(self, container: Container, path: Path, name: str | None = None) -> UploadResult:
        """Copy the file in, hashing both sides, and verify the copy."""
        name = name or path.name
        target = self._dir(container.id) / name
        if target.parent != self._dir(container.id):
            raise DeliveryError(f"file name escapes the container: {name!r}")
        ours, size = _copy_hashing(path, target)
        theirs = _sha256_file(target)
        if theirs != ours:
            target.unlink()
            raise DeliveryError(f"{name}: local copy checksum differs")
        return UploadResult(str(target), name, size, ours, theirs, "local", 1, size)

    def share(self, container: Container, recipient: str, now: datetime) -> ShareResult:
        """Mint a token, store only its hash, and return the link."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        token = secrets.token_urlsafe(32)
        now = now.astimezone(UTC)
        link = LocalLink(hash_token(token), container.id, recipient, now, now + self.ttl)
        self.links.put(link)
        url = f"{self.base_url}/{token}"
        return ShareResult(
            (link.token_hash,), recipient, url, now, link.expires_at, link.expires_at
        )

    def resolve(self, token: str, now: datetime) -> LocalLink:
        """Return the live link for a token, or raise why it is not usable."""
        link = self.links.get(hash_token(token))
        if link is None:
            raise LinkNotFound("no delivery for this link")
        if link.revoked_at is not None:
            raise LinkRevoked("this link was revoked")
        if now >= link.expires_at:
            raise LinkExpired("this link has expired")
        return link

    def files(self, link: LocalLink) -> list[Path]:
        """List the delivered files behind a link, sorted by name."""
        directory = self._dir(link.container_id)
        return sorted(p for p in directory.iterdir() if p.is_file()) if directory.exists() else []

    def count_download(self, link: LocalLink) -> LocalLink:
        """Persist one more download on the link."""
        updated = replace(link, downloads=link.downloads + 1)
        self.links.put(updated)
        return updated

    def revoke(self, record: DeliveryRecord, now: datetime | None = None) -> tuple[str, ...]:
        """Revoke every link of the container; return the revoked token hashes."""
        when = now or datetime.now(UTC)
        done = []
        for link in self.links.for_container(record.container_id):
            if link.revoked_at is None:
                self.links.put(replace(link, revoked_at=when))
            done.append(link.token_hash)
        return tuple(done)

    def purge(self, record: DeliveryRecord) -> PurgeResult:
        """Revoke the links and delete the directory; rerunning is harmless."""
        revoked = self.revoke(record)
        directory = self._dir(record.container_id)
        if not directory.exists():  # this server's own disk: absent is verified absent
            return PurgeResult(revoked, (), (*record.file_ids, record.container_id))
        names = tuple(str(p) for p in sorted(directory.rglob("*")) if p.is_file())
        shutil.rmtree(directory)
        return PurgeResult(revoked, (*names, record.container_id))

    def status(self, record: DeliveryRecord) -> DeliveryStatus:
        """Report the directory's files and the links' state."""
        directory = self._dir(record.container_id)
        links = self.links.for_container(record.container_id)
        return DeliveryStatus(
            exists=directory.exists(),
            file_ids=tuple(str(p) for p in sorted(directory.glob("*")))
            if directory.exists()
            else (),
            permission_ids=tuple(lk.token_hash for lk in links if lk.revoked_at is None),
            expires_at=max((lk.expires_at for lk in links), default=None),
            revoked=bool(links) and all(lk.revoked_at for lk in links),
            downloads=sum(lk.downloads for lk in links),
        )


def _copy_hashing(src: Path, dst: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with src.open("rb") as fin, dst.open("wb") as fout:
        while block := fin.read(_COPY_BLOCK):
            digest.update(block)
            fout.write(block)
            size += len(block)
    return digest.hexdigest(), size


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_COPY_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def serve_link(
    backend: LocalBackend,
    token: str,
    file_name: str,
    range_header: str | None,
    now: datetime,
    recorder: DownloadRecorder | None = None,
    if_range: str | None = None,
) -> FileResponse:
    """Resolve the token, serve one delivered file (Range-aware) and record the access."""
    link = backend.resolve(token, now)
    matches = [p for p in backend.files(link) if p.name == file_name]
    if not matches:
        raise LinkNotFound(f"no file {file_name!r} in this delivery")
    response = serve_file(matches[0], range_header, if_range)
    if response.status != 416:
        link = backend.count_download(link)
        if recorder is not None:
            recorder(link, file_name, response.span)
    return response
