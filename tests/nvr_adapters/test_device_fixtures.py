"""Every captured device answer in tests/fixtures/devices, through the real adapter code path.

Hikvision and Dahua answers reach the adapters through `httpx.MockTransport`; ONVIF answers
through a loopback SOAP front that answers the captured operation and passes the rest to the
simulator, so onvif-zeep-async parses the capture as it would the device's. Each check asserts
what the answer means (times, spans, gaps, make and model, clock), not only that it parses.
Where a step had no public capture (Dahua's `factory.create`, `getCurrentTime`; ONVIF's event
results), the test writes that step itself in the documented format and says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest

from nvr_adapters import (
    CameraRef,
    Coverage,
    DahuaAdapter,
    HikvisionAdapter,
    OnvifAdapter,
    RecordingNotFound,
    ReplayError,
    Span,
    TimeWindow,
)
from nvr_adapters import dahua as dahua_module
from nvr_adapters._common import utc_now
from nvr_sim import NvrSimulator
from tests.nvr_adapters.conftest_vendors import PASSWORD, USER, ListSink, vendor_sim
from tests.nvr_adapters.device_doubles import (
    FIXTURES,
    HttpDevice,
    OnvifFront,
    answer,
    dahua_finder,
    event,
    event_page,
    fixture,
)

__all__ = ["vendor_sim"]  # a fixture, imported for pytest to find
T = TypeVar("T")
WIB = ZoneInfo("Asia/Jakarta")
Check = Callable[[pytest.FixtureRequest], None]


def run(work: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await work

    return asyncio.run(wrapped())


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


async def closing(adapter: Any, use: Callable[[Any], Awaitable[T]]) -> T:
    try:
        return await use(adapter)
    finally:
        await adapter.aclose()


# Hikvision ISAPI -----------------------------------------------------------------------------

HIK_INFO = "hikvision/deviceinfo-ds-2cd2386g2-iu-ver20.xml"
HIK_TIME = "hikvision/time-capabilities-ds-7608ni-k2-cst-3.xml"
HIK_TIME_DST = "hikvision/time-nvr-ezviz-cst-1-dst.xml"
HIK_SEARCH = "hikvision/cmsearchresult-isapi-ver20-start-equals-end.xml"


def hikvision(device: HttpDevice, zone: str, clock: datetime, z_is_local: bool = False) -> Any:
    return HikvisionAdapter("nvr.example", 80, 554, "admin", "secret", zone, z_is_local,
                            clock=at(clock), transport=device.transport)  # fmt: skip


def hik_probe(time_file: str, zone: str, clock: datetime) -> Any:
    device = HttpDevice({"/ISAPI/System/deviceInfo": [answer(HIK_INFO)],
                         "/ISAPI/System/time": [answer(time_file)]})  # fmt: skip
    return run(closing(hikvision(device, zone, clock), lambda a: a.probe()))


def check_hik_device_info(_request: pytest.FixtureRequest) -> None:
    """ver20 hikvision.com namespace; the serial as the repository anonymised it."""
    info = hik_probe(HIK_TIME, "Europe/Moscow", utc(2021, 10, 21, 14, 32, 50))

    assert (info.make, info.model, info.firmware, info.serial) == (
        "hikvision", "DS-2CD2386G2-IU", "V5.7.18", "DS-2CD2386G2-IU00000000AAWRJ00000000",
    )  # fmt: skip


def check_hik_time_cst_minus_3(_request: pytest.FixtureRequest) -> None:
    """`CST-3:00:00` is UTC+3 (its localTime says +03:00): right for Moscow, not for Jakarta."""
    ours = utc(2021, 10, 21, 14, 32, 50)
    moscow = hik_probe(HIK_TIME, "Europe/Moscow", ours)
    jakarta = hik_probe(HIK_TIME, "Asia/Jakarta", ours)

    # 14:32:54Z on the device, whole seconds: half a second more on average.
    assert moscow.clock.seconds == pytest.approx(4.5, abs=0.1)
    assert moscow.warnings == ()
    assert len(jakarta.warnings) == 1
    assert "'CST-3:00:00' (UTC+03:00)" in jakarta.warnings[0]
    assert "Asia/Jakarta (UTC+07:00)" in jakarta.warnings[0]


def check_hik_time_with_dst_rule(_request: pytest.FixtureRequest) -> None:
    """EZVIZ-managed NVR: `CST-1:00:00DST01:00:00,M3.5.0/…` is CET with summer time; on
    2 March it is UTC+1, as Paris, and not New York."""
    ours = utc(2022, 3, 2, 16, 8, 10)
    paris = hik_probe(HIK_TIME_DST, "Europe/Paris", ours)
    new_york = hik_probe(HIK_TIME_DST, "America/New_York", ours)

    assert paris.clock.seconds == pytest.approx(6.5, abs=0.1)  # 17:08:16+01:00 is 16:08:16Z
    assert paris.warnings == ()
    assert (
        "(UTC+01:00) differs from the configured America/New_York (UTC-05:00)"
        in (new_york.warnings[0])
    )


def hik_search(window: TimeWindow, z_is_local: bool = False) -> tuple[Coverage, HttpDevice]:
    device = HttpDevice({"/ISAPI/ContentMgmt/search": [answer(HIK_SEARCH)]})
    adapter = hikvision(device, "Asia/Jakarta", window.end, z_is_local)
    coverage = run(closing(adapter, lambda a: a.search(CameraRef("nvr", "1"), window)))
    return coverage, device


def check_hik_search_instant_item(_request: pytest.FixtureRequest) -> None:
    """The match's timeSpan is one instant (07:22:14), its playbackURI names 23:28:46 to
    00:48:14 and a gigabyte: the footage is the URI's span, and the instant claims nothing."""
    window = TimeWindow(utc(2023, 2, 6, 23), utc(2023, 2, 7, 1))
    coverage, device = hik_search(window)
    instant, _ = hik_search(TimeWindow(utc(2023, 2, 7, 7), utc(2023, 2, 7, 8)))

    recorded = Span(utc(2023, 2, 6, 23, 28, 46), utc(2023, 2, 7, 0, 48, 14))
    assert coverage.spans == (recorded,)
    assert coverage.gaps == (Span(window.start, recorded.start), Span(recorded.end, window.end))
    assert coverage.recorded_bytes == 1064376612  # the URI's `size=`, the file whole in the window
    assert instant.spans == ()
    assert instant.recorded_bytes is None
    body = device.requests[0].content.decode()
    assert "<trackID>101</trackID>" in body
    assert "<startTime>2023-02-06T23:00:00Z</startTime>" in body
    assert "<searchResultPostion>0</searchResultPostion>" in body
    assert "<searchResultPosition>0</searchResultPosition>" in body


def check_hik_search_z_is_local(_request: pytest.FixtureRequest) -> None:
    """The same answer from firmware whose `Z` digits are WIB: one rule for the search body,
    the matches and their URIs, so the footage lies seven hours earlier in UTC."""
    window = TimeWindow(utc(2023, 2, 6, 16), utc(2023, 2, 6, 18))
    coverage, device = hik_search(window, z_is_local=True)

    assert coverage.spans == (Span(utc(2023, 2, 6, 16, 28, 46), utc(2023, 2, 6, 17, 48, 14)),)
    assert "<startTime>2023-02-06T23:00:00Z</startTime>" in device.requests[0].content.decode()


def hik_refused(path: str, status: int) -> str:
    device = HttpDevice({"/ISAPI/ContentMgmt/search": [answer(path, status)]})
    window = TimeWindow(utc(2026, 1, 1), utc(2026, 1, 1, 1))
    adapter = hikvision(device, "Asia/Jakarta", window.end)
    with pytest.raises(ReplayError) as refused:
        run(closing(adapter, lambda a: a.search(CameraRef("nvr", "1"), window)))
    return str(refused.value)


def check_hik_method_not_allowed(_request: pytest.FixtureRequest) -> None:
    """What a search sent with GET earns on some NVRs (qb60/hikvision-downloader#5): the
    refusal names the device's reason, for the record."""
    said = hik_refused("hikvision/responsestatus-invalid-operation-methodnotallowed.xml", 403)

    assert said == ("nvr.example:80 answered 403 to /ISAPI/ContentMgmt/search: "
                    "Invalid Operation (methodNotAllowed)")  # fmt: skip


def check_hik_bad_xml_content(_request: pytest.FixtureRequest) -> None:
    said = hik_refused("hikvision/responsestatus-badxmlcontent-ver20.xml", 400)

    assert said.endswith("answered 400 to /ISAPI/ContentMgmt/search: "
                         "Invalid XML Content (badXmlContent)")  # fmt: skip


# Dahua CGI -----------------------------------------------------------------------------------

BATCH_OF_TWO = "dahua/findnextfile-amcrest-ipc-found2-of-100.txt"
MOTION_34S = "dahua/findnextfile-amcrest-ipc-found2-motion-34s.txt"
SNAPSHOT = "dahua/findnextfile-amcrest-jpg-snapshot.txt"
ERROR = "dahua/error-invalid-request-amcrest.txt"


def dahua(device: HttpDevice, zone: str = "Asia/Jakarta") -> Any:
    return DahuaAdapter("nvr.example", 80, 554, "admin", "secret", zone,
                        clock=at(utc(2026, 1, 1)), transport=device.transport)  # fmt: skip


def dahua_search(device: HttpDevice, window: TimeWindow) -> Coverage:
    coverage: Coverage = run(
        closing(dahua(device), lambda a: a.search(CameraRef("nvr", "1"), window))
    )
    return coverage


def wib(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=WIB).astimezone(UTC)


def check_dahua_short_batch(request: pytest.FixtureRequest) -> None:
    """found=2 of the 100 asked: the last batch, so no further findNextFile; two files of the
    camera, numbered `Channel=0`, merge into 06:05-06:21 local time."""
    caplog = request.getfixturevalue("caplog")
    caplog.set_level(logging.DEBUG, logger="nvr_adapters.dahua")
    device = dahua_finder([answer(BATCH_OF_TWO)])
    window = TimeWindow(wib(2020, 1, 6, 6), wib(2020, 1, 6, 6, 30))

    coverage = dahua_search(device, window)

    assert coverage.spans == (Span(wib(2020, 1, 6, 6, 5), wib(2020, 1, 6, 6, 21)),)
    assert coverage.gaps == (Span(window.start, wib(2020, 1, 6, 6, 5)),
                             Span(wib(2020, 1, 6, 6, 21), window.end))  # fmt: skip
    assert coverage.recorded_bytes == 248362892 + 241799877  # both files' `Length`
    assert device.actions() == ["factory.create", "findFile", "findNextFile", "close", "destroy"]
    (condition,) = device.params("findFile")
    assert condition["condition.Types[0]"] == "dav"
    assert condition["condition.VideoStream"] == "Main"
    assert (condition["condition.Channel"], condition["condition.StartTime"]) == (
        "1", "2020-01-06 06:00:00",
    )  # fmt: skip
    assert "condition.Channel=1 answered with Channel=0" in caplog.text


def check_dahua_window_takes_part_of_a_file(_request: pytest.FixtureRequest) -> None:
    """A window that takes 06:09-06:17 of the two 8-minute files weighs half of each: the
    export's progress counts against that, not the files' whole `Length`."""
    window = TimeWindow(wib(2020, 1, 6, 6, 9), wib(2020, 1, 6, 6, 17))

    coverage = dahua_search(dahua_finder([answer(BATCH_OF_TWO)]), window)

    assert coverage.recorded_bytes == round(248362892 / 2 + 241799877 / 2)


def check_dahua_motion_clip(_request: pytest.FixtureRequest) -> None:
    """A 34-second motion clip (`[M]`, Flags Event) is footage like any other."""
    window = TimeWindow(wib(2020, 1, 6, 6, 30), wib(2020, 1, 6, 6, 40))

    coverage = dahua_search(dahua_finder([answer(MOTION_34S)]), window)

    assert coverage.spans == (Span(wib(2020, 1, 6, 6, 36, 10), wib(2020, 1, 6, 6, 36, 44)),)


def check_dahua_snapshot(_request: pytest.FixtureRequest) -> None:
    """A `Type=jpg` snapshot is no footage: the window stays one gap."""
    window = TimeWindow(wib(2020, 9, 17, 11), wib(2020, 9, 17, 11, 20))

    coverage = dahua_search(dahua_finder([answer(SNAPSHOT)]), window)

    assert coverage.spans == ()
    assert coverage.recorded_bytes is None
    assert coverage.gaps == (Span(window.start, window.end),)


def check_dahua_error_ends_the_find(request: pytest.FixtureRequest) -> None:
    """A full batch, then `Error` to the next findNextFile (HTTP 400 as NVRs answer, or 200 as
    python-amcrest's device): the find is over, not failed; a refused close still destroys."""
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr(dahua_module, "BATCH", 2)
    window = TimeWindow(wib(2020, 1, 6, 6), wib(2020, 1, 6, 6, 30))
    for status in (400, 200):
        device = dahua_finder(
            [answer(BATCH_OF_TWO), answer(ERROR, status)], close=answer(ERROR, 400)
        )

        coverage = dahua_search(device, window)

        assert coverage.spans == (Span(wib(2020, 1, 6, 6, 5), wib(2020, 1, 6, 6, 21)),)
        assert device.actions()[-4:] == ["findNextFile", "findNextFile", "close", "destroy"]


def dahua_probe() -> Any:
    """An NVR's magicBox answers (rroller/dahua#9); getCurrentTime in the guide's format."""
    box = "/cgi-bin/magicBox.cgi?"
    device = HttpDevice({
        f"{box}getSystemInfo": [answer("dahua/magicbox-getsysteminfo-nvr2x-4ks3.txt")],
        f"{box}getSoftwareVersion": [answer("dahua/magicbox-getsoftwareversion-nvr2x-4ks3.txt")],
        f"{box}getVendor": [answer("dahua/magicbox-getvendor-nvr2x-4ks3.txt")],
        "/cgi-bin/global.cgi?getCurrentTime": [
            httpx.Response(200, text="result=2021-06-15 12:00:00\r\n")
        ],
    })  # fmt: skip
    adapter = DahuaAdapter("nvr.example", 80, 554, "admin", "secret", "Europe/Prague",
                           clock=at(utc(2021, 6, 15, 10)), transport=device.transport)  # fmt: skip
    return run(closing(adapter, lambda a: a.probe()))


def check_dahua_system_info(_request: pytest.FixtureRequest) -> None:
    """`deviceType=31` is no model: the NVR's model is its `updateSerial`."""
    info = dahua_probe()

    assert (info.model, info.serial) == ("NVR2X-4KS3", "4F07335PAZEEA9B")
    assert info.clock.seconds == pytest.approx(0.5, abs=0.1)  # 12:00 in Prague is 10:00Z


def check_dahua_software_version(_request: pytest.FixtureRequest) -> None:
    assert dahua_probe().firmware == "4.001.0000005.0"


def check_dahua_vendor(_request: pytest.FixtureRequest) -> None:
    assert dahua_probe().make == "Dahua"


# ONVIF ---------------------------------------------------------------------------------------

GSDT_AXIS = "onvif/getsystemdateandtime-axis-tz-brt3.xml"
GSDT_LOCAL = "onvif/getsystemdateandtime-localdatetime-only.xml"


ASKED: list[str] = []  # the operations the last `onvif_run` front was asked


def onvif_run(
    request: pytest.FixtureRequest, script: dict[str, Any], use: Callable[[Any], Awaitable[T]],
    clock: datetime | None = None,
) -> tuple[T | BaseException, OnvifAdapter]:  # fmt: skip
    """`use(adapter)` against the front; what it returned or raised, and the adapter."""
    sim: NvrSimulator = request.getfixturevalue("vendor_sim")
    ASKED.clear()

    async def session() -> tuple[T | BaseException, OnvifAdapter]:
        async with OnvifFront(sim, script, asked=ASKED) as front:
            adapter = OnvifAdapter("127.0.0.1", front.port, USER, PASSWORD,
                                   clock=at(clock) if clock else utc_now,
                                   rtsp_port=sim.endpoints.rtsp_port)  # fmt: skip
            try:
                return await use(adapter), adapter
            except Exception as exc:  # noqa: BLE001 - the checks assert what was raised
                return exc, adapter
            finally:
                await adapter.aclose()

    return asyncio.run(session())


def check_onvif_device_information(request: pytest.FixtureRequest) -> None:
    info, _ = onvif_run(request, {"GetDeviceInformation": [fixture(
        "onvif/getdeviceinformation-milesight-ms-c8165-pe.xml")]}, lambda a: a.probe())  # fmt: skip

    assert (info.make, info.model, info.firmware, info.serial) == (  # type: ignore[union-attr]
        "Milesight Technology Co.,Ltd.", "MS-C8165-PE", "61.8.0.3-r8", "EM82V102329001403",
    )  # fmt: skip


def check_onvif_clock_utc(request: pytest.FixtureRequest) -> None:
    """Axis: UTCDateTime 19:49:06 on 9 July 2024, TZ `BRT3` (UTC-3) — a POSIX zone, no warning."""
    info, _ = onvif_run(request, {"GetSystemDateAndTime": [fixture(GSDT_AXIS)]},
                        lambda a: a.probe(), clock=utc(2024, 7, 9, 19, 49))  # fmt: skip

    assert info.clock.seconds == pytest.approx(6.5, abs=0.2)  # type: ignore[union-attr]
    assert info.warnings == ()  # type: ignore[union-attr]


def check_onvif_clock_local_only(request: pytest.FixtureRequest) -> None:
    """No UTCDateTime at all (the session still opens: the library's own clock handshake would
    fail on it); LocalDateTime 1979-11-30 00:00:50 with no zone is read as UTC, and said so."""
    info, _ = onvif_run(request, {"GetSystemDateAndTime": [fixture(GSDT_LOCAL)]},
                        lambda a: a.probe(), clock=utc(1979, 11, 30, 0, 0, 40))  # fmt: skip

    assert info.clock.seconds == pytest.approx(10.5, abs=0.2)  # type: ignore[union-attr]
    assert info.warnings == (  # type: ignore[union-attr]
        "the device gave no UTCDateTime; its LocalDateTime was read as UTC",
    )


RECORDINGS = {
    "FindRecordings": [fixture("onvif/findrecordings-searchtoken.xml")],
    "GetRecordingSearchResults": [fixture("onvif/getrecordingsearchresults-completed.xml")],
}


def check_onvif_recordings(request: pytest.FixtureRequest) -> None:
    """The recording is found by its token or its source; its EarliestRecording (1970, a clock
    unset when it started) is older than asked, so the answer is what was asked."""
    since = utc(2025, 3, 1)

    async def ask(adapter: OnvifAdapter) -> tuple[Any, ...]:
        by_source = await adapter.oldest_recording(CameraRef("n", "SourceId_1"), since)
        by_token = await adapter.oldest_recording(CameraRef("n", "OnvifRecordingToken_1"), since)
        try:
            await adapter.oldest_recording(CameraRef("n", "Kamera 9"), since)
        except RecordingNotFound as exc:
            return by_source, by_token, str(exc)
        return by_source, by_token, ""

    found, _ = onvif_run(request, dict(RECORDINGS), ask)

    assert isinstance(found, tuple)
    assert found[:2] == (since, since)
    assert "OnvifRecordingToken_1 (source SourceId_1)" in found[2]


def check_onvif_find_events(request: pytest.FixtureRequest) -> None:
    """FindEvents (captured answer) for a device whose zone is Axis's `BRT3`; the results come
    Queued, then Searching, then Completed, in times without `Z`: read as UTC-3, not as this
    server's zone, and polled until Completed."""
    video = "VIDEO001"  # the simulator's Recording_1 video track
    script = {
        "GetSystemDateAndTime": [fixture(GSDT_AXIS)],
        "FindEvents": [fixture("onvif/findevents-searchtoken.xml")],
        "GetEventSearchResults": [
            event_page("Queued"),
            event_page("Searching", event("Recording_1", video, "2024-07-09T16:00:00", "true")),
            event_page("Completed", event("Recording_1", video, "2024-07-09T16:10:00", "false")),
        ],
    }
    window = TimeWindow(utc(2024, 7, 9, 18, 55), utc(2024, 7, 9, 19, 20))

    coverage, _ = onvif_run(
        request, script, lambda a: a.search(CameraRef("n", "Recording_1"), window)
    )

    assert coverage == Coverage(window, (Span(utc(2024, 7, 9, 19), utc(2024, 7, 9, 19, 10)),))
    assert ASKED.count("GetEventSearchResults") == 3


def check_onvif_replay_uri_lan(request: pytest.FixtureRequest) -> None:
    """The Axis answers its LAN address `192.168.1.136` (port 554 by default): the replay goes to
    the configured host and RTSP port instead — the simulator, which has no such recording —
    and the substitution is on record."""
    sim: NvrSimulator = request.getfixturevalue("vendor_sim")
    window = TimeWindow(datetime.now(UTC) - timedelta(minutes=5), datetime.now(UTC))
    script = {"GetReplayUri": [fixture("onvif/getreplayuri-axis-lan-address.xml")]}

    raised, adapter = onvif_run(
        request, script, lambda a: a.fetch(CameraRef("n", "Recording_1"), window, ListSink())
    )

    assert isinstance(raised, RecordingNotFound)
    port = sim.endpoints.rtsp_port
    assert adapter.notes == [
        f"replay URI host 192.168.1.136:554 replaced by the configured 127.0.0.1:{port}"
    ]


def check_onvif_replay_uri_fault(request: pytest.FixtureRequest) -> None:
    """Axis's `InvalidArgVal/NoRecording` fault is a recording not found, not a protocol error."""
    window = TimeWindow(datetime.now(UTC) - timedelta(minutes=5), datetime.now(UTC))
    script = {"GetReplayUri": [(400, fixture("onvif/getreplayuri-axis-norecording-fault.xml"))]}

    raised, _ = onvif_run(
        request, script, lambda a: a.fetch(CameraRef("n", "Recording_1"), window, ListSink())
    )

    assert isinstance(raised, RecordingNotFound)
    assert "Recording not found" in str(raised)


CHECKS: dict[str, list[Check]] = {
    HIK_INFO: [check_hik_device_info],
    HIK_TIME: [check_hik_time_cst_minus_3],
    HIK_TIME_DST: [check_hik_time_with_dst_rule],
    HIK_SEARCH: [check_hik_search_instant_item, check_hik_search_z_is_local],
    "hikvision/responsestatus-invalid-operation-methodnotallowed.xml": [
        check_hik_method_not_allowed
    ],
    "hikvision/responsestatus-badxmlcontent-ver20.xml": [check_hik_bad_xml_content],
    BATCH_OF_TWO: [check_dahua_short_batch, check_dahua_window_takes_part_of_a_file],
    MOTION_34S: [check_dahua_motion_clip],
    SNAPSHOT: [check_dahua_snapshot],
    ERROR: [check_dahua_error_ends_the_find],
    "dahua/magicbox-getsysteminfo-nvr2x-4ks3.txt": [check_dahua_system_info],
    "dahua/magicbox-getsoftwareversion-nvr2x-4ks3.txt": [check_dahua_software_version],
    "dahua/magicbox-getvendor-nvr2x-4ks3.txt": [check_dahua_vendor],
    "onvif/getdeviceinformation-milesight-ms-c8165-pe.xml": [check_onvif_device_information],
    GSDT_AXIS: [check_onvif_clock_utc],
    GSDT_LOCAL: [check_onvif_clock_local_only],
    "onvif/findrecordings-searchtoken.xml": [check_onvif_recordings],
    "onvif/getrecordingsearchresults-completed.xml": [check_onvif_recordings],
    "onvif/findevents-searchtoken.xml": [check_onvif_find_events],
    "onvif/getreplayuri-axis-lan-address.xml": [check_onvif_replay_uri_lan],
    "onvif/getreplayuri-axis-norecording-fault.xml": [check_onvif_replay_uri_fault],
}


def test_every_fixture_has_a_check() -> None:
    stored = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.glob("*/*") if p.is_file()}
    assert stored == set(CHECKS)


@pytest.mark.parametrize(
    "check",
    [pytest.param(c, id=f"{name}::{c.__name__}") for name, cs in CHECKS.items() for c in cs],
)
def test_device_fixture(check: Check, request: pytest.FixtureRequest) -> None:
    check(request)
