"""The service's side of custody: which actions become ledger events, and checkpoints.

Events are appended in the same transaction as the change they record, so a change and its
custody event commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from importlib.metadata import PackageNotFoundError, version

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from custody import (
    Checkpoint,
    CustodyEvent,
    Instrument,
    MerkleTree,
    OfficeKey,
    Performer,
    StoredCheckpoint,
    StoredEvent,
    ledger,
    sign,
)
from custody.events import JsonValue


def saksi_version() -> str:
    try:
        return version("saksi")
    except PackageNotFoundError:
        return "0.0.0+unknown"


INSTRUMENT = Instrument(tool="saksi", version=saksi_version())
SYSTEM = Performer(kind="system", identifier="saksi", name="Saksi", role="system")


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
    object: dict[str, JsonValue] | None = None,  # noqa: A002 - the CASE property's name
    result: dict[str, JsonValue] | None = None,
    authorization: str | None = None,
    request_id: int | None = None,
    end_time: datetime | None = None,
) -> StoredEvent:
    """Append a custody event inside the session's transaction."""
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
    return ledger.append(session.connection(), event, now)


def current_tree(session: Session) -> MerkleTree:
    """Rebuild the Merkle tree from the stored leaf hashes."""
    return MerkleTree(digest for _seq, digest in ledger.leaf_hashes(session.connection()))


def issue_checkpoint(
    session: Session, key: OfficeKey, origin: str, now: datetime
) -> StoredCheckpoint:
    """Sign and store a checkpoint of the ledger as it stands in this transaction."""
    tree = current_tree(session)
    note = sign(Checkpoint(origin=origin, size=tree.size, root=tree.root()), origin, key)
    return ledger.append_checkpoint(session.connection(), tree.size, tree.root(), note, now)


def latest_checkpoint(session: Session) -> StoredCheckpoint | None:
    stored = ledger.checkpoints(session.connection())
    return stored[-1] if stored else None


def events_of_request(session: Session, request_id: int) -> list[StoredEvent]:
    return list(ledger.read(session.connection(), request_id=request_id))


def find_by_sha256(session: Session, sha256: str) -> list[int]:
    """Return the sequence numbers of events whose result is a file with this hash."""
    table = ledger.events_table
    query = select(table.c.seq).where(table.c.sha256 == sha256.lower()).order_by(table.c.seq)
    return [int(seq) for seq in session.connection().execute(query).scalars()]
