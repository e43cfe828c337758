"""Device dialects no public capture shows whole, on devices that behave: ISAPI paging under
either spelling of the position (or none honoured), firmware whose `Z` means local time,
pictures and sub-streams among the matches, Dahua finds that fail half-way, POSIX zones as
devices write them. The captures themselves are in test_device_fixtures.py."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest

from nvr_adapters import CameraRef, DahuaAdapter, HikvisionAdapter, ReplayError, Span, TimeWindow
from nvr_adapters._common import posix_zone
from tests.nvr_adapters.device_doubles import HttpDevice, dahua_finder

T = TypeVar("T")
WIB = ZoneInfo("Asia/Jakarta")
CAMERA = CameraRef("nvr", "1")
ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def run(adapter: Any, use: Callable[[Any], Awaitable[T]]) -> T:
    async def session() -> T:
        try:
            return await use(adapter)
        finally:
            await adapter.aclose()

    return asyncio.run(session())


class IsapiRecorder:
    """A Hikvision NVR holding `files` (start, end) of track 101: answers searches a page of
    `page` at a time from the position under the spelling it `reads` (None: it ignores the
    position, as the adapter must survive), clipping times to the window, writing them as its
    `Z` means (UTC, or `local` wall clock)."""

    def __init__(
        self, files: list[tuple[datetime, datetime]], reads: str | None = "searchResultPostion",
        local: tzinfo = UTC, page: int = 40,
    ) -> None:  # fmt: skip
        self.files, self.reads, self.local, self.page = files, reads, local, page
        self.bodies: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        self.bodies.append(body)
        start, end = (self._read(t) for t in re.findall(r"<(?:start|end)Time>([^<]+)<", body))
        position = int(_tag(body, self.reads) or 0) if self.reads else 0
        matches = [(max(s, start), min(e, end)) for s, e in self.files if s < end and e > start]
        page = matches[position : position + self.page]
        more = position + len(page) < len(matches)
        return httpx.Response(200, text=self._result(page, "MORE" if more else "OK"))

    def _read(self, text: str) -> datetime:
        return datetime.fromisoformat(text.rstrip("Z")).replace(tzinfo=self.local)

    def _write(self, moment: datetime, form: str) -> str:
        return moment.astimezone(self.local).strftime(form)

    def _result(self, page: list[tuple[datetime, datetime]], status: str) -> str:
        items = "".join(
            f"<searchMatchItem><trackID>101</trackID><timeSpan><startTime>"
            f"{self._write(s, '%Y-%m-%dT%H:%M:%SZ')}</startTime><endTime>"
            f"{self._write(e, '%Y-%m-%dT%H:%M:%SZ')}</endTime></timeSpan><mediaSegmentDescriptor>"
            "<contentType>video</contentType><codecType>H.264</codecType><playbackURI>"
            f"rtsp://10.0.0.2/Streaming/tracks/101/?starttime={self._write(s, '%Y%m%dT%H%M%SZ')}"
            f"&amp;endtime={self._write(e, '%Y%m%dT%H%M%SZ')}&amp;size=1000</playbackURI>"
            "</mediaSegmentDescriptor></searchMatchItem>"
            for s, e in page
        )
        return (
            f'<CMSearchResult version="2.0" xmlns="{ISAPI_NS}"><responseStatus>true'
            f"</responseStatus><responseStatusStrg>{status}</responseStatusStrg><numOfMatches>"
            f"{len(page)}</numOfMatches><matchList>{items}</matchList></CMSearchResult>"
        )


def _tag(body: str, name: str) -> str | None:
    found = re.search(rf"<{name}>(\d+)</{name}>", body)
    return found[1] if found else None


def motion_files(start: datetime, count: int) -> list[tuple[datetime, datetime]]:
    """`count` 20-second clips, one every 30 seconds: a gap of 10 s after each."""
    return [(start + timedelta(seconds=30 * i), start + timedelta(seconds=30 * i + 20))
            for i in range(count)]  # fmt: skip


def hikvision(device: Any, z_is_local: bool = False) -> HikvisionAdapter:
    transport = httpx.MockTransport(device)
    return HikvisionAdapter(
        "nvr.example", 80, 554, "admin", "secret", "Asia/Jakarta", z_is_local,
        clock=lambda: utc(2026, 1, 2), transport=transport,
    )  # fmt: skip


@pytest.mark.parametrize("reads", ["searchResultPostion", "searchResultPosition", None])
def test_isapi_paging_reaches_every_match(reads: str | None) -> None:
    """100 clips over three pages of 40 and `MORE`: whether the device reads the guide's
    `searchResultPostion` [sic], the corrected spelling, or neither (then the adapter searches
    on from the last match's start, as HikLoad does, and notes it), every clip is covered."""
    files = motion_files(utc(2026, 1, 1, 10), 100)
    window = TimeWindow(files[0][0], files[-1][1])
    recorder = IsapiRecorder(files, reads)
    adapter = hikvision(recorder)

    coverage = run(adapter, lambda a: a.search(CAMERA, window))

    assert coverage.spans == tuple(Span(s, e) for s, e in files)
    assert len(coverage.gaps) == 99
    assert bool(adapter.notes) is (reads is None)


def test_isapi_z_is_local_is_one_rule() -> None:
    """Regression: with `z_is_local`, playback URLs carried WIB digits but the search still sent
    and read UTC ones, so coverage and gaps sat seven hours off. Now the search body, the
    matches, `oldest_recording` and playback all use the same digits."""
    files = motion_files(utc(2026, 1, 1, 3), 4)
    window = TimeWindow(utc(2026, 1, 1, 3), utc(2026, 1, 1, 3, 2))
    recorder = IsapiRecorder(files, local=WIB)
    adapter = hikvision(recorder, z_is_local=True)

    async def ask(a: HikvisionAdapter) -> tuple[Any, ...]:
        return await a.search(CAMERA, window), await a.oldest_recording(CAMERA, utc(2026, 1, 1))

    coverage, oldest = run(adapter, ask)

    assert coverage.spans == tuple(Span(s, e) for s, e in files)
    assert oldest == files[0][0]
    assert "<startTime>2026-01-01T10:00:00Z</startTime>" in recorder.bodies[0]  # 03:00Z in WIB
    assert "starttime=20260101T100000Z" in adapter.playback_url(CAMERA, window)


def test_isapi_pictures_and_other_tracks_are_not_footage() -> None:
    """A picture (contentType picture, start == end) and a match of another track among the
    matches: neither covers the window."""
    picture = (
        "<searchMatchItem><trackID>101</trackID><timeSpan><startTime>2026-01-01T10:00:05Z"
        "</startTime><endTime>2026-01-01T10:00:05Z</endTime></timeSpan><mediaSegmentDescriptor>"
        "<contentType>picture</contentType><codecType>jpeg</codecType><playbackURI>"
        "http://10.0.0.2/ISAPI/Streaming/tracks/103/?starttime=20260101T100005Z&amp;endtime="
        "20260101T100005Z&amp;size=574906</playbackURI></mediaSegmentDescriptor></searchMatchItem>"
    )
    other = picture.replace("<trackID>101", "<trackID>120").replace("picture<", "video<")
    text = (f'<CMSearchResult xmlns="{ISAPI_NS}"><responseStatusStrg>OK</responseStatusStrg>'
            f"<matchList>{picture}{other}</matchList></CMSearchResult>")  # fmt: skip
    window = TimeWindow(utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 1))

    coverage = run(hikvision(lambda _r: httpx.Response(200, text=text)),
                   lambda a: a.search(CAMERA, window))  # fmt: skip

    assert coverage.spans == ()


def test_isapi_time_zone_that_is_not_posix_is_a_warning() -> None:
    device = HttpDevice({
        "/ISAPI/System/deviceInfo": [httpx.Response(200, text="<DeviceInfo><model>X</model>"
                                                              "</DeviceInfo>")],
        "/ISAPI/System/time": [httpx.Response(200, text="<Time><localTime>2026-01-01T17:00:00"
                                              "+07:00</localTime><timeZone>Bangkok</timeZone>"
                                              "</Time>")],
    })  # fmt: skip
    adapter = HikvisionAdapter(
        "nvr.example", 80, 554, "u", "p", "Asia/Jakarta",
        clock=lambda: utc(2026, 1, 1, 10), transport=device.transport,
    )  # fmt: skip

    info = run(adapter, lambda a: a.probe())

    assert info.warnings == ("the device's time zone 'Bangkok' is not a POSIX TZ string",)
    assert info.clock.seconds == pytest.approx(0.5, abs=0.1)


def dahua(device: HttpDevice) -> DahuaAdapter:
    return DahuaAdapter("nvr.example", 80, 554, "u", "p", "Asia/Jakarta",
                        clock=lambda: utc(2026, 1, 2), transport=device.transport)  # fmt: skip


def item(index: int, start: str, end: str, **fields: str) -> list[str]:
    lines = [f"items[{index}].StartTime={start}", f"items[{index}].EndTime={end}",
             f"items[{index}].Channel=0"]  # fmt: skip
    return lines + [f"items[{index}].{key}={value}" for key, value in fields.items()]


def test_dahua_coverage_counts_only_main_stream_dav() -> None:
    """Regression: snapshots and sub-stream files stretched coverage. Of a batch with a main
    file, an Extra1 file, a JPEG and a file that does not say its stream (Amcrest), the main
    and the unstated one count."""
    day = "2026-01-01 10:"
    lines = [
        "found=4",
        *item(0, f"{day}00:00", f"{day}01:00", Type="dav", VideoStream="Main"),
        *item(1, f"{day}01:00", f"{day}05:00", Type="dav", VideoStream="Extra1"),
        *item(2, f"{day}06:00", f"{day}06:00", Type="jpg"),
        *item(3, f"{day}08:00", f"{day}09:00", Type="dav"),
    ]
    device = dahua_finder([httpx.Response(200, text="\r\n".join(lines) + "\r\n")])
    window = TimeWindow(
        datetime(2026, 1, 1, 10, tzinfo=WIB), datetime(2026, 1, 1, 10, 10, tzinfo=WIB)
    )

    coverage = run(dahua(device), lambda a: a.search(CAMERA, window))

    def wib(minute: int) -> datetime:
        return datetime(2026, 1, 1, 10, minute, tzinfo=WIB).astimezone(UTC)

    assert coverage.spans == (Span(wib(0), wib(1)), Span(wib(8), wib(9)))


def test_dahua_failed_find_still_closes_and_destroys() -> None:
    """A findNextFile the device answers 500: the search fails, and the finder is still closed
    and destroyed (a device keeps few)."""
    device = dahua_finder([httpx.Response(500, text="Error\r\nInternal Error\r\n")])
    window = TimeWindow(utc(2026, 1, 1, 3), utc(2026, 1, 1, 4))

    with pytest.raises(ReplayError, match="answered 500"):
        run(dahua(device), lambda a: a.search(CAMERA, window))

    assert device.actions()[-2:] == ["close", "destroy"]


@pytest.mark.parametrize(
    ("text", "january", "july"),
    [
        ("CST-7:00:00", 7, 7),  # Hikvision: UTC+7
        ("WIB-7", 7, 7),
        ("BRT3", -3, -3),  # hammeraj/onvif's Axis
        ("GMT0", 0, 0),
        ("MoroccoStandardTime0", 0, 0),  # agsh/onvif's mockup
        ("CET-1CEST,M3.5.0/2:3,M10.5.0/3:2", 1, 2),  # home-assistant/core#95446
        ("AEST-10AEDT,M10.1.0,M4.1.0/3", 11, 10),  # OpenIPC/majestic-webui#292, south
        ("CST-1:00:00DST01:00:00,M3.5.0/02:00:00,M10.5.0/03:00:00", 1, 2),  # Hikvision DST bias
    ],
)
def test_posix_zones_as_devices_write_them(text: str, january: int, july: int) -> None:
    zone = posix_zone(text, dst_is_bias="DST0" in text)

    assert zone is not None
    assert zone.utcoffset(datetime(2026, 1, 15, 12)) == timedelta(hours=january)
    assert zone.utcoffset(datetime(2026, 7, 15, 12)) == timedelta(hours=july)


def test_posix_zone_refuses_what_is_not_one() -> None:
    assert posix_zone("Bangkok") is None
    assert posix_zone("") is None
