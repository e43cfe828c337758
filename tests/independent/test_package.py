"""Verify a walkthrough's evidence package with code independent of the product.

The product runs only as a subprocess (`python -m app.cli demo --walkthrough`, then
`python -m app.cli serve` on the same data directory for the consistency proof); every check
is made by `verifier.py` (RFC 9162, c2sp.org signed-note/tlog-checkpoint/tlog-proof, minisign)
and by stock tools (sha256sum, minisign, pdftotext). Nothing of `app`, `custody`,
`drive_sync`, `nvr_adapters`, `nvr_sim` or the other `tests` packages is imported.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.independent import verifier as v

HERE = Path(__file__).parent
PRODUCT = ("app", "custody", "drive_sync", "nvr_adapters", "nvr_sim")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: val for k, val in os.environ.items() if not k.startswith("SAKSI_")}
    return {**env, **extra}


@dataclass(frozen=True)
class Walked:
    summary: dict[str, Any]
    data_dir: Path
    package: Path
    manifest: dict[str, Any]
    port: int


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> Walked:
    data_dir = tmp_path_factory.mktemp("independent") / "data"
    port = _free_port()
    argv = [sys.executable, "-m", "app.cli", "demo", "--walkthrough", "--data-dir", str(data_dir),
            "--sim-size", "320x240", "--sim-fps", "5", "--port", str(port)]  # fmt: skip
    done = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    package = Path(summary["package"])
    manifest = json.loads((package / "manifest.json").read_text())
    return Walked(summary, data_dir, package, manifest, port)


def _office_key(walked: Walked) -> tuple[str, bytes]:
    """The office's checkpoint signer: the origin named in the manifest, and the Ed25519 key
    published in the package as saksi.pub (the package carries no signed-note verifier key
    string; the note key is the minisign key's Ed25519 public key)."""
    key = v.parse_minisign_public_key((walked.package / "saksi.pub").read_text())
    return walked.manifest["package"]["custody_origin"], key.public_key


def _receipts(walked: Walked) -> dict[str, v.Receipt]:
    return {
        clip["file"]: v.parse_receipt(
            (walked.package / "receipts" / f"{Path(clip['file']).name}.proof").read_text()
        )
        for clip in walked.manifest["clips"]
    }


# --- (0) the verifier's Merkle code against a reference tree, before it judges anything ----


def _reference_inclusion(leaves: list[bytes], m: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1."""
    if len(leaves) <= 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*_reference_inclusion(leaves[:k], m), v.merkle_root(leaves[k:])]
    return [*_reference_inclusion(leaves[k:], m - k), v.merkle_root(leaves[:k])]


def _reference_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 9162 2.1.4.1."""
    n = len(leaves)
    if m == n:
        return [] if whole else [v.merkle_root(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*_reference_subproof(m, leaves[:k], whole), v.merkle_root(leaves[k:])]
    return [*_reference_subproof(m - k, leaves[k:], False), v.merkle_root(leaves[:k])]


def test_the_proof_verifiers_accept_rfc_9162_proofs_and_nothing_else() -> None:
    leaves = [f"leaf {i}".encode() for i in range(20)]
    for n in range(1, 21):
        root = v.merkle_root(leaves[:n])
        for m in range(n):
            proof = _reference_inclusion(leaves[:n], m)
            v.verify_inclusion(m, n, v.leaf_hash(leaves[m]), proof, root)
            with pytest.raises(v.VerificationError):
                v.verify_inclusion(m, n, v.leaf_hash(b"other"), proof, root)
        for first in range(1, n):
            proof = _reference_subproof(first, leaves[:n], True)
            v.verify_consistency(first, n, v.merkle_root(leaves[:first]), root, proof)
            with pytest.raises(v.VerificationError):
                v.verify_consistency(first, n, v.merkle_root(leaves[1 : first + 1]), root, proof)


def _minisign(cwd: Path, *args: str) -> None:
    subprocess.run(["minisign", *args], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                   check=True)  # fmt: skip


@pytest.mark.skipif(shutil.which("minisign") is None, reason="minisign is not installed")
@pytest.mark.parametrize("legacy", [False, True], ids=["prehashed-ED", "legacy-Ed"])
def test_the_minisign_verifier_agrees_with_the_reference_tool(tmp_path: Path, legacy: bool) -> None:
    """Signatures made by the stock minisign, with a throwaway key, verify; edits do not."""
    (tmp_path / "file").write_bytes(b"evidence\n")
    _minisign(tmp_path, "-G", "-W", "-p", "k.pub", "-s", "k.sec")
    legacy_flag = ["-l"] if legacy else []
    _minisign(tmp_path, "-S", *legacy_flag, "-s", "k.sec", "-m", "file", "-t", "trusted words")
    key = v.parse_minisign_public_key((tmp_path / "k.pub").read_text())
    signature = (tmp_path / "file.minisig").read_text()
    assert v.verify_minisign(key, signature, b"evidence\n") == "trusted words"
    with pytest.raises(v.VerificationError):
        v.verify_minisign(key, signature, b"evidencE\n")


def test_the_signed_note_verifier_follows_the_c2sp_example_shape() -> None:
    """A note signed here with a fresh key, built from the spec's text, opens; others do not."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    root = base64.b64encode(bytes(range(32))).decode()
    text = f"example.com/log\n7\n{root}\n"
    blob = v.note_key_hash("example.com/log", public) + private.sign(text.encode())
    note = f"{text}\n\u2014 example.com/log {base64.b64encode(blob).decode()}\n"
    checkpoint = v.open_checkpoint(note, "example.com/log", public)
    assert (checkpoint.size, checkpoint.root) == (7, bytes(range(32)))
    with pytest.raises(v.VerificationError):
        v.open_checkpoint(note.replace("\n7\n", "\n8\n"), "example.com/log", public)
    with pytest.raises(v.VerificationError):  # same key under another name: another key hash
        v.open_checkpoint(note, "example.com/other", public)


# --- (1) files ------------------------------------------------------------------------------


def test_every_file_the_manifest_lists_has_the_sha256_and_size_it_states(walked: Walked) -> None:
    clips = walked.manifest["clips"]
    assert len(clips) == 4
    for clip in clips:
        data = (walked.package / clip["file"]).read_bytes()
        assert v.sha256_hex(data) == clip["sha256"], clip["file"]
        assert len(data) == clip["size"], clip["file"]
    assert walked.manifest["unavailable"] == []


def test_sha256sums_covers_every_file_and_stock_sha256sum_agrees(walked: Walked) -> None:
    listed = {}
    for line in (walked.package / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    on_disk = {
        str(path.relative_to(walked.package))
        for path in walked.package.rglob("*")
        if path.is_file() and path.name != "SHA256SUMS"
    }
    assert set(listed) == on_disk
    for name, digest in listed.items():
        assert v.sha256_hex((walked.package / name).read_bytes()) == digest, name
    for clip in walked.manifest["clips"]:
        assert listed[clip["file"]] == clip["sha256"]
    done = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=walked.package,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


# --- (2) signatures: the manifest's minisign signature and the checkpoint's signed note -----


def test_the_manifest_signature_verifies_with_the_packaged_key(walked: Walked) -> None:
    key = v.parse_minisign_public_key((walked.package / "saksi.pub").read_text())
    signature = (walked.package / "manifest.json.minisig").read_text()
    manifest = (walked.package / "manifest.json").read_bytes()
    trusted = v.verify_minisign(key, signature, manifest)
    assert walked.manifest["package"]["request_number"] in trusted
    if shutil.which("minisign"):  # the stock tool, exactly as VERIFIKASI.txt tells a recipient
        done = subprocess.run(["minisign", "-V", "-p", "saksi.pub", "-m", "manifest.json"],
                              cwd=walked.package, capture_output=True, text=True,
                              check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Signature and comment signature verified" in done.stdout


def test_the_packaged_key_is_the_office_key_on_disk(walked: Walked) -> None:
    """saksi.pub is the public half of the office's private key (read with `cryptography`)."""
    pem = (walked.data_dir / "keys" / "office-ed25519.pem").read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, Ed25519PrivateKey)
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert _office_key(walked)[1] == raw


def test_the_checkpoint_is_a_signed_note_by_the_office(walked: Walked) -> None:
    name, public_key = _office_key(walked)
    notes = {receipt.checkpoint_note for receipt in _receipts(walked).values()}
    assert len(notes) == 1  # every receipt is proven against the package's one checkpoint
    [note] = notes
    text, signatures = v.split_note(note)
    assert [signer for signer, _blob in signatures] == [name]
    assert signatures[0][1][:4] == v.note_key_hash(name, public_key)
    assert len(signatures[0][1]) == 4 + 64
    checkpoint = v.open_checkpoint(note, name, public_key)
    assert checkpoint.origin == name
    assert checkpoint.size >= len(walked.manifest["clips"])
    assert text == f"{name}\n{checkpoint.size}\n{base64.b64encode(checkpoint.root).decode()}\n"
    assert v.parse_verifier_key(v.verifier_key(name, public_key)) == (name, public_key)


# --- (3) receipts ---------------------------------------------------------------------------


def test_every_receipt_proves_its_clip_is_in_the_signed_log(walked: Walked) -> None:
    name, public_key = _office_key(walked)
    clips = {clip["file"]: clip for clip in walked.manifest["clips"]}
    indexes = set()
    for file, receipt in _receipts(walked).items():
        checkpoint = v.verify_receipt(receipt, name, public_key)
        event = json.loads(receipt.event)
        assert event["action"] == "export.file_written"
        assert event["result"]["sha256"] == clips[file]["sha256"]
        assert event["result"]["size"] == clips[file]["size"]
        assert event["object"]["exhibit"] == clips[file]["exhibit"]
        assert receipt.index < checkpoint.size
        # the leaf is the event's canonical JSON: sorted keys, no spaces, UTF-8
        canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert receipt.event == canonical.encode()
        assert event["seq"] == receipt.index + 1  # the ledger counts from 1, the tree from 0
        indexes.add(receipt.index)
    assert len(indexes) == len(clips)


# --- (4) a later checkpoint: the BAST's, proven consistent with the package's ----------------


def _bast_note(pdf: Path) -> str:
    """The signed checkpoint printed in the BAST, read back with pdftotext."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    lines = text.split("Catatan bertanda tangan (Ed25519)", 1)[1].splitlines()
    body = [line.strip() for line in lines if line.strip()]
    signature = next(i for i, line in enumerate(body) if line.startswith(v.SIGNATURE_DASH))
    return "\n".join(body[:signature]) + "\n\n" + body[signature] + "\n"


@contextlib.contextmanager
def _serving(walked: Walked) -> Iterator[str]:
    """The walkthrough's server exits with it; the same data dir is served again on its port."""
    argv = [sys.executable, "-m", "app.cli", "serve", "--port", str(walked.port)]
    base = f"http://127.0.0.1:{walked.port}"
    env = _env(SAKSI_DATA_DIR=str(walked.data_dir))
    with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as server:  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz", timeout=2).is_success:
                        break
                time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=20)


def test_the_bast_checkpoint_is_signed_and_extends_the_package_checkpoint(walked: Walked) -> None:
    name, public_key = _office_key(walked)
    packaged = v.open_checkpoint(next(iter(_receipts(walked).values())).checkpoint_note,
                                 name, public_key)  # fmt: skip
    later = v.open_checkpoint(_bast_note(Path(walked.summary["bast"]["pdf"])), name, public_key)
    assert later.size >= packaged.size
    # The package carries no consistency proof between its checkpoint and the BAST's, so it is
    # fetched from the office's public API, served again from the walked data directory.
    with _serving(walked) as base:
        published = httpx.get(f"{base}/api/v1/custody/public-key", timeout=10).json()
        answer = httpx.get(f"{base}/api/v1/custody/consistency", timeout=10,
                           params={"first": packaged.size, "second": later.size})  # fmt: skip
        latest = httpx.get(f"{base}/api/v1/custody/checkpoint", timeout=10).json()
    assert published["verifier_key"] == v.verifier_key(name, public_key)
    assert answer.status_code == 200, answer.text
    proof = [base64.b64decode(h) for h in answer.json()["proof"]]
    v.verify_consistency(packaged.size, later.size, packaged.root, later.root, proof)
    newest = v.open_checkpoint(latest["note"], name, public_key)
    assert newest.size >= later.size
    with pytest.raises(v.VerificationError):  # a proof does not prove another pair of roots
        v.verify_consistency(packaged.size, later.size, later.root, later.root, proof)


# --- (5) tampering is detected -------------------------------------------------------------


def test_a_flipped_byte_in_a_clip_no_longer_has_the_stated_hash(
    walked: Walked, tmp_path: Path
) -> None:
    clip = walked.manifest["clips"][0]
    copy = tmp_path / "clip.mp4"
    data = bytearray((walked.package / clip["file"]).read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    assert v.sha256_hex(copy.read_bytes()) != clip["sha256"]
    done = subprocess.run(["sha256sum", "-c", "-"], input=f"{clip['sha256']}  {copy}\n",
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode != 0


def test_an_altered_event_byte_breaks_its_inclusion_proof(walked: Walked) -> None:
    name, public_key = _office_key(walked)
    receipt = next(iter(_receipts(walked).values()))
    for position in (0, len(receipt.event) // 2, len(receipt.event) - 1):
        event = bytearray(receipt.event)
        event[position] ^= 0x01
        forged = v.Receipt(bytes(event), receipt.index, receipt.proof, receipt.checkpoint_note)
        with pytest.raises(v.VerificationError):
            v.verify_receipt(forged, name, public_key)
    moved = v.Receipt(receipt.event, receipt.index + 1, receipt.proof, receipt.checkpoint_note)
    with pytest.raises(v.VerificationError):
        v.verify_receipt(moved, name, public_key)


def test_an_altered_checkpoint_body_fails_its_signature(walked: Walked) -> None:
    name, public_key = _office_key(walked)
    note = next(iter(_receipts(walked).values())).checkpoint_note
    origin, size, root, rest = note.split("\n", 3)
    forged_size = f"{origin}\n{int(size) + 1}\n{root}\n{rest}"
    root_bytes = bytearray(base64.b64decode(root))
    root_bytes[0] ^= 0x01
    forged_root = f"{origin}\n{size}\n{base64.b64encode(root_bytes).decode()}\n{rest}"
    for forged in (forged_size, forged_root):
        with pytest.raises(v.VerificationError):
            v.open_checkpoint(forged, name, public_key)
    other = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    with pytest.raises(v.VerificationError):  # nor does it verify with any other key
        v.open_checkpoint(note, name, other)


def test_an_altered_manifest_fails_its_minisign_signature(walked: Walked) -> None:
    key = v.parse_minisign_public_key((walked.package / "saksi.pub").read_text())
    signature = (walked.package / "manifest.json.minisig").read_text()
    manifest = bytearray((walked.package / "manifest.json").read_bytes())
    manifest[len(manifest) // 2] ^= 0x01
    with pytest.raises(v.VerificationError):
        v.verify_minisign(key, signature, bytes(manifest))
    lines = signature.splitlines()
    lines[2] += " (edited)"
    with pytest.raises(v.VerificationError):  # the trusted comment is signed too
        v.verify_minisign(
            key, "\n".join(lines) + "\n", (walked.package / "manifest.json").read_bytes()
        )


# --- (6) independence ------------------------------------------------------------------------


def _imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            names.add("__import__")
    return names


def test_the_suite_imports_nothing_of_the_product() -> None:
    sources = sorted(HERE.glob("*.py"))
    assert {path.name for path in sources} >= {"__init__.py", "verifier.py", "test_package.py"}
    for path in sources:
        for name in _imported_modules(path.read_text()):
            root = name.split(".")[0]
            assert root not in PRODUCT, f"{path.name} imports {name}"
            assert (
                name == "tests.independent"
                or name.startswith("tests.independent.")
                or (root != "tests" and not name.startswith("."))
            ), f"{path.name} imports {name}"
            assert name != "__import__", f"{path.name} imports dynamically"
    # and, imported on their own (without pytest's conftest files), the suite's modules load
    # no product module
    probe = (
        "import sys, tests.independent.verifier, tests.independent.test_package; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {PRODUCT!r}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=HERE.parent.parent,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
