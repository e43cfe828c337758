"""ONVIF Profile G NVRs: Device, Search and Replay services through `onvif-zeep-async`.

Camera mapping: `CameraRef.channel` names a recording, either by its RecordingToken (what the
Search service lists) or by the token of its source (RecordingInformation.Source.SourceId,
usually the media profile or video source token the recording was configured from). A
RecordingToken match wins. Tokens are opaque on real devices, so nothing is guessed from
numbers: an unknown channel is `RecordingNotFound`, naming the tokens the device has.

Times: ONVIF speaks UTC on the device's own timeline. Windows and spans are on that timeline;
the caller converts with the `ClockOffset` that `probe()` measured. WS-Security digests are
stamped with the device clock (the library's `adjust_time`), so a device whose clock is off
still accepts them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import zeep.exceptions

from nvr_adapters._common import Clock, clip_spans, offset_from, read_clock, utc_now
from nvr_adapters.errors import (
    NvrAuthFailed,
    NvrBusy,
    NvrError,
    NvrUnreachable,
    RecordingNotFound,
    ReplayError,
)
from nvr_adapters.replay import FetchStats, ReplayTarget
from nvr_adapters.replay import fetch as replay_fetch
from nvr_adapters.types import (
    AccessUnitSink,
    CameraRef,
    ClockOffset,
    Coverage,
    DeviceInfo,
    Span,
    TimeWindow,
)

log = logging.getLogger(__name__)
KEEP_ALIVE = "PT20S"
POLL_WAIT = "PT1S"
MAX_POLLS = 120
STATE_TOPIC = "RecordingHistory/Track/State"
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
PROFILE_G = {
    "Search": "http://www.onvif.org/ver10/search/wsdl",
    "Replay": "http://www.onvif.org/ver10/replay/wsdl",
    "Recording": "http://www.onvif.org/ver10/recording/wsdl",
}
NOT_FOUND_SUBCODES = {"InvalidToken", "NoRecording", "InvalidArgVal"}


@dataclass(frozen=True, slots=True)
class Recording:
    """What FindRecordings tells of one recording."""

    token: str
    source: str
    video_tracks: frozenset[str]
    latest: datetime | None
    earliest: datetime | None = None


class OnvifAdapter:
    """One ONVIF Profile G device (an NVR, or a camera recording to its own card)."""

    def __init__(
        self, host: str, http_port: int, username: str, password: str, *,
        clock: Clock = utc_now,
    ) -> None:  # fmt: skip
        self.host, self.http_port = host, http_port
        self.username, self._password = username, password
        self._clock = clock
        self._camera: Any = None
        self.last_fetch: FetchStats | None = None

    @property
    def origin(self) -> str:
        return f"{self.host}:{self.http_port}"

    async def probe(self) -> DeviceInfo:
        """GetDeviceInformation, and the clock offset from GetSystemDateAndTime."""
        async with self._errors("GetDeviceInformation"):
            device = await (await self._device()).create_devicemgmt_service()
            info = await device.GetDeviceInformation()
            clock = await self._clock_offset(device)
        return DeviceInfo(
            make=str(info.Manufacturer or ""), model=str(info.Model or ""),
            firmware=str(info.FirmwareVersion or ""), serial=str(info.SerialNumber or ""),
            clock=clock,
        )  # fmt: skip

    async def _clock_offset(self, device: Any) -> ClockOffset:
        async def ask() -> datetime:
            answer = await device.authless_GetSystemDateAndTime()
            when = answer.UTCDateTime
            return datetime(
                when.Date.Year, when.Date.Month, when.Date.Day, when.Time.Hour,
                when.Time.Minute, when.Time.Second, tzinfo=UTC,
            )  # fmt: skip

        return offset_from(await read_clock(self._clock, ask), "onvif-GetSystemDateAndTime")

    async def search(self, camera: CameraRef, window: TimeWindow) -> Coverage:
        """Recorded spans over the window, from the recording's track state history."""
        async with self._errors("Search"):
            search = await (await self._device()).create_search_service()
            recording = await self._recording(search, camera)
            events = await self._run_search(
                search, "GetEventSearchResults",
                lambda: search.FindEvents({
                    "StartPoint": window.start, "EndPoint": window.end,
                    "Scope": {"IncludedRecordings": [recording.token]}, "SearchFilter": {},
                    "IncludeStartState": True, "KeepAliveTime": KEEP_ALIVE,
                }),
            )  # fmt: skip
        changes = [c for e in events if (c := _state_change(e, recording)) is not None]
        return Coverage(window, _spans(changes, window, recording.latest))

    async def fetch(self, camera: CameraRef, window: TimeWindow, sink: AccessUnitSink) -> None:
        """GetReplayUri for the camera's recording, then an ONVIF replay of the window."""
        async with self._errors("GetReplayUri"):
            device = await self._device()
            recording = await self._recording(await device.create_search_service(), camera)
            replay = await device.create_replay_service()
            answer = await replay.GetReplayUri(
                {"StreamSetup": STREAM_SETUP, "RecordingToken": recording.token}
            )
        url = str(answer if isinstance(answer, str) else answer.Uri)
        target = ReplayTarget(url, self.username, self._password, window, onvif=True)
        self.last_fetch = await replay_fetch(target, sink)

    async def oldest_recording(self, camera: CameraRef, since: datetime) -> datetime | None:
        """RecordingInformation's EarliestRecording, as FindRecordings reports it."""
        async with self._errors("FindRecordings"):
            search = await (await self._device()).create_search_service()
            earliest = (await self._recording(search, camera)).earliest
        if earliest is None:
            return None
        return max(_aware(earliest), since)

    async def aclose(self) -> None:
        if self._camera is not None:
            camera, self._camera = self._camera, None
            await camera.close()

    async def _device(self) -> Any:
        """The library's device object, its service addresses found once (GetServices first)."""
        if self._camera is None:
            # Imported here: importing the library configures root logging and patches zeep,
            # which only a process that talks ONVIF should pay for.
            from onvif import ONVIFCamera  # noqa: PLC0415

            camera = ONVIFCamera(
                self.host, self.http_port, self.username, self._password,
                no_cache=True, adjust_time=True,
            )  # fmt: skip
            try:
                await camera.update_xaddrs()
                await _profile_g_xaddrs(camera)
            except BaseException:
                await camera.close()
                raise
            self._camera = camera
        return self._camera

    async def _recording(self, search: Any, camera: CameraRef) -> Recording:
        found = await self._run_search(
            search, "GetRecordingSearchResults",
            lambda: search.FindRecordings({"Scope": {}, "KeepAliveTime": KEEP_ALIVE}),
        )  # fmt: skip
        recordings = [_recording(info) for info in found]
        by_token = {r.token: r for r in recordings}
        by_source = {r.source: r for r in recordings if r.source}
        match = by_token.get(camera.channel) or by_source.get(camera.channel)
        if match is not None:
            return match
        tokens = ", ".join(f"{r.token} (source {r.source})" for r in recordings) or "none"
        raise RecordingNotFound(
            f"{self.origin} has no recording or source {camera.channel!r}; it has: {tokens}"
        )

    async def _run_search(
        self, search: Any, results: str, start: Callable[[], Awaitable[Any]]
    ) -> list[Any]:
        """Start a search, poll it until Completed, and always end it."""
        token = await start()
        try:
            return await _poll(getattr(search, results), token)
        finally:
            await _end_search(search, token)

    @asynccontextmanager
    async def _errors(self, doing: str) -> AsyncIterator[None]:
        """Turn what the SOAP stack raises into the NvrError it means."""
        try:
            yield
        except NvrError:
            raise
        except Exception as exc:
            error = _translate(self, doing, exc)
            if error is None:
                raise
            raise error from exc


async def _profile_g_xaddrs(camera: Any) -> None:
    """Fill Search, Replay and Recording addresses from GetCapabilities when GetServices failed.

    The library falls back to GetCapabilities for the top-level services only; Profile G ones
    sit under its Extension element.
    """
    missing = {name: ns for name, ns in PROFILE_G.items() if ns not in camera.xaddrs}
    if not missing:
        return
    extension = ((await camera.get_capabilities()) or {}).get("Extension") or {}
    for name, namespace in missing.items():
        xaddr = _extension_xaddr(extension, name)
        if xaddr:
            camera.xaddrs[namespace] = xaddr


def _extension_xaddr(extension: Any, name: str) -> str:
    """The XAddr of a capability under Extension: parsed, or still raw XML where zeep let the
    schema's leading xs:any swallow it (it does for devices that omit DeviceIO and Display)."""
    parsed = extension.get(name) or {}
    if parsed.get("XAddr"):
        return str(parsed["XAddr"])
    for element in extension.get("_value_1") or []:
        if getattr(element, "tag", "").rsplit("}", 1)[-1] == name:
            for child in element:
                if child.tag.rsplit("}", 1)[-1] == "XAddr" and child.text:
                    return str(child.text).strip()
    return ""


async def _poll(fetch_page: Callable[[Any], Awaitable[Any]], token: str) -> list[Any]:
    collected: list[Any] = []
    for _ in range(MAX_POLLS):
        page = await fetch_page(
            {"SearchToken": token, "MaxResults": 100, "WaitTime": POLL_WAIT}
        )  # fmt: skip
        collected += _page_items(page)
        if page.SearchState == "Completed":
            return collected
        await asyncio.sleep(0.05)
    raise ReplayError(f"the search {token} did not complete after {MAX_POLLS} polls")


def _page_items(page: Any) -> list[Any]:
    items = getattr(page, "RecordingInformation", None)
    if items is None:
        items = getattr(page, "Result", None)
    return list(items or [])


async def _end_search(search: Any, token: str) -> None:
    """EndSearch; a device that already dropped a completed search may refuse, which is fine."""
    try:
        await search.EndSearch({"SearchToken": token})
    except (zeep.exceptions.Error, aiohttp.ClientError, OSError) as exc:
        log.debug("EndSearch %s was refused: %r", token, exc)


def _recording(info: Any) -> Recording:
    source = getattr(info, "Source", None)
    tracks = frozenset(
        str(t.TrackToken) for t in (getattr(info, "Track", None) or []) if t.TrackType == "Video"
    )
    return Recording(
        token=str(info.RecordingToken), source=str(getattr(source, "SourceId", "") or ""),
        video_tracks=tracks, latest=getattr(info, "LatestRecording", None),
        earliest=getattr(info, "EarliestRecording", None),
    )  # fmt: skip


def _state_change(result: Any, recording: Recording) -> tuple[datetime, bool] | None:
    """(time, data present?) of a RecordingHistory/Track/State event of a video track."""
    event = getattr(result, "Event", None)
    topic = str(getattr(getattr(event, "Topic", None), "_value_1", "") or "")
    if STATE_TOPIC not in topic or str(result.RecordingToken) != recording.token:
        return None
    if recording.video_tracks and str(result.TrackToken) not in recording.video_tracks:
        return None
    message = getattr(getattr(event, "Message", None), "_value_1", None)
    data = getattr(message, "Data", None)
    items = {str(i.Name): str(i.Value) for i in (getattr(data, "SimpleItem", None) or [])}
    if "IsDataPresent" not in items:
        return None
    return result.Time.astimezone(UTC), items["IsDataPresent"].lower() == "true"


def _spans(
    changes: list[tuple[datetime, bool]], window: TimeWindow, latest: datetime | None
) -> tuple[Span, ...]:
    """Spans from state changes: data from each `true` to the next `false` (or the end)."""
    spans: list[Span] = []
    opened: datetime | None = None
    for at, present in sorted(changes, key=lambda change: change[0]):
        if present and opened is None:
            opened = at
        elif not present and opened is not None:
            spans.append(Span(opened, at))
            opened = None
    if opened is not None:
        end = min(window.end, latest) if latest is not None else window.end
        spans.append(Span(opened, end))
    return clip_spans(spans, window)


def _translate(adapter: OnvifAdapter, doing: str, exc: Exception) -> NvrError | None:
    """The NvrError an exception of the SOAP stack means; None for a bug of ours."""
    from onvif.exceptions import ONVIFError, ONVIFTimeoutError  # noqa: PLC0415 - see _device

    if isinstance(exc, zeep.exceptions.Fault):
        return _fault_error(adapter, doing, exc)
    if isinstance(exc, zeep.exceptions.TransportError):
        return _status_error(adapter, doing, exc.status_code)
    cause = exc.__cause__ if isinstance(exc, ONVIFError) else exc
    if isinstance(cause, aiohttp.ClientError | OSError | TimeoutError | ONVIFTimeoutError):
        return NvrUnreachable(f"cannot reach ONVIF at {adapter.origin}: {cause!r}")
    if isinstance(exc, ONVIFError):
        return ReplayError(f"{doing} at {adapter.origin} failed: {exc}")
    return None


def _fault_error(adapter: OnvifAdapter, doing: str, fault: Any) -> NvrError:
    subcodes = {getattr(q, "localname", str(q)) for q in (fault.subcodes or [])}
    text = str(fault.message or "")
    if "NotAuthorized" in subcodes or "not authorized" in text.lower():
        return NvrAuthFailed(
            f"{adapter.origin} refused the ONVIF credentials of user {adapter.username!r} "
            f"(WS-Security UsernameToken digest) for {doing}"
        )
    if subcodes & NOT_FOUND_SUBCODES:
        return RecordingNotFound(f"{doing} at {adapter.origin}: {text}")
    return ReplayError(f"{doing} at {adapter.origin} answered a SOAP fault: {text}")


def _status_error(adapter: OnvifAdapter, doing: str, status: int) -> NvrError:
    if status == 401:
        return NvrAuthFailed(
            f"{adapter.origin} refused the credentials of user {adapter.username!r} for {doing}"
        )
    if status == 503:
        return NvrBusy(f"{doing} at {adapter.origin} answered 503")
    return ReplayError(f"{doing} at {adapter.origin} answered HTTP {status}")


__all__ = ["OnvifAdapter"]


def _aware(moment: datetime) -> datetime:
    """zeep gives xs:dateTime without a zone as naive; ONVIF times are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
