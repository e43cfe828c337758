"""Check an evidence package offline: hashes, the manifest signature, every receipt."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from custody import minisign, receipts
from custody.errors import CustodyError
from custody.package import file_sha256, unpack


@dataclass
class PackageReport:
    clips: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def verify_package(path: Path) -> PackageReport:
    """Verify a package directory or ZIP; every problem found is listed, none is fatal."""
    if path.is_file():
        with tempfile.TemporaryDirectory() as scratch:
            return _verify_dir(unpack(path, Path(scratch)))
    return _verify_dir(path)


def _verify_dir(root: Path) -> PackageReport:
    report = PackageReport()
    report.findings += _check_sums(root)
    try:
        public = (root / "saksi.pub").read_text(encoding="utf-8")
        signature = (root / "manifest.json.minisig").read_text(encoding="utf-8")
        minisign.verify_file(public, root / "manifest.json", signature)
    except (OSError, CustodyError, ValueError) as exc:
        report.findings.append(f"manifest.json: signature not verified: {exc}")
        return report
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    origin = manifest["package"]["custody_origin"]
    key = minisign.read_public_key(public)
    for clip in manifest["clips"]:
        report.clips += 1
        report.findings += _check_clip(root, clip, origin, key)
    return report


def _check_sums(root: Path) -> list[str]:
    sums = root / "SHA256SUMS"
    if not sums.exists():
        return ["SHA256SUMS is missing"]
    findings = []
    for line in sums.read_text(encoding="utf-8").splitlines():
        expected, _, name = line.partition("  ")
        target = root / name
        if not target.is_file():
            findings.append(f"{name}: listed in SHA256SUMS but missing")
        elif file_sha256(target) != expected:
            findings.append(f"{name}: SHA-256 differs from SHA256SUMS")
    return findings


def _check_clip(root: Path, clip: dict[str, object], origin: str, key: bytes) -> list[str]:
    name = str(clip["file"])
    path = root / name
    if not path.is_file():
        return [f"{name}: missing"]
    findings = []
    if file_sha256(path) != clip["sha256"] or path.stat().st_size != clip["size"]:
        findings.append(f"{name}: differs from the signed manifest (hash or size)")
    proof = root / "receipts" / f"{Path(name).name}.proof"
    try:
        receipt = receipts.parse(proof.read_text(encoding="utf-8"))
        receipts.verify(receipt, origin, key)
        event = json.loads(receipt.event)
    except (OSError, CustodyError, ValueError) as exc:
        return [*findings, f"{name}: receipt not verified: {exc}"]
    if event.get("result", {}).get("sha256") != clip["sha256"]:
        findings.append(f"{name}: the receipt's ledger event records another hash")
    return findings
