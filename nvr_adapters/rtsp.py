"""An RTSP client session over one TCP connection: requests, authentication, interleaved RTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from nvr_adapters.errors import (
    NvrAuthFailed,
    NvrBusy,
    NvrUnreachable,
    RecordingNotFound,
    ReplayError,
)

USER_AGENT = "Saksi"


@dataclass
class RtspResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class RtspSession:
    def __init__(self, url: str, username: str, password: str, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "rtsp" or not parts.hostname:
            raise ValueError(f"not an rtsp:// URL: {url!r}")
        host = parts.hostname
        netloc = f"{host}:{parts.port}" if parts.port else host
        # Credentials never travel in the URL (nor end up in logs with it).
        self.url: str = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        self.host, self.port = host, parts.port or 554
        self.username, self.password = username, password
        self.timeout = timeout
        self.cseq = 0
        self.session = ""
        self._auth: dict[str, str] | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._responses: asyncio.Queue[RtspResponse] = asyncio.Queue()
        self.packets: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue(maxsize=4096)
        self._pump: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise NvrUnreachable(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._pump = asyncio.create_task(self._read_loop())

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        if self._pump is not None:
            self._pump.cancel()
            try:
                await self._pump
            except (asyncio.CancelledError, OSError):
                pass

    async def request(self, method: str, url: str | None = None, **headers: str) -> RtspResponse:
        """Send a request (answering one authentication challenge) and return the reply."""
        response = await self._send(method, url or self.url, headers)
        if response.status == 401:
            self._auth = _challenge(response.headers.get("www-authenticate", ""))
            response = await self._send(method, url or self.url, headers)
            if response.status == 401:
                raise NvrAuthFailed(f"{self.host} refused the credentials for {method}")
        _raise_for_status(method, response)
        if "session" in response.headers:
            self.session = response.headers["session"].split(";")[0].strip()
        return response

    async def _send(self, method: str, url: str, headers: dict[str, str]) -> RtspResponse:
        assert self._writer is not None
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {USER_AGENT}"]
        if self._auth is not None:
            lines.append(f"Authorization: {self._authorization(method, url)}")
        if self.session:
            lines.append(f"Session: {self.session}")
        lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        try:
            self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            await self._writer.drain()
            return await asyncio.wait_for(self._responses.get(), self.timeout)
        except (OSError, TimeoutError) as exc:
            raise NvrUnreachable(f"{self.host} did not answer {method}: {exc}") from exc

    def _authorization(self, method: str, url: str) -> str:
        assert self._auth is not None
        if self._auth.get("scheme") == "basic":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return f"Basic {token}"
        return _digest(self._auth, self.username, self.password, method, url)

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                first = await self._reader.readexactly(1)
                if first == b"$":
                    header = await self._reader.readexactly(3)
                    length = int.from_bytes(header[1:3], "big")
                    await self.packets.put((header[0], await self._reader.readexactly(length)))
                else:
                    await self._responses.put(await _read_response(first, self._reader))
        except (asyncio.IncompleteReadError, OSError):
            await self.packets.put(None)  # the connection ended


async def _read_response(first: bytes, reader: asyncio.StreamReader) -> RtspResponse:
    head = first + await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return RtspResponse(status, headers, body)


def _raise_for_status(method: str, response: RtspResponse) -> None:
    status = response.status
    if status < 300:
        return
    if status in (503, 453, 454, 455):
        raise NvrBusy(f"{method} answered {status}")
    if status == 404:
        raise RecordingNotFound(f"{method}: nothing at that address or in that range (404)")
    raise ReplayError(f"{method} answered {status}")


def _challenge(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', rest))
    fields["scheme"] = scheme.lower()
    return fields


def _digest(challenge: dict[str, str], username: str, password: str, method: str, uri: str) -> str:
    realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    parts = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    if "auth" in challenge.get("qop", "").split(","):
        cnonce, count = secrets.token_hex(8), "00000001"
        response = _md5(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
        parts += ["qop=auth", f"nc={count}", f'cnonce="{cnonce}"']
    else:
        response = _md5(f"{ha1}:{nonce}:{ha2}")
    parts.append(f'response="{response}"')
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(parts)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - RTSP Digest is MD5 by spec
