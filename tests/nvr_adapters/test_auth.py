"""RTSP authentication: the RFC 2617 Digest vector, and Digest/Basic against a loopback server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re

import pytest

from nvr_adapters import NvrAuthFailed
from nvr_adapters.rtsp import RtspSession, _challenge, _digest

REALM, NONCE = "saksi-test", "5f0c1d2e3a4b"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - the scheme under test


def test_rfc2617_digest_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    challenge = _challenge(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    monkeypatch.setattr("secrets.token_hex", lambda _n: "0a4f113b")
    header = _digest(challenge, "Mufasa", "Circle Of Life", "GET", "/dir/index.html")
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header
    assert "qop=auth," in header


class AuthServer:
    """A minimal RTSP server on 127.0.0.1 that answers OPTIONS only with valid credentials."""

    def __init__(self, scheme: str, password: str) -> None:
        self.scheme, self.password = scheme, password
        self.server: asyncio.Server | None = None
        self.authorizations: list[str] = []

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode().split("\r\n")
                method, uri = lines[0].split(" ")[:2]
                cseq = next(line for line in lines if line.startswith("CSeq:")).split(":")[1]
                auth = next((ln[15:] for ln in lines if ln.startswith("Authorization: ")), "")
                self.authorizations.append(auth)
                ok = bool(auth) and self._valid(auth, method)
                status = "200 OK" if ok else "401 Unauthorized"
                extra = "" if ok else f"WWW-Authenticate: {self._challenge()}\r\n"
                reply = f"RTSP/1.0 {status}\r\nCSeq: {cseq.strip()}\r\n{extra}\r\n"
                writer.write(reply.encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _challenge(self) -> str:
        if self.scheme == "basic":
            return f'Basic realm="{REALM}"'
        return f'Digest realm="{REALM}", nonce="{NONCE}", qop="auth"'

    def _valid(self, auth: str, method: str) -> bool:
        if self.scheme == "basic":
            expected = base64.b64encode(f"admin:{self.password}".encode()).decode()
            return auth == f"Basic {expected}"
        f = dict(re.findall(r'(\w+)="?([^",]*)"?', auth[7:]))
        ha1 = md5(f"{f['username']}:{REALM}:{self.password}")
        ha2 = md5(f"{method}:{f['uri']}")
        expected = md5(f"{ha1}:{NONCE}:{f['nc']}:{f['cnonce']}:auth:{ha2}")
        return bool(f["response"] == expected and f["username"] == "admin")


async def options(port: int, password: str) -> int:
    session = RtspSession(f"rtsp://127.0.0.1:{port}/replay", "admin", password, timeout=5)
    await session.connect()
    try:
        return (await session.request("OPTIONS")).status
    finally:
        await session.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("scheme", ["digest", "basic"])
async def test_right_password_is_accepted(scheme: str) -> None:
    server = AuthServer(scheme, "rahasia-1")
    async with server as port:
        assert await options(port, "rahasia-1") == 200
    assert server.authorizations[0] == ""
    assert server.authorizations[1].lower().startswith(scheme)


@pytest.mark.asyncio
@pytest.mark.parametrize("scheme", ["digest", "basic"])
async def test_wrong_password_is_a_clear_error(scheme: str) -> None:
    async with AuthServer(scheme, "rahasia-1") as port:
        with pytest.raises(NvrAuthFailed, match="refused the credentials"):
            await options(port, "salah")
