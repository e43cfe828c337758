"""The NVR's one HTTP port: ONVIF SOAP, Hikvision ISAPI and the Dahua CGI (their downloads in
`_download`), as on a real NVR."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET  # noqa: N817 - parses our own loopback clients
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from aiohttp import web

from nvr_sim._download import Downloads, dahua_time, dav_path, hik_name
from nvr_sim._onvif import OnvifDevice
from nvr_sim.archive import Archive
from nvr_sim.config import CameraConfig
from nvr_sim.link import Link, Sessions
from nvr_sim.rtsp_protocol import Authenticator, Request

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ISAPI_NS = "http://www.hikvision.com/ver20/XMLSchema"
XML = "application/xml; charset=utf-8"
# A Dahua file found: its channel, the segment it is, and its span within the search.
Found = tuple[int, datetime, datetime, datetime]


class HttpServer:
    """aiohttp on one port; SOAP checks WS-UsernameToken, ISAPI and CGI check HTTP Digest."""

    def __init__(
        self, archive: Archive, host: str, port: int, *, link: Link | None = None,
        sessions: Sessions | None = None,
    ) -> None:  # fmt: skip
        self.archive = archive
        self.host, self.port = host, port
        self.rtsp_port = 0
        self.onvif = OnvifDevice(archive, self._bases)
        self.auth = Authenticator(archive.config.username, archive.config.password)
        self.downloads = Downloads(archive, link or Link(None), sessions or Sessions(None))
        self._finds: dict[int, list[Found]] = {}
        self._ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None

    def _bases(self) -> tuple[str, str]:
        return f"http://{self.host}:{self.port}", f"rtsp://{self.host}:{self.rtsp_port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/onvif/{service}", self._soap)
        app.router.add_get("/ISAPI/System/time", self._guard(self._isapi_time))
        app.router.add_get("/ISAPI/System/deviceInfo", self._guard(self._isapi_device_info))
        app.router.add_get("/ISAPI/System/Network/interfaces", self._guard(self._isapi_network))
        app.router.add_get("/cgi-bin/configManager.cgi", self._guard(self._dahua_config))
        app.router.add_post("/ISAPI/ContentMgmt/search", self._guard(self._isapi_search))
        app.router.add_get("/cgi-bin/mediaFileFind.cgi", self._guard(self._dahua_find))
        app.router.add_get("/cgi-bin/magicBox.cgi", self._guard(self._dahua_magic_box))
        app.router.add_get("/cgi-bin/global.cgi", self._guard(self._dahua_global))
        self._add_downloads(app)
        # A download in progress when the device stops is cut, not waited for (60 s default).
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # aiohttp exposes the bound (possibly ephemeral) port only through the runner.
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _add_downloads(self, app: web.Application) -> None:
        """The downloads the profile offers; the others are unknown paths, answered 404 as
        devices answer a resource they lack (maciej-or/hikvision_next#196)."""
        offered, downloads = self.archive.config.downloads, self.downloads
        if "isapi" in offered:
            for method in ("GET", "POST"):
                app.router.add_route(method, "/ISAPI/ContentMgmt/download",
                                     self._guard(downloads.isapi))  # fmt: skip
        if "loadfile" in offered:
            app.router.add_get("/cgi-bin/loadfile.cgi", self._guard(downloads.loadfile))
            app.router.add_get("/cgi-bin/RPC_Loadfile/{path:.*}",
                               self._guard(downloads.rpc_loadfile))  # fmt: skip

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

    async def _isapi_network(self, _request: web.Request) -> web.Response:
        """A NetworkInterfaceList of one interface, its MAC in `<Link><MACAddress>` (the shape of
        a captured Hikvision NetworkInterface in rajlful/hik settings.py: id, IPAddress, then
        Link with MACAddress, autoNegotiation, speed, duplex, MTU). Without a MAC the device
        refuses the call as ISAPI refuses what a user may not read (403, ResponseStatus
        `Invalid Operation`/`notSupport`, the form `_download` answers with)."""
        mac = self.archive.config.mac
        if mac is None:
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<ResponseStatus version="1.0" '
                f'xmlns="{ISAPI_NS}"><requestURL>/ISAPI/System/Network/interfaces</requestURL>'
                "<statusCode>4</statusCode><statusString>Invalid Operation</statusString>"
                "<subStatusCode>notSupport</subStatusCode></ResponseStatus>"
            )
            return web.Response(status=403, text=body, content_type="application/xml")
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<NetworkInterfaceList version="2.0" '
            f'xmlns="{ISAPI_NS}"><NetworkInterface version="2.0"><id>1</id>'
            '<IPAddress version="2.0"><ipVersion>v4</ipVersion><addressingType>static'
            f"</addressingType><ipAddress>{escape(self.host)}</ipAddress><subnetMask>"
            '255.255.255.0</subnetMask></IPAddress><Link version="2.0"><MACAddress>'
            f"{escape(mac)}</MACAddress><autoNegotiation>true</autoNegotiation><speed>0"
            "</speed><duplex>full</duplex><MTU>1500</MTU></Link></NetworkInterface>"
            "</NetworkInterfaceList>"
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
        files = self.archive.files(camera, start, end)
        page = files[offset : offset + maximum]
        more = offset + len(page) < len(files)
        items = "".join(self._isapi_item(track, camera, f, start, end) for f in page)
        status = "MORE" if more else ("OK" if page else "NO MATCHES")
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<CMSearchResult version="2.0" '
            f'xmlns="{ISAPI_NS}"><searchID>{escape(search_id)}</searchID>'
            f"<responseStatus>true</responseStatus><responseStatusStrg>{status}"
            f"</responseStatusStrg><numOfMatches>{len(page)}</numOfMatches>"
            f"<matchList>{items}</matchList></CMSearchResult>"
        )
        return web.Response(text=body, content_type="application/xml")

    def _isapi_item(
        self, track: int, camera: CameraConfig, file: datetime, window_start: datetime,
        window_end: datetime,
    ) -> str:  # fmt: skip
        """One file (segment) of the search, its times within the window; `name` and `size`
        identify the whole file for a download (as the playbackURIs in
        hikvision-download-assistant's README: `…/tracks/101/?starttime=…&name=…&size=…`)."""
        start = max(file, window_start)
        end = min(file + timedelta(seconds=self.archive.config.segment_seconds), window_end)
        begin, finish = _hik_stamp(start), _hik_stamp(end)
        uri = (f"rtsp://{self.host}:{self.rtsp_port}/Streaming/tracks/{track}/"
               f"?starttime={begin}&amp;endtime={finish}&amp;"
               f"name={hik_name(camera.channel, file)}&amp;"
               f"size={self.downloads.size(camera, file, 'ps')}")  # fmt: skip
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

    async def _dahua_config(self, request: web.Request) -> web.Response:
        """configManager getConfig of the `Network` table (Dahua HTTP API §5.2.1; the fields of
        the answer tminei/DahuaManager doc/manual.md shows: DefaultInterface eth0, then per
        interface DefaultGateway, DhcpEnable, IPAddress, MTU, PhysicalAddress, SubnetMask), as
        `table.Network.…=value` lines. Anything else, and the table of a device without a MAC,
        is `Error / Bad Request!`."""
        query, mac = request.query, self.archive.config.mac
        if query.get("action") != "getConfig" or query.get("name") != "Network" or not mac:
            return _text("Error\r\nBad Request!\r\n", 400)
        lines = [
            "table.Network.DefaultInterface=eth0", "table.Network.eth0.DefaultGateway=192.168.1.1",
            "table.Network.eth0.DhcpEnable=false", f"table.Network.eth0.IPAddress={self.host}",
            "table.Network.eth0.MTU=1500", f"table.Network.eth0.PhysicalAddress={mac}",
            "table.Network.eth0.SubnetMask=255.255.255.0",
        ]  # fmt: skip
        return _text("\r\n".join(lines) + "\r\n")

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

    def _dahua_files(self, query: Mapping[str, str]) -> list[Found]:
        zone = ZoneInfo(self.archive.config.timezone)
        channel = int(query.get("condition.Channel", "1"))
        start = dahua_time(query.get("condition.StartTime", ""), zone)
        end = dahua_time(query.get("condition.EndTime", ""), zone)
        camera = self.archive.config.camera(channel)
        step = timedelta(seconds=self.archive.config.segment_seconds)
        return [(channel, f, max(f, start), min(f + step, end))
                for f in self.archive.files(camera, start, end)]  # fmt: skip

    def _dahua_items(self, batch: list[Found]) -> str:
        """The files as findNextFile lists them (fields as in the Dahua HTTP API's example and
        a device's answer quoted in nayrnet/node-dahua-api), `Channel` counted as the profile
        says, `FilePath` for RPC_Loadfile, `Length` its size in bytes."""
        config = self.archive.config
        zone = ZoneInfo(config.timezone)
        lines = [f"found={len(batch)}"]
        for i, (channel, file, start, end) in enumerate(batch):
            camera = config.camera(channel)
            motion = camera.schedule == "motion"
            path = dav_path(channel, file, config.segment_seconds, zone, motion)
            size = self.downloads.size(camera, file, "dav")
            lines += [f"items[{i}].Channel={channel - 1 + config.dahua_item_channel_base}",
                      f"items[{i}].StartTime={start.astimezone(zone):%Y-%m-%d %H:%M:%S}",
                      f"items[{i}].EndTime={end.astimezone(zone):%Y-%m-%d %H:%M:%S}",
                      f"items[{i}].Type=dav", f"items[{i}].VideoStream=Main",
                      f"items[{i}].FilePath={path}", f"items[{i}].Length={size}",
                      f"items[{i}].Flags[0]={'Event' if motion else 'Timing'}"]  # fmt: skip
        return "\r\n".join(lines) + "\r\n"


def _text(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/plain")


def _isapi_time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hik_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
