"""Vendor downloads over HTTP: a recorded range or file sent as the device's native file.

Hikvision: `POST` (or `GET`) `/ISAPI/ContentMgmt/download` with a `downloadRequest` whose
`playbackURI` is a search result's (`…/Streaming/tracks/101/?starttime=…&endtime=…&name=…&
size=…`), as hikvision-download-assistant, pyHik and hikvision-nvr-ha send it; or `GET` with the
URI in the query (`?playbackURI=rtsp://…`), as other clients do. A `name` is a file of the
search result and is sent whole; without one, the `starttime`-`endtime` range is sent. The body
is MPEG-PS behind the 40-byte IMKH header (nvr_sim.native), typed `Opaque/data` as a
DS-7608NI-K2 answers it (techmarkai/hikvision-nvr-ha docs/ARCHITECTURE.md).

Dahua: `GET /cgi-bin/loadfile.cgi?action=startLoad&channel=N&startTime=…&endTime=…&subtype=0` in
device local time, and `GET /cgi-bin/RPC_Loadfile<FilePath>` for a file mediaFileFind listed
(Dahua HTTP API; tchellomello/python-amcrest media.py; nayrnet/node-dahua-api dahua.js, which
quotes the answer's `Content-Type: Application/octet-stream`). The body is DAV.

A range starts at the key frame at or before its start and ends with the last unit before its
end, as `Archive.replay` yields them. Bodies are chunked: the file is written as it is sent,
a few hundred units at a time in a worker thread, through the device's link.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from nvr_sim.archive import Archive
from nvr_sim.config import CameraConfig
from nvr_sim.footage import AccessUnit
from nvr_sim.link import Link, Sessions
from nvr_sim.native import dav_stream, ps_stream
from nvr_sim.rtsp_protocol import parse_target

# Native chunks (one per access unit) made per trip to the worker thread: a few hundred units,
# or fewer large ones, so that a download holds about a megabyte whatever the bitrate.
BATCH_UNITS, BATCH_BYTES = 200, 1 << 20
HIK_TYPE, DAV_TYPE = "Opaque/data", "Application/octet-stream"
# Hikvision file names: `ch01_` and 17 digits (hikvision-download-assistant's README shows
# `name=ch01_00000000008001213`); the simulator's digits are the file's start, epoch seconds.
HIK_NAME = re.compile(r"ch(\d{2})_(\d{17})")
# A Dahua FilePath: /mnt/dvr/sda0/<date>/<channel, 3 digits>/dav/<hour>/<start>-<end>[R]…dav,
# local time (the Dahua HTTP API's findNextFile example; node-dahua-api's device answer).
DAV_PATH = re.compile(
    r"/mnt/dvr/sda0/(\d{4}-\d{2}-\d{2})/(\d{3})/dav/\d{2}/(\d{2}\.\d{2}\.\d{2})-"
    r"\d{2}\.\d{2}\.\d{2}\[[RM]\]\[0@0\]\[0\]\.dav"
)
# Query parameters of a playbackURI that an unencoded `?playbackURI=` splits off.
URI_FIELDS = ("starttime", "endtime", "name", "size")
# A file's size before a download has counted it: the simulator's encoder makes about 1 kB per
# frame plus 0.85 bytes per thousand pixels (1.8 kB a frame at 1280×720, 1.1 kB at 320×240),
# and the native formats add about 40 bytes per unit (pack and PES headers; DHAV header and
# trailer).
FRAME_BYTES, BYTES_PER_PIXEL, CONTAINER_BYTES = 1000, 0.00085, 40

Range = tuple[CameraConfig, datetime, datetime]


@dataclass(frozen=True)
class Send:
    """What a download sends: a camera's range in a native format; `whole`: a file by name."""

    camera: CameraConfig
    start: datetime
    end: datetime
    kind: str  # "ps" (Hikvision) or "dav" (Dahua)
    whole: bool


def hik_name(channel: int, start: datetime) -> str:
    """The Hikvision file name of the segment recorded from `start` on `channel`."""
    return f"ch{channel:02d}_{int(start.timestamp()):017d}"


def dav_path(channel: int, start: datetime, seconds: int, zone: ZoneInfo, motion: bool) -> str:
    """The Dahua FilePath of a segment: its local date, channel, start and end."""
    first, last = start.astimezone(zone), (start + timedelta(seconds=seconds)).astimezone(zone)
    kind = "M" if motion else "R"  # motion-triggered or regular recording
    return (f"/mnt/dvr/sda0/{first:%Y-%m-%d}/{channel:03d}/dav/{first:%H}/"
            f"{first:%H.%M.%S}-{last:%H.%M.%S}[{kind}][0@0][0].dav")  # fmt: skip


def dahua_time(text: str, zone: ZoneInfo) -> datetime:
    """A Dahua `YYYY-MM-DD HH:MM:SS` in device local time, as UTC."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone).astimezone(UTC)


class Downloads:
    """The download endpoints, and the files' sizes that search results report."""

    def __init__(self, archive: Archive, link: Link, sessions: Sessions) -> None:
        self.archive, self.link, self.sessions = archive, link, sessions
        self.zone = ZoneInfo(archive.config.timezone)
        self._sizes: dict[tuple[int, datetime, str], int] = {}

    # The endpoints ----------------------------------------------------------------------------

    async def isapi(self, request: web.Request) -> web.StreamResponse:
        uri = await _playback_uri(request)
        found = self._hik_range(uri) if uri else None
        if found is None:
            return _isapi_status(400, 6, "Invalid Content", "badParameters")
        camera, start, end, whole = found
        return await self._send(request, Send(camera, start, end, "ps", whole))

    async def loadfile(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        try:
            if query.get("action") != "startLoad" or query.get("subtype", "0") != "0":
                raise ValueError("only startLoad of the main stream")
            camera = self.archive.config.camera(int(query.get("channel", "")))
            start = dahua_time(query.get("startTime", ""), self.zone)
            end = dahua_time(query.get("endTime", ""), self.zone)
        except (KeyError, ValueError):
            return web.Response(status=400, text="Error\r\nBad Request!\r\n")
        return await self._send(request, Send(camera, start, end, "dav", whole=False))

    async def rpc_loadfile(self, request: web.Request) -> web.StreamResponse:
        found = self._dav_file("/" + request.match_info["path"].lstrip("/"))
        if found is None:
            return web.Response(status=404, text="Error\r\nFile Not Found!\r\n")
        camera, start = found
        end = start + timedelta(seconds=self.archive.config.segment_seconds)
        return await self._send(request, Send(camera, start, end, "dav", whole=True))

    # Sizes ------------------------------------------------------------------------------------

    def size(self, camera: CameraConfig, start: datetime, kind: str) -> int:
        """A file's size in bytes for search results (`size=`, `Length`): exact once the file
        has been downloaded whole, an estimate before. Knowing it exactly up front would mean
        encoding the footage (half a minute per 720p minute) or making the native file on
        every search; a download counts its bytes for nothing."""
        return self._sizes.get((camera.channel, start, kind)) or self._estimate()

    def _estimate(self) -> int:
        """The bytes of a file at the footage's bitrate, or at what the encoder usually makes."""
        c = self.archive.config
        if c.bitrate_kbps:
            per_frame = c.bitrate_kbps * 1000 / 8 / c.fps
        else:
            per_frame = FRAME_BYTES + BYTES_PER_PIXEL * c.width * c.height
        return int((per_frame + CONTAINER_BYTES) * c.fps * c.segment_seconds)

    # Requests to ranges -----------------------------------------------------------------------

    def _hik_range(self, uri: str) -> tuple[CameraConfig, datetime, datetime, bool] | None:
        """The range a playbackURI asks for: its file `name`, else `starttime`-`endtime`."""
        config = self.archive.config
        z_local = {c.channel: c.hikvision_z_is_local for c in config.cameras}
        try:
            target = parse_target(uri, self.zone, z_local)
            name = parse_qs(urlsplit(uri).query).get("name", [""])[0]
            if name:
                file = self._hik_file(name)
                return (*file, True) if file else None
            if target is None or target.style != "hikvision" or not target.start:
                return None
            camera = config.camera(target.channel)
        except (KeyError, ValueError):
            return None
        return camera, target.start, target.end or self.archive.newest(), False

    def _hik_file(self, name: str) -> Range | None:
        match = HIK_NAME.fullmatch(name)
        if match is None:
            return None
        camera = self.archive.config.camera(int(match[1]))
        start = datetime.fromtimestamp(int(match[2]), tz=UTC)
        return self._whole_file(camera, start)

    def _dav_file(self, path: str) -> tuple[CameraConfig, datetime] | None:
        match = DAV_PATH.fullmatch(path)
        try:
            if match is None:
                return None
            camera = self.archive.config.camera(int(match[2]))
            start = dahua_time(f"{match[1]} {match[3].replace('.', ':')}", self.zone)
        except (KeyError, ValueError):
            return None
        seconds = self.archive.config.segment_seconds
        named = dav_path(camera.channel, start, seconds, self.zone, camera.schedule == "motion")
        return (camera, start) if named == path and self._whole_file(camera, start) else None

    def _whole_file(self, camera: CameraConfig, start: datetime) -> Range | None:
        """The whole segment from `start` (a range with nothing in it if it was not recorded)."""
        seconds = self.archive.config.segment_seconds
        if int(start.timestamp()) % seconds:
            return None
        return camera, start, start + timedelta(seconds=seconds)

    # Sending ----------------------------------------------------------------------------------

    def _units(self, camera: CameraConfig, start: datetime, end: datetime) -> Iterator[AccessUnit]:
        return (item.unit for item in self.archive.replay(camera, start, end))

    def _native(
        self, camera: CameraConfig, kind: str, units: Iterable[AccessUnit]
    ) -> Iterator[bytes]:
        if kind == "ps":
            return ps_stream(units, camera.codec)
        return dav_stream(units, camera.codec, self.zone, camera.channel)

    async def _send(self, request: web.Request, send: Send) -> web.StreamResponse:
        """Stream the native file of the range, holding one of the device's sessions."""
        if not self.sessions.acquire():
            return web.Response(status=503, text="too many playback or download sessions\r\n")
        try:
            units = self._units(send.camera, send.start, send.end)
            first = await asyncio.to_thread(next, units, None)
            if first is None:
                return web.Response(status=404, text="no recording in the requested range\r\n")
            chunks = self._native(send.camera, send.kind, itertools.chain((first,), units))
            content_type = HIK_TYPE if send.kind == "ps" else DAV_TYPE
            response = web.StreamResponse(headers={"Content-Type": content_type})
            with contextlib.suppress(ConnectionError):  # a client that leaves ends the file
                await response.prepare(request)
                sent = await self._write_all(response, chunks)
                await response.write_eof()
                if send.whole:
                    self._sizes[(send.camera.channel, send.start, send.kind)] = sent
            return response
        finally:
            self.sessions.release()

    async def _write_all(self, response: web.StreamResponse, chunks: Iterator[bytes]) -> int:
        """Write the chunks through the link, the next batch made while this one is sent;
        return the bytes written."""
        sent = 0
        batch = await asyncio.to_thread(_next_batch, chunks)
        while batch:
            upcoming = asyncio.ensure_future(asyncio.to_thread(_next_batch, chunks))
            try:
                for chunk in batch:
                    for piece in self.link.slices(chunk):
                        await self.link.take(len(piece))
                        await response.write(piece)
                    sent += len(chunk)
            finally:
                batch = await upcoming  # the worker thread runs to its end either way
        return sent


def _next_batch(chunks: Iterator[bytes]) -> list[bytes]:
    batch: list[bytes] = []
    size = 0
    for chunk in itertools.islice(chunks, BATCH_UNITS):
        batch.append(chunk)
        size += len(chunk)
        if size >= BATCH_BYTES:
            break
    return batch


async def _playback_uri(request: web.Request) -> str | None:
    """The playbackURI of a download request: from the query, else from the XML body."""
    query = request.query
    if "playbackURI" in query:
        uri = query["playbackURI"]
        # Sent unencoded, the URI's own `&`s split it across the request's query.
        lost = [f"{k}={query[k]}" for k in URI_FIELDS if k in query and f"{k}=" not in uri]
        return "&".join([uri, *lost])
    body = (await request.read()).decode("utf-8", "replace")
    # Read leniently: some clients send the URI's `&` unescaped, which no XML parser accepts.
    match = re.search(r"<(?:\w+:)?playbackURI>(.*?)</(?:\w+:)?playbackURI>", body, re.S)
    return html.unescape(match[1].strip()) if match else None


def _isapi_status(status: int, code: int, text: str, sub: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ResponseStatus version="1.0" '
        f'xmlns="http://www.hikvision.com/ver20/XMLSchema"><requestURL>'
        "/ISAPI/ContentMgmt/download</requestURL>"
        f"<statusCode>{code}</statusCode><statusString>{text}</statusString>"
        f"<subStatusCode>{sub}</subStatusCode></ResponseStatus>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
