"""The FastAPI application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import health, log_repeats, logs
from app.admission import Admission
from app.agencies.routes import router as agencies_router
from app.auth.routes import router as auth_router
from app.cameras.routes import router as cameras_router
from app.custody.routes import router as custody_router
from app.delivery.routes import router as delivery_router
from app.exports.routes import router as exports_router
from app.handover.routes import router as handover_router
from app.headers import SecurityHeaders
from app.http import install_error_handlers
from app.notify.routes import router as notify_router
from app.reports.routes import router as reports_router
from app.requests.routes import router as requests_router
from app.runtime import Runtime, build_runtime
from app.settings import Settings
from app.sop.routes import router as sop_router
from app.web import admin as web_admin
from app.web import audit as web_audit
from app.web import download as web_download
from app.web import handover as web_handover
from app.web import preservation as web_preservation
from app.web import printing as web_printing
from app.web import profile as web_profile
from app.web import routes as web

STATIC_DIR = Path(__file__).parent / "web" / "static"

API_DESCRIPTION = """
Saksi exports CCTV footage as evidence with a verifiable chain of custody.

Every error answers with one envelope: `{"error": "<Code>", "detail": "<message>"}`.
Times are UTC in responses; request windows without an offset are read in office time.
"""


def create_app(runtime: Runtime, *, run_workers: bool = False) -> FastAPI:
    """Build the application around a runtime; optionally run job workers in-process."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        logs.install()  # after the server configured its loggers
        log_repeats.install()
        if run_workers:
            runtime.queue.start_consumer(runtime.settings.worker_threads)
        check = asyncio.create_task(health.warn_unless_public_url_answers(runtime.settings))
        try:
            yield
        finally:
            check.cancel()
            runtime.queue.stop_consumer()

    docs = runtime.settings.api_docs_served
    app = FastAPI(
        title="Saksi", version="0.1.0", description=API_DESCRIPTION, lifespan=lifespan,
        docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )  # fmt: skip
    app.state.runtime = runtime
    app.add_middleware(SecurityHeaders)
    settings = runtime.settings
    app.add_middleware(
        Admission, limit=settings.max_concurrent_requests, queue=settings.request_queue,
        wait_s=settings.request_queue_wait_s,
    )  # fmt: skip
    install_error_handlers(app)
    app.add_exception_handler(web.LoginRequired, web.login_required)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (
        health.router,
        auth_router,
        agencies_router,
        cameras_router,
        requests_router,
        sop_router,
        exports_router,
        custody_router,
        handover_router,
        delivery_router,
        notify_router,
        reports_router,
        web.router,
        web_download.router,
        web_handover.router,
        web_admin.router,
        web_preservation.router,
        web_audit.router,
        web_printing.router,
        web_profile.router,
    ):
        app.include_router(router)
    return app


def process_app() -> FastAPI:
    """The app of one of `saksi serve --workers N`'s processes (uvicorn's factory): its own
    runtime from the environment, nothing in memory shared with the others (the database,
    the queue and the leases of periodic jobs are what they share)."""
    return create_app(build_runtime(Settings()), run_workers=True)
