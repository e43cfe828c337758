"""The witness endpoint (c2sp.org/tlog-witness): other offices submit their checkpoints here.

Plain text in and out, as the protocol has it; no authentication beyond the log's signature on
the checkpoint it submits.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from app.custody import witnessing
from app.deps import RuntimeDep
from custody.witness import WitnessRefusal, parse_add_checkpoint


class WitnessKeyRead(BaseModel):
    name: str | None
    verifier_key: str | None
    logs: list[str]


witness_router = APIRouter(prefix="/witness", tags=["witness"])
# A request body larger than this is no checkpoint with 63 proof lines.
MAX_BODY = 64 * 1024


@witness_router.post(
    "/add-checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "the cosignature line"},
        400: {"description": "malformed request"},
        403: {"description": "no signature by a key trusted for the origin"},
        404: {"description": "unknown origin"},
        409: {
            "content": {witnessing.SIZE_CONTENT_TYPE: {}},
            "description": "`old` is not the size last cosigned: the body says which is",
        },
        422: {"description": "the consistency proof does not verify"},
    },  # fmt: skip
)
async def add_checkpoint(request: Request, runtime: RuntimeDep) -> PlainTextResponse:
    """Cosign a log's checkpoint if it is consistent with the last one cosigned for its origin
    (body: `old <size>`, the consistency proof one base64 hash a line, an empty line, the
    signed checkpoint note)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return PlainTextResponse("request body too large\n", status_code=413)
    try:
        submission = parse_add_checkpoint(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return PlainTextResponse(f"{exc}\n", status_code=400)
    try:
        line = await run_in_threadpool(witnessing.cosign_submission, runtime, submission)
    except WitnessRefusal as refusal:
        if refusal.status == 409 and refusal.size is not None:
            return PlainTextResponse(
                f"{refusal.size}\n", status_code=409, media_type=witnessing.SIZE_CONTENT_TYPE
            )
        return PlainTextResponse(f"{refusal}\n", status_code=refusal.status)
    return PlainTextResponse(line)


@witness_router.get("/public-key", response_model=WitnessKeyRead)
def witness_public_key(runtime: RuntimeDep) -> WitnessKeyRead:
    """This office's witness key (cosignature/v1 verifier key), if it acts as a witness."""
    return WitnessKeyRead(
        name=runtime.settings.witness_name,
        verifier_key=witnessing.witness_verifier_key(runtime.settings),
        logs=[log.origin for log in runtime.settings.witness_logs],
    )
