"""Security headers: pages load only their own files, are never framed, sniffed or referred."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from app.runtime import Runtime
from app.settings import Settings


def test_html_pages_carry_a_csp_without_inline_script_and_refuse_framing(
    client: TestClient,
) -> None:
    page = client.get("/masuk")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # scripts come from /static only, as the CSP demands


def test_api_answers_are_not_sniffed_and_download_pages_send_no_referrer(
    client: TestClient,
) -> None:
    answer = client.get("/healthz")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in answer.headers  # JSON, not a page
    link = client.get("/unduh/" + "x" * 43)  # unknown token: refused, still without a referrer
    assert link.headers["referrer-policy"] == "no-referrer"


def test_api_docs_are_off_in_production_unless_asked_for(runtime: Runtime, tmp_path: Path) -> None:
    assert runtime.settings.api_docs_served  # development: on
    keys = {"secret_key": "q3V9pZLr7tWc2Yk8HxN4mBs6DfJ0uGa1EoTyRiU5vXlQ+/wh",
            "nvr_secret_key": "Xk2m9Qv4Lp7Rz1Tb8Wn5Yc3Hd6Jf0Gs+/AeUiOoPaSlDhKj"}  # fmt: skip
    production = Settings(
        env="production",
        data_dir=tmp_path,
        _env_file=None,
        public_url="https://saksi.example.go.id",
        **keys,
    )  # type: ignore[call-arg, arg-type]
    assert not production.api_docs_served
    runtime.settings = runtime.settings.model_copy(update={"api_docs": False})
    with TestClient(create_app(runtime)) as client:
        assert [client.get(p).status_code for p in ("/docs", "/redoc", "/openapi.json")] == [
            404, 404, 404,
        ]  # fmt: skip
        assert client.get("/healthz").status_code == 200
