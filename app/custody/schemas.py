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
