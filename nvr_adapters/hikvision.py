"""Hikvision NVRs over ISAPI (HTTP Digest) and their RTSP playback URLs.

Channels are camera numbers ("1", "2", …); the main-stream track of camera N is `N01`.
Windows and spans are on the device's own timeline, the times its recordings carry; the caller
converts with the `ClockOffset` that `probe()` measured.

ISAPI writes times with a `Z`. On most firmware that means UTC; on some it is the device's local
wall clock (HikLoad searches and reads results that way; hikvision-download-assistant#1 fixes
"old NVR ISAPI v1.0" time zones). `z_is_local=True` applies one rule to everything that crosses
the wire: the search body, the matches' times (their spans and `oldest_recording`) and the
playback URLs all carry local digits behind the `Z`. docs/nvr-dialects.md has the sources.
"""

from __future__ import annotations

import logging
import uuid
import xml.etree.ElementTree as ET  # noqa: N817 - parses the configured device's answers
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import httpx

from nvr_adapters._common import (
    Clock,
    DeviceHttp,
    ceil_second,
    channel_number,
    clip_spans,
    floor_second,
    posix_zone,
    prorated_bytes,
    utc_now,
    utc_offset_text,
)
from nvr_adapters.clock_probe import measure_offset
from nvr_adapters.device_calls import DeviceCalls
from nvr_adapters.download import ByteSink, isapi_download
from nvr_adapters.errors import NvrAuthFailed, ReplayError
from nvr_adapters.mac import device_mac
from nvr_adapters.native import NativeFormat
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
ISAPI_NS = "http://www.hikvision.com/ver20/XMLSchema"
SEARCH = "/ISAPI/ContentMgmt/search"
NETWORK_INTERFACES = "/ISAPI/System/Network/interfaces"
PAGE_SIZE = 40
AHEAD = timedelta(days=1)  # a device clock ahead of ours still has its newest files found
MAX_PAGES = 500  # 20,000 matches: far more than one window holds; stops a device that loops
URI_TIMES = ("%Y%m%dT%H%M%SZ", "%Y%m%dT%H%M%S.%fZ", "%Y-%m-%dT%H:%M:%SZ")
PICTURES = frozenset({"picture", "jpeg", "jpg"})


class HikvisionAdapter:
    """One Hikvision NVR: ISAPI for what it is and holds, RTSP playback for the footage."""

    def __init__(
        self, host: str, http_port: int, rtsp_port: int, username: str, password: str,
        timezone: str, z_is_local: bool = False, *, clock: Clock = utc_now,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        self.host, self.rtsp_port = host, rtsp_port
        self.username, self._password = username, password
        self.zone = ZoneInfo(timezone)
        self.z_is_local = z_is_local
        self._clock = clock
        self._http = DeviceHttp(host, http_port, username, password, transport=transport)
        self.last_fetch: FetchStats | None = None
        self.download_format: NativeFormat = "mpeg-ps"
        # What this device does differently, for the export's record.
        self.notes: list[str] = []

    @property
    def wire_zone(self) -> tzinfo:
        """The zone of the digits behind ISAPI's `Z`: UTC, or local on `z_is_local` firmware."""
        return self.zone if self.z_is_local else UTC

    async def probe(self) -> DeviceInfo:
        """Read deviceInfo, then measure the device clock and compare its time zone with ours."""
        info = await self._isapi("GET", "/ISAPI/System/deviceInfo")
        clock, warnings = await self._clock_offset()
        mac = await self._mac()
        return DeviceInfo(
            make=_field(info, "manufacturer") or "Hikvision",
            model=_field(info, "model"),
            firmware=_field(info, "firmwareVersion"),
            serial=_field(info, "serialNumber"),
            clock=clock,
            warnings=warnings,
            mac=mac,
            mac_method=f"HTTP GET {NETWORK_INTERFACES}" if mac else None,
        )

    @property
    def calls(self) -> DeviceCalls:
        """Every distinct call sent to the device (`nvr_adapters.device_calls`)."""
        return self._http.calls

    async def _mac(self) -> str | None:
        """The first interface's `<Link><MACAddress>` of `GET /ISAPI/System/Network/interfaces`
        (a NetworkInterfaceList; rajlful/hik settings.py holds a captured NetworkInterface with
        `<Link><MACAddress>44:19:b7:11:d6:fb</MACAddress>…</Link>`); None when the device
        refuses the call or names no address: the MAC is a record field, never a reason to
        fail the probe."""
        try:
            answer = await self._http.request("GET", NETWORK_INTERFACES)
        except NvrAuthFailed:  # a user allowed to play back but not to read the config
            return None
        if answer.status_code >= 300 or not answer.text.lstrip().startswith("<"):
            return None
        try:
            root = ET.fromstring(answer.text)
        except ET.ParseError:
            return None
        for link in _all(root, "Link"):
            mac = device_mac(_field(link, "MACAddress"))
            if mac is not None:
                return mac
        return None

    async def _clock_offset(self) -> tuple[ClockOffset, tuple[str, ...]]:
        answers: list[ET.Element] = []

        async def ask() -> datetime:
            answers.append(await self._isapi("GET", "/ISAPI/System/time"))
            return self._local_time(answers[-1])

        offset = await measure_offset(self._clock, ask, "isapi-time")
        return offset, self._zone_warnings(answers[-1], offset)

    def _local_time(self, answer: ET.Element) -> datetime:
        """`<localTime>` carries its offset; without one it is read in the device's `<timeZone>`."""
        text = _field(answer, "localTime")
        device_zone = posix_zone(_field(answer, "timeZone"), dst_is_bias=True)
        return _isapi_time(text, UTC, device_zone or self.zone)

    def _zone_warnings(self, answer: ET.Element, clock: ClockOffset) -> tuple[str, ...]:
        """A warning when the device's `<timeZone>` (POSIX: `CST-7:00:00` is UTC+7) is not
        the configured zone at the device's present moment: its local times mean other hours."""
        stated = " ".join(_field(answer, "timeZone").split())
        device_zone = posix_zone(stated, dst_is_bias=True)
        now = clock.measured_at + timedelta(seconds=clock.seconds)
        if device_zone is None:
            return (
                (f"the device's time zone {stated!r} is not a POSIX TZ string",) if stated else ()
            )
        theirs = now.astimezone(device_zone).utcoffset()
        ours = now.astimezone(self.zone).utcoffset()
        if theirs == ours:
            return ()
        return (
            f"the device's time zone {stated!r} ({utc_offset_text(theirs)}) differs from the "
            f"configured {self.zone.key} ({utc_offset_text(ours)})",
        )

    async def search(self, camera: CameraRef, window: TimeWindow) -> Coverage:
        """List the recorded spans of the camera's main track over the window."""
        track = _track(camera)
        items = await self._matches(track, window)
        files = [(span, _uri_size(item)) for item in items if (span := self._footage(item, track))]
        spans = [span for span, _ in files]
        return Coverage(window, clip_spans(spans, window), prorated_bytes(files, window))

    async def _matches(self, track: int, window: TimeWindow) -> list[ET.Element]:
        """Every match of the window, page after page while the device answers `MORE`."""
        seen: dict[tuple[str, str, str], ET.Element] = {}
        search_id, start, position = _search_id(), window.start, 0
        for _ in range(MAX_PAGES):
            answer = await self._page(search_id, track, start, window.end, position)
            page = _all(answer, "searchMatchItem")
            fresh = {_key(item): item for item in page if _key(item) not in seen}
            seen.update(fresh)
            if _field(answer, "responseStatusStrg").upper() != "MORE" or not page:
                return list(seen.values())
            if fresh:
                position += len(page)
                continue
            # The same page again: the device ignored the position. Search on from the last
            # match's start instead, as HikLoad pages (duplicates are dropped above).
            start, search_id, position = self._restart(page[-1], start), _search_id(), 0
            if start >= window.end:
                return list(seen.values())
        raise ReplayError(f"{self.host}: the ISAPI search never stopped answering MORE")

    def _restart(self, last: ET.Element, start: datetime) -> datetime:
        note = f"{self.host} ignored searchResultPostion; the search was paged by start time"
        if note not in self.notes:
            self.notes.append(note)
        return max(start + timedelta(seconds=1), self._time(_field(last, "startTime")))

    async def _page(
        self, search_id: str, track: int, start: datetime, end: datetime, position: int
    ) -> ET.Element:
        body = _search_body(search_id, track, self._wire(start, end), position)
        return await self._isapi("POST", SEARCH, content=body)

    async def _isapi(self, method: str, path: str, **kwargs: Any) -> ET.Element:
        """A successful answer's XML; a refusal raises with the ResponseStatus the device gave
        (`Invalid Operation (methodNotAllowed)` and the like), which says why."""
        answer = await self._http.request(method, path, **kwargs)
        if answer.status_code < 300:
            return _xml(answer.text)
        reason = ""
        if answer.text.lstrip().startswith("<"):
            status = _xml(answer.text)
            reason = f": {_field(status, 'statusString')} ({_field(status, 'subStatusCode')})"
        raise ReplayError(f"{self._http.origin} answered {answer.status_code} to {path}{reason}")

    def _wire(self, start: datetime, end: datetime) -> tuple[str, str]:
        """Whole seconds covering [start, end], as ISAPI writes them (`…Z`, see `wire_zone`)."""
        first = floor_second(start).astimezone(self.wire_zone)
        last = ceil_second(end).astimezone(self.wire_zone)
        return f"{first:%Y-%m-%dT%H:%M:%SZ}", f"{last:%Y-%m-%dT%H:%M:%SZ}"

    def _footage(self, item: ET.Element, track: int) -> Span | None:
        """The span of footage a match names; None for what is not the track's video."""
        listed = _field(item, "trackID")
        kind = {_field(item, "contentType").lower(), _field(item, "codecType").lower()}
        if (listed and listed != str(track)) or kind & PICTURES:
            log.debug("%s: match of track %s (%s) is not track %d's video", self.host, listed,
                      "/".join(sorted(kind - {""})), track)  # fmt: skip
            return None
        start, end = self._time(_field(item, "startTime")), self._time(_field(item, "endTime"))
        if end > start:
            return Span(start, end)
        return self._instant(item, start)

    def _instant(self, item: ET.Element, moment: datetime) -> Span | None:
        """A match whose timeSpan starts and ends at the same second.

        Its playbackURI still names the file's own range and size (evercam/hikvision_client's
        captured answer: timeSpan 07:22:14-07:22:14, URI 23:28:46-00:48:14 and 1 GB), so the
        footage is the URI's span. Without one it is no footage: pictures are listed so
        (hikvision-download-assistant: track 103 photos, starttime == endtime and a size), and so
        is a file that only touches the window's edge. Not stretched to the next match: nothing
        the device listed would stand for those seconds."""
        span = self._uri_span(_field(item, "playbackURI"))
        if span is not None:
            log.debug("%s: match at %s has an empty timeSpan; its playbackURI names %s to %s",
                      self.host, moment, span.start, span.end)  # fmt: skip
            return span
        log.debug("%s: match at %s spans no time and names none: not footage", self.host, moment)
        return None

    def _uri_span(self, uri: str) -> Span | None:
        query = parse_qs(urlsplit(uri.strip()).query)
        texts = [query.get(name, [""])[0].strip() for name in ("starttime", "endtime")]
        try:
            start, end = (_uri_time(text, self.wire_zone) for text in texts)
        except ValueError:
            return None
        return Span(start, end) if end > start else None

    def _time(self, text: str) -> datetime:
        return _isapi_time(text, self.wire_zone, self.zone)

    async def oldest_recording(self, camera: CameraRef, since: datetime) -> datetime | None:
        """The first match of a search from `since` to now (devices list matches oldest first)."""
        track = _track(camera)
        end = max(self._clock(), since) + AHEAD
        answer = await self._page(_search_id(), track, since, end, 0)
        spans = [s for i in _all(answer, "searchMatchItem") if (s := self._footage(i, track))]
        return max(min(s.start for s in spans), since) if spans else None

    async def fetch(self, camera: CameraRef, window: TimeWindow, sink: AccessUnitSink) -> None:
        """Play the window back over RTSP into the sink."""
        url = self.playback_url(camera, window)
        target = ReplayTarget(url, self.username, self._password, window, onvif=False)
        self.calls.note(f"RTSP {urlsplit(url).path}")
        self.last_fetch = await replay_fetch(target, sink)

    async def download(self, camera: CameraRef, window: TimeWindow, sink: ByteSink) -> None:
        """Download the window as the device's own MPEG-PS file (ISAPI), at link speed."""
        await isapi_download(self._http, self.playback_url(camera, window), sink)

    def playback_url(self, camera: CameraRef, window: TimeWindow) -> str:
        """The RTSP playback address of the window (whole seconds that cover it)."""
        start, end = floor_second(window.start), ceil_second(window.end)
        query = f"starttime={self._stamp(start)}&endtime={self._stamp(end)}"
        return f"rtsp://{self.host}:{self.rtsp_port}/Streaming/tracks/{_track(camera)}?{query}"

    def _stamp(self, moment: datetime) -> str:
        return moment.astimezone(self.wire_zone).strftime("%Y%m%dT%H%M%SZ")

    async def aclose(self) -> None:
        await self._http.aclose()


def _track(camera: CameraRef) -> int:
    return channel_number(camera.channel) * 100 + 1


def _search_id() -> str:
    return str(uuid.uuid4()).upper()


def _search_body(search_id: str, track: int, span: tuple[str, str], position: int) -> str:
    """A CMSearchDescription. The position goes under both spellings: the ISAPI guide's sample
    and qb60/hikvision-downloader write `searchResultPostion` [sic], hikvision-download-assistant
    and evercam/hikvision_client `searchResultPosition`; devices ignore the one they lack."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<CMSearchDescription xmlns="{ISAPI_NS}">'
        f"<searchID>{escape(search_id)}</searchID><trackIDList><trackID>{track}</trackID>"
        f"</trackIDList><timeSpanList><timeSpan><startTime>{span[0]}</startTime>"
        f"<endTime>{span[1]}</endTime></timeSpan></timeSpanList>"
        f"<maxResults>{PAGE_SIZE}</maxResults><searchResultPostion>{position}"
        f"</searchResultPostion><searchResultPosition>{position}</searchResultPosition>"
        "<metadataList><metadataDescriptor>//recordType.meta.std-cgi.com</metadataDescriptor>"
        "</metadataList></CMSearchDescription>"
    )


def _uri_size(item: ET.Element) -> int | None:
    """The file size a match's playbackURI names (`…&name=…&size=…`: hikvision-download-
    assistant's README, evercam/hikvision_client's capture); None where it names none."""
    query = parse_qs(urlsplit(_field(item, "playbackURI").strip()).query)
    size = query.get("size", [""])[0].strip()
    return int(size) if size.isdigit() else None


def _key(item: ET.Element) -> tuple[str, str, str]:
    return (_field(item, "startTime"), _field(item, "endTime"), _field(item, "playbackURI"))


def _isapi_time(text: str, wire_zone: tzinfo, device_zone: tzinfo) -> datetime:
    """An ISAPI time: `…Z` in `wire_zone`, an explicit offset as written, none in the device's."""
    stripped = text.strip()
    try:
        moment = datetime.fromisoformat(stripped.rstrip("Zz"))
    except ValueError:
        raise ReplayError(f"the device sent a time that is not ISO 8601: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=wire_zone if stripped[-1:] in "Zz" else device_zone)
    return moment.astimezone(UTC)


def _uri_time(text: str, wire_zone: tzinfo) -> datetime:
    """A playbackURI's `starttime`, in any of the forms devices write; ValueError if none."""
    for form in URI_TIMES:
        try:
            return datetime.strptime(text, form).replace(tzinfo=wire_zone).astimezone(UTC)
        except ValueError:
            continue
    raise ValueError(text)


def _xml(text: str) -> ET.Element:
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise ReplayError(f"the device answered with malformed XML: {exc}") from exc


def _all(root: ET.Element, name: str) -> list[ET.Element]:
    return [node for node in root.iter() if _local(node.tag) == name]


def _field(root: ET.Element, name: str) -> str:
    """The text of the first element of that local name (namespaces vary between firmwares:
    hikvision.com ver10/ver20, isapi.org, std-cgi.com, urn:psialliance-org or none)."""
    found = _all(root, name)
    return (found[0].text or "").strip() if found else ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


__all__ = ["HikvisionAdapter"]
