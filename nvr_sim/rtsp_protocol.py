"""RTSP messages, Digest/Basic authentication and the replay URL forms the NVR understands."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from urllib.parse import parse_qs, urlsplit

REALM = "Saksi NVR Simulator"


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def cseq(self) -> int:
        return int(self.headers.get("cseq", "0"))


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def encode(self, cseq: int) -> bytes:
        lines = [f"RTSP/1.0 {self.status} {self.reason}", f"CSeq: {cseq}", "Server: Saksi-NVR-Sim"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read the next RTSP request, skipping interleaved RTCP the client sends; None at EOF."""
    while True:
        first = await reader.read(1)
        if not first:
            return None
        if first == b"$":
            header = await reader.readexactly(3)
            await reader.readexactly(int.from_bytes(header[1:3], "big"))
            continue
        head = first + await reader.readuntil(b"\r\n\r\n")
        return await _parse(head, reader)


async def _parse(head: bytes, reader: asyncio.StreamReader) -> Request:
    lines = head.decode("utf-8", "replace").split("\r\n")
    method, url, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Request(method=method.upper(), url=url, headers=headers, body=body)


class Authenticator:
    """RTSP Digest (RFC 2617, MD5, with or without qop) and Basic authentication."""

    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.nonce = secrets.token_hex(16)

    def challenge(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Digest realm="{REALM}", nonce="{self.nonce}", algorithm=MD5'}

    def check(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            decoded = base64.b64decode(header[6:]).decode("utf-8", "replace")
            return secrets.compare_digest(decoded, f"{self.username}:{self.password}")
        if not header.lower().startswith("digest "):
            return False
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header[7:]))
        if fields.get("username") != self.username or fields.get("nonce") != self.nonce:
            return False
        return secrets.compare_digest(
            fields.get("response", ""), self._expected(request.method, fields)
        )

    def _expected(self, method: str, fields: dict[str, str]) -> str:
        ha1 = _md5(f"{self.username}:{REALM}:{self.password}")
        ha2 = _md5(f"{method}:{fields.get('uri', '')}")
        if fields.get("qop"):
            tail = f"{fields['nc']}:{fields['cnonce']}:{fields['qop']}"
            return _md5(f"{ha1}:{self.nonce}:{tail}:{ha2}")
        return _md5(f"{ha1}:{self.nonce}:{ha2}")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - RTSP Digest is MD5 by spec


@dataclass(frozen=True)
class Target:
    """What a replay URL asks for."""

    style: str  # "onvif" | "hikvision" | "dahua"
    channel: int
    start: datetime | None
    end: datetime | None


def parse_target(url: str, zone: tzinfo, z_is_local: dict[int, bool]) -> Target | None:
    """Understand the ONVIF, Hikvision and Dahua replay URL forms; None if unknown."""
    parts = urlsplit(url)
    path, query = parts.path.rstrip("/"), parse_qs(parts.query)
    if match := re.fullmatch(r"/onvif/replay/Recording_(\d+)(?:/trackID=\d+)?", path):
        return Target("onvif", int(match[1]), None, None)
    if match := re.fullmatch(r"/Streaming/tracks/(\d+)01(?:/trackID=\d+)?", path):
        channel = int(match[1])
        local = z_is_local.get(channel, False)
        return Target(
            "hikvision", channel, _hik_time(query, "starttime", zone, local),
            _hik_time(query, "endtime", zone, local),
        )  # fmt: skip
    if path.startswith("/cam/playback") and "channel" in query:
        return Target(
            "dahua", int(query["channel"][0]), _dahua_time(query, "starttime", zone),
            _dahua_time(query, "endtime", zone),
        )  # fmt: skip
    return None


def _hik_time(query: dict[str, list[str]], name: str, zone: tzinfo, local: bool) -> datetime | None:
    if name not in query:
        return None
    moment = datetime.strptime(query[name][0].rstrip("Z"), "%Y%m%dT%H%M%S")
    return moment.replace(tzinfo=zone if local else UTC).astimezone(UTC)


def _dahua_time(query: dict[str, list[str]], name: str, zone: tzinfo) -> datetime | None:
    if name not in query:
        return None
    moment = datetime.strptime(query[name][0], "%Y_%m_%d_%H_%M_%S")
    return moment.replace(tzinfo=zone).astimezone(UTC)


def parse_clock_range(header: str) -> tuple[datetime | None, datetime | None]:
    """Read `Range: clock=20261121T020000.5Z-20261121T030000Z` (either end may be open)."""
    match = re.fullmatch(r"\s*clock=([0-9TZ.]*)-([0-9TZ.]*)\s*", header)
    if not match:
        return None, None
    return _clock(match[1]), _clock(match[2])


def _clock(text: str) -> datetime | None:
    if not text:
        return None
    pattern = "%Y%m%dT%H%M%S.%fZ" if "." in text else "%Y%m%dT%H%M%SZ"
    return datetime.strptime(text, pattern).replace(tzinfo=UTC)


def format_clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"
