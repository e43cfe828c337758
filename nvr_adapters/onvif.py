"""ONVIF Profile G NVRs: Device, Search and Replay services through `onvif-zeep-async`.

Camera mapping: `CameraRef.channel` names a recording, either by its RecordingToken (what the
Search service lists) or by the token of its source (RecordingInformation.Source.SourceId,
usually the media profile or video source token the recording was configured from). A
RecordingToken match wins. Tokens are opaque on real devices, so nothing is guessed from
numbers: an unknown channel is `RecordingNotFound`, naming the tokens the device has.

Times: ONVIF speaks UTC on the device's own timeline. Windows and spans are on that timeline;
the caller converts with the `ClockOffset` that `probe()` measured. WS-Security digests are
stamped with the device clock (the library's `adjust_time`), so a device whose clock is off
still accepts them. An xs:dateTime without `Z` or an offset (some firmware writes them so) is
read in the device's zone, the POSIX TZ of its GetSystemDateAndTime (UTC if it names none).

Replay: the URI GetReplayUri answers names the device as it sees itself (often a LAN address
behind the NAT Saksi reaches it through); the configured host (and RTSP port, when given) is
put in its place, with a note of it in `notes`. docs/nvr-dialects.md has the sources.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import zeep.exceptions

from nvr_adapters._common import (
    Clock,
    clip_spans,
    posix_zone,
    utc_now,
    utc_offset_text,
)
from nvr_adapters.clock_probe import measure_offset
from nvr_adapters.device_calls import DeviceCalls
from nvr_adapters.errors import (
    NvrAuthFailed,
    NvrBusy,
    NvrError,
    NvrUnreachable,
    RecordingNotFound,
    ReplayError,
)
from nvr_adapters.mac import device_mac
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
RTSP_PORT = 554


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
        clock: Clock = utc_now, rtsp_port: int | None = None,
    ) -> None:  # fmt: skip
        self.host, self.http_port = host, http_port
        # The RTSP port Saksi reaches the device on; None keeps the replay URI's own.
        self.rtsp_port = rtsp_port
        self.username, self._password = username, password
        self._clock = clock
        self._camera: Any = None
        self._zone: tzinfo | None = None
        self.last_fetch: FetchStats | None = None
        # What this device does differently, for the export's record.
        self.notes: list[str] = []
        # Every distinct SOAP operation sent (and the replay's RTSP path), for the record.
        self.calls = DeviceCalls()

    @property
    def origin(self) -> str:
        return f"{self.host}:{self.http_port}"

    async def probe(self) -> DeviceInfo:
        """GetDeviceInformation, and the clock offset from GetSystemDateAndTime."""
        async with self._errors("GetDeviceInformation"):
            device = await self._service("devicemgmt")
            info = await device.GetDeviceInformation()
            clock, warnings = await self._clock_offset(device)
        mac = await _mac(device)
        return DeviceInfo(
            make=str(info.Manufacturer or ""), model=str(info.Model or ""),
            firmware=str(info.FirmwareVersion or ""), serial=str(info.SerialNumber or ""),
            clock=clock, warnings=warnings, mac=mac,
            mac_method="ONVIF GetNetworkInterfaces" if mac else None,
        )  # fmt: skip

    async def _service(self, kind: str) -> Any:
        """The library's `create_<kind>_service()` (its calls noted, see `_note_services`)."""
        return await getattr(await self._device(), f"create_{kind}_service")()

    def _note_services(self, camera: Any) -> None:
        """Note every operation any service of the camera sends, the library's own included
        (its clock handshake recreates the device service, then asks GetServices): every
        service is made by `create_onvif_service`, and gets a zeep egress plugin on both of
        its clients (the authenticated one and the one the clock is read with)."""
        create = camera.create_onvif_service

        async def noted(*args: Any, **kwargs: Any) -> Any:
            service = await create(*args, **kwargs)
            for client in (service.zeep_client, service.zeep_client_authless):
                if client is not None and not any(isinstance(p, _Noting) for p in client.plugins):
                    client.plugins.append(_Noting(self.calls))
            return service

        camera.create_onvif_service = noted

    async def _clock_offset(self, device: Any) -> tuple[ClockOffset, tuple[str, ...]]:
        answers: list[Any] = []

        async def ask() -> datetime:
            answers.append(await device.authless_GetSystemDateAndTime())
            self._zone, _ = _answer_zone(answers[-1])
            return _device_now(answers[-1], self._zone)

        offset = await measure_offset(self._clock, ask, "onvif-GetSystemDateAndTime")
        return offset, _clock_warnings(answers[-1])

    async def _device_zone(self) -> tzinfo:
        """The zone the device's naive times are in (read when the session opened)."""
        await self._device()
        return self._zone or UTC

    async def search(self, camera: CameraRef, window: TimeWindow) -> Coverage:
        """Recorded spans over the window, from the recording's track state history."""
        async with self._errors("Search"):
            zone = await self._device_zone()
            search = await self._service("search")
            recording = await self._recording(search, camera)
            events = await self._run_search(
                search, "GetEventSearchResults",
                lambda: search.FindEvents({
                    "StartPoint": window.start, "EndPoint": window.end,
                    "Scope": {"IncludedRecordings": [recording.token]}, "SearchFilter": {},
                    "IncludeStartState": True, "KeepAliveTime": KEEP_ALIVE,
                }),
            )  # fmt: skip
        changes = [c for e in events if (c := _state_change(e, recording, zone)) is not None]
        return Coverage(window, _spans(changes, window, recording.latest))

    async def fetch(self, camera: CameraRef, window: TimeWindow, sink: AccessUnitSink) -> None:
        """GetReplayUri for the camera's recording, then an ONVIF replay of the window."""
        async with self._errors("GetReplayUri"):
            recording = await self._recording(await self._service("search"), camera)
            replay = await self._service("replay")
            answer = await replay.GetReplayUri(
                {"StreamSetup": STREAM_SETUP, "RecordingToken": recording.token}
            )
        url = self._reachable(str(answer if isinstance(answer, str) else answer.Uri))
        target = ReplayTarget(url, self.username, self._password, window, onvif=True)
        self.calls.note(f"RTSP {urlsplit(url).path}")
        self.last_fetch = await replay_fetch(target, sink)

    def _reachable(self, uri: str) -> str:
        """The replay URI with the configured host (and RTSP port) in place of the device's own
        idea of its address (a LAN address behind NAT: hammeraj/onvif's Axis capture answers
        `rtsp://192.168.1.136/…`); noted when it differs."""
        parts = urlsplit(uri.strip())
        port = self.rtsp_port or parts.port or RTSP_PORT
        if parts.hostname == self.host and (parts.port or RTSP_PORT) == port:
            return uri.strip()
        host = f"[{self.host}]" if ":" in self.host else self.host
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
        note = (
            f"replay URI host {parts.hostname}:{parts.port or RTSP_PORT} replaced by the "
            f"configured {self.host}:{port}"
        )
        if note not in self.notes:
            self.notes.append(note)
        return urlunsplit(parts._replace(netloc=netloc))

    async def oldest_recording(self, camera: CameraRef, since: datetime) -> datetime | None:
        """RecordingInformation's EarliestRecording, as FindRecordings reports it."""
        async with self._errors("FindRecordings"):
            search = await self._service("search")
            earliest = (await self._recording(search, camera)).earliest
        if earliest is None:
            return None
        return max(earliest, since)

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
            self._note_services(camera)
            try:
                await self._connect(camera)
            except BaseException:
                await camera.close()
                raise
            self._camera = camera
        return self._camera

    async def _connect(self, camera: Any) -> None:
        """Find the service addresses, WS-Security stamped with the device clock; note the
        device's zone on the way."""
        devicemgmt = await camera.create_devicemgmt_service()
        answer = await devicemgmt.authless_GetSystemDateAndTime()
        self._zone, _ = _answer_zone(answer)
        local_only = getattr(answer, "UTCDateTime", None) is None
        if local_only:
            # The library's clock handshake reads UTCDateTime alone and fails without it
            # (agsh/onvif#165's camera answers LocalDateTime only): stamp from ours instead.
            camera.adjust_time = False
        await camera.update_xaddrs()
        await _profile_g_xaddrs(camera)
        if local_only:
            await _restamp(camera, _device_now(answer, self._zone) - datetime.now(UTC))

    async def _recording(self, search: Any, camera: CameraRef) -> Recording:
        found = await self._run_search(
            search, "GetRecordingSearchResults",
            lambda: search.FindRecordings({"Scope": {}, "KeepAliveTime": KEEP_ALIVE}),
        )  # fmt: skip
        zone = await self._device_zone()
        recordings = [_recording(info, zone) for info in found]
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


class _Noting:
    """A zeep plugin that notes the name of every operation sent, as it goes out."""

    def __init__(self, calls: DeviceCalls) -> None:
        self.calls = calls

    def egress(self, envelope: Any, http_headers: Any, operation: Any, _options: Any) -> Any:
        self.calls.note(f"ONVIF {operation.name}")
        return envelope, http_headers

    def ingress(self, envelope: Any, http_headers: Any, _operation: Any) -> Any:
        return envelope, http_headers


async def _mac(device: Any) -> str | None:
    """The first enabled interface's `tt:Info/tt:HwAddress` of GetNetworkInterfaces (onvif/specs
    wsdl/ver10/device/wsdl/devicemgmt.wsdl: GetNetworkInterfacesResponse holds one or more
    tt:NetworkInterface; wsdl/ver10/schema/onvif.xsd: NetworkInterface/Info is optional, its
    HwAddress an xs:token). None when the device refuses the call (some NVRs let only an
    administrator read the network settings) or tells no address: never a failed probe."""
    try:
        interfaces = await device.GetNetworkInterfaces()
    except (zeep.exceptions.Error, aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.debug("GetNetworkInterfaces was refused: %r", exc)
        return None
    for interface in interfaces or []:
        if getattr(interface, "Enabled", True) is False:
            continue
        info = getattr(interface, "Info", None)
        mac = device_mac(str(getattr(info, "HwAddress", "") or ""))
        if mac is not None:
            return mac
    return None


async def _restamp(camera: Any, device_ahead: timedelta) -> None:
    """Have every service from now on stamp WS-Security with the device clock."""
    for service in list(camera.services.values()):
        await service.close()
    camera.services.clear()
    camera.dt_diff = device_ahead


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


def _recording(info: Any, zone: tzinfo) -> Recording:
    source = getattr(info, "Source", None)
    tracks = frozenset(
        str(t.TrackToken) for t in (getattr(info, "Track", None) or []) if t.TrackType == "Video"
    )
    latest, earliest = (getattr(info, name, None) for name in ("LatestRecording",
                                                                "EarliestRecording"))  # fmt: skip
    return Recording(
        token=str(info.RecordingToken), source=str(getattr(source, "SourceId", "") or ""),
        video_tracks=tracks, latest=_aware(latest, zone) if latest else None,
        earliest=_aware(earliest, zone) if earliest else None,
    )  # fmt: skip


def _state_change(result: Any, recording: Recording, zone: tzinfo) -> tuple[datetime, bool] | None:
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
    return _aware(result.Time, zone), items["IsDataPresent"].lower() == "true"


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


def _aware(moment: datetime, zone: tzinfo) -> datetime:
    """An xs:dateTime as zeep gives it, in UTC: one without `Z` or an offset comes naive and is
    the device's local time (`astimezone` would take it for this server's)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _answer_zone(answer: Any) -> tuple[tzinfo, str]:
    """The zone GetSystemDateAndTime's `TimeZone/TZ` (POSIX) names, UTC if none, and the text."""
    stated = str(getattr(getattr(answer, "TimeZone", None), "TZ", "") or "").strip()
    return (posix_zone(stated) or UTC), stated


def _device_now(answer: Any, zone: tzinfo) -> datetime:
    """The device's present time: UTCDateTime, else LocalDateTime read in its zone (the schema
    makes both optional; agsh/onvif#165's camera answers LocalDateTime alone)."""
    utc = getattr(answer, "UTCDateTime", None)
    stamp = utc if utc is not None else getattr(answer, "LocalDateTime", None)
    if stamp is None or stamp.Date is None or stamp.Time is None:
        raise ReplayError("GetSystemDateAndTime named neither UTCDateTime nor LocalDateTime")
    when = datetime(
        stamp.Date.Year, stamp.Date.Month, stamp.Date.Day, stamp.Time.Hour,
        stamp.Time.Minute, stamp.Time.Second,
    )  # fmt: skip
    return when.replace(tzinfo=UTC if utc is not None else zone).astimezone(UTC)


def _clock_warnings(answer: Any) -> tuple[str, ...]:
    """What the record should say about how the device's clock was read."""
    zone, stated = _answer_zone(answer)
    warnings = []
    if stated and posix_zone(stated) is None:
        warnings.append(f"the device's time zone {stated!r} is not a POSIX TZ string; "
                        "its times without an offset are read as UTC")  # fmt: skip
    if getattr(answer, "UTCDateTime", None) is None:
        named = f"{stated} ({utc_offset_text(zone.utcoffset(None))})" if stated else "UTC"
        warnings.append(f"the device gave no UTCDateTime; its LocalDateTime was read as {named}")
    return tuple(warnings)


__all__ = ["OnvifAdapter"]
