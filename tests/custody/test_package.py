"""The evidence package, checked by our verifier and by the stock tools a recipient has."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from custody import Checkpoint, CustodyEvent, OfficeKey, sign
from custody import append as append_event
from custody.errors import CustodyError
from custody.ledger import leaf_hashes
from custody.merkle import MerkleTree
from custody.minisign import public_key_file
from custody.note import verifier_key
from custody.package import ClipEntry, ClipSource, PackageInfo, UnavailableItem, build
from custody.package_verify import verify_package
from custody.receipts import Receipt, issue
from tests.custody.conftest import OPERATOR, ORIGIN, T0, TOOL


def small_mp4(path: Path, shade: int = 0, seconds: int = 1) -> str:
    """Encode a real, tiny H.264 MP4 (320×240) and return its SHA-256."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.time_base = Fraction(1, 10)
        for index in range(seconds * 10):
            image = np.full((240, 320, 3), (shade * 90 + index * 20) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return hashlib.sha256(path.read_bytes()).hexdigest()


# What manifest version 2 asks of every package (the service fills these from the request).
RECORD = {
    "legal_basis": {
        "letter_number": "B/123/XI/2026",
        "letter_date": "2026-11-20",
        "authority": "Polresta",
        "purpose": "Penyidikan",
        "decisions": [
            {
                "step": 2,
                "action": "dispose",
                "outcome": "completed",
                "role": "kepala_dinas",
                "by": "Kepala Dinas",
                "decided_at": "2026-11-20T02:00:00Z",
                "met_standard": True,
            },
        ],
    },
    "retention": {"delivery_ttl_days": 14, "statement": "Salinan dihapus setelah 14 hari."},
}
MEDIA = {"container": "MP4 (ISO/IEC 14496-14)", "codec": "h264", "profile": "High",
         "player": "any MP4 player"}  # fmt: skip


def entry(number: int, sha: str, size: int) -> ClipEntry:
    window = ("2026-11-21T02:00:00Z", "2026-11-21T02:00:01Z")
    return ClipEntry(
        exhibit=f"SKS-2026-00001/{number}", file=f"clips/{number:02d}-kamera-{number}.mp4",
        sha256=sha, size=size, bit_exact_master=True, camera=f"Kamera {number}",
        location="Simpang Empat Sumber", source=f"Profile_{number}",
        nvr_address="127.0.0.1:8080", requested_window=window, delivered_window=window,
        gaps=[], nvr={"make": "Saksi", "model": "NVR Simulator", "firmware": "1.0",
                      "serial": "SIM-0001"},
        clock_offset={"seconds": "0.120", "method": "ONVIF GetSystemDateAndTime",
                      "measured_at": "2026-11-22T03:00:00Z"},
        time_zone="UTC in files; WIB (Asia/Jakarta) in documents",
        export_started_at="2026-11-22T03:01:00Z", export_finished_at="2026-11-22T03:01:05Z",
        tool={"name": "saksi", "version": "test"}, operator="Dewi Lestari", media=MEDIA,
        coordinates={"latitude": -6.7063, "longitude": 108.5571},
    )  # fmt: skip


@pytest.fixture
def package(engine: Engine, office_key: OfficeKey, tmp_path: Path) -> Path:
    sources = []
    exported = tmp_path / "exported"
    exported.mkdir()
    for number in (1, 2):
        clip = exported / f"{number}.mp4"
        sha = small_mp4(clip, shade=number)
        with engine.begin() as connection:
            stored = append_event(
                connection,
                CustodyEvent(
                    action="export.file_written",
                    performer=OPERATOR,
                    instrument=TOOL,
                    start_time=T0,
                    result={"file": clip.name, "sha256": sha},
                    request_id=1,
                ),  # fmt: skip
                T0,
            )
        sources.append((number, clip, sha, stored))
    with engine.connect() as connection:
        tree = MerkleTree(d for _s, d in leaf_hashes(connection))
    note = sign(Checkpoint(ORIGIN, tree.size, tree.root()), ORIGIN, office_key)
    clips = [
        ClipSource(
            entry(number, sha, clip.stat().st_size),
            clip,
            issue(tree, stored.seq - 1, stored.canonical, note, tree.size),
        )
        for number, clip, sha, stored in sources
    ]
    info = PackageInfo(
        request_number="SKS-2026-00001", letter_number="B/123/XI/2026", agency="Polresta Cirebon",
        export_unit={"name": "Diskominfo Kabupaten Cirebon", "host": "saksi.local"},
        generated_at="2026-11-22T03:10:00Z", custody_origin=ORIGIN,
        verification_url="https://saksi.example.go.id/verifikasi", **RECORD,
    )  # fmt: skip
    root, _zip = build(info, clips, office_key, tmp_path / "packages", [NOTHING_RECORDED])
    return root


# The letter's third camera recorded nothing in its window: the package says so, signed.
NOTHING_RECORDED = UnavailableItem(
    exhibit="SKS-2026-00001/3", camera="Kamera 3", location="Pasar Sumber",
    requested_window=("2026-11-21T02:00:00Z", "2026-11-21T02:00:01Z"),
    reason="Tidak ada rekaman pada rentang waktu ini", reason_code="RecordingNotFound",
    detail="454 Session Not Found",
)  # fmt: skip


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


def test_a_package_verifies_with_our_verifier_and_the_stock_tools(package: Path) -> None:
    report = verify_package(package)
    sums = run(["sha256sum", "-c", "SHA256SUMS"], package)
    signature = run(["minisign", "-V", "-p", "saksi.pub", "-m", "manifest.json"], package)

    assert report.ok, report.findings
    assert report.clips == 2
    assert sums.returncode == 0, sums.stdout
    assert signature.returncode == 0, signature.stderr
    assert "Signature and comment signature verified" in signature.stdout
    assert "Trusted comment: Saksi SKS-2026-00001 B/123/XI/2026" in signature.stdout
    text = (package / "VERIFIKASI.txt").read_text()
    assert "sha256sum -c SHA256SUMS" in text
    assert "minisign -V -p saksi.pub -m manifest.json" in text
    assert report.unavailable == ["SKS-2026-00001/3: Tidak ada rekaman pada rentang waktu ini"]
    assert "Rekaman yang diminta tetapi tidak ada dalam paket ini" in text
    assert "SKS-2026-00001/3  Kamera 3 – Pasar Sumber" in text


def test_the_zip_verifies_too(package: Path) -> None:
    report = verify_package(package.with_suffix(".zip"))

    assert report.ok, report.findings
    assert report.clips == 2


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_clip_is_found(package: Path) -> None:
    clip = next((package / "clips").iterdir())
    _flip(clip, clip.stat().st_size // 2)

    report = verify_package(package)
    sums = run(["sha256sum", "-c", "SHA256SUMS"], package)

    assert f"clips/{clip.name}: SHA-256 differs from SHA256SUMS" in report.findings
    assert f"clips/{clip.name}: differs from the signed manifest (hash or size)" in report.findings
    assert sums.returncode != 0


def test_a_flipped_byte_in_the_manifest_is_found(package: Path) -> None:
    manifest = package / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text.replace("Simpang Empat Sumber", "Simpang Empat Sumbes", 1))

    report = verify_package(package)
    signature = run(["minisign", "-V", "-p", "saksi.pub", "-m", "manifest.json"], package)

    assert any("manifest.json: signature not verified" in f for f in report.findings)
    assert signature.returncode != 0


def test_a_receipt_for_another_event_is_found(package: Path) -> None:
    first, second = sorted((package / "receipts").iterdir())
    shutil.copy(second, first)

    report = verify_package(package)

    assert any("the receipt's ledger event records another hash" in f for f in report.findings)


def test_a_clip_changed_since_export_is_not_packaged(
    engine: Engine, office_key: OfficeKey, tmp_path: Path
) -> None:
    clip = tmp_path / "1.mp4"
    sha = small_mp4(clip)
    _flip(clip, 100)
    info = PackageInfo("SKS-2026-00002", "B/9", "Polres", {"name": "Diskominfo"},
                       "2026-11-22T03:10:00Z", ORIGIN, "https://saksi.example",
                       **RECORD)  # fmt: skip
    note = sign(Checkpoint(ORIGIN, 0, b"\0" * 32), ORIGIN, office_key)
    receipt = Receipt(b"{}", 0, (), note)

    with pytest.raises(CustodyError, match="no longer has the hash recorded at export"):
        build(info, [ClipSource(entry(1, sha, 0), clip, receipt)], office_key, tmp_path / "out")
    manifest = tmp_path / "out" / "SKS-2026-00002" / "manifest.json"
    assert not manifest.exists()


def test_saksi_verify_package_exit_codes(package: Path) -> None:
    ok = run([sys.executable, "-m", "app.cli", "verify", "package", str(package)], package)
    _flip(package / "manifest.json", 10)
    bad = run([sys.executable, "-m", "app.cli", "verify", "package", str(package)], package)

    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: 2 clips" in ok.stdout
    assert (
        "NOTE requested, no clip in the package: SKS-2026-00001/3: Tidak ada rekaman pada "
        "rentang waktu ini" in ok.stdout
    )
    assert "WARNING: checked against the saksi.pub inside the package" in ok.stdout
    assert bad.returncode == 1
    assert "FAIL manifest.json: signature not verified" in bad.stdout


def test_the_office_key_pins_the_package(package: Path, office_key: OfficeKey) -> None:
    """Guards against trusting the package's own saksi.pub: a forger ships their own key."""
    stranger = OfficeKey(Ed25519PrivateKey.generate())
    unpinned = verify_package(package)
    pinned = verify_package(package, office_public_key=public_key_file(office_key))
    foreign = verify_package(package, office_public_key=public_key_file(stranger))

    assert unpinned.ok
    assert not unpinned.key_pinned
    assert pinned.ok, pinned.findings
    assert pinned.key_pinned
    assert "saksi.pub: not the office's published key" in foreign.findings
    assert any("signature not verified" in finding for finding in foreign.findings)


def test_a_sums_line_pointing_outside_is_not_followed(package: Path) -> None:
    """Guards against SHA256SUMS naming ../ paths that the verifier would read."""
    sums = package / "SHA256SUMS"
    sums.write_text(sums.read_text() + f"{'0' * 64}  ../../etc/passwd\n")
    report = verify_package(package)
    assert "../../etc/passwd: listed in SHA256SUMS but outside the package" in report.findings


def test_saksi_verify_package_with_the_published_key(
    package: Path, office_key: OfficeKey, tmp_path: Path
) -> None:
    published = tmp_path / "office.pub"
    published.write_text(public_key_file(office_key))
    stranger = tmp_path / "stranger.pub"
    stranger.write_text(public_key_file(OfficeKey(Ed25519PrivateKey.generate())))
    argv = [sys.executable, "-m", "app.cli", "verify", "package", str(package), "--key"]

    pinned = run([*argv, str(published)], package)
    wrong = run([*argv, str(stranger)], package)

    assert pinned.returncode == 0, pinned.stdout
    assert "WARNING" not in pinned.stdout
    assert wrong.returncode == 1
    assert "not the office's published key" in wrong.stdout


def test_the_package_names_the_checkpoint_verifier_key_and_how_to_read_a_receipt(
    package: Path, office_key: OfficeKey
) -> None:
    """Issue 20 (an examiner's findings): the checkpoints' signed-note key and the meaning of a
    receipt's `extra` were nowhere in the package; a recipient had to infer them."""
    key = verifier_key(ORIGIN, office_key.public_bytes)
    assert (package / "saksi.vkey").read_text() == key + "\n"
    text = (package / "VERIFIKASI.txt").read_text()
    assert key in text
    assert '"result.sha256"' in text
    assert "saksi.vkey" in (package / "SHA256SUMS").read_text()
