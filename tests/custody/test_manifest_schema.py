"""manifest.json has a published, versioned JSON Schema (issue 20 item 4): every package
Saksi builds is checked against it before anything is written or signed (so every package the
tests build is validated), and a manifest it rejects leaves no package behind."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from custody import OfficeKey
from custody.errors import CustodyError
from custody.package import SCHEMA_FILE, ClipSource, PackageInfo, build, check_manifest
from custody.receipts import Receipt, parse
from tests.custody.test_package import RECORD, entry, package

__all__ = ["package"]
ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_is_a_2020_12_schema_and_the_docs_describe_every_clip_field() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    documented = (ROOT / "docs" / "manifest.md").read_text()
    for name in schema["$defs"]["clip"]["required"]:
        assert f"`{name}`" in documented, f"docs/manifest.md does not describe {name}"
    assert schema["properties"]["version"]["const"] in documented


def test_a_built_package_validates_as_a_reader_would_check_it(package: Path) -> None:
    manifest = json.loads((package / "manifest.json").read_text())
    schema = json.loads(SCHEMA_FILE.read_text())
    assert list(Draft202012Validator(schema).iter_errors(manifest)) == []


def test_a_manifest_the_schema_rejects_is_named_and_nothing_is_written(
    package: Path, office_key: OfficeKey, tmp_path: Path
) -> None:
    manifest = json.loads((package / "manifest.json").read_text())
    manifest["clips"][1]["sha256"] = "not-a-hash"
    with pytest.raises(CustodyError, match=r"at clips/1/sha256"):
        check_manifest(manifest)
    del manifest["clips"][0]["delivered_window"]
    with pytest.raises(CustodyError, match="delivered_window"):
        check_manifest(manifest)

    clip = package / "clips" / "01-kamera-1.mp4"
    bad = replace(entry(1, "0" * 64, clip.stat().st_size), exhibit="exhibit one")
    receipt = _any_receipt(package)
    info = PackageInfo("SKS-2026-00002", "B/1/2026", "Polresta", {"name": "Diskominfo"},
                       "2026-11-22T03:10:00Z", "origin", "https://saksi.example",
                       **RECORD)  # fmt: skip
    out = tmp_path / "refused"
    with pytest.raises(CustodyError, match="clips/0/exhibit"):
        build(info, [ClipSource(bad, clip, receipt)], office_key, out)
    assert not (out / "SKS-2026-00002").exists()


def _any_receipt(package: Path) -> Receipt:
    proof = next((package / "receipts").glob("*.proof"))
    return parse(proof.read_text())
