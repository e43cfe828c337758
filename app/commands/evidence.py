"""`saksi verify ledger`, `verify package` and `purge`."""

from __future__ import annotations

import argparse
import json

from app.commands.service import runtime_from_settings
from app.custody.witnessing import configured_witnesses
from app.db import snapshot
from app.delivery import purge
from custody import LedgerReport, verify_ledger
from custody.package_verify import verify_package


def purge_deliveries(args: argparse.Namespace) -> int:
    runtime = runtime_from_settings()
    try:
        now = args.now or runtime.clock.now()
        report = purge.purge_due(runtime, now, dry_run=args.dry_run)
    finally:
        runtime.close()
    print(json.dumps({"now": now.isoformat(), "dry_run": args.dry_run, "due": report.due,
                      "purged": report.purged, "failed": report.failed}))  # fmt: skip
    return 1 if report.failed else 0


def check_ledger(args: argparse.Namespace) -> int:
    runtime = runtime_from_settings()
    notes = [path.read_text(encoding="utf-8") for path in args.checkpoint]
    try:
        with snapshot(runtime.engine) as connection:  # the service may go on writing
            report = verify_ledger(
                connection, runtime.settings.custody_origin, runtime.office_key.public_bytes, notes,
                witnesses=[key for _url, key in configured_witnesses(runtime.settings)],
                quorum=runtime.settings.witness_quorum,
            )  # fmt: skip
    finally:
        runtime.close()
    print(
        f"ledger: {report.events} events, {report.checkpoints} checkpoints, "
        f"root {report.root.hex()}"
    )
    print(f"anchors: {report.external} checkpoint(s) from outside, {report.timestamped} "
          f"time-stamped checkpoint(s); proven up to event {report.anchored_size}")  # fmt: skip
    if runtime.settings.witnesses:
        print(f"witnesses: {report.cosigned} checkpoint(s) cosigned by at least "
              f"{runtime.settings.witness_quorum} of {len(runtime.settings.witnesses)} "
              "configured witness(es)")  # fmt: skip
    for line in _unanchored_warning(report):
        print(line)
    for finding in report.findings:
        print(f"FAIL {finding}")
    if report.ok:
        print("OK: every event and checkpoint verifies")
        return 0
    print(f"the first failing sequence number is {report.first_failing_seq}")
    return 1


def _unanchored_warning(report: LedgerReport) -> list[str]:
    """What this check cannot see, said plainly (issue 20: a ledger with events deleted, or
    rewritten consistently, together with its checkpoint rows read plain "OK")."""
    if report.anchored_size >= report.events:
        return []
    if report.anchored_size == 0:
        return [
            "WARNING: no checkpoint from outside this database (--checkpoint FILE, e.g. from a",
            "         BAST or an evidence package) and no time-stamped checkpoint: this check",
            "         cannot detect events cut off the end together with their checkpoints, nor",
            "         a consistent rewrite (every later hash and checkpoint recomputed and",
            "         re-signed with the office key). Pass a checkpoint kept elsewhere.",
        ]
    return [
        f"WARNING: events after {report.anchored_size} are proven only by checkpoints stored in",
        "         this database: a tail cut off, or a consistent rewrite after that event,",
        "         cannot be detected without a later checkpoint kept elsewhere (--checkpoint).",
    ]


def check_package(args: argparse.Namespace) -> int:
    # Offline: no settings, no database; only the package and the office's published key.
    key = args.key.read_text(encoding="utf-8") if args.key else None
    report = verify_package(args.path, office_public_key=key)
    if not report.key_pinned:
        print("WARNING: checked against the saksi.pub inside the package; pass --key with the")
        print("         office's published key, or a forged package could carry its own key")
    for finding in report.findings:
        print(f"FAIL {finding}")
    for item in report.unavailable:
        print(f"NOTE requested, no clip in the package: {item}")
    if report.ok:
        print(f"OK: {report.clips} clips, their hashes, the signed manifest and every receipt")
        return 0
    return 1
