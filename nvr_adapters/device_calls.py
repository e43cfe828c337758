"""What Saksi asked of a device, and whether any of it could change the device's settings.

The NPCC/SWGDE checklists ask, per exhibit, whether the recorder's settings were changed or
restored during the export. Saksi only searches, plays back, downloads and reads; rather than
state that as a constant, every adapter notes each call it actually sent (`DeviceCalls.note`,
once per distinct call, in first-use order) and the record derives the settings-changing ones
from those names (`changing`), so a future call that writes would show up by itself.

Call names: `ONVIF <Operation>` (the SOAP operation sent), `HTTP <METHOD> <path>` with the
Dahua CGI's `action=` kept (`HTTP GET /cgi-bin/magicBox.cgi?action=getSystemInfo`), and
`RTSP <url path>` for a playback session (DESCRIBE, SETUP, PLAY, TEARDOWN only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# ONVIF operations that write: the Set*/Create*/Delete*/Add*/Remove* families of every service
# (devicemgmt.wsdl, recording.wsdl in onvif/specs), reboots, restores and upgrades.
ONVIF_WRITES = ("Set", "Create", "Delete", "Add", "Remove", "SystemReboot", "Restore", "Start",
                "Upgrade")  # fmt: skip
# ISAPI reads configuration with GET and writes it with PUT (and DELETE); its POSTs create
# things, except these two, which only read: the recording search and the file download.
ISAPI_READING_POSTS = frozenset({"/ISAPI/ContentMgmt/search", "/ISAPI/ContentMgmt/download"})
# Dahua CGI actions that write (configManager setConfig, magicBox reboot/shutdown, …).
CGI_WRITES = ("set", "reboot", "shutdown", "reset", "restore", "delete", "add", "modify",
              "remove", "upgrade", "update")  # fmt: skip


class DeviceCalls:
    """The distinct calls sent to one device, in the order first sent."""

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def note(self, call: str) -> None:
        self._seen.setdefault(call, None)

    def note_http(self, method: str, path: str, params: Mapping[str, Any] | None) -> None:
        action = (params or {}).get("action")
        self.note(f"HTTP {method.upper()} {path}" + (f"?action={action}" if action else ""))

    @property
    def calls(self) -> list[str]:
        return list(self._seen)

    def changing(self) -> list[str]:
        """The calls among them that could change a device setting (none, for Saksi's own)."""
        return [call for call in self._seen if changes_settings(call)]


def changes_settings(call: str) -> bool:
    """Whether a call named as `DeviceCalls` names them could change the device's settings."""
    kind, _, rest = call.partition(" ")
    if kind == "ONVIF":
        return rest.startswith(ONVIF_WRITES)
    if kind == "HTTP":
        method, _, target = rest.partition(" ")
        path, _, query = target.partition("?")
        if method in {"PUT", "DELETE", "PATCH"}:
            return True
        if method == "POST" and path.startswith("/ISAPI/"):
            return path not in ISAPI_READING_POSTS
        action = query.removeprefix("action=").lower()
        return action.startswith(CGI_WRITES) or ".set" in action
    return False  # RTSP playback reads
