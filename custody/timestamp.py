"""RFC 3161 time-stamps for checkpoints, from a configurable time-stamping authority.

The request is small enough to encode by hand (DER): version 1, the SHA-256 message imprint, a
nonce, and certReq so the reply carries the authority's certificate. An authority that cannot be
reached raises `TimestampUnavailable`; callers queue and retry, never block on it.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from custody.errors import CustodyError

SHA256_OID = "2.16.840.1.101.3.4.2.1"


class TimestampUnavailable(CustodyError):
    """The authority could not be reached or refused; try again later."""


class TimestampMismatch(TimestampUnavailable):
    """The reply's token is not for what was asked (other data or another nonce)."""


@dataclass(frozen=True)
class TimestampReply:
    status: int
    token: bytes
    der: bytes
    gen_time: datetime | None = None


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def _integer(value: int) -> bytes:
    raw = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return _tlv(0x02, raw)


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(x) for x in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        body += _base128(arc)
    return _tlv(0x06, bytes(body))


def _base128(value: int) -> bytes:
    chunk = [value & 0x7F]
    value >>= 7
    while value:
        chunk.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(chunk))


def request_der(data: bytes, nonce: int | None = None) -> bytes:
    """Encode a TimeStampReq for the SHA-256 of `data`."""
    algorithm = _tlv(0x30, _oid(SHA256_OID) + b"\x05\x00")
    imprint = _tlv(0x30, algorithm + _tlv(0x04, hashlib.sha256(data).digest()))
    nonce = secrets.randbits(63) if nonce is None else nonce
    return _tlv(0x30, _integer(1) + imprint + _integer(nonce) + b"\x01\x01\xff")


def _read(der: bytes, offset: int) -> tuple[int, int, int]:
    """Return (tag, start of the value, end of the value) of the element at `offset`."""
    tag, size = der[offset], der[offset + 1]
    start = offset + 2
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(der[start : start + count], "big")
        start += count
    return tag, start, start + size


def parse_reply(der: bytes) -> TimestampReply:
    """Read a TimeStampResp: its PKIStatus and the time-stamp token."""
    try:
        _tag, body, end = _read(der, 0)
        _tag, status_start, status_end = _read(der, body)
        _tag, value_start, value_end = _read(der, status_start)
        status = int.from_bytes(der[value_start:value_end], "big")
        token = der[status_end:end]
    except IndexError as exc:
        raise TimestampUnavailable("the authority's reply is not DER") from exc
    if status not in (0, 1) or not token:
        raise TimestampUnavailable(f"the authority refused the request (status {status})")
    return TimestampReply(status=status, token=token, der=der)


def stamp(url: str, data: bytes, timeout: float = 10.0) -> TimestampReply:
    """Ask the authority at `url` to time-stamp `data`."""
    nonce = secrets.randbits(63)
    request = urllib.request.Request(  # noqa: S310 - the URL is the configured authority
        url,
        data=request_der(data, nonce),
        headers={"Content-Type": "application/timestamp-query"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            reply = parse_reply(response.read())
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise TimestampUnavailable(f"the time-stamping authority is unreachable: {exc}") from exc
    return replace(reply, gen_time=check_token(reply.token, data, nonce))


def check_token(token: bytes, data: bytes, nonce: int | None) -> datetime:
    """Check a token's TSTInfo is for the SHA-256 of `data` (and `nonce`); return its time."""
    try:
        info, fields = _tst_info(token)
        imprint = _children(info, fields[2][1], fields[2][2])
        hashed = info[imprint[1][1] : imprint[1][2]]
        gen_time = _generalized_time(info[fields[4][1] : fields[4][2]])
        nonces = [int.from_bytes(info[s:e], "big") for tag, s, e in fields[5:] if tag == 0x02]
    except (IndexError, ValueError) as exc:
        raise TimestampMismatch("the time-stamp token is malformed") from exc
    if hashed != hashlib.sha256(data).digest():
        raise TimestampMismatch("the time-stamp token is for other data")
    if nonce is not None and nonces != [nonce]:
        raise TimestampMismatch("the time-stamp token answers another request (nonce)")
    return gen_time


def _children(der: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    items, offset = [], start
    while offset < end:
        item = _read(der, offset)
        items.append(item)
        offset = item[2]
    return items


def _tst_info(token: bytes) -> tuple[bytes, list[tuple[int, int, int]]]:
    """Dig the TSTInfo out of ContentInfo → SignedData → encapContentInfo → eContent."""
    _tag, start, end = _read(token, 0)
    content = _children(token, start, end)[1]
    _tag, start, end = _read(token, content[1])
    encapsulated = _children(token, start, end)[2]
    explicit = _children(token, encapsulated[1], encapsulated[2])[1]
    _tag, start, end = _read(token, explicit[1])
    info = token[start:end]
    _tag, start, end = _read(info, 0)
    return info, _children(info, start, end)


def _generalized_time(raw: bytes) -> datetime:
    text = raw.decode("ascii").removesuffix("Z")
    whole, _, fraction = text.partition(".")
    moment = datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return moment.replace(microsecond=int((fraction + "000000")[:6]))
