"""HTTP handler of the fake Drive (see tests/fakes/drive.py): routing and Drive's rules."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.fakes.drive_activity import ACTIVITY_SCOPES, ActivityError, person

UNIT = 256 * 1024
FOLDER_MIME = "application/vnd.google-apps.folder"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
_FILE = re.compile(r"^/drive/v3/files/([^/]+)$")
_DRIVE = re.compile(r"^/drive/v3/drives/([^/]+)$")
_PERMS = re.compile(r"^/drive/v3/files/([^/]+)/permissions(?:/([^/]+))?$")
_IN_PARENTS = re.compile(r"'([^']+)' in parents")
_BLOCK = 1024 * 1024
_OTHER_APIS = {("POST", "/token"), ("POST", "/v2/activity:query"), ("GET", "/_fake/items")}


class DriveApiError(Exception):
    """An error the handler turns into Google's JSON error body."""

    def __init__(
        self, status: int, reason: str, message: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message or reason)
        self.status, self.reason, self.headers = status, reason, headers or {}


@dataclass
class UploadSession:
    """One resumable session: bytes go straight to a file on disk."""

    id: str
    meta: dict[str, Any]
    size: int
    path: Path
    offset: int = 0
    done: dict[str, Any] | None = None
    sha256: Any = field(default_factory=hashlib.sha256)
    sha1: Any = field(default_factory=lambda: hashlib.sha1(usedforsecurity=False))
    md5: Any = field(default_factory=lambda: hashlib.md5(usedforsecurity=False))


def error_body(status: int, reason: str, message: str) -> bytes:
    """Return Google's JSON error envelope."""
    err = {"domain": "global", "reason": reason, "message": message}
    return json.dumps({"error": {"code": status, "message": message, "errors": [err]}}).encode()


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class DriveHandler(BaseHTTPRequestHandler):
    """Routes one request; `drive` is the FakeDrive, set on a subclass."""

    protocol_version = "HTTP/1.1"
    drive: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep test output quiet."""

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # -- plumbing --------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        self._left = int(self.headers.get("Content-Length") or 0)
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.drive.stats.requests.append((method, url.path))
        try:
            self._route(method, url.path)
        except ActivityError as exc:
            self._drain()
            self.drive.stats.errors_sent.append((exc.code, exc.reason))
            self._send(exc.code, exc.body())
        except DriveApiError as exc:
            self._drain()
            self.drive.stats.errors_sent.append((exc.status, exc.reason))
            self._send(exc.status, error_body(exc.status, exc.reason, str(exc)), exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, method: str, path: str) -> None:
        if (method, path) in _OTHER_APIS:
            return self._other_api(path)
        self._require_drive_scope(self._authorize())
        self._injected_rate_limit()
        if path.startswith("/upload/drive/v3/files") or path == "/drive/v3/files/generateIds":
            return self._unscoped(method, path)
        if self.drive.faults.lost_access:
            raise DriveApiError(404, "notFound", "File not found.")
        if (m := _DRIVE.match(path)) and method == "GET":
            return self._drive_get(m.group(1))
        self._require_all_drives(path)
        if path == "/drive/v3/files":
            return self._json(200, self._files_create() if method == "POST" else self._list())
        if m := _PERMS.match(path):
            return self._permissions(method, m.group(1), m.group(2))
        if (m := _FILE.match(path)) and method in ("GET", "DELETE"):
            return self._file(method, m.group(1))
        raise DriveApiError(404, "notFound", f"no route {method} {path}")

    def _unscoped(self, method: str, path: str) -> None:
        """Calls that name no existing item: upload sessions, and ids for items to come."""
        if path.startswith("/upload/"):
            return self._upload(method)
        if method != "GET":
            raise DriveApiError(405, "methodNotAllowed", method)
        return self._json(200, self._generate_ids())

    def _read(self, n: int | None = None) -> bytes:
        n = self._left if n is None else min(n, self._left)
        data = self.rfile.read(n) if n else b""
        self._left -= len(data)
        return data

    def _drain(self) -> int:
        total = 0
        while self._left:
            total += len(self._read(_BLOCK))
        return total

    def _body_json(self) -> dict[str, Any]:
        raw = self._read()
        return json.loads(raw) if raw else {}

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, doc: Any) -> None:
        self._send(status, json.dumps(doc).encode())

    # -- auth ------------------------------------------------------------------------
    def _token(self) -> dict[str, Any]:
        form = {k: v[-1] for k, v in parse_qs(self._read().decode()).items()}
        if form.get("grant_type") == JWT_GRANT:
            grant = self._check_jwt(form.get("assertion", ""))
        elif form.get("grant_type") == "refresh_token":
            refresh = form.get("refresh_token", "")
            if refresh not in self.drive.refresh_tokens:
                raise DriveApiError(400, "invalid_grant", "unknown refresh token")
            grant = ("user@saksi-office.example", self.drive.refresh_scopes.get(refresh, set()))
        else:
            raise DriveApiError(400, "unsupported_grant_type", "unsupported grant")
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self.drive.lock:
            self.drive.tokens.add(token)
            self.drive.token_grants[token] = grant
            self.drive.stats.tokens_issued += 1
        return {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def _check_jwt(self, assertion: str) -> tuple[str, set[str]]:
        try:
            head, payload, sig = assertion.split(".")
            header, claims = json.loads(_b64url(head)), json.loads(_b64url(payload))
        except ValueError as exc:
            raise DriveApiError(400, "invalid_grant", "malformed assertion") from exc
        key = self.drive.trusted_keys.get(claims.get("iss"))
        if header.get("alg") != "RS256" or key is None:
            raise DriveApiError(400, "invalid_grant", "unknown issuer")
        try:
            signed = f"{head}.{payload}".encode()
            key.verify(_b64url(sig), signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise DriveApiError(400, "invalid_grant", "bad signature") from exc
        # google-auth always names Google's token endpoint as the audience.
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            raise DriveApiError(400, "invalid_grant", "wrong audience")
        scopes = set(str(claims.get("scope", "")).split())
        if not scopes & {DRIVE_SCOPE, *ACTIVITY_SCOPES}:
            raise DriveApiError(400, "invalid_scope", "no drive or drive activity scope requested")
        if claims.get("exp", 0) < self.drive.now().timestamp():
            raise DriveApiError(400, "invalid_grant", "assertion expired")
        return str(claims["iss"]), scopes

    def _authorize(self) -> set[str]:
        """The calling token's scopes (its principal is `self.principal`)."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.drive.tokens:
            raise DriveApiError(401, "authError", "Invalid Credentials")
        grant: tuple[str, set[str]] = self.drive.token_grants.get(auth[7:], ("", {DRIVE_SCOPE}))
        self.principal = grant[0]
        return grant[1]

    def _other_api(self, path: str) -> None:
        """OAuth's token endpoint, the Drive Activity API, and the fake's own inventory (for a
        test in another process: what is stored, unauthenticated, never in a real Drive)."""
        if path == "/token":
            return self._json(200, self._token())
        if path == "/_fake/items":
            with self.drive.lock:
                items = [{k: f.get(k) for k in ("id", "name", "mimeType", "parents")} |
                         {"permissions": len(self.drive.permissions.get(f["id"], []))}
                         for f in self.drive.files.values()]  # fmt: skip
            return self._json(200, {"items": items})
        scopes = self._authorize()
        self._injected_rate_limit()
        return self._json(200, self.drive.activity.query(scopes, self._body_json(), self.principal))

    @staticmethod
    def _require_drive_scope(scopes: set[str]) -> None:
        """A token for another API: Drive answers 403 insufficientPermissions ("Request had
        insufficient authentication scopes", handle-errors guide)."""
        if DRIVE_SCOPE not in scopes:
            raise DriveApiError(403, "insufficientPermissions", "Insufficient scopes.")

    def _acted(self, item: dict[str, Any], detail: dict[str, Any]) -> None:
        """On the activity log, as done by the caller."""
        self.drive.activity.record(item, self.drive.ancestors(item["id"]), detail, self.principal)

    def _injected_rate_limit(self) -> None:
        faults = self.drive.faults
        with self.drive.lock:
            if faults.rate_limited > 0:
                faults.rate_limited -= 1
                raise DriveApiError(403, "rateLimitExceeded", "Rate Limit Exceeded")
            later = {"Retry-After": faults.retry_after} if faults.retry_after else None
            if faults.too_many_requests > 0:
                faults.too_many_requests -= 1
                raise DriveApiError(429, "rateLimitExceeded", "Too Many Requests", later)
            if faults.unavailable > 0:
                faults.unavailable -= 1
                raise DriveApiError(503, "backendError", "Service Unavailable", later)

    def _require_all_drives(self, path: str) -> None:
        if self.query.get("supportsAllDrives") != "true":
            self.drive.stats.missing_all_drives.append(path)
            raise DriveApiError(404, "notFound", "File not found (supportsAllDrives missing)")

    # -- files -----------------------------------------------------------------------
    def _check_parents(self, parents: list[str]) -> str | None:
        drive_id = None
        for parent in parents:
            if parent in self.drive.shared_drives:
                drive_id = parent
            elif parent in self.drive.files:
                drive_id = self.drive.files[parent].get("driveId")
            else:
                raise DriveApiError(404, "notFound", f"File not found: {parent}.")
        return drive_id

    def _generate_ids(self) -> dict[str, Any]:
        """files.generateIds: ids a later create may name ("Generate IDs to use with your
        files", https://developers.google.com/drive/api/guides/create-file; count 1-1000)."""
        count = int(self.query.get("count", "10"))
        if not 1 <= count <= 1000 or self.query.get("space", "drive") != "drive":
            raise DriveApiError(400, "invalid", "Invalid value for count or space.")
        ids = ["1" + secrets.token_hex(16) for _ in range(count)]
        with self.drive.lock:
            self.drive.generated_ids.update(ids)
        return {"kind": "drive#generatedIds", "space": "drive", "ids": ids}

    def _claim_id(self, meta: dict[str, Any]) -> str:
        """The new item's id: Drive's own, or one generateIds handed out. Per the same guide, a
        create naming an id already in use answers 409 Conflict and makes no duplicate (the
        reason string is not documented; `conflict` here)."""
        wanted = meta.get("id")
        if wanted is None:
            return "1" + secrets.token_hex(16)
        if wanted in self.drive.files:
            raise DriveApiError(409, "conflict", f"A file already exists with the ID {wanted}.")
        if wanted not in self.drive.generated_ids:
            raise DriveApiError(400, "invalid", "The provided file ID is not usable.")
        return str(wanted)

    def _new_file(self, meta: dict[str, Any], size: int) -> dict[str, Any]:
        file_id = self._claim_id(meta)
        mime = meta.get("mimeType") or "application/octet-stream"
        kind = "drive/folders" if mime == FOLDER_MIME else "file/d"
        doc = {
            "kind": "drive#file",
            "id": file_id,
            "name": meta.get("name", "Untitled"),
            "mimeType": mime,
            "parents": list(meta.get("parents") or []),
            "createdTime": self.drive.now().isoformat(),
            "webViewLink": f"https://drive.google.com/{kind}/{file_id}",
        }
        if drive_id := self._check_parents(doc["parents"]):
            doc["driveId"] = drive_id
        if mime != FOLDER_MIME:
            doc["size"] = str(size)
        return doc

    def _files_create(self) -> dict[str, Any]:
        doc = self._new_file(self._body_json(), 0)
        with self.drive.lock:
            if doc["mimeType"] != FOLDER_MIME:
                (self.drive.root / doc["id"]).write_bytes(b"")
                empty = {"md5": hashlib.md5(usedforsecurity=False), "sha1": hashlib.sha1()}
                doc |= {k + "Checksum": v.hexdigest() for k, v in empty.items()}
                doc["sha256Checksum"] = hashlib.sha256().hexdigest()
            self.drive.files[doc["id"]] = doc
        self._acted(doc, {"create": {"new": {}}})
        return doc

    def _list(self) -> dict[str, Any]:
        match = _IN_PARENTS.search(self.query.get("q", ""))
        files = self.drive.children(match.group(1)) if match else list(self.drive.files.values())
        return {"kind": "drive#fileList", "files": [self._visible(f) for f in files]}

    def _visible(self, doc: dict[str, Any]) -> dict[str, Any]:
        if self.drive.faults.no_sha256:
            return {k: v for k, v in doc.items() if k != "sha256Checksum"}
        return doc

    def _file(self, method: str, file_id: str) -> None:
        with self.drive.lock:
            doc = self.drive.files.get(file_id)
            if doc is None:
                raise DriveApiError(404, "notFound", f"File not found: {file_id}.")
            if method == "GET":
                return self._json(200, self._visible(doc))
            self._delete_tree(file_id)
        self._send(204)

    def _delete_tree(self, file_id: str) -> None:
        for child in self.drive.children(file_id):
            self._delete_tree(child["id"])
        self._acted(self.drive.files[file_id], {"delete": {"type": "PERMANENT_DELETE"}})
        self.drive.files.pop(file_id, None)
        self.drive.permissions.pop(file_id, None)
        (self.drive.root / file_id).unlink(missing_ok=True)

    def _drive_get(self, drive_id: str) -> None:
        if drive_id not in self.drive.shared_drives:
            raise DriveApiError(404, "notFound", f"Shared drive not found: {drive_id}")
        self._json(200, {"kind": "drive#drive", "id": drive_id, "name": "Saksi"})

    # -- permissions -----------------------------------------------------------------
    def _inherited(self, file_id: str) -> list[dict[str, Any]]:
        """A Shared Drive item's permissions from the drive's members, as permissions.list
        shows them: `permissionDetails[].inherited` true (Drive v3 Permission resource,
        developers.google.com/drive/api/reference/rest/v3/permissions)."""
        drive_id = self.drive.files[file_id].get("driveId")
        return [
            {"kind": "drive#permission", "id": "inh" + _short_hash(email),
             "type": "user", "role": "reader", "emailAddress": email,
             "permissionDetails": [{"permissionType": "member", "role": "reader",
                                    "inherited": True, "inheritedFrom": drive_id}]}
            for email in self.drive.drive_members.get(drive_id or "", [])
        ]  # fmt: skip

    def _permissions(self, method: str, file_id: str, perm_id: str | None) -> None:
        with self.drive.lock:
            if file_id not in self.drive.files:
                raise DriveApiError(404, "notFound", f"File not found: {file_id}.")
            perms = self.drive.permissions.setdefault(file_id, [])
            inherited = self._inherited(file_id)
            if method == "GET" and perm_id is None:
                listed = perms + inherited
                return self._json(200, {"kind": "drive#permissionList", "permissions": listed})
            if method == "DELETE" and any(p["id"] == perm_id for p in inherited):
                # "Inherited permissions can't be removed from a file or folder in a shared
                # drive" (https://developers.google.com/drive/api/guides/manage-sharing). The
                # answer is not documented there; this is what GAM users report Drive sends
                # ("403: cannotDeletePermission", GAM 7.39.01 release notes).
                message = "The authenticated user cannot delete the permission."
                raise DriveApiError(403, "cannotDeletePermission", message)
            if method == "POST" and perm_id is None:
                perm = self._perm_create(perms)
                self._acted(self.drive.files[file_id], _perm_change("added", perm))
                return self._json(200, perm)
            found = [p for p in perms if p["id"] == perm_id]
            if not found:
                raise DriveApiError(404, "notFound", f"Permission not found: {perm_id}.")
            if method == "DELETE":
                perms.remove(found[0])
                self._acted(self.drive.files[file_id], _perm_change("removed", found[0]))
                return self._send(204)
            if method == "PATCH":
                return self._json(200, self._perm_update(found[0]))
        raise DriveApiError(405, "methodNotAllowed", method)

    def _perm_create(self, perms: list[dict[str, Any]]) -> dict[str, Any]:
        body = self._body_json()
        kind, role = body.get("type"), body.get("role")
        if kind not in ("user", "group", "domain", "anyone") or role not in (
            "reader",
            "commenter",
            "writer",
            "fileOrganizer",
            "organizer",
            "owner",
        ):
            raise DriveApiError(400, "invalid", "Invalid permission type or role.")
        if kind in ("user", "group") and not body.get("emailAddress"):
            raise DriveApiError(400, "required", "Permission emailAddress is required.")
        perm = {"kind": "drive#permission", "id": secrets.token_hex(10), "type": kind, "role": role}
        if kind in ("user", "group"):
            perm["emailAddress"] = body["emailAddress"]
        if kind == "anyone":
            perm["id"] = "anyoneWithLink"
        if "expirationTime" in body:
            if self.drive.faults.expiry_only_on_update:
                raise DriveApiError(
                    400, "cannotSetExpirationOnInsert", "Expiration cannot be set on insert."
                )
            self._check_expiry(kind, body["expirationTime"])
            perm["expirationTime"] = body["expirationTime"]
        notify = self.query.get("sendNotificationEmail")
        if notify is not None and kind not in ("user", "group"):
            # "Whether to send a notification email when sharing to users or groups. [...] not
            # allowed for other requests." (developers.google.com/drive/api/reference/rest/v3/
            # permissions/create). The error Drive sends is not documented: a plain 400 here.
            raise DriveApiError(400, "badRequest",
                                "sendNotificationEmail is only for users and groups.")  # fmt: skip
        perm["notified"] = kind in ("user", "group") and (notify or "true") == "true"
        if (
            kind == "user"
            and body["emailAddress"] in self.drive.non_google
            and not perm["notified"]
        ):
            # Drive can only share with an address that has no Google account by sending it an
            # invitation e-mail; without one it answers 400 invalidSharingRequest ("Resolve
            # errors", developers.google.com/drive/api/guides/handle-errors).
            message = 'Bad Request. User message: "Sorry, the items were not shared."'
            raise DriveApiError(400, "invalidSharingRequest", message)
        perms.append(perm)
        if perm["notified"] and body.get("emailAddress") in self.drive.undeliverable_mail:
            # The guide's other cause of the same error: "Sharing succeeded, but the
            # notification email was not correctly delivered" (handle-errors, as above).
            message = "Sharing succeeded, but the notification email was not correctly delivered."
            raise DriveApiError(400, "invalidSharingRequest", message)
        return perm

    def _perm_update(self, perm: dict[str, Any]) -> dict[str, Any]:
        body = self._body_json()
        if "expirationTime" in body:
            self._check_expiry(perm["type"], body["expirationTime"])
            perm["expirationTime"] = body["expirationTime"]
        if "role" in body:
            perm["role"] = body["role"]
        return perm

    def _check_expiry(self, kind: str, text: str) -> None:
        """Drive: only user/group, in the future, at most a year ahead; domains may forbid."""
        if kind not in ("user", "group"):
            raise DriveApiError(
                403,
                "cannotSetExpirationOnAnyoneOrDomain",
                "Expiration dates cannot be set on anyone or domain permissions.",
            )
        if self.drive.faults.expiry_refused:
            raise DriveApiError(
                403, "cannotSetExpiration", "Expiration is disabled for this domain."
            )
        when, now = _rfc3339(text), self.drive.now()
        if when <= now:
            raise DriveApiError(400, "expirationDatesMustBeInTheFuture", "Expiration in the past.")
        if when > now + timedelta(days=366):
            raise DriveApiError(400, "expirationDateTooFarInFuture", "Expiration > 1 year.")

    # -- resumable uploads -----------------------------------------------------------
    def _upload(self, method: str) -> None:
        if self.query.get("uploadType") != "resumable":
            raise DriveApiError(400, "badRequest", "only resumable uploads are faked")
        if method == "POST":
            return self._open_session()
        session = self.drive.sessions.get(self.query.get("upload_id", ""))
        if method != "PUT" or session is None:
            raise DriveApiError(404, "notFound", "upload session not found")
        rng = self.headers.get("Content-Range", "")
        if rng.startswith("bytes */"):
            self.drive.stats.status_queries += 1
            return self._progress(session)
        self._chunk(session, rng)

    def _open_session(self) -> None:
        if self.query.get("supportsAllDrives") != "true":
            self._require_all_drives("/upload/drive/v3/files")
        if self.drive.faults.quota_exceeded:
            raise DriveApiError(
                403, "storageQuotaExceeded", "The user's Drive storage quota has been exceeded."
            )
        size = self.headers.get("X-Upload-Content-Length")
        meta = self._body_json()
        self._check_parents(list(meta.get("parents") or []))
        if "id" in meta:
            self._claim_id(meta)  # an unusable or taken id is refused before any byte
        if size is None:
            raise DriveApiError(400, "badRequest", "X-Upload-Content-Length required")
        sid = secrets.token_urlsafe(24)
        path = self.drive.root / f"session-{sid}"
        path.write_bytes(b"")
        with self.drive.lock:
            self.drive.sessions[sid] = UploadSession(sid, meta, int(size), path)
            self.drive.stats.sessions_opened += 1
        location = f"{self.drive.url}/upload/drive/v3/files?uploadType=resumable&upload_id={sid}"
        self._send(200, b"", {"Location": location})

    def _progress(self, session: UploadSession) -> None:
        if session.done is not None:
            return self._json(200, session.done)
        headers = {"Range": f"bytes=0-{session.offset - 1}"} if session.offset else {}
        self._send(308, b"", headers)

    def _chunk(self, session: UploadSession, rng: str) -> None:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", rng)
        if not match or int(match.group(3)) != session.size:
            raise DriveApiError(400, "badContentRange", f"bad Content-Range {rng!r}")
        start, end = int(match.group(1)), int(match.group(2))
        index = self.drive.stats.chunk_puts
        self.drive.stats.chunk_puts += 1
        self._chunk_faults(session, index)
        length = end - start + 1
        if start != session.offset or length != self._left:
            raise DriveApiError(400, "badContentRange", f"expected offset {session.offset}")
        if end + 1 < session.size and length % UNIT:
            raise DriveApiError(400, "badRequest", "non-final chunk not a multiple of 256 KiB")
        self._store(session, start)
        if session.offset == session.size:
            self._finish(session)
        self._progress(session)

    def _chunk_faults(self, session: UploadSession, index: int) -> None:
        faults = self.drive.faults
        if status := faults.chunk_status.pop(index, 0):
            self.drive.stats.bytes_received += self._drain()
            raise DriveApiError(status, "backendError", "Backend Error")
        if faults.session_gone_at_chunk == index:
            faults.session_gone_at_chunk = None
            self.drive.stats.bytes_received += self._drain()
            self.drive.sessions.pop(session.id, None)
            raise DriveApiError(404, "notFound", "upload session expired")
        if faults.hang_at_chunk == index:
            # Simulates a client killed mid-chunk: the bytes arrive but are never acknowledged.
            self.drive.stats.bytes_received += self._drain()
            faults.hang_reached.set()
            faults.hang_release.wait(30)
            raise DriveApiError(503, "backendError", "client went away")

    def _store(self, session: UploadSession, start: int) -> None:
        with session.path.open("r+b") as fh:
            fh.seek(start)
            while self._left:
                block = self._read(_BLOCK)
                if not block:
                    raise DriveApiError(400, "badRequest", "body shorter than Content-Length")
                fh.write(block)
                for digest in (session.sha256, session.sha1, session.md5):
                    digest.update(block)
                session.offset += len(block)
                self.drive.stats.bytes_received += len(block)

    def _finish(self, session: UploadSession) -> None:
        doc = self._new_file(session.meta, session.size)
        sums = {
            "md5Checksum": session.md5.hexdigest(),
            "sha1Checksum": session.sha1.hexdigest(),
            "sha256Checksum": session.sha256.hexdigest(),
        }
        with self.drive.lock:
            if self.drive.faults.corrupt_checksums > 0:
                self.drive.faults.corrupt_checksums -= 1
                sums = {
                    k: hashlib.sha256(v.encode()).hexdigest()[: len(v)] for k, v in sums.items()
                }
            doc |= sums
            session.path.replace(self.drive.root / doc["id"])
            self.drive.files[doc["id"]] = doc
            self._acted(doc, {"create": {"upload": {}}})
            session.done = {k: doc[k] for k in ("kind", "id", "name", "mimeType")}


def _perm_change(change: str, perm: dict[str, Any]) -> dict[str, Any]:
    """A PermissionChange detail: the Activity API's Permission names the grantee as a
    `people/…` user, anyone, a group or a domain."""
    grantee: dict[str, Any] = (
        {"anyone": {}}
        if perm["type"] == "anyone"
        else {"user": {"knownUser": {"personName": person(str(perm.get("emailAddress", "")))}}}
    )
    entry = {"role": str(perm["role"]).upper(), **grantee}
    return {"permissionChange": {f"{change}Permissions": [entry]}}


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
