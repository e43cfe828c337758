"""`saksi demo --walkthrough` delivering by Google Drive to a fake Drive in another process,
over HTTPS with its own CA, configured only the way an office configures real Drive (issue 16):
`SAKSI_DRIVE_API_ENDPOINT`, a service-account key whose `token_uri` is that server, the CA in
`REQUESTS_CA_BUNDLE` / `HTTPLIB2_CA_CERTS`. Then `saksi purge --now <+15 days>` leaves nothing
of the request on the fake."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

RECIPIENT = "reskrim@polresta-cirebon.example.go.id"  # the walkthrough letter's address


@pytest.fixture(params=["google-account", "no-google-account"])
def fake_drive(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[dict[str, Any], Path]]:
    """The fake in its own process; in the second case the letter's address has no Google
    account, as a police mail server's would not (issue 16 item 1)."""
    directory = tmp_path / "fake-drive"
    argv = [sys.executable, "-m", "tests.fakes.drive_server", str(directory)]
    if request.param == "no-google-account":
        argv += ["--non-google", RECIPIENT]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as server:
        assert server.stdout is not None
        started = json.loads(server.stdout.readline()) | {"argv": argv}
        yield started, directory
        server.terminate()
        server.wait(10)


def _env(started: dict[str, Any], data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAKSI_")}
    drive: dict[str, str] = started["env"]
    return env | drive | {"SAKSI_DATA_DIR": str(data_dir)}


def _items(started: dict[str, Any], directory: Path) -> list[dict[str, Any]]:
    trust = ssl.create_default_context(cafile=str(directory / "ca.pem"))
    reply = httpx.get(f"{started['url']}/_fake/items", verify=trust)
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_walkthrough_by_drive_over_tls_then_the_purge_leaves_nothing(
    fake_drive: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    started, directory = fake_drive
    assert started["url"].startswith("https://")
    data_dir = tmp_path / "data"
    env = _env(started, data_dir)
    argv = [sys.executable, "-m", "app.cli", "demo", "--walkthrough", "--data-dir", str(data_dir),
            "--sim-size", "320x240", "--sim-fps", "5", "--port", str(_free_port())]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])

    if "--non-google" in started["argv"]:
        _check_fallback(summary, _items(started, directory))
    else:
        _check_on_drive(summary, _items(started, directory), directory, data_dir)

    later = (datetime.now(UTC) + timedelta(days=15)).isoformat(timespec="seconds")
    purged = subprocess.run([sys.executable, "-m", "app.cli", "purge", "--now", later], env=env,
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip

    assert purged.returncode == 0, purged.stderr[-3000:]
    report = json.loads(purged.stdout.strip().splitlines()[-1])
    assert (report["purged"], report["failed"]) == ([1], {})
    assert _items(started, directory) == []
    assert list((directory / "store").iterdir()) == []
    verified = subprocess.run([sys.executable, "-m", "app.cli", "verify", "ledger"], env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _check_on_drive(
    summary: dict[str, Any], items: list[dict[str, Any]], directory: Path, data_dir: Path
) -> None:
    assert summary["delivery"]["method"] == "drive"
    [folder] = [i for i in items if i["mimeType"] == "application/vnd.google-apps.folder"]
    [archive] = [i for i in items if i["parents"] == [folder["id"]]]
    number = Path(summary["package"]).name
    assert (folder["name"], archive["name"]) == (number, f"{number}.zip")
    assert folder["permissions"] == 1  # the recipient's grant
    stored = directory / "store" / archive["id"]
    master = data_dir / "packages" / f"{number}.zip"
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(
        master.read_bytes()).digest()  # fmt: skip


def _check_fallback(summary: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """The trial grant on the empty folder failed before any upload: the delivery went on by
    Saksi's own download (the default policy) and only that empty, unshared folder is on
    Drive, owned by the purge."""
    assert summary["delivery"]["method"] == "local"
    assert [Path(f).name for f in summary["delivery"]["files"]] == [
        f"{Path(summary['package']).name}.zip"]  # fmt: skip
    [folder] = items
    assert (folder["mimeType"], folder["permissions"]) == (
        "application/vnd.google-apps.folder", 0)  # fmt: skip
