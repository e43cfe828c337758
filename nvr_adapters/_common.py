"""What the vendor adapters share: the server clock, offset measurement, spans, HTTP with Digest."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

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


def floor_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def ceil_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


class DeviceHttp:
    """An HTTP client for one device's vendor API: Digest auth, device errors as NvrErrors."""

    def __init__(
        self, host: str, port: int, username: str, password: str, *, timeout: float = 15.0
    ) -> None:
        self.origin = f"{host}:{port}"
        self._client = httpx.AsyncClient(
            base_url=f"http://{self.origin}", auth=httpx.DigestAuth(username, password),
            timeout=timeout,
        )  # fmt: skip
        self._username = username

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; raise the NvrError a refusal or a failure means."""
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
