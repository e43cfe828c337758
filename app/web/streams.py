"""The video-stream hashes of a package's clips and the stock FFmpeg command that recomputes each
(issue 20, build item 2: the command of VERIFIKASI.txt on the public verification page too), as
the package's signed manifest.json records them: read back only while that file still has the
hash recorded when the package was built, so the page never shows what the package does not say.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from app.handover.models import EvidencePackage


def stream_hashes(data_dir: Path, package: EvidencePackage | None) -> list[dict[str, str]]:
    """One row per clip with a recorded stream hash: `exhibit`, `file`, `sha256`, `command`;
    none when there is no package or its manifest is gone (purged) or no longer the one built."""
    if package is None:
        return []
    try:
        raw = (data_dir / package.directory / "manifest.json").read_bytes()
    except OSError:
        return []
    if hashlib.sha256(raw).hexdigest() != package.manifest_sha256:
        return []
    rows = []
    for clip in json.loads(raw).get("clips", []):
        stream = clip.get("elementary_stream") or {}
        if stream.get("sha256") and stream.get("command"):
            rows.append({"exhibit": clip["exhibit"], "file": clip["file"],
                         "sha256": stream["sha256"], "command": stream["command"]})  # fmt: skip
    return rows
