"""The evidence package of a request: clips, signed manifest, receipts, and how to check them.

<request number>/
  clips/…                 the exported clips (MP4 working copies), copied and re-hashed
  masters/…               the devices' native files the clips were derived from, where the NVR
                          offered a download (listed first in each clip's manifest entry)
  manifest.json           what each clip is (see `ClipEntry`) and which requested items have
                          none, and why (`UnavailableItem`), signed:
  manifest.json.minisig   minisign signature by the office key
  receipts/<file>.proof   C2SP tlog-proof receipt of each clip's and master's custody event
  saksi.pub               the office public key (minisign format)
  saksi.vkey              the same key as the checkpoints' signed-note verifier key (C2SP)
  SHA256SUMS              for `sha256sum -c SHA256SUMS`
  VERIFIKASI.txt          how to check all of this, in Bahasa Indonesia
<request number>.zip      the same, as one file

manifest.json follows custody/schemas/manifest-3.schema.json (docs/manifest.md); a manifest the
schema rejects is never signed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from custody import minisign
from custody.errors import CustodyError
from custody.keys import OfficeKey
from custody.note import verifier_key
from custody.receipts import Receipt
from custody.verification_text import verification_text

CHUNK = 1024 * 1024
# Version 2 added the legal basis, retention, camera coordinates, the media and player, and
# which copy each file is; version 3 the devices' MAC addresses and the calls Saksi sent the NVR
# (`mac_addresses`, `device_access`). Earlier schemas stay for packages made before.
MANIFEST_VERSION = "saksi-evidence-manifest/3"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "manifest-3.schema.json"
# What a clip's record says where the export kept no MAC addresses or device calls.
MAC_NOT_RECORDED: dict[str, str | None] = {
    "address": None, "source": "not recorded for this export",
}  # fmt: skip
CALLS_NOT_RECORDED = (
    "not recorded: exported before Saksi recorded the calls it sends devices; Saksi's adapters "
    "only read, search, play back and download"
)
# What the clip hashes are: written into every manifest, so no reader needs our source code.
DEFINITIONS = {
    "sha256": "SHA-256 of the clip file as delivered (sha256sum CLIP).",
    "raw_sha256": (
        "SHA-256 of the clip's video access units in order, each NAL unit preceded by the "
        "4-byte start code 00 00 00 01 and parameter sets included where the device sent them "
        "in-band (H.264/H.265 Annex B, one start-code size throughout). Equal for a clip and "
        "its master: both carry exactly the frames the NVR sent. No stock tool writes this "
        "form; elementary_stream.sha256 is the one a recipient recomputes."
    ),
    "elementary_stream.sha256": (
        "SHA-256 of the clip's first video stream in the Annex B form FFmpeg's "
        "h264_mp4toannexb / hevc_mp4toannexb bitstream filters write (3- and 4-byte start "
        "codes, parameter sets from the avcC/hvcC inserted before key frames as they do); "
        "recompute with elementary_stream.command (FFmpeg 5.1 or later)."
    ),
}


@dataclass(frozen=True)
class MasterEntry:
    """The device's own file a clip was derived from, kept unaltered."""

    file: str
    format: str  # "mpeg-ps" (Hikvision, with its IMKH header) or "dav" (Dahua)
    sha256: str
    size: int
    # SHA-256 of the access units of the clip's span read from this file: equal to the clip's
    # raw_sha256, the proof that the working copy carries exactly these frames.
    raw_sha256: str
    player: str
    copy: str = "master"


@dataclass(frozen=True)
class ClipEntry:
    """One clip and everything a court expert asks about it."""

    exhibit: str
    file: str
    sha256: str
    size: int
    bit_exact_master: bool
    camera: str
    location: str
    source: str
    nvr_address: str
    requested_window: tuple[str, str]
    delivered_window: tuple[str, str]
    gaps: list[dict[str, str]]
    nvr: dict[str, str]
    clock_offset: dict[str, Any]
    time_zone: str
    export_started_at: str
    export_finished_at: str
    tool: dict[str, str]
    operator: str
    trimming: dict[str, Any] = field(default_factory=dict)
    raw_sha256: str = ""
    # The video stream as stock FFmpeg writes it from the clip (`sha256`, `codec`, `command`):
    # what a recipient can recompute with `ffmpeg … -bsf:v h264_mp4toannexb`; see DEFINITIONS.
    elementary_stream: dict[str, str] = field(default_factory=dict)
    # "download" (the device's native file, the master below) or "playback" (RTSP replay).
    method: dict[str, Any] = field(default_factory=dict)
    master: MasterEntry | None = None
    # Where the camera is (WGS 84), if registered.
    coordinates: dict[str, float] | None = None
    # Container, codec, profile and a player that plays it.
    media: dict[str, str] = field(default_factory=dict)
    copy: str = "working copy"
    # The NVR's and the camera's MAC address (`nvr`, `camera`: `address` or None, and `source`:
    # where it came from or why there is none); None: not recorded for this export.
    mac_addresses: dict[str, dict[str, str | None]] | None = None


@dataclass(frozen=True)
class UnavailableItem:
    """A requested camera and window the package holds no clip of, and why, in the office's words.

    A package accounts for every item of the letter: a recipient must not have to guess whether
    a camera was forgotten or had nothing to give.
    """

    exhibit: str
    camera: str
    location: str
    requested_window: tuple[str, str]
    reason: str
    reason_code: str
    detail: str


@dataclass(frozen=True)
class PackageInfo:
    request_number: str
    letter_number: str
    agency: str
    export_unit: dict[str, str]
    generated_at: str
    custody_origin: str
    verification_url: str
    # The authority's letter and every SOP decision on it (who, what role, when).
    legal_basis: dict[str, Any] = field(default_factory=dict)
    # How long delivered copies live (`delivery_ttl_days`) and a sentence that says so.
    retention: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClipSource:
    entry: ClipEntry
    path: Path
    receipt: Receipt
    master: tuple[Path, Receipt] | None = None  # the master's file and its event's receipt


def build(
    info: PackageInfo,
    clips: list[ClipSource],
    key: OfficeKey,
    out_dir: Path,
    unavailable: Sequence[UnavailableItem] = (),
) -> tuple[Path, Path]:
    """Write the package directory and its ZIP under `out_dir`; return both paths."""
    root = out_dir / info.request_number
    if root.exists():
        raise CustodyError(f"{root} exists already: a package is never overwritten")
    manifest = {
        "version": MANIFEST_VERSION,
        "definitions": DEFINITIONS,
        "package": asdict(info),
        "clips": [_clip_json(clip.entry) for clip in clips],
        "unavailable": [asdict(item) for item in unavailable],
    }
    check_manifest(json.loads(json.dumps(manifest)))  # as a reader will parse it;
    # before anything is written: a refused manifest leaves no half-built package
    (root / "clips").mkdir(parents=True)
    (root / "receipts").mkdir()
    for clip in clips:
        _copy_with_receipt(root, (clip.path, clip.receipt), clip.entry.file, clip.entry.sha256)
        master = clip.entry.master
        if master is not None and clip.master is not None:
            (root / "masters").mkdir(exist_ok=True)
            _copy_with_receipt(root, clip.master, master.file, master.sha256)
    (root / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    comment = f"Saksi {info.request_number} {info.letter_number} {info.generated_at}"
    signature = minisign.sign_file(key, root / "manifest.json", comment)
    (root / "manifest.json.minisig").write_text(signature, encoding="utf-8")
    (root / "saksi.pub").write_text(minisign.public_key_file(key), encoding="utf-8")
    checkpoint_key = verifier_key(info.custody_origin, key.public_bytes)
    (root / "saksi.vkey").write_text(checkpoint_key + "\n", encoding="utf-8")
    text = verification_text(info, [c.entry for c in clips], unavailable, checkpoint_key)
    (root / "VERIFIKASI.txt").write_text(text, encoding="utf-8")
    _write_sums(root)
    return root, _zip(root)


def check_manifest(manifest: dict[str, Any]) -> None:
    """Refuse a manifest its published JSON Schema does not accept (custody/schemas/, described
    in docs/manifest.md): nothing is signed that a recipient's validator would reject."""
    errors = sorted(_validator().iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(part) for part in errors[0].absolute_path) or "(top)"
        raise CustodyError(f"manifest does not match {SCHEMA_FILE.name} at {where}: "
                           f"{errors[0].message}")  # fmt: skip


@functools.cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _copy_with_receipt(root: Path, source: tuple[Path, Receipt], name: str, sha256: str) -> None:
    """Copy a file into the package (re-hashed on the way) with its custody receipt."""
    path, receipt = source
    _copy_verified(path, root / name, sha256)
    receipt_path = root / "receipts" / f"{Path(name).name}.proof"
    receipt_path.write_text(receipt.text(), encoding="utf-8")


def _clip_json(entry: ClipEntry) -> dict[str, Any]:
    """A clip's manifest entry with its master listed first, after the exhibit number."""
    fields = asdict(entry)
    master = fields.pop("master")
    fields["method"], fields["device_access"] = device_access(entry.method)
    fields["mac_addresses"] = entry.mac_addresses or _told_macs(entry.method)
    return {"exhibit": fields.pop("exhibit"), "master": master, **fields}


DEVICE_FIELDS = frozenset({"device_operations", "device_settings_changed", "device_mac"})


def device_access(method: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The export's method without what it carries of the device (`device_operations`,
    `device_settings_changed`, `device_mac`: app/nvr/fetching.py), and the calls as the clip's
    `device_access`. Nothing Saksi sends is undone afterwards, so nothing is restored."""
    rest = {k: v for k, v in method.items() if k not in DEVICE_FIELDS}
    operations = method.get("device_operations")
    if not operations:
        return rest, {"operations": None, "settings_changed": None, "settings_restored": None,
                      "note": CALLS_NOT_RECORDED}  # fmt: skip
    changed = list(method.get("device_settings_changed") or [])
    return rest, {"operations": list(operations), "settings_changed": changed,
                  "settings_restored": []}  # fmt: skip


def _told_macs(method: dict[str, Any]) -> dict[str, dict[str, str | None]]:
    """`mac_addresses` from what the NVR told during the export (the method's `device_mac`),
    where the caller gave no fuller record (the registry's, with the camera's)."""
    told = method.get("device_mac") or {}
    if told.get("address"):
        source = f"told by the NVR during the export ({told.get('read_with') or 'its interfaces'})"
        nvr: dict[str, str | None] = {"address": told["address"], "source": source}
    elif method.get("device_operations"):  # asked, during an export that kept its calls
        nvr = {"address": None, "source": "the NVR did not tell it during the export"}
    else:
        nvr = dict(MAC_NOT_RECORDED)
    return {"nvr": nvr, "camera": dict(MAC_NOT_RECORDED)}


def _copy_verified(source: Path, target: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with source.open("rb") as reader, target.open("xb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
    if digest.hexdigest() != expected:
        target.unlink()
        raise CustodyError(
            f"{source} no longer has the hash recorded at export ({expected}): not packaged"
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_sums(root: Path) -> None:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    lines = [f"{file_sha256(p)}  {p.relative_to(root).as_posix()}" for p in files]
    (root / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _zip(root: Path) -> Path:
    archive = root.with_suffix(".zip")
    # Video does not compress; storing keeps the clips byte-for-byte and the ZIP fast.
    with zipfile.ZipFile(archive, "x", compression=zipfile.ZIP_STORED) as bundle:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            bundle.write(path, Path(root.name) / path.relative_to(root))
    return archive


def unpack(archive: Path, into: Path) -> Path:
    """Extract a package ZIP safely (no paths outside `into`); return the package directory."""
    with zipfile.ZipFile(archive) as bundle:
        names = bundle.namelist()
        for name in names:
            target = (into / name).resolve()
            if not target.is_relative_to(into.resolve()):
                raise CustodyError(f"refusing a ZIP entry outside the package: {name}")
        bundle.extractall(into)
    tops = {Path(name).parts[0] for name in names}
    if len(tops) != 1:
        raise CustodyError("a package ZIP holds exactly one folder")
    return into / tops.pop()


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target)
