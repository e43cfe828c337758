"""An upload survives the death of its process and sends only the missing tail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from drive_sync import CHUNK_UNIT, DriveBackend
from tests.drive_sync.conftest import make_file
from tests.fakes.drive import FakeDrive

ROOT = Path(__file__).resolve().parents[2]


def test_killed_process_resumes_with_only_the_missing_tail(
    backend: DriveBackend, fake: FakeDrive, sa_key: Path, state_path: Path, tmp_path: Path
) -> None:
    size = 7 * CHUNK_UNIT + 999
    src = make_file(tmp_path / "export.mp4", size)
    folder = backend.create_container("SAKSI-2026-0042")
    fake.faults.hang_at_chunk = 3  # chunks 0-2 are acknowledged, chunk 3 never is
    argv = [sys.executable, "-m", "tests.drive_sync._upload_child", str(sa_key), fake.url,
            folder.id, str(src), str(state_path)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.PIPE) as child:
        assert fake.faults.hang_reached.wait(60), child.stderr
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    fake.faults.hang_release.set()
    acked = 3 * CHUNK_UNIT
    [saved] = json.loads(state_path.read_text()).values()
    assert saved["offset"] == acked
    fake.stats.bytes_received = 0
    result = backend.upload(folder, src)
    assert fake.stats.bytes_received == size - acked
    assert result.bytes_sent == size - acked
    assert fake.stats.sessions_opened == 1  # the child's session was resumed, not replaced
    assert fake.content(result.file_id) == src.read_bytes()
    assert result.local_sha256 == result.remote_checksum
    assert json.loads(state_path.read_text()) == {}
