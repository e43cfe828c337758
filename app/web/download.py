"""The recipient's side: the download page behind a delivery link, and a BAST's public page.

No login: the link's token is the credential. Only the token's hash is looked up; an expired,
revoked or unknown link gets a page saying so, never a file. A download session (link × client
× file) is one custody event, however many Range requests it takes (`app.delivery.access`). Each
link, and each address on the public verification pages, is throttled (429, `Retry-After`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import select

from app.auth import throttle
from app.auth.login import client_address
from app.auth.throttle import ThrottledRoute
from app.db import unit_of_work
from app.delivery import access as download_access
from app.delivery import activity
from app.delivery.backends import local_backend
from app.delivery.models import Delivery, DeliveryLink
from app.deps import RuntimeDep
from app.handover import pdf_verify
from app.handover.models import EvidencePackage, Handover
from app.handover.signing import esigned_path
from app.requests.models import EvidenceRequest
from app.runtime import Runtime
from app.web.routes import render
from app.web.streams import stream_hashes
from drive_sync import DeliveryError, LocalLink, hash_token, serve_link

router = APIRouter(include_in_schema=False, route_class=ThrottledRoute)


@router.get("/unduh/{token}", response_class=HTMLResponse)
def download_page(token: str, request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """What the link delivers: files, sizes, hashes, expiry, and how to verify them."""
    _admit_link(runtime, token)
    backend = local_backend(runtime)
    try:
        link = backend.resolve(token, runtime.clock.now())
    except DeliveryError as exc:
        return render(request, runtime, "download.html", 410, problem=str(exc), token=token)
    context = _context(runtime, link)
    files = [{"name": p.name, "size": p.stat().st_size} for p in backend.files(link)]
    return render(request, runtime, "download.html", token=token, files=files, **context)


@router.get("/unduh/{token}/{file_name}")
def download_file(token: str, file_name: str, request: Request, runtime: RuntimeDep) -> Response:
    """One delivered file, with Range support; its download session goes into the ledger."""
    _admit_link(runtime, token)
    backend, client = local_backend(runtime), client_address(request)
    try:
        served = serve_link(
            backend, token, unquote(file_name), request.headers.get("range"),
            runtime.clock.now(),
            lambda link, name, span: _record_access(runtime, link, name, span, client),
            request.headers.get("if-range"),
        )  # fmt: skip
    except DeliveryError as exc:
        return render(request, runtime, "download.html", 410, problem=str(exc), token=token)
    headers = served.headers | {"Content-Disposition": f'attachment; filename="{file_name}"'}
    return StreamingResponse(served.body, status_code=served.status, headers=headers)


def _context(runtime: Runtime, link: LocalLink) -> dict[str, Any]:
    with runtime.sessions() as session:
        row = session.get(DeliveryLink, link.token_hash)
        delivery = session.get(Delivery, row.delivery_id) if row and row.delivery_id else None
        if delivery is None:
            return {"link": link, "clips": [], "number": ""}
        request = session.get(EvidenceRequest, delivery.request_id)
        package = session.scalars(
            select(EvidencePackage).where(EvidencePackage.request_id == delivery.request_id)
        ).one_or_none()
        handover = session.scalars(
            select(Handover).where(Handover.request_id == delivery.request_id)
        ).first()
        return {
            "link": link, "delivery_files": delivery.files,
            "clips": package.clips if package else [],
            "unavailable": package.unavailable if package else [],
            "number": request.number if request else "",
            "bast": handover.number if handover else None,
        }  # fmt: skip


def _record_access(
    runtime: Runtime, link: LocalLink, name: str, span: tuple[int, int], client: str
) -> None:
    window = timedelta(minutes=runtime.settings.download_session_minutes)
    with unit_of_work(runtime.sessions) as session:
        download_access.record_access(
            session, link.token_hash, client, name, span, runtime.clock.now(), window
        )


def _admit_link(runtime: Runtime, token: str) -> None:
    """Count a request on the link (its hash: the token never reaches the database)."""
    rule = throttle.policy(runtime.settings, runtime.settings.download_requests_per_link)
    key = f"download:link:{hash_token(token)[:32]}"
    throttle.admit(runtime.sessions, key, rule, runtime.clock.now())


def _admit_verifier(runtime: Runtime, request: Request) -> None:
    settings = runtime.settings
    rule = throttle.policy(settings, settings.verification_requests_per_address)
    key = f"verify:address:{client_address(request)}"
    throttle.admit(runtime.sessions, key, rule, runtime.clock.now())


@router.get("/verifikasi/bast/{number:path}", response_class=HTMLResponse)
def bast_page(number: str, request: Request, runtime: RuntimeDep) -> HTMLResponse:
    """The page a BAST's QR code opens: what was handed over under that number, no names but
    those its electronic signatures carry (signer and organization, as a PDF reader shows)."""
    _admit_verifier(runtime, request)
    with runtime.sessions() as session:
        handover = session.scalars(
            select(Handover).where(Handover.number == unquote(number))
        ).first()
        if handover is None:
            return render(request, runtime, "bast_public.html", 404, handover=None, number=number)
        package = session.scalars(
            select(EvidencePackage).where(EvidencePackage.request_id == handover.request_id)
        ).one_or_none()
        clips = package.clips if package else []
        unavailable = package.unavailable if package else []
        drive_activity = activity.recipient_activity(session, handover.request_id)
        # Its electronic signatures, checked as `saksi verify pdf` checks them.
        signatures = pdf_verify.stored_report(runtime.settings, esigned_path(handover))
        # Each clip's video-stream hash and the FFmpeg command of VERIFIKASI.txt (issue 20).
        streams = stream_hashes(runtime.settings.data_dir, package)
        return render(request, runtime, "bast_public.html", handover=handover, clips=clips,
                      unavailable=unavailable, number=handover.number,
                      drive_activity=drive_activity, signatures=signatures,
                      streams=streams)  # fmt: skip
