"""Vendor download of recordings over HTTP: the device's native file, at link speed.

Hikvision (ISAPI `ContentMgmt/download`) and Dahua (`loadfile.cgi`) NVRs send a recorded time
range as their own file format over HTTP, which runs at the device's disk and network speed;
their RTSP playback of the same range is paced at real time. The tools offices use (iVMS-4200,
SmartPSS, ISAPI download tools) fetch recordings this way. The body is streamed into a sink (the
master writer hashes it as it arrives); nothing is buffered whole.

A device that does not offer the download answers 404, 403, 405 or 501 (or the ISAPI
`notSupport` status): `DownloadRefused`, which the caller answers by playing the range back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote
from xml.sax.saxutils import escape

from nvr_adapters._common import DeviceHttp
from nvr_adapters.errors import NvrError, ReplayError
from nvr_adapters.native import NativeFormat
from nvr_adapters.types import CameraRef, TimeWindow

ByteSink = Callable[[bytes], None]
ISAPI_DOWNLOAD = "/ISAPI/ContentMgmt/download"
ISAPI_DOWNLOAD_NS = "http://www.isapi.org/ver20/XMLSchema"
DAHUA_LOADFILE = "/cgi-bin/loadfile.cgi"
REFUSALS = frozenset({403, 404, 405, 501})
CHUNK = 256 * 1024


class DownloadRefused(NvrError):
    """The device does not offer this download (not supported, or not enabled)."""


@runtime_checkable
class Downloader(Protocol):
    """An adapter whose device can send a window as its native file."""

    download_format: NativeFormat

    async def download(self, camera: CameraRef, window: TimeWindow, sink: ByteSink) -> None:
        """Stream the device's native file of the window (at least the window) into `sink`."""
        ...


async def stream_into(
    http: DeviceHttp, method: str, path: str, sink: ByteSink, **kwargs: Any
) -> int:
    """Send one request and stream a successful answer's body into `sink`; the bytes received."""
    async with http.stream(method, path, **kwargs) as response:
        where = path.partition("?")[0]
        if response.status_code in REFUSALS:
            raise DownloadRefused(f"{http.origin} answered {response.status_code} to {where}")
        if response.status_code >= 300:
            raise ReplayError(f"{http.origin} answered {response.status_code} to {where}")
        received = 0
        async for chunk in response.aiter_bytes(CHUNK):
            sink(chunk)
            received += len(chunk)
    if not received:
        raise ReplayError(f"{http.origin} answered {where} with an empty file")
    return received


async def isapi_download(http: DeviceHttp, playback_uri: str, sink: ByteSink) -> int:
    """Download what a playback URI names (a time range, or a search result's file by `name`)
    as the device's MPEG-PS file: `POST /ISAPI/ContentMgmt/download` with a `downloadRequest`.

    POST with the request in the body, as hikvision-download-assistant, pyHik (#114) and
    hikvision-nvr-ha send it to DS-76xx/77xx NVRs (docs/nvr-dialects.md)."""
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<downloadRequest version="1.0" '
        f'xmlns="{ISAPI_DOWNLOAD_NS}"><playbackURI>{escape(playback_uri)}</playbackURI>'
        "</downloadRequest>"
    )
    headers = {"Content-Type": "application/xml"}
    return await stream_into(http, "POST", ISAPI_DOWNLOAD, sink, content=body, headers=headers)


async def dahua_download(
    http: DeviceHttp, channel: int, local_range: tuple[str, str], sink: ByteSink
) -> int:
    """Download a time range (device local `YYYY-MM-DD HH:MM:SS`) of a channel's main stream as
    the device's DAV file: `loadfile.cgi?action=startLoad` (Dahua HTTP API; python-amcrest)."""
    start, end = (quote(moment, safe=":-") for moment in local_range)
    query = f"action=startLoad&channel={channel}&startTime={start}&endTime={end}&subtype=0"
    return await stream_into(http, "GET", f"{DAHUA_LOADFILE}?{query}", sink)


__all__ = [
    "ByteSink",
    "DownloadRefused",
    "Downloader",
    "dahua_download",
    "isapi_download",
    "stream_into",
]
