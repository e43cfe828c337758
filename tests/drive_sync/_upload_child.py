"""Child process for the kill-and-resume test: upload one file, persisting progress."""

from __future__ import annotations

import sys
from pathlib import Path

from drive_sync import (
    CHUNK_UNIT,
    Container,
    DriveBackend,
    DriveConfig,
    JsonFileStateStore,
    load_credentials,
)


def main(key: str, endpoint: str, folder_id: str, source: str, state: str) -> None:
    """Upload `source` into the folder; the parent kills us part-way."""
    config = DriveConfig(api_endpoint=endpoint, chunk_size=CHUNK_UNIT)
    store = JsonFileStateStore(Path(state))
    with DriveBackend(load_credentials(Path(key)), config, store) as backend:
        backend.upload(Container("drive", folder_id, "child"), Path(source))


if __name__ == "__main__":
    main(*sys.argv[1:6])
