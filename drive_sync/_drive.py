"""Google Drive delivery backend: googleapiclient for metadata, our uploader for media."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin

from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession
from googleapiclient.errors import HttpError

from ._auth import build_service
from ._models import (
    DEFAULT_TTL,
    Container,
    DeliveryRecord,
    DeliveryStatus,
    ListedItem,
    PurgeResult,
    ShareResult,
    UploadResult,
)
from ._retry import RetryPolicy, classify, error_reason, raise_for
from ._state import MemoryStateStore, UploadStateStore
from ._upload import DEFAULT_CHUNK, ResumableUploader
from .errors import (
    ChecksumMismatch,
    DeliveryError,
    DriveAccessLost,
    DriveError,
    RecipientUnshareable,
)

DEFAULT_ENDPOINT = "https://www.googleapis.com"
FOLDER_MIME = "application/vnd.google-apps.folder"
# Reasons Drive gives when it will not put an expiry on this permission (or domain).
EXPIRY_REFUSALS = frozenset(
    {
        "cannotSetExpiration",
        "cannotSetExpirationOnAnyoneOrDomain",
        "cannotSetExpirationOnInsert",  # then the expiry is set by an update
        "expirationDatesMustBeInTheFuture",
        "expirationDateTooFarInFuture",
    }
)
# Reasons Drive gives when it will not share with the address at all: `invalidSharingRequest`
# for an address with no Google account when no notification e-mail is sent, the share-out /
# share-in refusals of a domain's policy (https://developers.google.com/drive/api/guides/
# handle-errors). Taken for an expiry refusal, this left the uploaded evidence on Drive (issue 16).
SHARING_REFUSALS = frozenset(
    {"invalidSharingRequest", "shareOutNotPermitted", "shareInNotPermitted"}
)
_REQUEST_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
_FILE_FIELDS = "id,name,size,mimeType,md5Checksum,sha1Checksum,sha256Checksum,parents"


@dataclass
class DriveConfig:
    """How to reach Drive and how to share; the app fills it from SAKSI_DRIVE_* settings."""

    api_endpoint: str = DEFAULT_ENDPOINT
    shared_drive_id: str | None = None
    parent_folder_id: str | None = None
    chunk_size: int = DEFAULT_CHUNK
    send_notification_email: bool = False
    anyone_with_link: bool = False
    ttl: timedelta = DEFAULT_TTL
    checksum_retries: int = 2
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class DriveBackend:
    """Deliver a request's files through a Shared Drive (or a user's My Drive)."""

    method = "drive"

    def __init__(
        self,
        credentials: Credentials,
        config: DriveConfig,
        state_store: UploadStateStore | None = None,
    ) -> None:
        self.config = config
        self._service = build_service(credentials, config.api_endpoint)
        self._http = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        root = config.api_endpoint.rstrip("/") + "/"
        self.upload_url = urljoin(root, "upload/drive/v3/files")
        self._uploader = ResumableUploader(
            self._http,
            self.upload_url,
            state_store or MemoryStateStore(),
            config.retry,
            config.chunk_size,
        )

    def close(self) -> None:
        """Close both HTTP transports."""
        self._http.close()  # type: ignore[no-untyped-call]
        self._service.close()

    def __enter__(self) -> DriveBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(self, request: Any, what: str) -> Any:
        attempt = 0
        while True:
            try:
                return request.execute(num_retries=0)
            except HttpError as exc:
                status, reason = exc.resp.status, error_reason(exc.content)
                asked = self.config.retry.asked(exc.resp.get("retry-after"))
            if classify(status, reason) != "retry":
                raise_for(status, reason, what)
            self.config.retry.wait(attempt, status, reason, what, asked)
            attempt += 1

    @property
    def upload_attempts(self) -> int:
        """How many uploads one file may take (the first and the checksum retries)."""
        return self.config.checksum_retries + 1

    def reserve_ids(self, count: int) -> tuple[str, ...]:
        """Ids Drive hands out for items not created yet (files.generateIds), so the caller
        can record an item before it exists: a create naming one makes exactly that item, and
        a repeated create answers 409 instead of a duplicate
        (https://developers.google.com/drive/api/guides/create-file)."""
        req = self._service.files().generateIds(count=count, space="drive", type="files")
        ids: list[str] = self._execute(req, "generate ids")["ids"]
        if len(ids) != count:
            raise DriveError(f"generate ids: asked for {count}, Drive gave {len(ids)}")
        return tuple(ids)

    def create_container(self, request_number: str, folder_id: str | None = None) -> Container:
        """Create the folder named after the request number (never a person's name), under a
        reserved id when given; a folder already made under that id (a rerun) is reused."""
        if not _REQUEST_NUMBER.fullmatch(request_number):
            raise DeliveryError(f"not a request number: {request_number!r}")
        parent = self.config.parent_folder_id or self.config.shared_drive_id
        body: dict[str, Any] = {"name": request_number, "mimeType": FOLDER_MIME}
        if parent:
            body["parents"] = [parent]
        if folder_id:
            body["id"] = folder_id
        files = self._service.files()
        req = files.create(body=body, fields="id,name,webViewLink", supportsAllDrives=True)
        try:
            doc = self._execute(req, "create folder")
        except DriveError as exc:
            if exc.status != 409 or not folder_id:
                raise
            doc = self._get(folder_id, "id,name,webViewLink")
        return Container("drive", doc["id"], doc["name"], doc.get("webViewLink"))

    def upload(
        self, container: Container, path: Path, name: str | None = None,
        file_ids: Sequence[str] = (),
    ) -> UploadResult:  # fmt: skip
        """Upload, then compare Drive's checksum with ours; delete and retry on mismatch.

        `file_ids` (reserved, and on record) name the copies, attempt by attempt: whatever an
        attempt leaves on Drive is then known before its first byte is sent."""
        name = name or path.name
        metadata = {"name": name, "parents": [container.id], "mimeType": "application/octet-stream"}
        key = f"{container.id}/{name}/{path.stat().st_size}"
        last: tuple[str, str] = ("", "")
        for attempt in range(1, self.upload_attempts + 1):
            reserved = file_ids[attempt - 1] if attempt <= len(file_ids) else None
            wanted = {**metadata, "id": reserved} if reserved else metadata
            out = self._uploader.upload(path, wanted, f"{key}/{reserved}" if reserved else key)
            remote = self._get(out.metadata["id"], _FILE_FIELDS)
            algo, theirs = _remote_checksum(remote)
            ours = out.sha256 if algo == "sha256" else out.md5
            if theirs == ours:
                return UploadResult(
                    remote["id"],
                    name,
                    int(remote.get("size", path.stat().st_size)),
                    out.sha256,
                    theirs,
                    algo,
                    attempt,
                    out.bytes_sent,
                )
            last = (ours, theirs)
            self._delete(remote["id"])
        raise ChecksumMismatch(
            f"{name}: Drive's checksum {last[1]} differs from ours {last[0]}", last[0], last[1]
        )

    def _get(self, file_id: str, fields: str) -> dict[str, Any]:
        req = self._service.files().get(fileId=file_id, fields=fields, supportsAllDrives=True)
        doc: dict[str, Any] = self._execute(req, "get file")
        return doc

    def _delete(self, file_id: str) -> bool:
        """Delete permanently; False when it was already gone."""
        req = self._service.files().delete(fileId=file_id, supportsAllDrives=True)
        try:
            self._execute(req, "delete file")
        except DriveError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def share(self, container: Container, recipient: str, now: datetime) -> ShareResult:
        """Grant the recipient reader access expiring at now + TTL (if Drive allows it)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        due = now.astimezone(UTC) + self.config.ttl
        perm_id, expires = self._grant_user(container.id, recipient, due)
        ids = [perm_id]
        if self.config.anyone_with_link:
            body = {"type": "anyone", "role": "reader"}
            ids.append(self._create_permission(container.id, body, notify=None)["id"])
        url = container.url or self._get(container.id, "webViewLink").get("webViewLink", "")
        return ShareResult(
            tuple(ids), recipient, url, now, due, expires, self.config.anyone_with_link
        )

    def share_link_only(self, container: Container, recipient: str, now: datetime) -> ShareResult:
        """An "anyone with the link" grant and no user grant: the office's fallback for an
        address Drive cannot share with. Drive puts no expiry on it; the purge ends it."""
        body = {"type": "anyone", "role": "reader"}
        perm_id = self._create_permission(container.id, body, notify=None)["id"]
        url = container.url or self._get(container.id, "webViewLink").get("webViewLink", "")
        due = now.astimezone(UTC) + self.config.ttl
        return ShareResult((perm_id,), recipient, url, now, due, None, anyone_with_link=True)

    def check_recipient(self, container: Container, recipient: str) -> None:
        """Before gigabytes are uploaded: grant the recipient the empty folder and take the
        grant back, so an address Drive cannot share with is known at once
        (RecipientUnshareable). Nothing is in the folder while the grant exists."""
        body = {"type": "user", "role": "reader", "emailAddress": recipient}
        notify = self.config.send_notification_email
        perm_id = self._grant(container.id, body, notify)["id"]
        req = self._service.permissions().delete(
            fileId=container.id, permissionId=perm_id, supportsAllDrives=True
        )
        self._execute(req, "withdraw the trial grant")

    def _grant(self, folder_id: str, body: dict[str, Any], notify: bool) -> Any:
        """A user grant; an address Drive refuses to share with raises RecipientUnshareable.

        Drive's error guide gives two causes of `invalidSharingRequest`: the ACL change is not
        allowed for this user, or the sharing succeeded and only the notification e-mail was
        not delivered (https://developers.google.com/drive/api/guides/handle-errors). With an
        e-mail asked for, the folder's grants tell which: a grant that exists is used."""
        try:
            return self._create_permission(folder_id, body, notify)
        except DriveError as exc:
            if exc.reason not in SHARING_REFUSALS:
                raise
            granted = self._grant_of(folder_id, body["emailAddress"]) if notify else None
            if granted is not None:
                return granted
            raise RecipientUnshareable(
                f"Drive will not share with {body['emailAddress']} ({exc.reason})",
                exc.status, exc.reason,
            ) from exc  # fmt: skip

    def _grant_of(self, folder_id: str, email: str) -> dict[str, Any] | None:
        """The folder's direct grant to `email`, if there is one."""
        for perm in self._permissions(folder_id):
            if str(perm.get("emailAddress", "")).lower() == email.lower() and _direct(perm):
                return perm
        return None

    def _grant_user(self, folder_id: str, email: str, due: datetime) -> tuple[str, datetime | None]:
        body: dict[str, Any] = {"type": "user", "role": "reader", "emailAddress": email}
        expiry = {"expirationTime": _rfc3339(due)}
        notify = self.config.send_notification_email
        try:
            return self._grant(folder_id, {**body, **expiry}, notify)["id"], due
        except DriveError as exc:
            if exc.reason not in EXPIRY_REFUSALS:
                raise
        perm_id: str = self._grant(folder_id, body, notify)["id"]
        # Some Drive versions only take an expiry on update; a domain may forbid it
        # outright, and then the purge job alone ends this grant.
        req = self._service.permissions().update(
            fileId=folder_id,
            permissionId=perm_id,
            body=expiry,
            supportsAllDrives=True,
            fields="id,expirationTime",
        )
        try:
            self._execute(req, "set permission expiry")
        except DriveError as exc:
            if exc.reason not in EXPIRY_REFUSALS:
                raise
            return perm_id, None
        return perm_id, due

    def _create_permission(self, file_id: str, body: dict[str, Any], notify: bool | None) -> Any:
        """`notify` only for user and group grants: Drive's reference says
        sendNotificationEmail "is not allowed for other requests"
        (https://developers.google.com/drive/api/reference/rest/v3/permissions/create)."""
        extra = {} if notify is None else {"sendNotificationEmail": notify}
        req = self._service.permissions().create(
            fileId=file_id,
            body=body,
            supportsAllDrives=True,
            fields="id,type,role,expirationTime",
            **extra,
        )
        return self._execute(req, "create permission")

    def _permissions(self, file_id: str) -> list[dict[str, Any]]:
        req = self._service.permissions().list(
            fileId=file_id,
            supportsAllDrives=True,
            fields="permissions(id,type,role,emailAddress,expirationTime,permissionDetails)",
        )
        try:
            doc = self._execute(req, "list permissions")
        except DriveError as exc:
            if exc.status == 404:
                return []
            raise
        perms: list[dict[str, Any]] = doc.get("permissions", [])
        return perms

    def revoke(self, record: DeliveryRecord) -> tuple[str, ...]:
        """Delete the grants Saksi made (recorded ids plus any direct reader/anyone grant).

        A Shared Drive's members hold permissions on every item, inherited from the drive; Drive
        refuses to delete those from an item (403 cannotDeletePermission), so they are left
        alone: deleting the item ends them (issue 16: the purge stopped at a Viewer member)."""
        listed = self._permissions(record.container_id)
        extra = [
            p["id"] for p in listed
            if (p.get("role") == "reader" or p.get("type") == "anyone") and _direct(p)
        ]  # fmt: skip
        removed = []
        for perm_id in dict.fromkeys([*record.permission_ids, *extra]):
            req = self._service.permissions().delete(
                fileId=record.container_id, permissionId=perm_id, supportsAllDrives=True
            )
            try:
                self._execute(req, "delete permission")
            except DriveError as exc:
                if exc.status != 404:
                    raise
                continue
            removed.append(perm_id)
        return tuple(removed)

    def _children(self, folder_id: str) -> list[str]:
        try:
            return [f["id"] for f in self._list_in(folder_id, "id")]
        except DriveError as exc:
            if exc.status == 404:
                return []
            raise

    def _list_in(self, folder_id: str, fields: str) -> list[dict[str, Any]]:
        """Every item whose parent is `folder_id`, page by page."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            req = self._service.files().list(
                q=f"'{folder_id}' in parents and trashed = false",
                fields=f"nextPageToken,files({fields})", supportsAllDrives=True,
                includeItemsFromAllDrives=True, pageSize=1000, pageToken=token,
            )  # fmt: skip
            doc = self._execute(req, "list folder")
            found += doc.get("files", [])
            token = doc.get("nextPageToken")
            if not token:
                return found

    def inventory(self) -> list[ListedItem]:
        """What lies directly under the folder (or Shared Drive) Saksi delivers into, each
        folder with its children's ids: what a reconciliation compares with the database."""
        parent = self.config.parent_folder_id or self.config.shared_drive_id or "root"
        listed = []
        for doc in self._list_in(parent, "id,name,mimeType,createdTime"):
            folder = doc.get("mimeType") == FOLDER_MIME
            children = tuple(self._children(doc["id"])) if folder else ()
            created = _parse_rfc3339(doc["createdTime"])
            listed.append(ListedItem(doc["id"], doc.get("name", ""), folder, created, children))
        return listed

    def delete_item(self, item_id: str) -> bool:
        """Delete permanently (a folder with everything in it); False when Drive has no such
        item (or no longer shows it)."""
        return self._delete(item_id)

    def purge(self, record: DeliveryRecord) -> PurgeResult:
        """Revoke, then permanently delete the files and the folder; safe to rerun.

        Drive answers 404 both for an item that is gone and for one the caller can no longer
        see. An item is reported gone (verified absent) only while the parent it lived in is
        still visible; otherwise the purge raises DriveAccessLost and claims nothing (issue
        16: with the service account removed, a purge recorded the evidence as deleted)."""
        revoked = self.revoke(record)
        targets = dict.fromkeys([*record.file_ids, *self._children(record.container_id)])
        deleted: list[str] = []
        gone: list[str] = []
        for file_id in [*targets, record.container_id]:
            (deleted if self._delete(file_id) else gone).append(file_id)
        if gone and not self._parent_visible():
            raise DriveAccessLost(
                f"Drive shows neither {', '.join(gone)} nor their parent: access to the Shared "
                "Drive or folder is lost, so whether they still exist is unknown",
                404,
                "notFound",
            )
        return PurgeResult(revoked, tuple(deleted), tuple(gone))

    def _parent_visible(self) -> bool:
        """Whether the Shared Drive (or parent folder, or My Drive) Saksi delivers into answers."""
        if self.config.shared_drive_id and not self.config.parent_folder_id:
            req = self._service.drives().get(driveId=self.config.shared_drive_id, fields="id")
        else:
            parent = self.config.parent_folder_id or "root"
            req = self._service.files().get(fileId=parent, fields="id", supportsAllDrives=True)
        try:
            self._execute(req, "check the parent")
        except DriveError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def status(self, record: DeliveryRecord) -> DeliveryStatus:
        """Report whether the folder exists, its files and its grants."""
        try:
            self._get(record.container_id, "id")
        except DriveError as exc:
            if exc.status == 404:
                return DeliveryStatus(exists=False)
            raise
        perms = self._permissions(record.container_id)
        expiries = [p["expirationTime"] for p in perms if p.get("expirationTime")]
        return DeliveryStatus(
            exists=True,
            file_ids=tuple(self._children(record.container_id)),
            permission_ids=tuple(p["id"] for p in perms),
            expires_at=_parse_rfc3339(min(expiries)) if expiries else None,
        )


def _direct(permission: dict[str, Any]) -> bool:
    """Whether a permission is on the item itself, not only inherited from its Shared Drive
    (`permissionDetails[].inherited`; My Drive items carry no details: all direct)."""
    details = permission.get("permissionDetails") or []
    return not details or any(not d.get("inherited", False) for d in details)


def _remote_checksum(doc: dict[str, Any]) -> tuple[Literal["sha256", "md5"], str]:
    if doc.get("sha256Checksum"):
        return "sha256", str(doc["sha256Checksum"])
    if doc.get("md5Checksum"):
        return "md5", str(doc["md5Checksum"])
    raise DriveError("Drive returned no checksum for the uploaded file")


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
