"""The CASE/UCO export conforms: `case_validate` (case-utils), at its default strictness, finds
no violation, no warning and no info, and every CASE/UCO term it uses exists in the ontology.

Runs the `case_validate` command installed next to this interpreter, as an examiner would; it
validates one small graph (a few seconds: pySHACL loads the whole bundled ontology).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from custody.case import export
from tests.custody.test_case import handover_events

pytest.importorskip(
    "case_utils", reason="case-utils is not installed (CI installs it: pip install case-utils)"
)


def case_validate() -> str:
    beside = Path(sys.executable).with_name("case_validate")
    found = str(beside) if beside.exists() else shutil.which("case_validate")
    if found is None:
        pytest.skip("case-utils is importable but its case_validate command is not on PATH")
    return found


@pytest.fixture
def exported(engine: Engine, tmp_path: Path) -> Path:
    document: dict[str, Any] = export("SKS-2026-00001", handover_events(engine))
    path = tmp_path / "custody.jsonld"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def test_case_validate_finds_nothing_at_default_strictness(exported: Path) -> None:
    run = subprocess.run(
        [case_validate(), str(exported)], capture_output=True, text=True, timeout=120, check=False
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "Conforms: True" in run.stdout, report
    # No results at all: not even a Warning or an Info (those print a "Results (n):" section).
    assert "Results (" not in run.stdout, report
    assert "Severity" not in report, report
    # Undefined CASE/UCO terms only show as Python warnings on stderr.
    assert "Warning" not in run.stderr, report


def test_the_export_has_every_handover_action(exported: Path) -> None:
    """Guards the validation above against validating a graph without the hand-over in it."""
    names = {
        node.get("uco-core:name")
        for node in json.loads(exported.read_text(encoding="utf-8"))["@graph"]
        if node.get("@type") == "case-investigation:InvestigativeAction"
    }
    assert {
        "export.file_written", "package.built", "delivery.shared", "delivery.link_expiry",
        "delivery.purge_scheduled", "delivery.accessed", "delivery.access_closed",
        "delivery.drive_activity", "delivery.purged",
    } <= names  # fmt: skip
