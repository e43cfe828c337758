from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class CustodyEventRead(BaseModel):
    seq: int
    action: str
    recorded_at: datetime
    leaf_hash: str
    event: dict[str, Any]


class CheckpointRead(BaseModel):
    id: int
    tree_size: int
    root_hash: str
    created_at: datetime
    note: str


class PublicKeyRead(BaseModel):
    name: str
    algorithm: str = "Ed25519"
    public_key: str
    verifier_key: str
    # The same key as a minisign public key file, for `minisign -V -p` and `saksi verify --key`.
    minisign: str


class InclusionRead(BaseModel):
    sha256: str
    seq: int
    leaf_index: int
    leaf_hash: str
    tree_size: int
    proof: list[str]
    checkpoint: str


class ConsistencyRead(BaseModel):
    first: int
    second: int
    proof: list[str]


class IssuedRecord(BaseModel):
    action: str
    recorded_at: datetime


class VerificationRead(BaseModel):
    sha256: str
    found: bool
    records: list[IssuedRecord]
    bast_numbers: list[str]
