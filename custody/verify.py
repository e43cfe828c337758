"""Recompute the ledger from its raw rows and say exactly what does not match.

Trusts nothing stored but the office's public key: every leaf hash is recomputed from the
canonical bytes, the hash chain is followed, every checkpoint's signature is checked and its
root compared with the root recomputed at its size. A checkpoint kept outside the database (the
BAST annex, an evidence package) finds a tail that was cut off together with its checkpoints.

Every RFC 3161 time-stamp stored for a checkpoint is checked against that checkpoint's signed
note: a rewritten past cannot carry a time-stamp from the past, and a time-stamp whose
checkpoint row is gone shows the deletion. Without either anchor (`anchored_size` 0) the check
cannot see a tail cut off with its checkpoints, nor a consistent rewrite made before the last
stored checkpoint (every later leaf, link and checkpoint recomputed and re-signed with the
office key): the caller must say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, func, inspect, select

from custody import ledger
from custody.at_commit import pending_table
from custody.errors import SignatureError
from custody.merkle import MerkleTree, leaf_hash
from custody.note import Checkpoint, open_note
from custody.timestamp import TimestampUnavailable, check_token, parse_reply
from custody.witness import VerifierKey, open_cosignature, stored_cosignatures


@dataclass(frozen=True, slots=True)
class Finding:
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"seq {self.seq}: " if self.seq is not None else ""
        return f"{where}{self.message}"


@dataclass(frozen=True, slots=True)
class Anchor:
    """A checkpoint something outside the office holds: a witness, a TSA, a BAST."""

    size: int
    root: bytes
    label: str


@dataclass
class LedgerReport:
    events: int = 0
    checkpoints: int = 0
    root: bytes = b""
    findings: list[Finding] = field(default_factory=list)
    # The checkpoints held outside the database, and the stored ones carrying a time-stamp that
    # verifies; the ledger up to `anchored_size` events is proven against something the office
    # alone cannot rewrite.
    external: int = 0
    timestamped: int = 0
    anchored_size: int = 0
    # Checkpoints cosigned by a quorum of the configured witnesses; and every checkpoint held
    # by something outside the office (cosigned, time-stamped, external), to place a rewrite.
    cosigned: int = 0
    anchors: list[Anchor] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_failing_seq(self) -> int | None:
        seqs = [f.seq for f in self.findings if f.seq is not None]
        return min(seqs) if seqs else None


def verify_ledger(
    connection: Connection,
    signer: str,
    public_key: bytes,
    external_notes: Iterable[str] = (),
    witnesses: Sequence[VerifierKey] = (),
    quorum: int = 1,
) -> LedgerReport:
    """Verify every event and checkpoint of the ledger (and checkpoints held elsewhere).

    With `witnesses`, the stored cosignatures count: a checkpoint cosigned by `quorum` of them
    anchors the ledger up to its size, and none at all is a failure. Every anchored checkpoint
    is compared with the root recomputed at its size; the first that no longer matches, after
    the last that still does, brackets a rewrite made consistently (every later hash and
    checkpoint recomputed): it lies in the events between the two."""
    report = LedgerReport()
    tree = _recompute_events(connection, report)
    report.events, report.root = tree.size, tree.root()
    _check_nodes(connection, tree, report)
    _check_queue(connection, report)
    stored = ledger.checkpoints(connection)
    report.checkpoints = len(stored)
    for checkpoint in stored:
        label = f"checkpoint {checkpoint.id}"
        _check_checkpoint(checkpoint.note, label, tree, signer, public_key, report)
    _check_timestamps(connection, {c.id: c for c in stored}, report)
    for number, note in enumerate(external_notes, start=1):
        label = f"external checkpoint {number}"
        if _check_checkpoint(note, label, tree, signer, public_key, report):
            report.external += 1
        _external_anchor(note, label, signer, public_key, report)
    if witnesses:
        _check_cosignatures(connection, signer, public_key, witnesses, quorum, report)
        _locate_rewrite(tree, report)
    report.anchored_size = _proven_size(tree, report.anchors)
    return report


def _check_queue(connection: Connection, report: LedgerReport) -> None:
    """Events committed with their actions but never numbered (PostgreSQL: the trigger of
    custody.at_commit numbers each at its transaction's commit and leaves the queue empty)."""
    if not inspect(connection).has_table(pending_table.name):
        return  # a database before migration 0023
    queued = connection.execute(select(func.count()).select_from(pending_table)).scalar_one()
    if queued:
        s, whose = ("", "its") if queued == 1 else ("s", "their")
        message = (
            f"{queued} event{s} committed with {whose} action{s} but never numbered (waiting "
            f"in {pending_table.name}): the numbering trigger did not run for {whose} "
            f"transaction{s}"
        )
        report.findings.append(Finding(None, message))


def _proven_size(tree: MerkleTree, anchors: Sequence[Anchor]) -> int:
    """The largest size held outside (external, time-stamped, cosigned) whose root the ledger
    recomputed from its events still gives: a cosigned or time-stamped root it no longer gives
    proves a rewrite, not the past (issue 20), so it counts for nothing here."""
    matching = (a.size for a in anchors if a.size <= tree.size and tree.root(a.size) == a.root)
    return max(matching, default=0)


def _external_anchor(
    note: str, label: str, signer: str, public_key: bytes, report: LedgerReport
) -> None:
    try:
        checkpoint = open_note(note, signer, public_key)
    except SignatureError:
        return
    report.anchors.append(Anchor(checkpoint.size, checkpoint.root, label))


def _check_cosignatures(
    connection: Connection,
    signer: str,
    public_key: bytes,
    witnesses: Sequence[VerifierKey],
    quorum: int,
    report: LedgerReport,
) -> None:
    """Check every stored cosignature by a configured witness; anchor the checkpoints that a
    quorum of them cosigned (the office's signature checked too)."""
    keys = {key.name: key for key in witnesses}
    cosigners: dict[tuple[int, bytes], set[str]] = {}
    for row in stored_cosignatures(connection):
        key = keys.get(row.witness)
        if key is None:
            continue  # a witness no longer configured
        label = f"cosignature of {row.witness} on the checkpoint of {row.tree_size} events"
        try:
            open_note(row.note, signer, public_key)
            checkpoint, _time = open_cosignature(row.note, key)
        except SignatureError as exc:
            report.findings.append(Finding(None, f"{label}: {exc}"))
            continue
        if (checkpoint.size, checkpoint.root) != (row.tree_size, row.root):
            report.findings.append(Finding(None, f"{label}: the row disagrees with its note"))
            continue
        cosigners.setdefault((checkpoint.size, checkpoint.root), set()).add(row.witness)
    for (size, root), names in sorted(cosigners.items()):
        if len(names) < quorum:
            continue
        report.cosigned += 1
        label = f"the checkpoint of {size} events cosigned by {', '.join(sorted(names))}"
        report.anchors.append(Anchor(size, root, label))
    if report.cosigned == 0 and report.events:
        message = (
            f"no checkpoint carries the cosignatures of {quorum} of the configured witnesses "
            f"({', '.join(keys)}): nothing outside the office vouches for this ledger"
        )
        report.findings.append(Finding(None, message))


def _locate_rewrite(tree: MerkleTree, report: LedgerReport) -> None:
    """Bracket a change between the last anchored checkpoint the recomputed ledger still
    matches and the first it does not."""
    anchors = sorted(report.anchors, key=lambda anchor: anchor.size)
    bad = [a for a in anchors if a.size > tree.size or tree.root(a.size) != a.root]
    if not bad:
        return
    first = bad[0]
    good = [a for a in anchors if a.size < first.size and a not in bad]
    start = good[-1].size + 1 if good else 1
    since = (
        f"while {good[-1].label} still matches"
        if good
        else "and no earlier anchored checkpoint matches"
    )
    held = "" if first.size <= tree.size else f" (the ledger holds only {tree.size} events)"
    message = (
        f"events {start}–{first.size}: the ledger recomputed from its events no longer matches "
        f"{first.label}{held}, {since}: events in this span were changed, removed or "
        "rewritten"
    )
    report.findings.append(Finding(start, message))


def _check_timestamps(
    connection: Connection, stored: dict[int, ledger.StoredCheckpoint], report: LedgerReport
) -> None:
    """Each stored time-stamp must answer its checkpoint's note, which must still exist."""
    for stamp in ledger.timestamps(connection):
        checkpoint = stored.get(stamp.checkpoint_id)
        label = f"time-stamp of checkpoint {stamp.checkpoint_id} ({stamp.authority})"
        if checkpoint is None:
            message = f"{label}: the checkpoint it stamps is gone (deleted?)"
            report.findings.append(Finding(None, message))
            continue
        try:
            check_token(parse_reply(stamp.reply).token, checkpoint.note.encode(), None)
        except TimestampUnavailable as exc:
            report.findings.append(Finding(checkpoint.tree_size, f"{label}: {exc}"))
            continue
        report.timestamped += 1
        label = f"the time-stamped checkpoint {checkpoint.id} ({checkpoint.tree_size} events)"
        report.anchors.append(Anchor(checkpoint.tree_size, checkpoint.root_hash, label))


def _recompute_events(connection: Connection, report: LedgerReport) -> MerkleTree:
    tree = MerkleTree()
    expected_seq, expected_prev = 1, ""
    for event in ledger.read_leaves(connection):
        gap = event.seq != expected_seq
        if gap:
            # Name the first missing number once, then resynchronise: the events after a hole
            # are not themselves at fault (the checkpoints will still disagree).
            report.findings.append(Finding(expected_seq, _missing(expected_seq, event.seq)))
        recomputed = leaf_hash(event.canonical)
        report.findings += _event_findings(event, recomputed, None if gap else expected_prev)
        tree.append_hash(recomputed)
        expected_seq, expected_prev = event.seq + 1, recomputed.hex()
    return tree


def _check_nodes(connection: Connection, tree: MerkleTree, report: LedgerReport) -> None:
    """Each stored interior hash (what proofs and roots are read from) must be the recomputed
    tree's: a wrong one would have the office serve proofs, and sign roots, that the events do
    not support."""
    for level, index, stored in ledger.stored_nodes(connection):
        first, last = (index << level) + 1, (index + 1) << level
        label = f"the stored interior hash of events {first}–{last} (level {level})"
        recomputed = tree.subtree(level, index)
        if recomputed is None:
            message = f"{label} covers events the ledger does not hold ({tree.size})"
            report.findings.append(Finding(None, message))
        elif recomputed != stored:
            message = f"{label} does not match the events: proofs read from it do not verify"
            report.findings.append(Finding(None, message))


def _missing(expected: int, found: int) -> str:
    if found == expected + 1:
        return f"event {expected} is missing (deleted?)"
    return f"events {expected}–{found - 1} are missing (deleted?)"


def _event_findings(
    event: ledger.LeafRow, recomputed: bytes, expected_prev: str | None
) -> list[Finding]:
    try:
        body = orjson.loads(event.canonical)  # a fast parser: 100 000 events in under 3 s
    except orjson.JSONDecodeError:
        return [Finding(event.seq, "the canonical bytes are not JSON")]
    findings = []
    intact = recomputed == event.leaf_hash and body.get("prev") == event.prev_hash
    if recomputed != event.leaf_hash:
        findings.append(Finding(event.seq, "the event's bytes no longer match its leaf hash"))
    if expected_prev is not None and event.prev_hash != expected_prev:
        if intact:
            # This event is whole and still names the original previous leaf: so the previous
            # event is the one that was rewritten (with its own leaf hash recomputed).
            message = "rewritten: its leaf hash differs from the one the next event recorded"
            findings.append(Finding(event.seq - 1, message))
        else:
            findings.append(Finding(event.seq, "the hash chain is broken at this event"))
    if body.get("seq") != event.seq:
        findings.append(Finding(event.seq, "the event's bytes name another sequence number"))
    if body.get("action") != event.action or body.get("request_id") != event.request_id:
        findings.append(Finding(event.seq, "the row's columns disagree with the event's bytes"))
    return findings


def _check_checkpoint(
    note: str, label: str, tree: MerkleTree, signer: str, public_key: bytes, report: LedgerReport
) -> bool:
    """Check one signed checkpoint against the recomputed tree; True if it holds."""
    try:
        checkpoint = open_note(note, signer, public_key)
    except SignatureError as exc:
        report.findings.append(Finding(None, f"{label}: {exc}"))
        return False
    problem = _checkpoint_problem(checkpoint, tree)
    if problem is not None:
        report.findings.append(Finding(problem.seq, f"{label}: {problem.message}"))
    return problem is None


def _checkpoint_problem(checkpoint: Checkpoint, tree: MerkleTree) -> Finding | None:
    if checkpoint.size > tree.size:
        return Finding(
            tree.size + 1,
            f"signed for {checkpoint.size} events but the ledger holds {tree.size}: "
            f"events {tree.size + 1}–{checkpoint.size} are missing",
        )
    if tree.root(checkpoint.size) != checkpoint.root:
        return Finding(
            checkpoint.size,
            f"the ledger's first {checkpoint.size} events no longer hash to the signed root",
        )
    return None
