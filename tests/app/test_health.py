"""Liveness, readiness, OpenAPI, and the one error envelope for everything."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.jobs import JobQueue, build_huey
from app.runtime import Runtime


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_database_and_queue(client: TestClient, runtime: Runtime) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["database"] == runtime.engine.dialect.name
    assert response.json()["queue"] == "MemoryHuey"


def test_readyz_reports_an_unreachable_queue(client: TestClient, runtime: Runtime) -> None:
    # Nothing listens on port 1: the queue is down, and readiness must say so.
    runtime.queue = JobQueue(build_huey("redis://127.0.0.1:1/0"))

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["error"] == "ServiceUnavailable"
    assert response.json()["detail"].startswith("job queue unavailable")


def test_unknown_routes_and_methods_use_the_envelope(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    wrong_method = client.delete("/healthz")

    assert missing.status_code == 404
    assert missing.json() == {"error": "NotFound", "detail": "Not Found"}
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "MethodNotAllowed"


def test_openapi_declares_the_error_envelope_for_422(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    create = spec["paths"]["/api/v1/requests"]["post"]["responses"]
    assert create["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200
