"""minisign interoperability in both directions, with the stock `minisign` binary."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from custody import OfficeKey
from custody.errors import SignatureError
from custody.minisign import public_key_file, read_public_key, sign_file, verify_file

pytestmark = pytest.mark.skipif(shutil.which("minisign") is None, reason="needs minisign")


def minisign(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["minisign", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False
    )


@pytest.fixture
def signed(office_key: OfficeKey, tmp_path: Path) -> Path:
    (tmp_path / "manifest.json").write_bytes(b'{"exhibits":["SKS-2026-00001/1"]}\n' * 1000)
    (tmp_path / "saksi.pub").write_text(public_key_file(office_key))
    signature = sign_file(office_key, tmp_path / "manifest.json", "saksi request SKS-2026-00001")
    (tmp_path / "manifest.json.minisig").write_text(signature)
    return tmp_path


def test_the_stock_tool_verifies_our_signature(signed: Path, office_key: OfficeKey) -> None:
    result = minisign("-V", "-p", "saksi.pub", "-m", "manifest.json", cwd=signed)
    assert result.returncode == 0, result.stderr
    assert "Trusted comment: saksi request SKS-2026-00001" in result.stdout
    assert read_public_key((signed / "saksi.pub").read_text()) == office_key.public_bytes


def test_the_stock_tool_finds_a_flipped_byte(signed: Path) -> None:
    manifest = signed / "manifest.json"
    data = bytearray(manifest.read_bytes())
    data[500] ^= 0x01
    manifest.write_bytes(bytes(data))
    result = minisign("-V", "-p", "saksi.pub", "-m", "manifest.json", cwd=signed)
    assert result.returncode != 0
    assert "verification failed" in result.stderr.lower()
    with pytest.raises(SignatureError, match="does not verify"):
        verify_file((signed / "saksi.pub").read_text(), manifest, _sig(signed))


def test_a_changed_trusted_comment_is_found_by_both(signed: Path) -> None:
    sig = signed / "manifest.json.minisig"
    sig.write_text(sig.read_text().replace("SKS-2026-00001", "SKS-2026-00002"))
    result = minisign("-V", "-p", "saksi.pub", "-m", "manifest.json", cwd=signed)
    assert result.returncode != 0
    with pytest.raises(SignatureError, match="does not verify"):
        verify_file((signed / "saksi.pub").read_text(), signed / "manifest.json", _sig(signed))


def test_we_verify_a_signature_made_by_the_stock_tool(tmp_path: Path) -> None:
    made = minisign("-G", "-W", "-p", "their.pub", "-s", "their.key", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    (tmp_path / "clip.mp4").write_bytes(bytes(range(256)) * 400)
    signed = minisign(
        "-S", "-s", "their.key", "-m", "clip.mp4", "-t", "made by minisign", cwd=tmp_path
    )
    assert signed.returncode == 0, signed.stderr
    public, signature = (tmp_path / "their.pub").read_text(), _sig(tmp_path, "clip.mp4")
    assert verify_file(public, tmp_path / "clip.mp4", signature) == "made by minisign"
    (tmp_path / "clip.mp4").write_bytes(bytes(range(256)) * 399)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_file(public, tmp_path / "clip.mp4", signature)


def test_a_signature_by_another_key_is_named(signed: Path, tmp_path: Path) -> None:
    minisign("-G", "-W", "-p", "other.pub", "-s", "other.key", cwd=tmp_path)
    other = (tmp_path / "other.pub").read_text()
    result = minisign("-V", "-p", "other.pub", "-m", "manifest.json", cwd=signed)
    assert result.returncode != 0
    with pytest.raises(SignatureError, match="not made by this key"):
        verify_file(other, signed / "manifest.json", _sig(signed))


def test_a_multi_line_trusted_comment_is_refused(office_key: OfficeKey, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(ValueError, match="one line"):
        sign_file(office_key, tmp_path / "f", "a\ntrusted comment: b")


def _sig(directory: Path, name: str = "manifest.json") -> str:
    return (directory / f"{name}.minisig").read_text()
