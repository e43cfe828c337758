"""A clip derived from the NVR's own file: the package carries that master, listed first."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine

from custody import Checkpoint, CustodyEvent, OfficeKey, sign
from custody import append as append_event
from custody.ledger import StoredEvent, leaf_hashes
from custody.merkle import MerkleTree
from custody.package import ClipSource, MasterEntry, PackageInfo, build
from custody.package_verify import verify_package
from custody.receipts import Receipt, issue
from tests.custody.conftest import OPERATOR, ORIGIN, T0, TOOL
from tests.custody.test_package import RECORD, entry, small_mp4

RAW = "ab" * 32  # the access units' hash both files are recorded with


def _event(engine: Engine, action: str, name: str, sha256: str) -> StoredEvent:
    with engine.begin() as connection:
        return append_event(
            connection,
            CustodyEvent(action=action, performer=OPERATOR, instrument=TOOL, start_time=T0,
                         result={"file": name, "sha256": sha256}, request_id=1),
            T0,
        )  # fmt: skip


@pytest.fixture
def package(engine: Engine, office_key: OfficeKey, tmp_path: Path) -> Path:
    exported = tmp_path / "exported"
    exported.mkdir()
    master = exported / "00001-a1-kamera-1.ps"
    # What custody keeps is bytes: the format is the adapters' concern (tested there).
    master.write_bytes(b"IMKH" + bytes(36) + b"\x00\x00\x01\xba" + bytes(400))
    master_sha = hashlib.sha256(master.read_bytes()).hexdigest()
    clip = exported / "00001-a1-kamera-1.mp4"
    clip_sha = small_mp4(clip)
    master_event = _event(engine, "export.master_written", master.name, master_sha)
    clip_event = _event(engine, "export.file_written", clip.name, clip_sha)
    with engine.connect() as connection:
        tree = MerkleTree(d for _s, d in leaf_hashes(connection))
    note = sign(Checkpoint(ORIGIN, tree.size, tree.root()), ORIGIN, office_key)

    def receipt(event: StoredEvent) -> Receipt:
        return issue(tree, event.seq - 1, event.canonical, note, tree.size)

    master_entry = MasterEntry(
        file="masters/01-kamera-1.ps", format="mpeg-ps", sha256=master_sha,
        size=master.stat().st_size, raw_sha256=RAW, player="VSPlayer atau ffplay",
    )  # fmt: skip
    clip_entry = dataclasses.replace(
        entry(1, clip_sha, clip.stat().st_size), raw_sha256=RAW, master=master_entry,
        method={"method": "download", "format": "mpeg-ps"},
    )  # fmt: skip
    source = ClipSource(clip_entry, clip, receipt(clip_event), (master, receipt(master_event)))
    info = PackageInfo(
        request_number="SKS-2026-00002", letter_number="B/7/XII/2026", agency="Polresta Cirebon",
        export_unit={"name": "Diskominfo"}, generated_at="2026-12-03T03:10:00Z",
        custody_origin=ORIGIN, verification_url="https://saksi.example.go.id/verifikasi", **RECORD,
    )  # fmt: skip
    root, _zip = build(info, [source], office_key, tmp_path / "packages")
    return root


def test_the_master_is_packaged_first_with_its_receipt(package: Path) -> None:
    manifest = json.loads((package / "manifest.json").read_text())
    [clip] = manifest["clips"]
    assert list(clip)[:3] == ["exhibit", "master", "file"]  # listed first, with its format
    assert clip["master"]["format"] == "mpeg-ps"
    assert clip["master"]["raw_sha256"] == clip["raw_sha256"]
    assert clip["method"]["method"] == "download"
    master = package / clip["master"]["file"]
    assert hashlib.sha256(master.read_bytes()).hexdigest() == clip["master"]["sha256"]
    assert (package / "receipts" / "01-kamera-1.ps.proof").is_file()
    assert "masters/01-kamera-1.ps" in (package / "SHA256SUMS").read_text()
    assert "masters/" in (package / "VERIFIKASI.txt").read_text()
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=package, check=False,
                          capture_output=True, text=True)  # fmt: skip
    assert sums.returncode == 0, sums.stdout
    report = verify_package(package)
    assert report.ok, report.findings


def test_a_changed_master_is_found(package: Path) -> None:
    master = package / "masters" / "01-kamera-1.ps"
    data = bytearray(master.read_bytes())
    data[50] ^= 1
    master.write_bytes(bytes(data))
    findings = verify_package(package).findings
    assert any(f.startswith("masters/01-kamera-1.ps: differs from the signed manifest")
               for f in findings), findings  # fmt: skip
