"""`saksi demo --walkthrough` from a fresh data dir: one request end to end, one JSON line."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from custody.keys import load
from custody.minisign import public_key_file
from custody.package_verify import verify_package


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    data_dir = tmp_path_factory.mktemp("walkthrough")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAKSI_")}
    argv = [sys.executable, "-m", "app.cli", "demo", "--walkthrough", "--data-dir", str(data_dir),
            "--sim-size", "320x240", "--sim-fps", "5"]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), data_dir


def _sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_every_export_is_on_disk_with_its_hash_and_window(
    walked: tuple[dict[str, Any], Path],
) -> None:
    summary, data_dir = walked
    assert summary["data_dir"] == str(data_dir.resolve())
    assert [e["camera"] for e in summary["exports"]] == [f"Kamera {n}" for n in range(1, 5)]
    for export in summary["exports"]:
        assert _sha(export["file"]) == export["sha256"]
        assert Path(export["file"]).stat().st_size == export["bytes"]
        first = datetime.fromisoformat(export["first_frame_utc"])
        assert first <= datetime.fromisoformat(export["window_start_utc"])  # key frame at or before
        assert datetime.fromisoformat(export["last_frame_utc"]) < datetime.fromisoformat(
            export["window_end_utc"]
        )
    motion = summary["exports"][3]
    assert motion["state"] == "partial"
    assert motion["gaps"]  # the motion-only camera recorded nothing for half of the window
    assert all(not e["gaps"] for e in summary["exports"][:3])


def test_package_delivery_and_bast(walked: tuple[dict[str, Any], Path]) -> None:
    summary, data_dir = walked
    key = load(data_dir / "keys" / "office-ed25519.pem")
    report = verify_package(Path(summary["package"]), office_public_key=public_key_file(key))
    assert report.ok, report.findings
    delivery = summary["delivery"]
    assert delivery["method"] == "local"
    assert "/unduh/" in delivery["url"]
    [delivered] = delivery["files"]
    assert _sha(delivered) == _sha(summary["package"] + ".zip")
    bast = summary["bast"]
    assert bast["number"].endswith(f"/BAST/{datetime.now().year}")
    text = subprocess.run(["pdftotext", bast["pdf"], "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    assert bast["number"] in text
    assert Path(bast["docx"]).read_bytes()[:2] == b"PK"


def test_saksi_verify_ledger_checks_the_walked_data_dir(
    walked: tuple[dict[str, Any], Path],
) -> None:
    _summary, data_dir = walked
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAKSI_")}
    env["SAKSI_DATA_DIR"] = str(data_dir)
    done = subprocess.run([sys.executable, "-m", "app.cli", "verify", "ledger"], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
