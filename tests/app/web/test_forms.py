"""Form posts without a valid CSRF token are refused; pages need a session."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.auth.models import Role
from tests.app.factories import PASSWORD, Factory


def test_a_form_without_the_csrf_token_is_refused(factory: Factory, client: TestClient) -> None:
    factory.user(Role.OPERATOR, username="operator-csrf")
    login = client.post("/masuk", data={"username": "operator-csrf", "password": PASSWORD})
    assert login.status_code == 200  # followed the redirect to the dashboard

    forged = client.post("/permintaan/baru", data={"csrf": "forged", "letter_number": "B/1"})

    assert forged.status_code == 403
    assert forged.json()["error"] == "Forbidden"


def test_pages_redirect_to_login_without_a_session(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/masuk"


def test_the_session_cookie_is_httponly_and_strict(factory: Factory, client: TestClient) -> None:
    factory.user(Role.AUDITOR, username="auditor-cookie")

    response = client.post(
        "/masuk", data={"username": "auditor-cookie", "password": PASSWORD}, follow_redirects=False
    )

    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "saksi_session=" in cookie


def test_the_cookie_does_not_authorise_api_changes(factory: Factory, client: TestClient) -> None:
    """A browser session must not turn into an API write credential (cross-site forms)."""
    factory.user(Role.ADMIN, username="admin-cookie")
    client.post("/masuk", data={"username": "admin-cookie", "password": PASSWORD})

    read = client.get("/api/v1/agencies")
    write = client.post("/api/v1/agencies", json={"name": "Lembaga X", "kind": "kpk"})

    assert read.status_code == 200
    assert write.status_code == 401
