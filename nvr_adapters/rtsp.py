"""An RTSP client session over one TCP connection: requests, authentication, interleaved RTP.

The connection is read in large chunks, split into runs of interleaved frames (`$`, channel,
length, packet) and the RTSP responses between them, and handed on as one run per chunk: the
frames are found, not copied (the consumer reads each packet in place), and not three awaited
reads and a queue item each. The queue of runs is bounded, so a slow consumer stops the reading
(and TCP the sender) instead of growing memory.

What costs most is not the packets but waking up: a device that sends each frame as it reads it
from disk wakes a client that keeps up once per frame (epoll, recv, two task switches). So when
a small read of stream data came within a few milliseconds of asking, the socket is left alone
for that long and the next read takes everything that arrived meanwhile. A device sending faster
(big reads) or slower (a real-time replay: a frame every 40 ms) is read as it sends.
"""

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
READ_SIZE = 256 * 1024
# At most this many batches (each at most READ_SIZE of frames) wait for the consumer.
MAX_BATCHES = 16
# A read of stream data smaller than this, answered within GATHER_SECONDS: stop reading for
# GATHER_SECONDS before reading again (a few frames' worth of latency, none of throughput).
GATHER_BELOW = 64 * 1024
GATHER_SECONDS = 0.003
# A response head longer than this is not RTSP: the connection is treated as broken.
MAX_HEAD = 64 * 1024
DOLLAR = 0x24  # `$`, which starts an interleaved frame

Packet = tuple[int, bytes]  # (interleaved channel, the RTP or RTCP packet)


@dataclass(frozen=True, slots=True)
class FrameRun:
    """Complete interleaved frames back to back in `data[start:end]`, each `$`, channel, a 16-bit
    length and the packet: read in place by the replay, which walks them once itself."""

    data: bytes
    start: int
    end: int

    def packets(self) -> list[Packet]:
        """Each frame as (channel, packet), copied out: for callers that need not be fast."""
        data, offset, packets = self.data, self.start, []
        while offset < self.end:
            begin = offset + 4
            offset = begin + (data[offset + 2] << 8 | data[offset + 3])
            packets.append((data[begin - 3], data[begin:offset]))
        return packets


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
        # The frames in arrival order, a run per read; None once the connection has ended.
        self.batches: asyncio.Queue[FrameRun | None] = asyncio.Queue(maxsize=MAX_BATCHES)
        self._pump: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):  # not wait_for: see `_send`
                self._reader, self._writer = await asyncio.open_connection(
                    self.host, self.port, limit=READ_SIZE
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
            # Python 3.11's wait_for returns a reply that arrives as its caller is cancelled,
            # losing the cancellation; `asyncio.timeout` lets it through.
            async with asyncio.timeout(self.timeout):
                return await self._responses.get()
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
        deframer, loop = Deframer(), asyncio.get_running_loop()
        try:
            while True:
                asked_at = loop.time()
                if not (data := await self._reader.read(READ_SIZE)):
                    break
                soon = loop.time() - asked_at < GATHER_SECONDS
                streaming = await self._hand_on(deframer.feed(data))
                if streaming and soon and len(data) < GATHER_BELOW:
                    await self._gather()
        except (OSError, ValueError):
            pass  # a broken connection, or one no longer speaking RTSP: either ends the session
        await self.batches.put(None)  # the connection ended (a partial frame is dropped)

    async def _hand_on(self, items: list[FrameRun | RtspResponse]) -> bool:
        """Pass responses and runs of frames on, in order; return whether there were frames."""
        streaming = False
        for item in items:
            if isinstance(item, RtspResponse):
                await self._responses.put(item)
            else:
                await self.batches.put(item)
                streaming = True
        return streaming

    async def _gather(self) -> None:
        """Stop reading for GATHER_SECONDS, so the next read takes many frames, not one."""
        assert self._writer is not None
        transport = self._writer.transport
        if not isinstance(transport, asyncio.ReadTransport):
            return
        transport.pause_reading()
        try:
            await asyncio.sleep(GATHER_SECONDS)
        finally:
            transport.resume_reading()


class Deframer:
    """Splits the bytes of an RTSP connection into interleaved packets and responses.

    `feed` takes the bytes as they arrive, in chunks of any size, and returns what they complete,
    in order: runs of frames and the responses between them. A frame cut by the chunk's end waits
    for the next chunk.
    """

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[FrameRun | RtspResponse]:
        """Add `data`; return the runs of frames and the responses it completes."""
        buffer = self._rest + data if self._rest else data
        items: list[FrameRun | RtspResponse] = []
        offset = 0
        while offset < len(buffer):
            start, offset = offset, _frames_end(buffer, offset)
            if offset > start:
                items.append(FrameRun(buffer, start, offset))
            if offset == len(buffer) or buffer[offset] == DOLLAR:
                break  # all used, or a frame not complete yet
            response, offset = _response(buffer, offset)
            if response is None:
                break
            items.append(response)
        self._rest = buffer[offset:]
        return items


def _frames_end(buffer: bytes, offset: int) -> int:
    """Where the complete interleaved frames from `offset` on end (and something else starts)."""
    size = len(buffer)
    while offset + 4 <= size and buffer[offset] == DOLLAR:
        end = offset + 4 + (buffer[offset + 2] << 8 | buffer[offset + 3])
        if end > size:
            break
        offset = end
    return offset


def _response(buffer: bytes, offset: int) -> tuple[RtspResponse | None, int]:
    """The response at `offset` and where it ends, or None and `offset` while it is incomplete."""
    head_end = buffer.find(b"\r\n\r\n", offset)
    if head_end < 0:
        if len(buffer) - offset > MAX_HEAD:
            raise ValueError("an RTSP response head without an end")
        return None, offset
    lines = buffer[offset:head_end].decode("utf-8", "replace").split("\r\n")
    status = int(lines[0].partition(" ")[2][:3])  # `RTSP/1.0 200 OK`; ValueError if not RTSP
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    body_start = head_end + 4
    body_end = body_start + int(headers.get("content-length", "0"))
    if body_end > len(buffer):
        return None, offset
    return RtspResponse(status, headers, buffer[body_start:body_end]), body_end


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
