"""The NVR's one HTTP port: ONVIF SOAP, Hikvision ISAPI and the Dahua CGI, as on a real NVR."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET  # noqa: N817 - parses our own loopback clients
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from aiohttp import web

from nvr_sim._onvif import OnvifDevice
from nvr_sim.archive import Archive
from nvr_sim.config import CameraConfig
from nvr_sim.rtsp_protocol import Authenticator, Request

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ISAPI_NS = "http://www.hikvision.com/ver20/XMLSchema"
XML = "application/xml; charset=utf-8"


class HttpServer:
    """aiohttp on one port; SOAP checks WS-UsernameToken, ISAPI and CGI check HTTP Digest."""

    def __init__(self, archive: Archive, host: str, port: int) -> None:
        self.archive = archive
        self.host, self.port = host, port
        self.rtsp_port = 0
        self.onvif = OnvifDevice(archive, self._bases)
        self.auth = Authenticator(archive.config.username, archive.config.password)
        self._finds: dict[int, list[tuple[int, datetime, datetime]]] = {}
        self._ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None

    def _bases(self) -> tuple[str, str]:
        return f"http://{self.host}:{self.port}", f"rtsp://{self.host}:{self.rtsp_port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/onvif/{service}", self._soap)
        app.router.add_get("/ISAPI/System/time", self._guard(self._isapi_time))
        app.router.add_get("/ISAPI/System/deviceInfo", self._guard(self._isapi_device_info))
        app.router.add_post("/ISAPI/ContentMgmt/search", self._guard(self._isapi_search))
        app.router.add_get("/cgi-bin/mediaFileFind.cgi", self._guard(self._dahua_find))
        app.router.add_get("/cgi-bin/magicBox.cgi", self._guard(self._dahua_magic_box))
        app.router.add_get("/cgi-bin/global.cgi", self._guard(self._dahua_global))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # aiohttp exposes the bound (possibly ephemeral) port only through the runner.
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _soap(self, request: web.Request) -> web.Response:
        status, body = self.onvif.handle(await request.read())
        return web.Response(status=status, text=body, content_type="application/soap+xml")

    def _guard(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            probe = Request(request.method, request.path_qs,
                            {k.lower(): v for k, v in request.headers.items()}, b"")  # fmt: skip
            if not self.auth.check(probe):
                return web.Response(status=401, headers=self.auth.challenge())
            return await handler(request)

        return guarded

    # Hikvision ISAPI ----------------------------------------------------------------------

    async def _isapi_time(self, _request: web.Request) -> web.Response:
        zone = ZoneInfo(self.archive.config.timezone)
        local = self.archive.now().astimezone(zone).isoformat(timespec="seconds")
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Time version="2.0" xmlns="{ISAPI_NS}">'
            f"<timeMode>manual</timeMode><localTime>{local}</localTime>"
            "<timeZone>CST-7:00:00</timeZone></Time>"
        )
        return web.Response(text=body, content_type="application/xml")

    async def _isapi_device_info(self, _request: web.Request) -> web.Response:
        c = self.archive.config
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<DeviceInfo version="2.0" xmlns="{ISAPI_NS}">'
            f"<deviceName>{escape(c.model)}</deviceName><deviceID>{escape(c.serial)}</deviceID>"
            f"<model>{escape(c.model)}</model><serialNumber>{escape(c.serial)}</serialNumber>"
            f"<firmwareVersion>{escape(c.firmware)}</firmwareVersion>"
            f"<deviceType>NVR</deviceType><manufacturer>{escape(c.make)}</manufacturer>"
            "</DeviceInfo>"
        )
        return web.Response(text=body, content_type="application/xml")

    async def _isapi_search(self, request: web.Request) -> web.Response:
        root = ET.fromstring(await request.read())
        ns = {"h": root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""}
        search_id = root.findtext("h:searchID", "", ns)
        track = int(root.findtext(".//h:trackID", "101", ns))
        start = _isapi_time(root.findtext(".//h:timeSpan/h:startTime", "", ns))
        end = _isapi_time(root.findtext(".//h:timeSpan/h:endTime", "", ns))
        maximum = int(root.findtext("h:maxResults", "40", ns))
        offset = int(root.findtext("h:searchResultPostion", "0", ns))
        camera = self.archive.config.camera(track // 100)
        spans = self.archive.spans(camera, start, end)
        page = spans[offset : offset + maximum]
        more = offset + len(page) < len(spans)
        items = "".join(self._isapi_item(track, camera, s.start, s.end) for s in page)
        status = "MORE" if more else ("OK" if page else "NO MATCHES")
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<CMSearchResult version="2.0" '
            f'xmlns="{ISAPI_NS}"><searchID>{escape(search_id)}</searchID>'
            f"<responseStatus>true</responseStatus><responseStatusStrg>{status}"
            f"</responseStatusStrg><numOfMatches>{len(page)}</numOfMatches>"
            f"<matchList>{items}</matchList></CMSearchResult>"
        )
        return web.Response(text=body, content_type="application/xml")

    def _isapi_item(self, track: int, camera: CameraConfig, start: datetime, end: datetime) -> str:
        begin, finish = _hik_stamp(start), _hik_stamp(end)
        uri = (f"rtsp://{self.host}:{self.rtsp_port}/Streaming/tracks/{track}"
               f"?starttime={begin}&amp;endtime={finish}")  # fmt: skip
        return (
            f"<searchMatchItem><trackID>{track}</trackID><timeSpan><startTime>"
            f"{_iso(start)}</startTime><endTime>{_iso(end)}</endTime></timeSpan>"
            f"<mediaSegmentDescriptor><contentType>video</contentType><codecType>"
            f"{camera.codec_label}</codecType><playbackURI>{uri}</playbackURI>"
            "</mediaSegmentDescriptor>"
            "</searchMatchItem>"
        )

    # Dahua CGI ----------------------------------------------------------------------------

    async def _dahua_magic_box(self, request: web.Request) -> web.Response:
        c = self.archive.config
        answers = {
            "getSystemInfo": f"deviceType={c.model}\r\nhardwareVersion=1.00\r\n"
            f"processor=SIM\r\nserialNumber={c.serial}\r\nupdateSerial={c.model}\r\n",
            "getSoftwareVersion": f"version={c.firmware},build:2026-11-01\r\n",
            "getDeviceType": f"type={c.model}\r\n",
            "getVendor": f"vendor={c.make}\r\n",
            "getSerialNo": f"sn={c.serial}\r\n",
        }
        answer = answers.get(request.query.get("action", ""))
        return _text(answer) if answer else _text("Error\r\nBad Request!\r\n", 400)

    async def _dahua_global(self, request: web.Request) -> web.Response:
        if request.query.get("action") != "getCurrentTime":
            return _text("Error\r\nBad Request!\r\n", 400)
        local = self.archive.now().astimezone(ZoneInfo(self.archive.config.timezone))
        return _text(f"result={local:%Y-%m-%d %H:%M:%S}\r\n")

    async def _dahua_find(self, request: web.Request) -> web.Response:
        query = request.query
        action = query.get("action", "")
        if action == "factory.create":
            object_id = next(self._ids)
            self._finds[object_id] = []
            return _text(f"result={object_id}\r\n")
        object_id = int(query.get("object", "0"))
        if object_id not in self._finds:
            return _text("Error\r\nBad Request!\r\n", 400)
        if action == "findFile":
            self._finds[object_id] = self._dahua_files(query)
            return _text("OK\r\n")
        if action == "findNextFile":
            count = int(query.get("count", "100"))
            batch = self._finds[object_id][:count]
            self._finds[object_id] = self._finds[object_id][count:]
            return _text(self._dahua_items(batch))
        if action == "close":
            del self._finds[object_id]
            return _text("OK\r\n")
        return _text("Error\r\nBad Request!\r\n", 400)

    def _dahua_files(self, query: Mapping[str, str]) -> list[tuple[int, datetime, datetime]]:
        zone = ZoneInfo(self.archive.config.timezone)
        channel = int(query.get("condition.Channel", "1"))
        start = _dahua_time(query.get("condition.StartTime", ""), zone)
        end = _dahua_time(query.get("condition.EndTime", ""), zone)
        camera = self.archive.config.camera(channel)
        return [(channel, s.start, s.end) for s in self.archive.spans(camera, start, end)]

    def _dahua_items(self, batch: list[tuple[int, datetime, datetime]]) -> str:
        zone = ZoneInfo(self.archive.config.timezone)
        lines = [f"found={len(batch)}"]
        for i, (channel, start, end) in enumerate(batch):
            local_start = start.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
            local_end = end.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
            lines += [f"items[{i}].Channel={channel}", f"items[{i}].StartTime={local_start}",
                      f"items[{i}].EndTime={local_end}", f"items[{i}].Type=dav",
                      f"items[{i}].VideoStream=Main"]  # fmt: skip
        return "\r\n".join(lines) + "\r\n"


def _text(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/plain")


def _isapi_time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hik_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _dahua_time(text: str, zone: ZoneInfo) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone).astimezone(UTC)
