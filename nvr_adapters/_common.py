"""What the vendor adapters share: the server clock, offset measurement, spans, HTTP with Digest,
and device time zones written as POSIX TZ strings."""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import httpx

from nvr_adapters.device_calls import DeviceCalls
from nvr_adapters.errors import NvrAuthFailed, NvrBusy, NvrUnreachable, ReplayError
from nvr_adapters.types import ClockOffset, Span, TimeWindow

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading of the device clock, taken between two readings of ours."""

    device_time: datetime
    sent_at: datetime
    round_trip_s: float
    whole_seconds: bool = True


async def read_clock(clock: Clock, ask: Callable[[], Awaitable[datetime]]) -> Reading:
    """Ask the device its time and note when we asked and how long it took."""
    sent_at, started = clock(), time.monotonic()
    device_time = await ask()
    round_trip = time.monotonic() - started
    return Reading(device_time, sent_at, round_trip, device_time.microsecond == 0)


def offset_from(reading: Reading, method: str) -> ClockOffset:
    """Device minus server time, taking the device's answer as given half-way through the trip.

    A device that answers in whole seconds truncates: its clock was, on average, half a second
    past what it said, and up to a second.
    """
    half_trip = reading.round_trip_s / 2
    midpoint = reading.sent_at + timedelta(seconds=half_trip)
    truncation = 0.5 if reading.whole_seconds else 0.0
    seconds = (reading.device_time - midpoint).total_seconds() + truncation
    return ClockOffset(
        seconds=round(seconds, 3), method=method, measured_at=midpoint,
        uncertainty_s=round(half_trip + truncation, 3),
    )  # fmt: skip


def clip_spans(spans: Iterable[Span], window: TimeWindow) -> tuple[Span, ...]:
    """Spans cut to the window, sorted, with touching or overlapping ones merged."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        start, end = max(span.start, window.start), min(span.end, window.end)
        if end <= start:
            continue
        if merged and start <= merged[-1].end:
            merged[-1] = Span(merged[-1].start, max(end, merged[-1].end))
        else:
            merged.append(Span(start, end))
    return tuple(merged)


def prorated_bytes(files: Iterable[tuple[Span, int | None]], window: TimeWindow) -> int | None:
    """What the window's share of the listed files weighs: each file's size in proportion to
    how much of its span lies in the window. None unless every file in the window has a size
    (a partial sum would promise a progress bar that stops short)."""
    total = 0.0
    for span, size in files:
        inside = min(span.end, window.end) - max(span.start, window.start)
        if inside.total_seconds() <= 0:
            continue
        if size is None or span.end <= span.start:
            return None
        total += size * inside / (span.end - span.start)
    return round(total) or None


def floor_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def ceil_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


class DeviceHttp:
    """An HTTP client for one device's vendor API: Digest auth, device errors as NvrErrors."""

    def __init__(
        self, host: str, port: int, username: str, password: str, *, timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        self.origin = f"{host}:{port}"
        self._client = httpx.AsyncClient(
            base_url=f"http://{self.origin}", auth=httpx.DigestAuth(username, password),
            timeout=timeout, transport=transport,
        )  # fmt: skip
        self._username = username
        # Every distinct call sent, for the record (whether any could change a setting).
        self.calls = DeviceCalls()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; raise the NvrError a refusal or a failure means."""
        self.calls.note_http(method, path, kwargs.get("params"))
        try:
            response = await self._client.request(method, path, **kwargs)
        except (httpx.TransportError, OSError) as exc:
            raise NvrUnreachable(f"cannot reach {self.origin}: {exc!r}") from exc
        self._refused(response, path)
        return response

    async def text(self, method: str, path: str, **kwargs: Any) -> str:
        """The body of a successful answer."""
        response = await self.request(method, path, **kwargs)
        if response.status_code >= 300:
            raise ReplayError(
                f"{self.origin} answered {response.status_code} to {path.partition('?')[0]}"
            )
        return response.text

    @asynccontextmanager
    async def stream(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        """Send one request and hand over the answer with its body unread (a download); the
        refusals and failures `request` raises are raised the same, before any byte."""
        self.calls.note_http(method, path, kwargs.get("params"))
        async with AsyncExitStack() as stack:
            try:
                response = await stack.enter_async_context(
                    self._client.stream(method, path, **kwargs)
                )
            except (httpx.TransportError, OSError) as exc:
                raise NvrUnreachable(f"cannot reach {self.origin}: {exc!r}") from exc
            self._refused(response, path)
            try:
                yield response
            except httpx.TransportError as exc:  # not OSError: the caller's disk is not the NVR
                raise NvrUnreachable(f"{self.origin} dropped the download: {exc!r}") from exc

    def _refused(self, response: httpx.Response, path: str) -> None:
        if response.status_code == 401:
            raise NvrAuthFailed(
                f"{self.origin} refused the credentials of user {self._username!r} "
                f"(HTTP Digest) for {path.partition('?')[0]}"
            )
        if response.status_code == 503:
            raise NvrBusy(f"{self.origin} answered 503 to {path.partition('?')[0]}")

    async def aclose(self) -> None:
        await self._client.aclose()


def channel_number(channel: str) -> int:
    """A vendor channel as the positive number the device uses."""
    try:
        number = int(channel)
    except ValueError:
        raise ValueError(f"a channel number is expected, not {channel!r}") from None
    if number < 1:
        raise ValueError(f"a channel number is expected, not {channel!r}")
    return number


# A POSIX TZ string (IEEE 1003.1 `TZ`): std offset [dst [offset] [,start[/time],end[/time]]].
# Offsets count hours *west* of UTC: `CST-7:00:00` is UTC+7, `BRT3` is UTC-3.
_POSIX_TZ = re.compile(
    r"^(?P<std><[^>]+>|[A-Za-z]{3,})(?P<off>[+-]?\d{1,2}(?::\d{1,2}){0,2})"
    r"(?:(?P<dst><[^>]+>|[A-Za-z]{3,})(?P<dst_off>[+-]?\d{1,2}(?::\d{1,2}){0,2})?"
    r"(?:,(?P<start>[^,]+),(?P<end>[^,]+))?)?$"
)
_DEFAULT_RULES = ("M3.2.0", "M11.1.0")  # what glibc assumes when a DST name comes without rules


def _clock_seconds(text: str) -> int:
    """`[+-]hh[:mm[:ss]]` as seconds."""
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")] + [0, 0]
    return sign * (parts[0] * 3600 + parts[1] * 60 + parts[2])


def _rule_date(rule: str, year: int) -> date:
    """The day a transition rule (`Mm.w.d`, `Jn` or `n`) names in `year`."""
    if rule.startswith("M"):
        month, week, weekday = (int(p) for p in rule[1:].split("."))
        first = date(year, month, 1)
        day = 1 + ((weekday - 1) % 7 - first.weekday()) % 7 + 7 * (week - 1)
        while day > calendar.monthrange(year, month)[1]:
            day -= 7  # week 5 means the last such weekday of the month
        return date(year, month, day)
    if rule.startswith("J"):  # 1..365, February 29 never counted
        day = int(rule[1:])
        leap_skip = calendar.isleap(year) and day >= 60
        return date(year, 1, 1) + timedelta(days=day - 1 + leap_skip)
    return date(year, 1, 1) + timedelta(days=int(rule))


def _transition(spec: str, year: int) -> datetime:
    """A `date[/time]` transition as a naive wall-clock datetime (default time 02:00)."""
    rule, _, at = spec.partition("/")
    return datetime.combine(_rule_date(rule, year), datetime.min.time()) + timedelta(
        seconds=_clock_seconds(at) if at else 7200
    )


class PosixZone(tzinfo):
    """A zone from a POSIX TZ string, as ONVIF (`tt:TZ`) and Hikvision (`<timeZone>`) state it."""

    def __init__(
        self, text: str, std: timedelta, dst: timedelta | None, rules: tuple[str, str]
    ) -> None:
        self.text, self._std, self._dst, self._rules = text, std, dst, rules

    def __repr__(self) -> str:
        return f"PosixZone({self.text!r})"

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return self._std + self.dst(dt)

    def dst(self, dt: datetime | None) -> timedelta:
        if self._dst is None or dt is None:
            return timedelta(0)
        wall = dt.replace(tzinfo=None)
        start = _transition(self._rules[0], wall.year)
        end = _transition(self._rules[1], wall.year)
        summer = start <= wall < end if start < end else (wall >= start or wall < end)
        return self._dst - self._std if summer else timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return self.text


def posix_zone(text: str, *, dst_is_bias: bool = False) -> PosixZone | None:
    """The zone a POSIX TZ string names; None when it is not one.

    `dst_is_bias`: Hikvision writes the DST part as the amount added to standard time
    (`CST-1:00:00DST01:00:00,M3.5.0/02:00:00,...`), not as the DST zone's own offset."""
    compact = "".join(text.split())
    match = _POSIX_TZ.match(compact)
    if match is None:
        return None
    std = -timedelta(seconds=_clock_seconds(match["off"]))
    if not match["dst"]:
        return PosixZone(compact, std, None, _DEFAULT_RULES)
    dst = std + timedelta(hours=1)
    if match["dst_off"]:
        seconds = _clock_seconds(match["dst_off"])
        dst = std + timedelta(seconds=seconds) if dst_is_bias else -timedelta(seconds=seconds)
    rules = (match["start"], match["end"]) if match["start"] else _DEFAULT_RULES
    return PosixZone(compact, std, dst, rules)


def utc_offset_text(offset: timedelta | None) -> str:
    """`UTC+07:00` and the like."""
    seconds = int((offset or timedelta(0)).total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"
