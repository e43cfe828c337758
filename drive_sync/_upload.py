"""The resumable upload protocol, driven over the credentials' authorized session.

MediaIoBaseUpload keeps its session URI in memory only; Saksi must resume after a
process restart, so the session URI and acknowledged offset go to an UploadStateStore.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import requests

from ._retry import RetryPolicy, classify, error_reason, raise_for
from ._state import UploadState, UploadStateStore
from .errors import DriveError, UploadSessionExpired

CHUNK_UNIT = 256 * 1024
DEFAULT_CHUNK = 8 * 1024 * 1024
_READ_BLOCK = 1024 * 1024
_MAX_RESTARTS = 3


class HttpSession(Protocol):
    """The subset of requests.Session (AuthorizedSession) the uploader uses."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send one request."""
        ...


@dataclass(frozen=True)
class UploadOutcome:
    """The final metadata Drive returned, and what we computed while sending."""

    metadata: dict[str, Any]
    sha256: str
    md5: str
    bytes_sent: int


class _Hashes:
    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.position = 0

    def update(self, data: bytes | memoryview) -> None:
        self.sha256.update(data)
        self.md5.update(data)
        self.position += len(data)

    def take(self, data: bytes, offset: int) -> None:
        """Hash the part of `data` (read at `offset`) not hashed yet: no second read."""
        start = self.position - offset
        if 0 <= start < len(data):
            self.update(memoryview(data)[start:])

    def catch_up(self, fh: BinaryIO, offset: int) -> None:
        """Hash from disk the bytes up to `offset` not hashed yet: those a resumed upload
        finds already on Drive (sent chunks are hashed from memory by `take`)."""
        fh.seek(self.position)
        while self.position < offset:
            block = fh.read(min(_READ_BLOCK, offset - self.position))
            if not block:
                raise DriveError("local file shorter than Drive's acknowledged offset")
            self.update(block)


def parse_range(header: str | None) -> int:
    """Return the next offset from a 308 `Range: bytes=0-N` header (absent = 0)."""
    if not header:
        return 0
    _, _, span = header.partition("=")
    return int(span.rsplit("-", 1)[1]) + 1


class ResumableUploader:
    """Upload one file in chunks, persisting progress so another process can finish it."""

    def __init__(
        self,
        http: HttpSession,
        upload_url: str,
        store: UploadStateStore,
        retry: RetryPolicy,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        if chunk_size <= 0 or chunk_size % CHUNK_UNIT:
            raise ValueError("chunk_size must be a positive multiple of 256 KiB")
        self._http = http
        self._url = upload_url
        self._store = store
        self._retry = retry
        self._chunk = chunk_size
        self._failures = 0

    def upload(self, path: Path, metadata: Mapping[str, Any], key: str) -> UploadOutcome:
        """Send `path` (resuming a stored session for `key`) and return Drive's metadata."""
        for _ in range(_MAX_RESTARTS):
            try:
                return self._attempt(path, metadata, key)
            except UploadSessionExpired:
                self._store.clear(key)
        raise UploadSessionExpired(f"upload of {path.name}: session lost {_MAX_RESTARTS} times")

    def _attempt(self, path: Path, metadata: Mapping[str, Any], key: str) -> UploadOutcome:
        stat = path.stat()
        state = self._store.load(key)
        if state and (state.size, state.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            state = None
        if state is None:
            uri = self._open_session(metadata, stat.st_size)
            state = UploadState(uri, stat.st_size, 0, stat.st_mtime_ns)
            self._store.save(key, state)
            offset: int | dict[str, Any] = 0
        else:
            offset = self._query(state.session_uri, stat.st_size)
        with path.open("rb") as fh:
            return self._send(fh, state, offset, key)

    def _send(
        self, fh: BinaryIO, state: UploadState, offset: int | dict[str, Any], key: str
    ) -> UploadOutcome:
        hashes, sent = _Hashes(), 0
        while not isinstance(offset, dict):
            hashes.catch_up(fh, offset)
            fh.seek(offset)
            data = fh.read(min(self._chunk, state.size - offset))
            hashes.take(data, offset)
            result = self._put_chunk(state, offset, data)
            sent += len(data)
            if isinstance(result, dict) or result > offset:
                self._failures = 0
            if not isinstance(result, dict):
                self._store.save(
                    key, UploadState(state.session_uri, state.size, result, state.mtime_ns)
                )
            offset = result
        hashes.catch_up(fh, state.size)
        self._store.clear(key)
        return UploadOutcome(offset, hashes.sha256.hexdigest(), hashes.md5.hexdigest(), sent)

    def _open_session(self, metadata: Mapping[str, Any], size: int) -> str:
        params = {"uploadType": "resumable", "supportsAllDrives": "true"}
        headers = {
            "X-Upload-Content-Length": str(size),
            "X-Upload-Content-Type": str(metadata.get("mimeType", "application/octet-stream")),
            "Content-Type": "application/json; charset=UTF-8",
        }
        body = json.dumps(dict(metadata))
        resp = self._call(
            "POST", self._url, "open upload session", params=params, data=body, headers=headers
        )
        location = resp.headers.get("Location")
        if not location:
            raise DriveError("Drive did not return a resumable session URI", resp.status_code)
        return location

    def _query(self, uri: str, size: int) -> int | dict[str, Any]:
        headers = {"Content-Range": f"bytes */{size}", "Content-Length": "0"}
        resp = self._call("PUT", uri, "query upload session", headers=headers)
        return self._progress(resp)

    def _put_chunk(self, state: UploadState, offset: int, data: bytes) -> int | dict[str, Any]:
        end = offset + len(data) - 1
        headers = {"Content-Range": f"bytes {offset}-{end}/{state.size}"}
        if not data:
            headers["Content-Range"] = f"bytes */{state.size}"
        try:
            resp = self._call(
                "PUT", state.session_uri, "upload chunk", data=data, headers=headers, once=True
            )
        except _Transient:
            # Google's guidance: after a failed chunk, ask the session where it stands.
            return self._query(state.session_uri, state.size)
        return self._progress(resp)

    @staticmethod
    def _progress(resp: requests.Response) -> int | dict[str, Any]:
        if resp.status_code == 308:
            return parse_range(resp.headers.get("Range"))
        doc: dict[str, Any] = resp.json()
        return doc

    def _call(
        self, method: str, url: str, what: str, *, once: bool = False, **kwargs: Any
    ) -> requests.Response:
        attempt = self._failures if once else 0
        reason: str | None
        while True:
            try:
                resp = self._http.request(method, url, timeout=120, **kwargs)
            except requests.ConnectionError:
                status, reason, asked = 599, None, None
            else:
                if resp.status_code < 400:
                    return resp
                status, reason = resp.status_code, error_reason(resp.content)
                asked = self._retry.asked(resp.headers.get("Retry-After"))
            verdict = classify(status, reason)
            if verdict == "session":
                raise UploadSessionExpired(f"{what}: session gone (HTTP {status})", status, reason)
            if verdict != "retry":
                raise_for(status, reason, what)
            self._retry.wait(attempt, status, reason, what, asked)
            attempt += 1
            if once:
                self._failures = attempt
                raise _Transient


class _Transient(Exception):
    """A chunk failed transiently and the wait is done; re-query before resending."""
