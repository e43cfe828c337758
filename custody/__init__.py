"""Evidence integrity: custody events, the append-only ledger, its Merkle tree, signed
checkpoints and the verifier. Imports nothing of the service; everything here can be used by a
recipient's own tools."""

from custody import at_commit
from custody.errors import (
    AppendOnlyViolation,
    CustodyError,
    LedgerCorrupt,
    LedgerError,
    OfficeKeyError,
    ProofError,
    SignatureError,
)
from custody.events import CustodyEvent, Instrument, Performer, canonical_bytes, format_time
from custody.hashing import HashingWriter, copy_hashing, sha256_file
from custody.keys import OfficeKey, load_or_create
from custody.ledger import StoredCheckpoint, StoredEvent, append, append_checkpoint
from custody.merkle import MerkleTree, leaf_hash, node_hash, verify_consistency, verify_inclusion
from custody.note import Checkpoint, open_note, open_text, sign, sign_text, verifier_key
from custody.sqlite_pragmas import install_recursive_triggers, install_sqlite_ledger_settings
from custody.timestamp import TimestampMismatch, TimestampUnavailable
from custody.verify import Finding, LedgerReport, verify_ledger

__all__ = [
    "at_commit",
    "AppendOnlyViolation",
    "Checkpoint",
    "CustodyError",
    "CustodyEvent",
    "Finding",
    "HashingWriter",
    "Instrument",
    "LedgerCorrupt",
    "LedgerError",
    "LedgerReport",
    "MerkleTree",
    "OfficeKey",
    "OfficeKeyError",
    "Performer",
    "ProofError",
    "SignatureError",
    "StoredCheckpoint",
    "StoredEvent",
    "TimestampMismatch",
    "TimestampUnavailable",
    "append",
    "append_checkpoint",
    "canonical_bytes",
    "copy_hashing",
    "format_time",
    "install_recursive_triggers",
    "install_sqlite_ledger_settings",
    "leaf_hash",
    "load_or_create",
    "node_hash",
    "open_note",
    "open_text",
    "sha256_file",
    "sign",
    "sign_text",
    "verifier_key",
    "verify_consistency",
    "verify_inclusion",
    "verify_ledger",
]
