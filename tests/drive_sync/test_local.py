"""Local delivery: hashed tokens, expiry, revocation, and Range downloads over real HTTP."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from drive_sync import (
    DeliveryError,
    DeliveryRecord,
    JsonLinkStore,
    LinkExpired,
    LinkNotFound,
    LinkRevoked,
    LocalBackend,
    LocalLink,
    hash_token,
    serve_link,
)
from tests.drive_sync.conftest import make_file

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


@pytest.fixture
def local(tmp_path: Path) -> LocalBackend:
    root = tmp_path / "deliveries"
    root.mkdir()
    links = JsonLinkStore(tmp_path / "links.json")
    return LocalBackend(root, "http://127.0.0.1/d", links)


def _deliver(local: LocalBackend, tmp_path: Path, size: int = 1000) -> tuple[str, Path]:
    box = local.create_container("SAKSI-2026-0009")
    src = make_file(tmp_path / "rekaman.mp4", size)
    result = local.upload(box, src)
    assert (
        result.local_sha256
        == result.remote_checksum
        == hashlib.sha256(src.read_bytes()).hexdigest()
    )
    share = local.share(box, "penyidik@example.go.id", T0)
    return share.url.rsplit("/", 1)[1], src


def test_token_is_stored_only_as_its_hash(local: LocalBackend, tmp_path: Path) -> None:
    token, _ = _deliver(local, tmp_path)
    stored = (tmp_path / "links.json").read_text()
    assert len(token) >= 43  # 32 random bytes, url-safe base64
    assert token not in stored
    assert hash_token(token) in stored


def test_link_expires_after_fourteen_days(local: LocalBackend, tmp_path: Path) -> None:
    token, _ = _deliver(local, tmp_path)
    assert local.resolve(token, T0 + timedelta(days=13, hours=23)).recipient
    with pytest.raises(LinkExpired):
        local.resolve(token, T0 + timedelta(days=14))
    with pytest.raises(LinkNotFound):
        local.resolve(token[:-1] + ("A" if token[-1] != "A" else "B"), T0)


def test_link_can_be_revoked(local: LocalBackend, tmp_path: Path) -> None:
    token, _ = _deliver(local, tmp_path)
    record = DeliveryRecord("local", "SAKSI-2026-0009")
    assert local.revoke(record, T0 + timedelta(hours=1)) == (hash_token(token),)
    with pytest.raises(LinkRevoked):
        local.resolve(token, T0 + timedelta(hours=2))
    assert local.status(record).revoked


def test_local_purge_is_idempotent(local: LocalBackend, tmp_path: Path) -> None:
    token, _ = _deliver(local, tmp_path)
    record = DeliveryRecord("local", "SAKSI-2026-0009")
    first = local.purge(record)
    assert first.revoked_permission_ids == (hash_token(token),)
    assert not (local.root / "SAKSI-2026-0009").exists()
    second = local.purge(record)
    assert second.deleted_ids == ()
    assert second.already_gone == ("SAKSI-2026-0009",)


def test_names_cannot_escape_the_delivery_root(local: LocalBackend, tmp_path: Path) -> None:
    box = local.create_container("R-1")
    with pytest.raises(DeliveryError):
        local.upload(box, make_file(tmp_path / "x", 10), name="../../etc/x")


@pytest.fixture
def served(local: LocalBackend) -> Iterator[tuple[str, list[tuple[str, tuple[int, int]]]]]:
    """Serve /d/<token>/<file> with serve_link on a real loopback server."""
    seen: list[tuple[str, tuple[int, int]]] = []

    def record(link: LocalLink, name: str, span: tuple[int, int]) -> None:
        seen.append((name, span))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            _, _, token, name = self.path.split("/", 3)
            try:
                resp = serve_link(local, token, name, self.headers.get("Range"), T0, record,
                                  self.headers.get("If-Range"))  # fmt: skip
            except DeliveryError:
                self.send_error(410)
                return
            self.send_response(resp.status)
            for key, value in resp.headers.items():
                self.send_header(key, value)
            self.end_headers()
            for block in resp.body:
                self.wfile.write(block)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_range_requests_and_download_counting(
    local: LocalBackend, tmp_path: Path, served: tuple[str, list[tuple[str, tuple[int, int]]]]
) -> None:
    token, src = _deliver(local, tmp_path, size=700_000)
    data = src.read_bytes()
    base, seen = served
    url = f"{base}/d/{token}/{src.name}"
    with httpx.Client() as client:
        full = client.get(url)
        part = client.get(url, headers={"Range": "bytes=1000-1999"})
        tail = client.get(url, headers={"Range": "bytes=-500"})
        bad = client.get(url, headers={"Range": "bytes=700000-"})
        local.revoke(DeliveryRecord("local", "SAKSI-2026-0009"), T0)
        gone = client.get(url)
    assert (full.status_code, full.content) == (200, data)
    assert (part.status_code, part.content) == (206, data[1000:2000])
    assert part.headers["Content-Range"] == "bytes 1000-1999/700000"
    assert (tail.status_code, tail.content) == (206, data[-500:])
    assert (bad.status_code, bad.headers["Content-Range"]) == (416, "bytes */700000")
    assert gone.status_code == 410
    assert seen == [
        (src.name, (0, 699_999)),
        (src.name, (1000, 1999)),
        (src.name, (699_500, 699_999)),
    ]
    assert local.status(DeliveryRecord("local", "SAKSI-2026-0009")).downloads == 3


def test_if_range_sends_the_whole_file_once_it_names_another_version(
    local: LocalBackend, tmp_path: Path, served: tuple[str, list[tuple[str, tuple[int, int]]]]
) -> None:
    """A Range with an If-Range that no longer matches is answered 200 with the whole file
    (RFC 9110 §13.1.5), not 206: a resumed download must not splice two versions."""
    token, src = _deliver(local, tmp_path, size=50_000)
    base, _seen = served
    url = f"{base}/d/{token}/{src.name}"
    with httpx.Client() as client:
        first = client.get(url)
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        same = client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
        dated = client.get(url, headers={"Range": "bytes=0-9", "If-Range": modified})
        other = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"another"'})
        weak = client.get(url, headers={"Range": "bytes=0-9", "If-Range": "W/" + etag})
    assert (same.status_code, dated.status_code) == (206, 206)
    assert (other.status_code, len(other.content)) == (200, 50_000)
    assert weak.status_code == 200  # If-Range compares strongly
