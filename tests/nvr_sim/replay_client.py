"""A small RTSP/ONVIF replay client for the simulator's tests (the production client is
nvr_adapters'). Blocking sockets, Basic auth, RTP over TCP, FU-A reassembly, 0xABAC parsing."""

from __future__ import annotations

import base64
import re
import select
import socket
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime

NTP_EPOCH_OFFSET = 2_208_988_800


@dataclass
class Unit:
    time: datetime | None
    flags: int
    cseq: int
    nals: list[bytes] = field(default_factory=list)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class ReplayClient:
    def __init__(self, port: int, username: str, password: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""
        self.cseq = 0
        self.auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.session = ""

    def close(self) -> None:
        self.sock.close()

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def silent_for(self, seconds: float) -> bool:
        """True if nothing at all arrives for `seconds`."""
        if self.buffer:
            return False
        readable, _, _ = select.select([self.sock], [], [], seconds)
        return not readable

    def request(self, method: str, url: str, **headers: str) -> Reply:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", f"Authorization: {self.auth}"]
        if self.session:
            lines.append(f"Session: {self.session}")
        lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self._reply()

    def _reply(self) -> Reply:
        while True:
            first = self.read(1)
            if first == b"$":  # RTP still in flight from before: skip it
                _channel, length = struct.unpack("!BH", self.read(3))
                self.read(length)
                continue
            head = first + self._until(b"\r\n\r\n")
            break
        lines = head.decode().split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)
        }
        body = self.read(int(headers.get("content-length", "0")))
        if "session" in headers:
            self.session = headers["session"].split(";")[0]
        return Reply(int(lines[0].split(" ")[1]), headers, body)

    def _until(self, marker: bytes) -> bytes:
        data = b""
        while not data.endswith(marker):
            data += self.read(1)
        return data

    def setup(self, url: str) -> Reply:
        self.request("DESCRIBE", url)
        return self.request(
            "SETUP", url + "/trackID=0", Transport="RTP/AVP/TCP;unicast;interleaved=0-1"
        )

    def units(self, limit: int | None = None) -> tuple[list[Unit], bool]:
        """Read access units until RTCP BYE (True) or `limit` units (False)."""
        units: list[Unit] = []
        current: Unit | None = None
        fragment = b""
        while limit is None or len(units) < limit:
            if self.read(1) != b"$":
                raise AssertionError("expected interleaved data")
            channel, length = struct.unpack("!BH", self.read(3))
            packet = self.read(length)
            if channel == 1:
                if packet[1] == 203:
                    return units, True
                continue
            current, fragment = _consume(packet, current, fragment, units)
        return units, False


def _consume(
    packet: bytes, current: Unit | None, fragment: bytes, units: list[Unit]
) -> tuple[Unit | None, bytes]:
    marker = packet[1] & 0x80
    offset = 12
    if packet[0] & 0x10:
        profile, words = struct.unpack("!HH", packet[12:16])
        ext = packet[16 : 16 + words * 4]
        offset = 16 + words * 4
        assert profile == 0xABAC
        ntp, flags, cseq = struct.unpack("!QBB", ext[:10])
        seconds = (ntp >> 32) - NTP_EPOCH_OFFSET + (ntp & 0xFFFFFFFF) / 2**32
        current = Unit(datetime.fromtimestamp(seconds, tz=UTC), flags, cseq)
    elif current is None:
        current = Unit(None, 0, 0)
    payload = packet[offset:]
    if payload[0] & 0x1F == 28:
        if payload[1] & 0x80:
            fragment = bytes([(payload[0] & 0xE0) | (payload[1] & 0x1F)])
        fragment += payload[2:]
        if payload[1] & 0x40:
            current.nals.append(fragment)
            fragment = b""
    else:
        current.nals.append(payload)
    if marker:
        units.append(current)
        return None, b""
    return current, fragment


def clock(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"


def pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)
