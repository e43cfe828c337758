from __future__ import annotations

import base64
import json

from fastapi import APIRouter

from app import errors
from app.custody import service
from app.custody.schemas import CheckpointRead, CustodyEventRead, PublicKeyRead
from app.deps import RuntimeDep, SessionDep
from app.http import ERROR_RESPONSES
from app.requests.routes import RequestDep
from custody import verifier_key

router = APIRouter(prefix="/api/v1", tags=["custody"], responses=ERROR_RESPONSES)


@router.get("/requests/{request_id}/custody", response_model=list[CustodyEventRead])
def request_custody(request: RequestDep, session: SessionDep) -> list[CustodyEventRead]:
    """List the custody events of a request, in ledger order, as they were recorded."""
    return [
        CustodyEventRead(
            seq=event.seq,
            action=event.action,
            recorded_at=event.recorded_at,
            leaf_hash=event.leaf_hash.hex(),
            event=json.loads(event.canonical),
        )
        for event in service.events_of_request(session, request.id)
    ]


@router.get("/custody/checkpoint", response_model=CheckpointRead)
def latest_checkpoint(session: SessionDep) -> CheckpointRead:
    """Show the newest signed checkpoint of the ledger (public: it holds no personal data)."""
    checkpoint = service.latest_checkpoint(session)
    if checkpoint is None:
        raise errors.NotFound("no checkpoint has been issued yet")
    return CheckpointRead(
        id=checkpoint.id,
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash.hex(),
        created_at=checkpoint.created_at,
        note=checkpoint.note,
    )


@router.get("/custody/public-key", response_model=PublicKeyRead)
def public_key(runtime: RuntimeDep) -> PublicKeyRead:
    """Publish the office key that signs checkpoints and evidence packages."""
    name = runtime.settings.custody_origin
    raw = runtime.office_key.public_bytes
    return PublicKeyRead(
        name=name,
        public_key=base64.b64encode(raw).decode(),
        verifier_key=verifier_key(name, raw),
    )
