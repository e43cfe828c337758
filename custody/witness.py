"""Witness cosignatures of checkpoints (c2sp.org/tlog-cosignature, c2sp.org/tlog-witness).

A witness keeps, per log origin, the latest checkpoint it cosigned, and cosigns a newer one only
when a consistency proof leads from that one to it: once cosigned, a log's past cannot be
rewritten without the witness's signature on the old root giving it away.

A cosignature/v1 is an Ed25519 signature by the witness key over
`cosignature/v1\\ntime <unix seconds>\\n` followed by the checkpoint body; its note signature line
is `— <witness name> base64(key id ‖ timestamp (8 bytes, big endian) ‖ signature)`, the key id
being the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key).

Both tables live on the ledger's metadata: `custody_cosignatures` (append-only) holds the
cosignatures the office obtained for its own checkpoints, with the checkpoint note itself, so a
checkpoint row deleted later still leaves its cosigned copy; `custody_witnessed_logs` holds, as
a witness for other offices, the latest checkpoint cosigned per origin.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    Row,
    String,
    Table,
    Text,
    select,
)

from custody.errors import ProofError, SignatureError
from custody.keys import OfficeKey
from custody.ledger import metadata, to_column_time
from custody.merkle import verify_consistency
from custody.note import ED25519_TYPE, EM_DASH, Checkpoint, _parse_body, open_text

COSIGNATURE_TYPE = b"\x04"
COSIGNATURE_SIZE = 4 + 8 + 64
# tlog-witness: a client sends at most 63 proof lines.
MAX_PROOF_LINES = 63

cosignatures_table = Table(
    "custody_cosignatures",
    metadata,
    Column("witness", String(255), primary_key=True),
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", String(64), nullable=False),
    # The office's checkpoint at the time (may be gone from custody_checkpoints since).
    Column("checkpoint_id", Integer, nullable=True),
    # The office-signed checkpoint note followed by this witness's cosignature line.
    Column("note", Text, nullable=False),
    Column("cosigned_at", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

witnessed_logs_table = Table(
    "custody_witnessed_logs",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

COSIGNATURE_TABLES = ("custody_cosignatures",)


# --- keys -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A signed-note verifier key: `<name>+<hex key id>+<base64(type ‖ public key)>`."""

    name: str
    kind: bytes
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, self.kind, self.public_key)

    def __str__(self) -> str:
        encoded = base64.b64encode(self.kind + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


def _key_id(name: str, kind: bytes, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + kind + public_key).digest()[:4]


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id of a cosignature/v1 key."""
    return _key_id(name, COSIGNATURE_TYPE, public_key)


def cosigner_verifier_key(name: str, public_key: bytes) -> str:
    """The verifier key string of a witness: `<name>+<hex key id>+<base64(0x04 ‖ key)>`."""
    return str(VerifierKey(name, COSIGNATURE_TYPE, public_key))


def parse_verifier_key(text: str, kind: bytes | None = None) -> VerifierKey:
    """Parse a verifier key string, checking its key id (and its type, if given)."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not parts[0] or any(c.isspace() for c in parts[0]):
        raise ValueError(f"not a verifier key: {text!r}")
    name, hex_id, encoded = parts
    try:
        raw = base64.b64decode(encoded, validate=True)
        wanted = bytes.fromhex(hex_id)
    except ValueError as exc:
        raise ValueError(f"not a verifier key: {text!r}") from exc
    if len(raw) != 33 or raw[:1] not in (ED25519_TYPE, COSIGNATURE_TYPE):
        raise ValueError(f"not an Ed25519 or cosignature/v1 verifier key: {text!r}")
    if kind is not None and raw[:1] != kind:
        raise ValueError(f"verifier key of the wrong type: {text!r}")
    key = VerifierKey(name, raw[:1], raw[1:])
    if key.key_id != wanted:
        raise ValueError(f"the verifier key's id does not match its key: {text!r}")
    return key


# --- cosignatures -----------------------------------------------------------------------------


def cosigned_message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs for a checkpoint body at a time."""
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(body: str, name: str, key: OfficeKey, timestamp: int) -> str:
    """A cosignature/v1 note signature line (ending in a newline) on a checkpoint body."""
    if timestamp < 0:
        raise ValueError("a cosignature's time is not before 1970")
    signature = key.sign(cosigned_message(body, timestamp))
    raw = cosigner_key_id(name, key.public_bytes) + struct.pack(">Q", timestamp) + signature
    return f"{EM_DASH} {name} {base64.b64encode(raw).decode()}\n"


def split_note(note: str) -> tuple[str, list[str]]:
    """A signed note's text (ending in a newline) and its signature lines."""
    body, separator, signatures = note.partition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise SignatureError("not a signed note: no blank line before the signatures")
    return body + "\n", signatures.removesuffix("\n").split("\n")


def open_cosignature(note: str, witness: VerifierKey) -> tuple[Checkpoint, int]:
    """Verify `witness`'s cosignature on a checkpoint note; return the checkpoint and the
    cosignature's time. Raise SignatureError if there is none, or it does not verify."""
    body, lines = split_note(note)
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or parts[1] != witness.name:
            continue
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except (ValueError, binascii.Error):
            continue
        if len(raw) != COSIGNATURE_SIZE or raw[:4] != witness.key_id:
            continue
        (timestamp,) = struct.unpack(">Q", raw[4:12])
        try:
            Ed25519PublicKey.from_public_bytes(witness.public_key).verify(
                raw[12:], cosigned_message(body, timestamp)
            )
        except InvalidSignature as exc:
            raise SignatureError(f"the cosignature of {witness.name} is invalid") from exc
        return _parse_body(body), timestamp
    raise SignatureError(f"the note carries no cosignature by {witness.name}")


# --- the add-checkpoint request ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    old_size: int
    proof: list[bytes]
    note: str

    def body(self) -> str:
        lines = [f"old {self.old_size}", *(base64.b64encode(h).decode() for h in self.proof)]
        return "\n".join(lines) + "\n\n" + self.note


def parse_add_checkpoint(text: str) -> AddCheckpoint:
    """Parse an add-checkpoint request body; raise ValueError if it is malformed."""
    head, separator, note = text.partition("\n\n")
    if not separator:
        raise ValueError("no empty line before the checkpoint")
    lines = head.split("\n")
    size = lines[0].removeprefix("old ")
    if not lines[0].startswith("old ") or not size.isdigit() or size != str(int(size)):
        raise ValueError("the first line is not `old <size>`")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ValueError("more than 63 consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            value = base64.b64decode(line, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise ValueError("a proof line is not base64") from exc
        if len(value) != 32:
            raise ValueError("a proof line is not a SHA-256 hash")
        proof.append(value)
    return AddCheckpoint(int(size), proof, note)


# --- the witness ------------------------------------------------------------------------------


class WitnessRefusal(Exception):
    """The witness does not cosign; `status` is the tlog-witness HTTP status."""

    def __init__(self, status: int, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.size = size


def add_checkpoint(
    connection: Connection,
    request: AddCheckpoint,
    logs: Mapping[str, Sequence[VerifierKey]],
    name: str,
    key: OfficeKey,
    now: datetime,
) -> str:
    """Check a submitted checkpoint against the latest one cosigned for its origin and, if it
    is consistent, record it and return the cosignature line (tlog-witness add-checkpoint).

    Runs in the caller's transaction, which must commit before the line is handed out; the
    origin's row is locked (PostgreSQL) or the write transaction is exclusive (SQLite,
    `BEGIN IMMEDIATE`), so two submissions cannot roll the recorded size back."""
    origin = request.note.split("\n", 1)[0]
    trusted = logs.get(origin)
    if not trusted:
        raise WitnessRefusal(404, f"unknown log origin {origin!r}")
    checkpoint = _open_checkpoint(request.note, trusted)
    if request.old_size > checkpoint.size:
        raise WitnessRefusal(400, "the old size exceeds the checkpoint size")
    row = _latest_cosigned(connection, origin)
    _check_consistency(request, checkpoint, row)
    table = witnessed_logs_table
    values = {
        "tree_size": checkpoint.size,
        "root_hash": checkpoint.root.hex(),
        "note": request.note,
        "updated_at": to_column_time(connection, now),
    }
    if row is None:
        connection.execute(table.insert().values(origin=origin, **values))
    else:
        connection.execute(table.update().where(table.c.origin == origin).values(**values))
    body, _lines = split_note(request.note)
    return cosign(body, name, key, int(now.timestamp()))


def _latest_cosigned(connection: Connection, origin: str) -> Row[Any] | None:
    table = witnessed_logs_table
    query = select(table).where(table.c.origin == origin)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def _check_consistency(
    request: AddCheckpoint, checkpoint: Checkpoint, row: Row[Any] | None
) -> None:
    """The old size must be the one last cosigned, and the proof lead from it to this one."""
    last_size = 0 if row is None else int(row.tree_size)
    if request.old_size != last_size:
        raise WitnessRefusal(409, f"the latest cosigned size is {last_size}", last_size)
    if row is None:
        if request.proof:
            raise WitnessRefusal(422, "the proof must be empty from size 0")
        return
    last_root = bytes.fromhex(row.root_hash)
    if checkpoint.size == last_size:
        if request.proof or checkpoint.root != last_root:
            raise WitnessRefusal(409, "a different root at the cosigned size", last_size)
        return
    try:
        verify_consistency(last_size, checkpoint.size, request.proof, last_root, checkpoint.root)
    except ProofError as exc:
        raise WitnessRefusal(422, f"the consistency proof fails: {exc}") from exc


def _open_checkpoint(note: str, trusted: Sequence[VerifierKey]) -> Checkpoint:
    try:
        _parse_body(split_note(note)[0])
    except SignatureError as exc:
        raise WitnessRefusal(400, f"malformed checkpoint: {exc}") from exc
    for verifier in trusted:
        try:
            return _parse_body(open_text(note, verifier.name, verifier.public_key))
        except SignatureError:
            continue
    raise WitnessRefusal(403, "no signature on the checkpoint verifies by a trusted key")


# --- the office's cosignatures ----------------------------------------------------------------


def last_cosigned_size(connection: Connection, witness: str) -> int:
    """The largest tree size `witness` cosigned for this office (0 if none is stored)."""
    table = cosignatures_table
    query = select(table.c.tree_size).where(table.c.witness == witness)
    return max((int(s) for s in connection.execute(query).scalars()), default=0)


def append_cosignature(
    connection: Connection,
    witness: VerifierKey,
    note: str,
    checkpoint_id: int | None,
    now: datetime,
) -> Checkpoint:
    """Verify and store a cosigned checkpoint note (idempotent per witness and size)."""
    checkpoint, timestamp = open_cosignature(note, witness)
    table = cosignatures_table
    exists = connection.execute(
        select(table.c.root_hash).where(
            table.c.witness == witness.name, table.c.tree_size == checkpoint.size
        )
    ).first()
    if exists is not None:
        if exists.root_hash != checkpoint.root.hex():
            raise SignatureError(f"{witness.name} cosigned two roots at size {checkpoint.size}")
        return checkpoint
    connection.execute(
        table.insert().values(
            witness=witness.name,
            tree_size=checkpoint.size,
            root_hash=checkpoint.root.hex(),
            checkpoint_id=checkpoint_id,
            note=note,
            cosigned_at=timestamp,
            created_at=to_column_time(connection, now),
        )
    )
    return checkpoint


@dataclass(frozen=True, slots=True)
class StoredCosignature:
    witness: str
    tree_size: int
    root: bytes
    note: str


def stored_cosignatures(connection: Connection) -> list[StoredCosignature]:
    table = cosignatures_table
    rows = connection.execute(select(table).order_by(table.c.tree_size, table.c.witness))
    return [
        StoredCosignature(row.witness, int(row.tree_size), bytes.fromhex(row.root_hash), row.note)
        for row in rows
    ]
