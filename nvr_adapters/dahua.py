"""Dahua NVRs over their HTTP CGI (HTTP Digest) and the `/cam/playback` RTSP URL.

Channels are camera numbers ("1", "2", …) as the CGI counts them. Dahua speaks the device's local
wall-clock time everywhere (search conditions, results, playback URLs), so the adapter converts
with the NVR's configured time zone. Windows and spans are on the device's own timeline; the
caller converts with the `ClockOffset` that `probe()` measured.

Coverage counts only what playback serves: the main stream's recordings (`Type=dav`,
`VideoStream=Main`), asked for in the find conditions and checked again on every answered file,
since some firmware ignores the conditions. docs/nvr-dialects.md has the sources.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from nvr_adapters._common import (
    Clock,
    DeviceHttp,
    ceil_second,
    channel_number,
    clip_spans,
    floor_second,
    prorated_bytes,
    utc_now,
)
from nvr_adapters.clock_probe import measure_offset
from nvr_adapters.device_calls import DeviceCalls
from nvr_adapters.download import ByteSink, dahua_download
from nvr_adapters.errors import NvrAuthFailed, NvrError, ReplayError
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
FIND = "/cgi-bin/mediaFileFind.cgi"
MAGIC_BOX = "/cgi-bin/magicBox.cgi"
CONFIG = "/cgi-bin/configManager.cgi"
BATCH = 100  # the Dahua HTTP API's maximum `count` for findNextFile
MAX_BATCHES = 200  # 20,000 files: far more than one window holds; stops a device that loops
LOCAL = "%Y-%m-%d %H:%M:%S"
Sized = tuple[Span, int | None]  # a listed file's span and its size in bytes, if given


class DahuaAdapter:
    """One Dahua NVR: CGI for what it is and holds, RTSP playback for the footage."""

    def __init__(
        self, host: str, http_port: int, rtsp_port: int, username: str, password: str,
        timezone: str, *, clock: Clock = utc_now,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        self.host, self.rtsp_port = host, rtsp_port
        self.username, self._password = username, password
        self.zone = ZoneInfo(timezone)
        self._clock = clock
        self._http = DeviceHttp(host, http_port, username, password, transport=transport)
        self.last_fetch: FetchStats | None = None
        self.download_format: NativeFormat = "dav"
        # What this device does differently, for the export's record.
        self.notes: list[str] = []

    async def probe(self) -> DeviceInfo:
        """Read the system info, software version and vendor, then measure the clock."""
        info = await self._magic_box("getSystemInfo")
        version = (await self._magic_box("getSoftwareVersion")).get("version", "")
        vendor = await self._http.request("GET", MAGIC_BOX, params={"action": "getVendor"})
        make = _fields(vendor.text).get("vendor", "") if vendor.status_code == 200 else ""
        clock = await self._clock_offset()
        mac = await self._mac()
        return DeviceInfo(
            make=make or "Dahua",
            model=_model(info),
            firmware=version.split(",", 1)[0],
            serial=info.get("serialNumber", ""),
            clock=clock,
            mac=mac,
            mac_method=f"HTTP GET {CONFIG}?action=getConfig&name=Network" if mac else None,
        )

    @property
    def calls(self) -> DeviceCalls:
        """Every distinct call sent to the device (`nvr_adapters.device_calls`)."""
        return self._http.calls

    async def _mac(self) -> str | None:
        """`table.Network.<DefaultInterface>.PhysicalAddress` (eth0 when none is named) of
        `configManager.cgi?action=getConfig&name=Network` (Dahua HTTP API §5.2.1 "basic network
        setting"; tminei/DahuaManager doc/manual.md shows a camera's answer: `DefaultInterface`
        eth0, `Domain`, `Hostname`, then per interface DefaultGateway, …, `PhysicalAddress`,
        SubnetMask; captured answers kept as other projects' test fixtures write it one
        `table.Network.eth0.PhysicalAddress=90:02:a9:11:22:33` a line). None when the device
        refuses the call (a user without config rights) or names no address."""
        params = {"action": "getConfig", "name": "Network"}
        try:
            answer = await self._http.request("GET", CONFIG, params=params)
        except NvrAuthFailed:  # a user allowed to play back but not to read the config
            return None
        if answer.status_code != 200:
            return None
        table = _fields(answer.text)
        interface = table.get("table.Network.DefaultInterface") or "eth0"
        named = table.get(f"table.Network.{interface}.PhysicalAddress")
        if named is None:  # the default interface unnamed: any interface's address
            named = next((v for k, v in table.items() if k.endswith(".PhysicalAddress")), None)
        return device_mac(named)

    async def _magic_box(self, action: str) -> dict[str, str]:
        return _fields(await self._http.text("GET", MAGIC_BOX, params={"action": action}))

    async def _clock_offset(self) -> ClockOffset:
        async def ask() -> datetime:
            params = {"action": "getCurrentTime"}
            answer = _fields(await self._http.text("GET", "/cgi-bin/global.cgi", params=params))
            return self._from_local(answer.get("result", ""))

        return await measure_offset(self._clock, ask, "dahua-getCurrentTime")

    async def search(self, camera: CameraRef, window: TimeWindow) -> Coverage:
        """List the recorded main-stream files of the camera over the window."""
        channel = channel_number(camera.channel)
        async with self._finder() as finder:
            files = await self._files(finder, channel, window)
        spans = [span for span, _ in files]
        return Coverage(window, clip_spans(spans, window), prorated_bytes(files, window))

    async def oldest_recording(self, camera: CameraRef, since: datetime) -> datetime | None:
        """The first file a find from `since` to now returns (Dahua lists files oldest first)."""
        window = TimeWindow(since, max(self._clock(), since) + timedelta(days=1))
        async with self._finder() as finder:
            files = await self._files(finder, channel_number(camera.channel), window, first=True)
        return max(min(s.start for s, _ in files), since) if files else None

    @asynccontextmanager
    async def _finder(self) -> AsyncIterator[str]:
        """A mediaFileFind object, closed and destroyed afterwards whatever happened."""
        created = _fields(await self._find({"action": "factory.create"}))
        finder = created.get("result", "")
        if not finder:
            raise ReplayError(f"{self.host}: mediaFileFind factory.create gave no object id")
        try:
            yield finder
        finally:
            await self._release(finder)

    async def _release(self, finder: str) -> None:
        """`close` ends the find, `destroy` frees the object (the Dahua HTTP API's 10.1.4/10.1.5;
        node-dahua-api sends both). A device keeps few finders: one left behind is one less."""
        for action in ("close", "destroy"):
            try:
                await self._find({"action": action, "object": finder})
            except NvrError as exc:
                log.debug("%s: mediaFileFind %s of %s: %s", self.host, action, finder, exc)

    async def _files(
        self, finder: str, channel: int, window: TimeWindow, first: bool = False
    ) -> list[Sized]:
        found = await self._http.request(
            "GET", FIND, params=self._condition(finder, channel, window)
        )
        if found.status_code == 400:
            return []  # Dahua answers "Error" to a findFile that matches nothing
        _check(found, self._http.origin)
        count = 1 if first else BATCH
        files: list[Sized] = []
        for _ in range(MAX_BATCHES):
            batch = await self._next(finder, count)
            if batch is None:
                return files
            items, short = batch
            files += self._footage(items, channel)
            if short or (first and files):
                return files
        raise ReplayError(f"{self.host}: findNextFile never ran out of files")

    def _condition(self, finder: str, channel: int, window: TimeWindow) -> dict[str, str]:
        """findFile's conditions: main-stream DAV files only, every flag (timing, event, manual:
        all of it is footage, so no `condition.Flag[0]` — which the API guide also spells
        `condition.Flags` in its description)."""
        return {
            "action": "findFile", "object": finder, "condition.Channel": str(channel),
            "condition.StartTime": self._local(floor_second(window.start)),
            "condition.EndTime": self._local(ceil_second(window.end)),
            "condition.Types[0]": "dav", "condition.VideoStream": "Main",
        }  # fmt: skip

    async def _next(self, finder: str, count: int) -> tuple[list[dict[str, str]], bool] | None:
        """One findNextFile batch and whether it was the last (fewer files than asked for);
        None when the device ends the find with `Error` (HTTP 400 on NVRs; python-amcrest reads
        an `Error` body as "no more files") instead of `found=0`."""
        params = {"action": "findNextFile", "object": finder, "count": str(count)}
        answer = await self._http.request("GET", FIND, params=params)
        ended = answer.status_code == 200 and answer.text.lstrip().startswith("Error")
        if answer.status_code == 400 or ended:
            log.debug("%s: findNextFile ended with %d %r", self.host, answer.status_code,
                      answer.text.strip()[:80])  # fmt: skip
            return None
        _check(answer, self._http.origin)
        items = _items(answer.text)
        found = _fields(answer.text).get("found", "")
        number = int(found) if found.isdigit() else len(items)
        return items, number < count or not items

    def _footage(self, items: list[dict[str, str]], channel: int) -> list[Sized]:
        """The spans and sizes (`Length`, bytes) of the batch's main-stream DAV files;
        snapshots (`Type=jpg`) and sub-stream files (`VideoStream=Extra1`) are dropped:
        playback cannot serve them as footage."""
        answered = sorted({item.get("Channel", "?") for item in items})
        if answered:
            # Devices answer `Channel=0` for the files of camera 1 (under `…/001/…`:
            # node-dahua-api's dump, python-amcrest's captures) while the API guide's example
            # asks `condition.Channel=1` for channel 1: recorded, not second-guessed.
            log.debug("%s: condition.Channel=%d answered with Channel=%s", self.host, channel,
                      ",".join(answered))  # fmt: skip
        kept = [item for item in items if _is_footage(item)]
        if len(kept) < len(items):
            log.debug("%s: %d of %d files are not main-stream DAV", self.host,
                      len(items) - len(kept), len(items))  # fmt: skip
        return [
            (Span(self._from_local(i["StartTime"]), self._from_local(i["EndTime"])), _length(i))
            for i in kept
        ]

    async def _find(self, params: Mapping[str, str]) -> str:
        return await self._http.text("GET", FIND, params=params)

    async def fetch(self, camera: CameraRef, window: TimeWindow, sink: AccessUnitSink) -> None:
        """Play the window back over RTSP into the sink."""
        url = self.playback_url(camera, window)
        target = ReplayTarget(url, self.username, self._password, window, onvif=False)
        self.calls.note(f"RTSP {urlsplit(url).path}")
        self.last_fetch = await replay_fetch(target, sink)

    async def download(self, camera: CameraRef, window: TimeWindow, sink: ByteSink) -> None:
        """Download the window as the device's own DAV file (loadfile.cgi), at link speed."""
        local = (self._local(floor_second(window.start)), self._local(ceil_second(window.end)))
        await dahua_download(self._http, channel_number(camera.channel), local, sink)

    def playback_url(self, camera: CameraRef, window: TimeWindow) -> str:
        """The RTSP playback address of the window, in device local time (whole seconds)."""
        start, end = floor_second(window.start), ceil_second(window.end)
        fmt = "%Y_%m_%d_%H_%M_%S"
        query = (
            f"channel={channel_number(camera.channel)}&subtype=0"
            f"&starttime={start.astimezone(self.zone):{fmt}}"
            f"&endtime={end.astimezone(self.zone):{fmt}}"
        )
        return f"rtsp://{self.host}:{self.rtsp_port}/cam/playback?{query}"

    def _local(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime(LOCAL)

    def _from_local(self, text: str) -> datetime:
        try:
            moment = datetime.strptime(text.strip(), LOCAL)
        except ValueError:
            raise ReplayError(f"the device sent a time not as {LOCAL}: {text!r}") from None
        return moment.replace(tzinfo=self.zone).astimezone(UTC)

    async def aclose(self) -> None:
        await self._http.aclose()


def _model(info: Mapping[str, str]) -> str:
    """getSystemInfo's `deviceType`, unless it is a number: NVRs answer `deviceType=31` with the
    model in `updateSerial` (rroller/dahua#9: NVR2X-4KS3; rroller/dahua#79: Lorex)."""
    kind = info.get("deviceType", "")
    return (info.get("updateSerial") or kind) if kind.isdigit() else kind


def _length(item: Mapping[str, str]) -> int | None:
    """A file's `Length` in bytes (the HTTP API guide's findNextFile answer), if given."""
    length = item.get("Length", "").strip()
    return int(length) if length.isdigit() else None


def _is_footage(item: Mapping[str, str]) -> bool:
    """A main-stream DAV file; firmware that omits `VideoStream` (Amcrest) records main only."""
    kind = item.get("Type", "dav").lower()
    return kind == "dav" and item.get("VideoStream", "Main").lower() == "main"


def _check(answer: httpx.Response, origin: str) -> None:
    if answer.status_code >= 300:
        raise ReplayError(f"{origin} answered {answer.status_code} to mediaFileFind")


def _fields(text: str) -> dict[str, str]:
    """`key=value` lines, as every Dahua CGI answers."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _items(text: str) -> list[dict[str, str]]:
    """The `items[i].Field=value` lines of a findNextFile answer, one dict per file."""
    items: dict[int, dict[str, str]] = {}
    for key, value in _fields(text).items():
        if key.startswith("items[") and "]." in key:
            index, _, name = key[len("items[") :].partition("].")
            items.setdefault(int(index), {})[name] = value
    return [items[i] for i in sorted(items) if {"StartTime", "EndTime"} <= items[i].keys()]


__all__ = ["DahuaAdapter"]
