"""Check an evidence package offline: hashes, the manifest signature, every receipt."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custody import minisign, receipts
from custody.errors import CustodyError
from custody.package import file_sha256, unpack


@dataclass
class PackageReport:
    clips: int = 0
    findings: list[str] = field(default_factory=list)
    # What the signed manifest says was requested but has no clip: "exhibit: reason".
    unavailable: list[str] = field(default_factory=list)
    # False when only the package's own saksi.pub vouched for it: a forger can ship their own.
    key_pinned: bool = False

    @property
    def ok(self) -> bool:
        return not self.findings


def verify_package(path: Path, office_public_key: str | None = None) -> PackageReport:
    """Verify a package directory or ZIP; every problem found is listed, none is fatal.

    `office_public_key` is the office's published key (minisign public key file text); without
    it the package is checked against its own `saksi.pub` and `key_pinned` stays False.
    """
    if path.is_file():
        with tempfile.TemporaryDirectory() as scratch:
            return _verify_dir(unpack(path, Path(scratch)), office_public_key)
    return _verify_dir(path, office_public_key)


def _verify_dir(root: Path, office_public_key: str | None) -> PackageReport:
    report = PackageReport(key_pinned=office_public_key is not None)
    report.findings += _check_sums(root)
    try:
        public = _trusted_key(root, office_public_key, report)
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
    report.unavailable = [  # packages built before the list existed have none
        f"{item['exhibit']}: {item['reason']}" for item in manifest.get("unavailable", [])
    ]
    return report


def _trusted_key(root: Path, office_public_key: str | None, report: PackageReport) -> str:
    bundled = (root / "saksi.pub").read_text(encoding="utf-8")
    if office_public_key is None:
        return bundled
    office = minisign.read_public_key(office_public_key)
    if minisign.read_public_key(bundled) != office:
        report.findings.append("saksi.pub: not the office's published key")
    return office_public_key


def _check_sums(root: Path) -> list[str]:
    sums = root / "SHA256SUMS"
    if not sums.exists():
        return ["SHA256SUMS is missing"]
    findings = []
    for line in sums.read_text(encoding="utf-8").splitlines():
        expected, _, name = line.partition("  ")
        target = root / name
        if not target.resolve().is_relative_to(root.resolve()):
            findings.append(f"{name}: listed in SHA256SUMS but outside the package")
        elif not target.is_file():
            findings.append(f"{name}: listed in SHA256SUMS but missing")
        elif file_sha256(target) != expected:
            findings.append(f"{name}: SHA-256 differs from SHA256SUMS")
    return findings


def _check_clip(root: Path, clip: dict[str, Any], origin: str, key: bytes) -> list[str]:
    master = clip.get("master")  # packages from before masters have none
    findings = _check_file(root, master, origin, key) if master else []
    if master and master.get("raw_sha256") != clip.get("raw_sha256"):
        findings.append(f"{clip['file']}: its frames are not recorded as the master's")
    return findings + _check_file(root, clip, origin, key)


def _check_file(root: Path, clip: dict[str, Any], origin: str, key: bytes) -> list[str]:
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
