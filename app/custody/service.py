"""The service's side of custody: which actions become ledger events, and checkpoints.

Events are appended in the same transaction as the change they record, so a change and its
custody event commit together or not at all.
"""

from __future__ import annotations

import base64
import getpass
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from app import errors
from app.auth.models import User
from app.custody.schemas import ConsistencyRead, InclusionRead, IssuedRecord, VerificationRead
from app.db import after_commit, after_rollback
from custody import (
    Checkpoint,
    CustodyEvent,
    Instrument,
    MerkleTree,
    OfficeKey,
    Performer,
    StoredCheckpoint,
    StoredEvent,
    at_commit,
    ledger,
    sign,
    stored_tree,
)
from custody.events import JsonValue
from custody.frontier import Frontier
from custody.tree_cache import LedgerTreeCache

logger = logging.getLogger(__name__)


def saksi_version() -> str:
    try:
        return version("saksi")
    except PackageNotFoundError:
        return "0.0.0+unknown"


INSTRUMENT = Instrument(tool="saksi", version=saksi_version())
SYSTEM = Performer(kind="system", identifier="saksi", name="Saksi", role="system")


def fields(values: Mapping[str, Any]) -> dict[str, JsonValue]:
    """A record's fields as an event can carry them: floats (a camera's latitude) as text."""
    return {name: _json_value(value) for name, value in values.items()}


def _json_value(value: Any) -> JsonValue:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Enum):
        return _json_value(value.value)
    if isinstance(value, Mapping):
        return fields(value)
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return cast(JsonValue, value)


def console() -> Performer:
    """Whoever ran a `saksi` command on the server, by their system account."""
    try:
        account = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        account = "unknown"
    return Performer(kind="console", identifier=account, name=f"saksi CLI ({account})",
                     role="system")  # fmt: skip


def performer(user: User) -> Performer:
    """Describe a user as the performer of an action."""
    return Performer(
        kind="user", identifier=str(user.id), name=user.full_name, role=user.role.value
    )


def record(
    session: Session,
    action: str,
    actor: Performer,
    now: datetime,
    *,
    checkpoint: CheckpointPolicy | None = None,
    object: dict[str, JsonValue] | None = None,  # noqa: A002 - the CASE property's name
    result: dict[str, JsonValue] | None = None,
    authorization: str | None = None,
    request_id: int | None = None,
    end_time: datetime | None = None,
) -> None:
    """Record a custody event in the session's transaction: it commits with it or not at all.
    On PostgreSQL it is numbered at the commit (custody.at_commit), or before the transaction
    next reads the ledger; elsewhere at once."""
    event = CustodyEvent(
        action=action,
        performer=actor,
        instrument=INSTRUMENT,
        start_time=now,
        end_time=end_time,
        object=object or {},
        result=result or {},
        authorization=authorization,
        request_id=request_id,
    )
    connection = session.connection()
    policy = checkpoint or session.info.get(CHECKPOINT_POLICY)
    if at_commit.append_at_commit(connection, event, now):
        if policy is not None:
            _checkpoint_after_commit(session, policy, now)
        return
    stored = ledger.append(connection, event, now)
    if policy is not None and stored.seq % policy.every_events == 0:
        # SQLite (one writer at a time whatever holds it): signed in the same transaction.
        issue_checkpoint(session, policy.key, policy.origin, now)


CHECKPOINT_POLICY = "saksi_checkpoint_policy"
_CHECKPOINT_CHECK = "saksi_checkpoint_check"


@dataclass(frozen=True)
class CheckpointPolicy:
    """Sign a checkpoint once `every_events` events have followed the last one.

    On PostgreSQL, where events are numbered at commit, checked after the commit of a
    transaction that recorded events, in a transaction of its own: a checkpoint states a size
    already committed, and signing it must not lengthen the append lock (issue 18). A process
    checks after every `every_events // 4` of its own events (each of its commits if that is
    below 1), so with several processes a checkpoint can come a little later than
    `every_events`; the periodic checkpoint job signs whatever is left. On SQLite, whose
    writers take turns anyway, the event that completes N is signed in its transaction."""

    key: OfficeKey
    origin: str
    every_events: int
    recorded: list[int] = field(default_factory=lambda: [0], compare=False, repr=False)


def _checkpoint_after_commit(session: Session, policy: CheckpointPolicy, now: datetime) -> None:
    policy.recorded[0] += 1
    if policy.recorded[0] < policy.every_events // 4 or _CHECKPOINT_CHECK in session.info:
        return
    policy.recorded[0] = 0
    session.info[_CHECKPOINT_CHECK] = True
    bind = session.get_bind()

    def check() -> None:
        session.info.pop(_CHECKPOINT_CHECK, None)
        sign_checkpoint_if_due(bind, policy, now)

    after_commit(session, check)
    after_rollback(session, lambda: session.info.pop(_CHECKPOINT_CHECK, None))


def sign_checkpoint_if_due(
    bind: Engine | Connection, policy: CheckpointPolicy, now: datetime
) -> StoredCheckpoint | None:
    """Sign a checkpoint of the committed ledger if `every_events` events followed the last
    one. Never raises: a failure is logged, and the periodic job signs the next checkpoint."""
    try:
        with Session(bind=bind) as later, later.begin():
            connection = later.connection()
            if not ledger.try_checkpoint_lock(connection):
                return None  # one is being signed now (perhaps by this thread's outer work)
            last = ledger.latest_checkpoint(connection)
            if ledger.head_seq(connection) - (last.tree_size if last else 0) < policy.every_events:
                return None
            return issue_checkpoint(later, policy.key, policy.origin, now)
    except Exception:  # the caller's transaction has committed: it must not see this fail
        logger.exception("the checkpoint due after a commit was not signed")
        return None


def current_tree(session: Session) -> MerkleTree:
    """Rebuild the Merkle tree from the stored leaf hashes."""
    return MerkleTree(digest for _seq, digest in ledger.leaf_hashes(session.connection()))


def issue_checkpoint(
    session: Session, key: OfficeKey, origin: str, now: datetime
) -> StoredCheckpoint:
    """Sign and store a checkpoint of the ledger as it stands in this transaction; its root
    comes from the stored interior hashes (O(log n) rows), not from every stored leaf."""
    frontier = current_frontier(session)
    root = frontier.root()
    note = sign(Checkpoint(origin=origin, size=frontier.size, root=root), origin, key)
    return ledger.append_checkpoint(
        session.connection(), frontier.size, root, note, now, frontier.encode()
    )


def current_frontier(session: Session) -> Frontier:
    """The tree's frontier as this transaction sees the ledger, from the stored interior hashes
    (custody.stored_tree). They are a cache: used only if they also give the last signed
    checkpoint's root, else the frontier is recomputed from every leaf (and `verify ledger`
    names the stored hash that is wrong)."""
    connection = session.connection()
    size = ledger.head_seq(connection)
    signed = ledger.latest_signed(connection, size)
    if signed is None or stored_tree.root(connection, signed[0], size) == signed[1]:
        return stored_tree.frontier(connection, size, size)
    logger.error(
        "the stored interior hashes disagree with the checkpoint of %d events: the next "
        "checkpoint's root is recomputed from every leaf; run `saksi verify ledger`",
        signed[0],
    )
    return Frontier.of(digest for _seq, digest in ledger.leaf_hashes(connection))


def latest_checkpoint(session: Session) -> StoredCheckpoint | None:
    return ledger.latest_checkpoint(session.connection())


def events_of_request(session: Session, request_id: int) -> list[StoredEvent]:
    return list(ledger.read(session.connection(), request_id=request_id))


def office_events(session: Session, limit: int, before_seq: int | None = None) -> list[StoredEvent]:
    """The newest events tied to no request (registry, accounts, NVR probes, ledger checks),
    newest first: who changed what the requests rely on."""
    connection = session.connection()
    return ledger.read_latest(connection, limit, before_seq=before_seq, unattached=True)


def find_by_sha256(session: Session, sha256: str) -> list[int]:
    """Return the sequence numbers of events whose result is a file with this hash."""
    table = ledger.events_table
    query = select(table.c.seq).where(table.c.sha256 == sha256.lower()).order_by(table.c.seq)
    return [int(seq) for seq in session.connection().execute(query).scalars()]


# Only these actions' files are answered publicly: what the office issued, not what it received.
PUBLIC_ACTIONS = frozenset({"export.file_written", "package.built", "handover.issued"})


def inclusion_for(session: Session, cache: LedgerTreeCache, sha256: str) -> InclusionRead:
    """Build the inclusion proof of the first issuing event of a file, or refuse."""
    seqs = [s for s in _issued(session, sha256)]
    if not seqs:
        raise errors.NotFound("no file with this SHA-256 was issued by this office")
    latest = latest_checkpoint(session)
    if latest is None or latest.tree_size < seqs[0]:
        raise errors.Conflict(
            "the event is newer than the latest checkpoint; ask again after the next checkpoint"
        )
    index, connection = seqs[0] - 1, session.connection()
    _size, path = cache.inclusion_proof(index, latest.tree_size, connection)
    return InclusionRead(
        sha256=sha256,
        seq=seqs[0],
        leaf_index=index,
        leaf_hash=cache.leaf(index, connection).hex(),
        tree_size=latest.tree_size,
        proof=[base64.b64encode(h).decode() for h in path],
        checkpoint=latest.note,
    )


def consistency_for(
    session: Session, cache: LedgerTreeCache, first: int, second: int
) -> ConsistencyRead:
    size = cache.size(session.connection())
    if not first <= second <= size:
        raise errors.ValidationFailed(f"sizes must satisfy 1 ≤ first ≤ second ≤ {size}")
    _size, proof = cache.consistency_proof(first, second, session.connection())
    return ConsistencyRead(
        first=first, second=second, proof=[base64.b64encode(h).decode() for h in proof]
    )


def _issued(session: Session, sha256: str) -> list[int]:
    table = ledger.events_table
    query = (
        select(table.c.seq)
        .where(table.c.sha256 == sha256, table.c.action.in_(PUBLIC_ACTIONS))
        .order_by(table.c.seq)
    )
    return [int(seq) for seq in session.connection().execute(query).scalars()]


def public_verification(session: Session, sha256: str) -> VerificationRead:
    """What anyone may learn about a file: whether, when and under which BAST it was issued."""
    table = ledger.events_table
    rows = session.connection().execute(
        select(table.c.action, table.c.recorded_at, table.c.canonical)
        .where(table.c.sha256 == sha256, table.c.action.in_(PUBLIC_ACTIONS))
        .order_by(table.c.seq)
    )
    records, numbers = [], []
    for row in rows:
        records.append(
            IssuedRecord(action=row.action, recorded_at=ledger.from_column_time(row.recorded_at))
        )
        number = json.loads(row.canonical).get("object", {}).get("bast_number")
        if isinstance(number, str) and number not in numbers:
            numbers.append(number)
    return VerificationRead(
        sha256=sha256, found=bool(records), records=records, bast_numbers=numbers
    )
