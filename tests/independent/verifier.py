"""An offline verifier for Saksi evidence packages, written from the public specifications.

It imports nothing of the product (`app`, `custody`, `drive_sync`, `nvr_adapters`, `nvr_sim`):
only the standard library and `cryptography` for Ed25519.

- RFC 9162 section 2.1: Merkle tree hashing, inclusion (2.1.3.2) and consistency (2.1.4.2)
  proof verification.
- c2sp.org/signed-note: a text body, a blank line, signature lines
  "— <name> <base64(4-byte key hash || signature)>"; for Ed25519 the key hash is the first
  4 bytes of SHA-256(name || "\\n" || 0x01 || public key).
- c2sp.org/tlog-checkpoint: origin, decimal tree size, base64 root hash, extension lines.
- c2sp.org/tlog-proof: "c2sp.org/tlog-proof@v1", optional "extra <base64>", "index <n>",
  base64 proof hashes, a blank line, then the signed checkpoint.
- minisign (https://jedisct1.github.io/minisign/): public key base64("Ed" || key id || pk);
  signature file: untrusted comment, base64(algorithm || key id || signature), trusted
  comment, base64(global signature over signature || trusted comment). Algorithm "ED"
  signs the BLAKE2b-512 of the file, "Ed" the file itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519_KEY_TYPE = b"\x01"
SIGNATURE_DASH = "\u2014"
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


class VerificationError(Exception):
    """Anything in the package that does not verify."""


# --- RFC 9162 section 2.1 -------------------------------------------------------------------


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 2.1.1, from the raw leaves (for self-tests of the proof code)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    split = 1 << ((len(leaves) - 1).bit_length() - 1)  # largest power of two < n
    return node_hash(merkle_root(leaves[:split]), merkle_root(leaves[split:]))


def root_from_inclusion_proof(
    leaf_index: int, tree_size: int, hashed_leaf: bytes, proof: list[bytes]
) -> bytes:
    """RFC 9162 2.1.3.2 steps 1-5: the root the audit path leads to (raises if malformed)."""
    if leaf_index >= tree_size or leaf_index < 0:
        raise VerificationError(f"leaf index {leaf_index} is outside a tree of {tree_size}")
    fn, sn, r = leaf_index, tree_size - 1, hashed_leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("the inclusion proof is longer than the path")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("the inclusion proof is shorter than the path")
    return r


def verify_inclusion(
    leaf_index: int, tree_size: int, hashed_leaf: bytes, proof: list[bytes], root: bytes
) -> None:
    if root_from_inclusion_proof(leaf_index, tree_size, hashed_leaf, proof) != root:
        raise VerificationError(f"leaf {leaf_index} does not lead to the root of {tree_size}")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> None:
    """RFC 9162 2.1.4.2: the tree of `first` leaves is a prefix of the tree of `second`."""
    if not 0 < first <= second:
        raise VerificationError(f"no consistency proof between sizes {first} and {second}")
    if first == second:
        if proof or first_root != second_root:
            raise VerificationError("equal sizes need an empty proof and equal roots")
        return
    if not proof:
        raise VerificationError("the consistency proof is empty")
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    if _consistency_roots(first - 1, second - 1, path) != (first_root, second_root):
        raise VerificationError(f"size {first} is not proven a prefix of size {second}")


def _consistency_roots(fn: int, sn: int, path: list[bytes]) -> tuple[bytes, bytes]:
    """RFC 9162 2.1.4.2 steps 4-7: the old and new roots the path leads to."""
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("the consistency proof is longer than the path")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("the consistency proof is shorter than the path")
    return fr, sr


# --- c2sp.org/signed-note and c2sp.org/tlog-checkpoint --------------------------------------


def note_key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519_KEY_TYPE + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The signed-note verifier key string `<name>+<hex key hash>+<base64(0x01 || key)>`."""
    encoded = base64.b64encode(ED25519_KEY_TYPE + public_key).decode()
    return f"{name}+{note_key_hash(name, public_key).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    name, key_hash_hex, encoded = vkey.split("+", 2)
    typed = base64.b64decode(encoded, validate=True)
    if typed[:1] != ED25519_KEY_TYPE or len(typed) != 33:
        raise VerificationError("not an Ed25519 verifier key")
    if note_key_hash(name, typed[1:]).hex() != key_hash_hex:
        raise VerificationError("the verifier key's hash does not match its name and key")
    return name, typed[1:]


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A signed note's text (ending in its newline) and its (name, signature blob) lines."""
    text, separator, signatures = note.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise VerificationError("a signed note is text, a blank line and signature lines")
    lines = []
    for line in signatures.removesuffix("\n").split("\n"):
        dash, name, blob = _fields(line)
        if dash != SIGNATURE_DASH:
            raise VerificationError(f"not a signature line: {line!r}")
        lines.append((name, _b64(blob)))
    return text + "\n", lines


def _fields(line: str) -> tuple[str, str, str]:
    parts = line.split(" ")
    if len(parts) != 3:
        raise VerificationError(f"not a signature line: {line!r}")
    return parts[0], parts[1], parts[2]


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise VerificationError(f"bad base64: {text!r}") from exc


def open_note(note: str, name: str, public_key: bytes) -> str:
    """Return the note's text if a signature by (name, key) on it verifies."""
    text, signatures = split_note(note)
    wanted = note_key_hash(name, public_key)
    for signer, blob in signatures:
        if signer == name and blob[:4] == wanted:
            _ed25519_verify(public_key, blob[4:], text.encode())
            return text
    raise VerificationError(f"no signature by {name} with key hash {wanted.hex()}")


def _ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise VerificationError("the Ed25519 signature does not verify") from exc


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.removesuffix("\n").split("\n")
    if len(lines) < 3 or not lines[0] or not lines[1].isdigit() or "\n" not in text:
        raise VerificationError("a checkpoint is origin, size and root hash lines")
    if lines[1] != str(int(lines[1])):
        raise VerificationError("the tree size has leading zeros")
    root = _b64(lines[2])
    if len(root) != 32:
        raise VerificationError("the root hash is not 32 bytes")
    return Checkpoint(lines[0], int(lines[1]), root, tuple(lines[3:]))


def open_checkpoint(note: str, name: str, public_key: bytes) -> Checkpoint:
    checkpoint = parse_checkpoint(open_note(note, name, public_key))
    if checkpoint.origin != name:
        raise VerificationError(f"the checkpoint's origin {checkpoint.origin!r} is not {name!r}")
    return checkpoint


# --- c2sp.org/tlog-proof receipts -----------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    event: bytes
    index: int
    proof: list[bytes]
    checkpoint_note: str


def parse_receipt(text: str) -> Receipt:
    head, separator, note = text.partition("\n\n")
    lines = head.split("\n")
    if not separator or lines[0] != TLOG_PROOF_HEADER:
        raise VerificationError("not a c2sp.org/tlog-proof@v1 receipt")
    rest = lines[1:]
    event = b""
    if rest and rest[0].startswith("extra "):
        event = _b64(rest.pop(0).removeprefix("extra "))
    if not rest or not rest[0].startswith("index "):
        raise VerificationError("the receipt has no index line")
    index_text = rest.pop(0).removeprefix("index ")
    if not index_text.isdigit() or index_text != str(int(index_text)):
        raise VerificationError("the index is not a decimal without leading zeros")
    index = int(index_text)
    return Receipt(event, index, [_b64(line) for line in rest], note)


def verify_receipt(receipt: Receipt, name: str, public_key: bytes) -> Checkpoint:
    """Check the receipt's checkpoint signature, then the event's path to that root."""
    checkpoint = open_checkpoint(receipt.checkpoint_note, name, public_key)
    verify_inclusion(
        receipt.index, checkpoint.size, leaf_hash(receipt.event), receipt.proof, checkpoint.root
    )
    return checkpoint


# --- minisign -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinisignKey:
    key_id: bytes
    public_key: bytes


def parse_minisign_public_key(text: str) -> MinisignKey:
    lines = [line for line in text.splitlines() if line.strip()]
    raw = _b64(lines[-1].strip())
    if len(raw) != 42 or raw[:2] != b"Ed":
        raise VerificationError("not a minisign Ed25519 public key")
    return MinisignKey(raw[2:10], raw[10:])


def verify_minisign(key: MinisignKey, signature_file: str, message: bytes) -> str:
    """Verify a minisign signature and its trusted comment; return the trusted comment."""
    lines = signature_file.splitlines()
    if len(lines) < 4 or not lines[0].startswith("untrusted comment: "):
        raise VerificationError("not a minisign signature file")
    blob = _b64(lines[1])
    algorithm, key_id, signature = blob[:2], blob[2:10], blob[10:]
    if key_id != key.key_id:
        raise VerificationError("the signature is by another key id")
    if algorithm == b"ED":
        signed = hashlib.blake2b(message, digest_size=64).digest()
    elif algorithm == b"Ed":
        signed = message
    else:
        raise VerificationError(f"unknown minisign algorithm {algorithm!r}")
    _ed25519_verify(key.public_key, signature, signed)
    trusted = lines[2].removeprefix("trusted comment: ")
    if trusted == lines[2]:
        raise VerificationError("the third line is not a trusted comment")
    _ed25519_verify(key.public_key, _b64(lines[3]), signature + trusted.encode())
    return trusted


# --- files ----------------------------------------------------------------------------------


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
