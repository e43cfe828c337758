"""Where a resumable upload's session URI and acknowledged offset survive a restart."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class UploadState:
    """A resumable session and how many bytes Drive has acknowledged."""

    session_uri: str
    size: int
    offset: int
    mtime_ns: int


class UploadStateStore(Protocol):
    """Persist upload sessions by a caller-chosen key."""

    def load(self, key: str) -> UploadState | None:
        """Return the saved state, or None."""
        ...

    def save(self, key: str, state: UploadState) -> None:
        """Store the state durably before the next chunk is sent."""
        ...

    def clear(self, key: str) -> None:
        """Forget the key; missing keys are fine."""
        ...


class JsonFileStateStore:
    """One JSON file holding every pending session, replaced atomically.

    For one process only (tools, tests): each save rewrites the whole file from what this
    process read, so two processes lose each other's sessions. The service keeps its sessions
    in its database (`app.delivery.upload_state`)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict[str, object]]) -> None:
        tmp = self._path.with_suffix(self._path.suffix + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(data, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._path)

    def load(self, key: str) -> UploadState | None:
        """Return the saved state, or None."""
        with self._lock:
            raw = self._read().get(key)
        if raw is None:
            return None
        return UploadState(
            session_uri=str(raw["session_uri"]),
            size=int(str(raw["size"])),
            offset=int(str(raw["offset"])),
            mtime_ns=int(str(raw["mtime_ns"])),
        )

    def save(self, key: str, state: UploadState) -> None:
        """Store the state durably before the next chunk is sent."""
        with self._lock:
            data = self._read()
            data[key] = asdict(state)
            self._write(data)

    def clear(self, key: str) -> None:
        """Forget the key; missing keys are fine."""
        with self._lock:
            data = self._read()
            if data.pop(key, None) is not None:
                self._write(data)


class MemoryStateStore:
    """A process-local store, for callers that do not need restarts."""

    def __init__(self) -> None:
        self._data: dict[str, UploadState] = {}

    def load(self, key: str) -> UploadState | None:
        """Return the saved state, or None."""
        return self._data.get(key)

    def save(self, key: str, state: UploadState) -> None:
        """Keep the state in memory."""
        self._data[key] = state

    def clear(self, key: str) -> None:
        """Forget the key."""
        self._data.pop(key, None)
