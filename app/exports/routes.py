from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from app import errors
from app.db import unit_of_work
from app.deps import CurrentUser, RuntimeDep, SessionDep, StaffUser, WritingStaff
from app.exports import service, viewing
from app.exports.models import TERMINAL_STATES, Export
from app.exports.schemas import ExportProgress, ExportRead
from app.http import ERROR_RESPONSES, PathId
from app.requests.routes import RequestDep
from app.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["exports"], responses=ERROR_RESPONSES)
PROGRESS_INTERVAL_SECONDS = 0.5


def _export(export_id: PathId, session: SessionDep, _user: StaffUser) -> Export:
    return service.get_export(session, export_id)


ExportDep = Annotated[Export, Depends(_export)]


@router.get("/requests/{request_id}/exports", response_model=list[ExportRead])
def list_exports(request: RequestDep, _user: StaffUser, session: SessionDep) -> list[ExportRead]:
    """List every export of a request, failed attempts included."""
    return [ExportRead.model_validate(e) for e in service.exports_of(session, request.id)]


@router.post("/requests/{request_id}/exports", response_model=list[ExportRead], status_code=202)
def start_exports(
    request: RequestDep, user: WritingStaff, session: SessionDep, runtime: RuntimeDep
) -> list[ExportRead]:
    """Start the exports of a request at its export step (the assigned operator only)."""
    created = service.start_exports(session, runtime.sop, request, user, runtime.clock.now())
    for export in created:
        runtime.queue.enqueue(session, "exports.fetch_item", export.id)
    return [ExportRead.model_validate(export) for export in created]


@router.post(
    "/requests/{request_id}/preservation-exports", response_model=list[ExportRead], status_code=202
)
def start_preservation(
    request: RequestDep, user: WritingStaff, session: SessionDep, runtime: RuntimeDep
) -> list[ExportRead]:
    """Take preservation copies of the items about to be overwritten, ahead of the dispositions."""
    created = service.start_preservation(session, request, user, runtime.clock.now())
    for export in created:
        runtime.queue.enqueue(session, "exports.fetch_item", export.id)
    return [ExportRead.model_validate(export) for export in created]


@router.get("/exports/{export_id}", response_model=ExportRead)
def get_export(export: ExportDep) -> ExportRead:
    """Show an export: state, progress, attempts and, when done, the clip's facts."""
    return ExportRead.model_validate(export)


@router.get(
    "/exports/{export_id}/contact-sheet",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def contact_sheet(export: ExportDep, runtime: RuntimeDep) -> FileResponse:
    """Thumbnails of the clip, labelled in office time (for the operator and the BAST annex)."""
    if export.contact_sheet_path is None:
        raise errors.NotFound("this export has no contact sheet yet")
    path = runtime.settings.data_dir / export.contact_sheet_path
    return FileResponse(path, media_type="image/jpeg")


@router.get(
    "/exports/{export_id}/clip",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}}, 206: {"content": {"video/mp4": {}}}},
)
def clip(
    export_id: PathId, request: Request, user: CurrentUser, runtime: RuntimeDep, session: SessionDep
) -> FileResponse:
    """The finished H.264 clip as it is on disk, for the request page's player (Range served):
    staff, and the pemohon while it is delivered to them; the start of each playback is a
    custody event (`export.viewed`)."""
    export = service.get_export(session, export_id)
    now = runtime.clock.now()
    path = viewing.clip_to_play(session, runtime.settings.data_dir, user, export, now)
    if viewing.starts_playback(request.headers.get("range")):
        viewing.record_viewing(session, export.id, user, now)
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "no-store"})


@router.get(
    "/exports/{export_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def export_events(export: ExportDep, runtime: RuntimeDep) -> StreamingResponse:
    """Stream the export's progress as server-sent events until it finishes."""
    return StreamingResponse(
        _progress_events(runtime, export.id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _progress_events(runtime: Runtime, export_id: int) -> AsyncIterator[str]:
    last = None
    while True:
        progress = await run_in_threadpool(_read_progress, runtime, export_id)
        if progress != last:
            yield f"event: progress\ndata: {progress.model_dump_json()}\n\n"
            last = progress
        if progress.state in TERMINAL_STATES:
            yield f"event: end\ndata: {json.dumps({'state': progress.state.value})}\n\n"
            return
        await asyncio.sleep(PROGRESS_INTERVAL_SECONDS)


def _read_progress(runtime: Runtime, export_id: int) -> ExportProgress:
    # A short transaction per poll: a stream must never hold a database lock while it waits.
    with unit_of_work(runtime.sessions) as session:
        return ExportProgress.model_validate(service.get_export(session, export_id))
