"""The fake Drive's activity log and its Drive Activity API v2 endpoint (`v2/activity:query`).

Shapes follow the API reference (https://developers.google.com/drive/activity/v2/reference/rest/
v2/activity/query and the `DriveActivity` resource): activities newest first, each with
`primaryActionDetail`, `actors` (`user.knownUser.personName` = `people/…`), `targets`
(`driveItem.name` = `items/ID`) and `timestamp`; `ancestorName` selects an item and everything
under it; `filter` supports `time > "RFC 3339"` (the reference's own example form). The API has
no "view" or "download" detail: a recipient's visible actions are permission changes, comments,
edits and the like. A token without the activity scope gets 403 PERMISSION_DENIED with the
ErrorInfo reason ACCESS_TOKEN_SCOPE_INSUFFICIENT, an API not enabled 403 SERVICE_DISABLED
(google.rpc error model, https://cloud.google.com/apis/design/errors).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACTIVITY_SCOPES = frozenset(
    {"https://www.googleapis.com/auth/drive.activity",
     "https://www.googleapis.com/auth/drive.activity.readonly"}
)  # fmt: skip
_TIME_AFTER = re.compile(r'^time > "([^"]+)"$')


class ActivityError(Exception):
    """A google.rpc error: status code, canonical status, ErrorInfo reason."""

    def __init__(self, code: int, status: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.reason = code, status, reason

    def body(self) -> bytes:
        detail = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": self.reason,
                  "domain": "googleapis.com",
                  "metadata": {"service": "driveactivity.googleapis.com"}}  # fmt: skip
        error = {"code": self.code, "message": str(self), "status": self.status,
                 "details": [detail]}  # fmt: skip
        return json.dumps({"error": error}).encode()


def person(principal: str) -> str:
    """A stable `people/…` name for an address, as the API names actors."""
    return "people/" + str(int(hashlib.sha256(principal.encode()).hexdigest()[:12], 16))


@dataclass
class ActivityLog:
    """What happened to which item, when, by whom; queried like the API."""

    now: Callable[[], datetime]
    enabled: bool = True  # False: the API is not enabled in the Cloud project
    entries: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, item: dict[str, Any], ancestors: list[str], detail: dict[str, Any], actor: str
    ) -> None:
        entry = {
            "timestamp": self.now().isoformat().replace("+00:00", "Z"),
            "primaryActionDetail": detail,
            "actions": [{"detail": detail}],
            "actors": [{"user": {"knownUser": {"personName": person(actor)}}}],
            "targets": [
                {
                    "driveItem": {
                        "name": f"items/{item['id']}",
                        "title": item.get("name", ""),
                        "mimeType": item.get("mimeType", ""),
                    }
                }
            ],  # fmt: skip
            "_ancestors": [item["id"], *ancestors],
        }
        with self.lock:
            self.entries.append(entry)

    def query(self, scopes: set[str], body: dict[str, Any], caller: str = "") -> dict[str, Any]:
        """An `activity:query` by `caller` (its actions carry `isCurrentUser`)."""
        if not scopes & ACTIVITY_SCOPES:
            raise ActivityError(403, "PERMISSION_DENIED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                                "Request had insufficient authentication scopes.")  # fmt: skip
        if not self.enabled:
            raise ActivityError(403, "PERMISSION_DENIED", "SERVICE_DISABLED",
                                "Google Drive Activity API has not been used in project "
                                "saksi-test before or it is disabled.")  # fmt: skip
        root = str(body.get("ancestorName") or body.get("itemName") or "")
        if not root.startswith("items/"):
            raise ActivityError(400, "INVALID_ARGUMENT", "BAD_REQUEST", "ancestorName required")
        after = _after(str(body.get("filter") or ""))
        with self.lock:
            found = [e for e in self.entries if root[6:] in e["_ancestors"]
                     and (after is None or _at(e) > after)]  # fmt: skip
        found.reverse()  # newest first, as the API answers
        start, size = int(body.get("pageToken") or 0), int(body.get("pageSize") or 50)
        page = [_as_seen_by(e, person(caller)) for e in found[start : start + size]]
        doc: dict[str, Any] = {"activities": page} if page else {}
        if start + size < len(found):
            doc["nextPageToken"] = str(start + size)
        return doc


def _as_seen_by(entry: dict[str, Any], caller: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps({k: v for k, v in entry.items() if k[0] != "_"}))
    for actor in doc["actors"]:
        known = actor.get("user", {}).get("knownUser")
        if known is not None:
            known["isCurrentUser"] = known.get("personName") == caller
    return doc


def _after(text: str) -> datetime | None:
    if not text:
        return None
    match = _TIME_AFTER.match(text.strip())
    if match is None:
        raise ActivityError(400, "INVALID_ARGUMENT", "BAD_REQUEST", f"unsupported filter {text}")
    return datetime.fromisoformat(match.group(1).replace("Z", "+00:00"))


def _at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00"))
