"""Nothing secret in the logs: a download link's token never reaches uvicorn's access log."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from app.logs import redact
from app.main import create_app
from app.runtime import Runtime


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def served(runtime: Runtime) -> Iterator[tuple[str, Lines]]:
    """The app under uvicorn on a free port, its access log kept in memory."""
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=0, log_level="info")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = Lines()
    logging.getLogger("uvicorn.access").addHandler(lines)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}", lines
    finally:
        logging.getLogger("uvicorn.access").removeHandler(lines)
        server.should_exit = True
        thread.join(timeout=10)


def test_link_tokens_and_credentials_stay_out_of_the_access_log(
    served: tuple[str, Lines],
) -> None:
    base, lines = served
    token = secrets.token_urlsafe(32)
    for path in (f"/unduh/{token}", f"/unduh/{token}/klip.mp4", f"/healthz?token={token}",
                 f"/healthz?access_token={token}&password={token}"):  # fmt: skip
        httpx.get(base + path, timeout=5)
    assert len([line for line in lines.lines if "GET /" in line]) == 4  # the requests were logged
    assert not [line for line in lines.lines if token in line]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /unduh/abc123/klip.mp4 HTTP/1.1", "GET /unduh/[disembunyikan]/klip.mp4 HTTP/1.1"),
        ("Authorization: Bearer eyJ.x.y", "Authorization: Bearer [disembunyikan]"),
        ("/x?a=1&token=s3cret&b=2", "/x?a=1&token=[disembunyikan]&b=2"),
        (
            'GET https://esign.example/api/user/status/3209123456780001 "HTTP/1.1 200 OK"',
            'GET https://esign.example/api/user/status/[disembunyikan] "HTTP/1.1 200 OK"',
        ),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_httpx_request_lines_lose_their_secrets_though_the_url_is_an_object(
    served: tuple[str, Lines],
) -> None:
    """httpx logs `HTTP Request: GET <httpx.URL>`: an object, redacted by what it prints."""
    base, _lines = served
    nik = "3209123456780001"
    client_lines = Lines()
    client_lines.setLevel(logging.INFO)
    logger = logging.getLogger("httpx")
    logger.addHandler(client_lines)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        httpx.get(f"{base}/api/user/status/{nik}?token=abc", timeout=5)
    finally:
        logger.removeHandler(client_lines)
        logger.setLevel(previous)
    [line] = [line for line in client_lines.lines if "HTTP Request" in line]
    assert nik not in line
    assert "abc" not in line
    assert "/api/user/status/[disembunyikan]" in line
