"""Security headers: pages load only their own files, are never framed, sniffed or referred."""

from __future__ import annotations

from fastapi.testclient import TestClient


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
