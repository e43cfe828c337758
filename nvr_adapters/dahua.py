"""Dahua NVRs over their HTTP CGI (HTTP Digest) and the `/cam/playback` RTSP URL.

Channels are camera numbers ("1", "2", …) as the CGI counts them. Dahua speaks the device's local
wall-clock time everywhere (search conditions, results, playback URLs), so the adapter converts
with the NVR's configured time zone. Windows and spans are on the device's own timeline; the
caller converts with the `ClockOffset` that `probe()` measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
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
from nvr_adapters.download import ByteSink, dahua_download
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

FIND = "/cgi-bin/mediaFileFind.cgi"
MAGIC_BOX = "/cgi-bin/magicBox.cgi"
BATCH = 100
MAX_BATCHES = 200  # 20,000 files: far more than one window holds; stops a device that loops
LOCAL = "%Y-%m-%d %H:%M:%S"


class DahuaAdapter:
    """One Dahua NVR: CGI for what it is and holds, RTSP playback for the footage."""

    def __init__(
        self, host: str, http_port: int, rtsp_port: int, username: str, password: str,
        timezone: str, *, clock: Clock = utc_now,
    ) -> None:  # fmt: skip
        self.host, self.rtsp_port = host, rtsp_port
        self.username, self._password = username, password
        self.zone = ZoneInfo(timezone)
        self._clock = clock
        self._http = DeviceHttp(host, http_port, username, password)
        self.last_fetch: FetchStats | None = None
        self.download_format: NativeFormat = "dav"

    async def probe(self) -> DeviceInfo:
        """Read the system info, software version and vendor, then measure the clock."""
        info = await self._magic_box("getSystemInfo")
        version = (await self._magic_box("getSoftwareVersion")).get("version", "")
        vendor = await self._http.request("GET", MAGIC_BOX, params={"action": "getVendor"})
        make = _fields(vendor.text).get("vendor", "") if vendor.status_code == 200 else ""
        return DeviceInfo(
            make=make or "Dahua",
            model=info.get("deviceType", ""),
            firmware=version.split(",", 1)[0],
            serial=info.get("serialNumber", ""),
            clock=await self._clock_offset(),
        )

    async def _magic_box(self, action: str) -> dict[str, str]:
        return _fields(await self._http.text("GET", MAGIC_BOX, params={"action": action}))

    async def _clock_offset(self) -> ClockOffset:
        async def ask() -> datetime:
            params = {"action": "getCurrentTime"}
            answer = _fields(await self._http.text("GET", "/cgi-bin/global.cgi", params=params))
            return self._from_local(answer.get("result", ""))

        return offset_from(await read_clock(self._clock, ask), "dahua-getCurrentTime")

    async def search(self, camera: CameraRef, window: TimeWindow) -> Coverage:
        """List the recorded files of the camera over the window; the finder is always closed."""
        channel = channel_number(camera.channel)
        created = _fields(await self._find({"action": "factory.create"}))
        finder = created.get("result", "")
        if not finder:
            raise ReplayError(f"{self.host}: mediaFileFind factory.create gave no object id")
        try:
            return Coverage(window, clip_spans(await self._files(finder, channel, window), window))
        finally:
            await self._find({"action": "close", "object": finder})

    async def _files(
        self, finder: str, channel: int, window: TimeWindow, first: bool = False
    ) -> list[Span]:
        condition = {
            "action": "findFile", "object": finder, "condition.Channel": str(channel),
            "condition.StartTime": self._local(floor_second(window.start)),
            "condition.EndTime": self._local(ceil_second(window.end)),
        }  # fmt: skip
        found = await self._http.request("GET", FIND, params=condition)
        if found.status_code == 400:
            return []  # Dahua answers "Error" to a findFile that matches nothing
        spans: list[Span] = []
        for _ in range(MAX_BATCHES):
            batch = _items(await self._find({"action": "findNextFile", "object": finder,
                                             "count": "1" if first else str(BATCH)}))  # fmt: skip
            if not batch:
                return spans
            if first:
                return [Span(self._from_local(i["StartTime"]), self._from_local(i["EndTime"]))
                        for i in batch]  # fmt: skip
            spans += [Span(self._from_local(i["StartTime"]), self._from_local(i["EndTime"]))
                      for i in batch]  # fmt: skip
        raise ReplayError(f"{self.host}: findNextFile never ran out of files")

    async def oldest_recording(self, camera: CameraRef, since: datetime) -> datetime | None:
        """The first file a find from `since` to now returns (Dahua lists files oldest first)."""
        window = TimeWindow(since, max(self._clock(), since) + timedelta(days=1))
        created = _fields(await self._find({"action": "factory.create"}))
        finder = created.get("result", "")
        if not finder:
            raise ReplayError(f"{self.host}: mediaFileFind factory.create gave no object id")
        try:
            spans = await self._files(finder, channel_number(camera.channel), window, first=True)
        finally:
            await self._find({"action": "close", "object": finder})
        return max(min(s.start for s in spans), since) if spans else None

    async def _find(self, params: Mapping[str, str]) -> str:
        return await self._http.text("GET", FIND, params=params)

    async def fetch(self, camera: CameraRef, window: TimeWindow, sink: AccessUnitSink) -> None:
        """Play the window back over RTSP into the sink."""
        url = self.playback_url(camera, window)
        target = ReplayTarget(url, self.username, self._password, window, onvif=False)
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
