"""Hikvision NVRs over ISAPI (HTTP Digest) and their RTSP playback URLs.

Channels are camera numbers ("1", "2", …); the main-stream track of camera N is `N01`.
Windows and spans are on the device's own timeline, the times its recordings carry; the caller
converts with the `ClockOffset` that `probe()` measured. ISAPI search times are UTC. Playback
URLs carry `…Z` times that mean UTC, except on firmware that reads them as the device's local
time: `z_is_local=True` writes local wall-clock digits there for such a device.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET  # noqa: N817 - parses the configured device's answers
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from nvr_adapters._common import (
    Clock,
    DeviceHttp,
    ceil_second,
    channel_number,
    clip_spans,
    floor_second,
    offset_from,
    read_clock,
    utc_now,
)
from nvr_adapters.download import ByteSink, isapi_download
from nvr_adapters.errors import ReplayError
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

ISAPI_NS = "http://www.hikvision.com/ver20/XMLSchema"
PAGE_SIZE = 40
AHEAD = timedelta(days=1)  # a device clock ahead of ours still has its newest files found
MAX_PAGES = 500  # 20,000 matches: far more than one window holds; stops a device that loops


class HikvisionAdapter:
    """One Hikvision NVR: ISAPI for what it is and holds, RTSP playback for the footage."""

    def __init__(
        self, host: str, http_port: int, rtsp_port: int, username: str, password: str,
        timezone: str, z_is_local: bool = False, *, clock: Clock = utc_now,
    ) -> None:  # fmt: skip
        self.host, self.rtsp_port = host, rtsp_port
        self.username, self._password = username, password
        self.zone = ZoneInfo(timezone)
        self.z_is_local = z_is_local
        self._clock = clock
        self._http = DeviceHttp(host, http_port, username, password)
        self.last_fetch: FetchStats | None = None
        self.download_format: NativeFormat = "mpeg-ps"

    async def probe(self) -> DeviceInfo:
        """Read deviceInfo, then measure the device clock against ours."""
        info = _xml(await self._http.text("GET", "/ISAPI/System/deviceInfo"))
        return DeviceInfo(
            make=_field(info, "manufacturer") or "Hikvision",
            model=_field(info, "model"),
            firmware=_field(info, "firmwareVersion"),
            serial=_field(info, "serialNumber"),
            clock=await self._clock_offset(),
        )

    async def _clock_offset(self) -> ClockOffset:
        async def ask() -> datetime:
            answer = _xml(await self._http.text("GET", "/ISAPI/System/time"))
            return _device_time(_field(answer, "localTime"), self.zone)

        return offset_from(await read_clock(self._clock, ask), "isapi-time")

    async def search(self, camera: CameraRef, window: TimeWindow) -> Coverage:
        """List the recorded spans of the camera's main track over the window."""
        track = _track(camera)
        search_id, spans, position = str(uuid.uuid4()).upper(), [], 0
        for _ in range(MAX_PAGES):
            body = _search_body(search_id, track, window, position)
            answer = _xml(await self._http.text("POST", "/ISAPI/ContentMgmt/search", content=body))
            page = [_match_span(item, self.zone) for item in _all(answer, "searchMatchItem")]
            spans += page
            position += len(page)
            if _field(answer, "responseStatusStrg").upper() != "MORE" or not page:
                return Coverage(window, clip_spans(spans, window))
        raise ReplayError(f"{self.host}: the ISAPI search never stopped answering MORE")

    async def oldest_recording(self, camera: CameraRef, since: datetime) -> datetime | None:
        """The first match of a search from `since` to now (devices list matches oldest first)."""
        window = TimeWindow(since, max(self._clock(), since) + AHEAD)
        body = _search_body(str(uuid.uuid4()).upper(), _track(camera), window, 0)
        answer = _xml(await self._http.text("POST", "/ISAPI/ContentMgmt/search", content=body))
        starts = [_match_span(item, self.zone).start for item in _all(answer, "searchMatchItem")]
        return max(min(starts), since) if starts else None

    async def fetch(self, camera: CameraRef, window: TimeWindow, sink: AccessUnitSink) -> None:
        """Play the window back over RTSP into the sink."""
        url = self.playback_url(camera, window)
        target = ReplayTarget(url, self.username, self._password, window, onvif=False)
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
        zone = self.zone if self.z_is_local else UTC
        return moment.astimezone(zone).strftime("%Y%m%dT%H%M%SZ")

    async def aclose(self) -> None:
        await self._http.aclose()


def _track(camera: CameraRef) -> int:
    return channel_number(camera.channel) * 100 + 1


def _search_body(search_id: str, track: int, window: TimeWindow, position: int) -> str:
    start, end = floor_second(window.start), ceil_second(window.end)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<CMSearchDescription xmlns="{ISAPI_NS}">'
        f"<searchID>{escape(search_id)}</searchID><trackIDList><trackID>{track}</trackID>"
        f"</trackIDList><timeSpanList><timeSpan><startTime>{_utc(start)}</startTime>"
        f"<endTime>{_utc(end)}</endTime></timeSpan></timeSpanList>"
        f"<maxResults>{PAGE_SIZE}</maxResults><searchResultPostion>{position}"
        "</searchResultPostion><metadataList><metadataDescriptor>"
        "//recordType.meta.std-cgi.com</metadataDescriptor></metadataList>"
        "</CMSearchDescription>"
    )


def _match_span(item: ET.Element, zone: ZoneInfo) -> Span:
    return Span(
        _device_time(_field(item, "startTime"), zone), _device_time(_field(item, "endTime"), zone)
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _device_time(text: str, zone: ZoneInfo) -> datetime:
    """An ISAPI time: with `Z` or an offset as written, without one in the device's zone."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ReplayError(f"the device sent a time that is not ISO 8601: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _xml(text: str) -> ET.Element:
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise ReplayError(f"the device answered with malformed XML: {exc}") from exc


def _all(root: ET.Element, name: str) -> list[ET.Element]:
    return [node for node in root.iter() if _local(node.tag) == name]


def _field(root: ET.Element, name: str) -> str:
    """The text of the first element of that local name (namespaces vary between firmwares)."""
    found = _all(root, name)
    return (found[0].text or "").strip() if found else ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


__all__ = ["HikvisionAdapter"]
