"""Read what happened to delivered items from the Drive Activity API v2 (issue 16 item 7).

`activity:query` (https://developers.google.com/drive/activity/v2/reference/rest/v2/activity/query)
returns, newest first, the actions on an item or on everything under a folder (`ancestorName`).
The API's `ActionDetail` has create, edit, move, rename, delete, restore, permissionChange,
comment, dlpChange, reference, settingsChange and appliedLabelChange (the discovery document
`driveactivity.v2.json` shipped with google-api-python-client): it does **not** report views or
downloads, so "the recipient opened the file" is not something this API can tell. Actors are
`people/ACCOUNT_ID` names, not addresses.

Reading it needs the `drive.activity.readonly` scope and the API enabled in the Cloud project.
Without either Google answers 403 PERMISSION_DENIED with an `ErrorInfo` reason
(`ACCESS_TOKEN_SCOPE_INSUFFICIENT`, `SERVICE_DISABLED`; https://cloud.google.com/apis/design/errors
and https://cloud.google.com/docs/authentication/troubleshoot-adc); that is `ActivityUnavailable`,
which callers treat as "skipped", never as a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from google.auth.credentials import Credentials
from google.auth.exceptions import RefreshError
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from ._retry import RetryPolicy, classify
from .errors import ActivityUnavailable, DriveError

ACTIVITY_SCOPE = "https://www.googleapis.com/auth/drive.activity.readonly"
DEFAULT_ACTIVITY_ENDPOINT = "https://driveactivity.googleapis.com"
# ErrorInfo reasons (and the older `errors[].reason`s) that mean "not with these credentials".
UNAVAILABLE_REASONS = frozenset(
    {"ACCESS_TOKEN_SCOPE_INSUFFICIENT", "SERVICE_DISABLED", "API_DISABLED",
     "insufficientPermissions", "accessNotConfigured", "PERMISSION_DENIED"}
)  # fmt: skip


@dataclass(frozen=True)
class DriveActivity:
    """One activity on a delivered item, as the ledger keeps it."""

    time: datetime
    action: str  # the primary ActionDetail's kind: permissionChange, edit, delete …
    item_id: str
    title: str
    actors: tuple[str, ...]  # people/…, or administrator / anonymous / system …
    detail: dict[str, Any]
    by_caller: bool  # every actor is the account reading (Saksi itself)


def activity_credentials(credentials: Credentials) -> Credentials:
    """A service account asks for the activity scope itself; an OAuth user token has what
    was granted when it was made (its refresh cannot widen it)."""
    if isinstance(credentials, service_account.Credentials):
        scoped: Credentials = credentials.with_scopes([ACTIVITY_SCOPE])
        return scoped
    return credentials


class ActivityReader:
    """Page through `activity:query` for one folder and everything in it."""

    def __init__(self, credentials: Credentials, endpoint: str, retry: RetryPolicy) -> None:
        self._service = build(
            "driveactivity", "v2", credentials=activity_credentials(credentials),
            static_discovery=True, cache_discovery=False,
            client_options={"api_endpoint": urljoin(endpoint.rstrip("/") + "/", "")},
        )  # fmt: skip
        self._retry = retry

    def close(self) -> None:
        self._service.close()

    def since(self, folder_id: str, after: datetime | None) -> list[DriveActivity]:
        """Every activity under `folder_id` later than `after`, oldest first."""
        found = [a for doc in self._pages(folder_id, after) if (a := _activity(doc))]
        return sorted(found, key=lambda a: a.time)

    def _pages(self, folder_id: str, after: datetime | None) -> Iterator[dict[str, Any]]:
        body: dict[str, Any] = {"ancestorName": f"items/{folder_id}", "pageSize": 100}
        if after is not None:
            body["filter"] = f'time > "{after.isoformat().replace("+00:00", "Z")}"'
        while True:
            doc = self._execute(self._service.activity().query(body=body))
            yield from doc.get("activities", [])
            if not doc.get("nextPageToken"):
                return
            body = {**body, "pageToken": doc["nextPageToken"]}

    def _execute(self, request: Any) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                result: dict[str, Any] = request.execute(num_retries=0)
                return result
            except RefreshError as exc:  # an OAuth token without the scope, refused at refresh
                message = f"activity: token refused ({exc})"
                raise ActivityUnavailable(message, 400, "invalid_scope") from exc
            except HttpError as exc:
                status, reason = exc.resp.status, error_info_reason(exc.content)
                asked = self._retry.asked(exc.resp.get("retry-after"))
            if status == 403 and reason in UNAVAILABLE_REASONS:
                raise ActivityUnavailable(f"activity: {reason}", status, reason)
            if classify(status, reason) != "retry":
                raise DriveError(f"activity: HTTP {status} ({reason})", status, reason)
            self._retry.wait(attempt, status, reason, "activity query", asked)
            attempt += 1


def error_info_reason(body: bytes | str | None) -> str | None:
    """The `ErrorInfo.reason` of a google.rpc error body, else its `errors[0].reason`, else
    its `status` (https://cloud.google.com/apis/design/errors#http_mapping)."""
    try:
        error = json.loads(body or b"")["error"]
    except (ValueError, KeyError, TypeError):
        return None
    for detail in error.get("details") or []:
        if str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo") and detail.get("reason"):
            return str(detail["reason"])
    legacy = error.get("errors") or [{}]
    return str(legacy[0].get("reason") or error.get("status") or "") or None


def _activity(doc: dict[str, Any]) -> DriveActivity | None:
    stamp = doc.get("timestamp") or (doc.get("timeRange") or {}).get("endTime")
    if not stamp:
        return None
    primary = doc.get("primaryActionDetail") or {}
    action = next(iter(primary), "unknown")
    targets = [t["driveItem"] for t in doc.get("targets", []) if "driveItem" in t]
    item: dict[str, Any] = targets[0] if targets else {}
    return DriveActivity(
        time=datetime.fromisoformat(stamp.replace("Z", "+00:00")),
        action=action,
        item_id=str(item.get("name", "")).removeprefix("items/"),
        title=str(item.get("title", "")),
        actors=tuple(_actor(a) for a in doc.get("actors", [])),
        detail=primary.get(action) or {},
        by_caller=all(_is_caller(a) for a in doc.get("actors", [{}])),
    )


def _is_caller(actor: dict[str, Any]) -> bool:
    return bool(((actor.get("user") or {}).get("knownUser") or {}).get("isCurrentUser"))


def _actor(actor: dict[str, Any]) -> str:
    user = actor.get("user") or {}
    if "knownUser" in user:
        return str(user["knownUser"].get("personName", "people/unknown"))
    return next(iter(actor), "unknown") if not user else next(iter(user), "unknown")
