from __future__ import annotations

import base64
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from app import errors
from app.auth.models import Role, User
from app.custody import service
from app.custody.schemas import (
    CheckpointRead,
    ConsistencyRead,
    CustodyEventRead,
    InclusionRead,
    PublicKeyRead,
    VerificationRead,
)
from app.custody.witness_routes import witness_router
from app.deps import RuntimeDep, SessionDep, StaffUser, require_roles
from app.http import ERROR_RESPONSES
from app.requests.routes import RequestDep
from custody import StoredEvent, case, verifier_key
from custody.minisign import public_key_file

Sha256 = Annotated[str, Query(pattern=r"^[0-9a-fA-F]{64}$", description="hex SHA-256")]

router = APIRouter(prefix="/api/v1", tags=["custody"], responses=ERROR_RESPONSES)
AuditorUser = Annotated[User, Depends(require_roles(Role.AUDITOR, Role.ADMIN))]


@router.get("/requests/{request_id}/custody", response_model=list[CustodyEventRead])
def request_custody(request: RequestDep, session: SessionDep) -> list[CustodyEventRead]:
    """List the custody events of a request, in ledger order, as they were recorded."""
    return [_read(event) for event in service.events_of_request(session, request.id)]


@router.get("/custody/office-events", response_model=list[CustodyEventRead])
def office_events(
    _user: AuditorUser, session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_seq: Annotated[int | None, Query(ge=1)] = None,
) -> list[CustodyEventRead]:  # fmt: skip
    """The ledger's events of no request, newest first (auditors and admins): registry and
    account changes, NVR probes, ledger checks. Page back with `before_seq`."""
    return [_read(event) for event in service.office_events(session, limit, before_seq)]


def _read(event: StoredEvent) -> CustodyEventRead:
    return CustodyEventRead(
        seq=event.seq, action=event.action, recorded_at=event.recorded_at,
        leaf_hash=event.leaf_hash.hex(), event=json.loads(event.canonical),
    )  # fmt: skip


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
        minisign=public_key_file(runtime.office_key),
    )


@router.get(
    "/requests/{request_id}/custody.jsonld",
    response_class=JSONResponse,
    responses={200: {"content": {"application/ld+json": {}}}},
)
def request_custody_case(
    request: RequestDep, _staff: StaffUser, session: SessionDep
) -> JSONResponse:
    """Export the request's custody chain as CASE/UCO JSON-LD."""
    document = case.export(request.number, service.events_of_request(session, request.id))
    return JSONResponse(document, media_type="application/ld+json")


@router.get("/custody/proof", response_model=InclusionRead)
def inclusion_proof(sha256: Sha256, session: SessionDep, runtime: RuntimeDep) -> InclusionRead:
    """Prove that a file's custody event is in the ledger, against the latest checkpoint."""
    return service.inclusion_for(session, runtime.tree_cache, sha256.lower())


@router.get("/custody/consistency", response_model=ConsistencyRead)
def consistency_proof(
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
    session: SessionDep,
    runtime: RuntimeDep,
) -> ConsistencyRead:
    """Prove that the ledger at size `first` is a prefix of the ledger at size `second`."""
    return service.consistency_for(session, runtime.tree_cache, first, second)


@router.get("/verify/{sha256}", response_model=VerificationRead)
def verify_hash(sha256: str, session: SessionDep, runtime: RuntimeDep) -> VerificationRead:
    """Tell whether a file with this SHA-256 was issued by the office (no personal data)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256):
        raise errors.ValidationFailed("sha256: expected 64 hexadecimal characters")
    return service.public_verification(session, sha256.lower())


# The witness endpoint (POST /api/v1/witness/add-checkpoint), on this router's prefix.
router.include_router(witness_router)
