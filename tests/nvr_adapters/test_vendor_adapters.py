"""ONVIF, Hikvision and Dahua adapters on the simulator: identity, clock, gaps, exact footage."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from onvif import ONVIFCamera

from nvr_adapters import (
    CameraRef,
    DahuaAdapter,
    HikvisionAdapter,
    NvrAdapter,
    NvrAuthFailed,
    NvrUnreachable,
    OnvifAdapter,
    RecordingNotFound,
    Span,
    TimeWindow,
    open_adapter,
)
from nvr_adapters.factory import Vendor
from nvr_sim import NvrSimulator
from tests.nvr_adapters.conftest_vendors import (
    CLOCK_OFFSET,
    CONTINUOUS,
    MOTION,
    PASSWORD,
    USER,
    VENDORS,
    Z_LOCAL,
    FreshnessGate,
    ListSink,
    adapter_for,
    channel,
    device_anchor,
    vendor_sim,
)

__all__ = ["device_anchor", "vendor_sim"]  # fixtures, imported for pytest to find
T = TypeVar("T")


def with_adapter(adapter: NvrAdapter, use: Callable[[NvrAdapter], Awaitable[T]]) -> T:
    """Run `use(adapter)` on a fresh event loop and close the adapter whatever happens."""

    async def run() -> T:
        try:
            return await use(adapter)
        finally:
            await adapter.aclose()

    return asyncio.run(run())


def camera(vendor: Vendor, number: str) -> CameraRef:
    return CameraRef(nvr_id="nvr-test", channel=channel(vendor, number))


def truth(sim: NvrSimulator, number: str, window: TimeWindow) -> list[Any]:
    cam = sim.config.camera(int(number))
    return [item.unit for item in sim.archive.replay(cam, window.start, window.end)]


@pytest.mark.parametrize("vendor", VENDORS)
def test_probe_names_the_device_and_measures_its_clock(
    vendor_sim: NvrSimulator, vendor: Vendor
) -> None:
    info = with_adapter(adapter_for(vendor_sim, vendor), lambda a: a.probe())

    config = vendor_sim.config
    assert (info.make, info.model, info.firmware, info.serial) == (
        config.make, config.model, config.firmware, config.serial,
    )  # fmt: skip
    assert abs(info.clock.seconds - CLOCK_OFFSET.total_seconds()) <= 1.0
    assert 0.5 <= info.clock.uncertainty_s < 1.5  # whole-second answers, loopback round trip
    expected_method = {"onvif": "onvif-GetSystemDateAndTime", "hikvision": "isapi-time",
                       "dahua": "dahua-getCurrentTime"}[vendor]  # fmt: skip
    assert info.clock.method == expected_method
    assert info.clock.measured_at.tzinfo is not None


@pytest.mark.parametrize("vendor", VENDORS)
def test_search_reports_exactly_the_missing_segment(
    vendor_sim: NvrSimulator, vendor: Vendor, device_anchor: datetime
) -> None:
    """The motion camera misses device time +30 s to +40 s; the continuous one misses nothing."""
    window = TimeWindow(
        device_anchor + timedelta(seconds=25), device_anchor + timedelta(seconds=47)
    )

    async def both(adapter: NvrAdapter) -> tuple[Any, Any]:
        motion = await adapter.search(camera(vendor, MOTION), window)
        continuous = await adapter.search(camera(vendor, CONTINUOUS), window)
        return motion, continuous

    motion, continuous = with_adapter(adapter_for(vendor_sim, vendor), both)

    gap = Span(device_anchor + timedelta(seconds=30), device_anchor + timedelta(seconds=40))
    assert motion.gaps == (gap,)
    assert motion.spans == (Span(window.start, gap.start), Span(gap.end, window.end))
    assert continuous.gaps == ()
    assert continuous.spans == (Span(window.start, window.end),)


@pytest.mark.parametrize("vendor", VENDORS)
def test_fetch_is_bit_exact(
    vendor_sim: NvrSimulator, vendor: Vendor, device_anchor: datetime
) -> None:
    window = TimeWindow(device_anchor + timedelta(seconds=3), device_anchor + timedelta(seconds=7))
    sink = ListSink()

    with_adapter(
        adapter_for(vendor_sim, vendor), lambda a: a.fetch(camera(vendor, CONTINUOUS), window, sink)
    )

    expected = truth(vendor_sim, CONTINUOUS, window)
    assert len(expected) == 25  # from the key frame at +2 s to the last frame before +7 s
    assert [list(u.nals) for u in sink.units] == [list(x.nals) for x in expected]
    assert [u.time for u in sink.units] == [x.time for x in expected]
    assert sink.info is not None
    assert sink.info.codec == "h264"


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_wrong_password_is_refused_clearly(vendor_sim: NvrSimulator, vendor: Vendor) -> None:
    adapter = adapter_for(vendor_sim, vendor, password="salah")

    with pytest.raises(NvrAuthFailed, match="refused the .*credentials of user 'operator'"):
        with_adapter(adapter, lambda a: a.probe())


@pytest.mark.parametrize("vendor", VENDORS)
def test_nothing_listening_is_unreachable(vendor_sim: NvrSimulator, vendor: Vendor) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    adapter = adapter_for(vendor_sim, vendor, http_port=free_port)

    with pytest.raises(NvrUnreachable):
        with_adapter(adapter, lambda a: a.probe())


def test_hikvision_z_is_local_fetches_the_right_footage(
    vendor_sim: NvrSimulator, device_anchor: datetime
) -> None:
    """Camera 3 reads `…Z` playback times as WIB: only local digits find the footage."""
    window = TimeWindow(
        device_anchor + timedelta(seconds=11), device_anchor + timedelta(seconds=15)
    )
    sink = ListSink()
    ref = camera("hikvision", Z_LOCAL)

    with_adapter(adapter_for(vendor_sim, "hikvision", z_is_local=True),
                 lambda a: a.fetch(ref, window, sink))  # fmt: skip

    expected = truth(vendor_sim, Z_LOCAL, window)
    assert [list(u.nals) for u in sink.units] == [list(x.nals) for x in expected]
    assert sink.units[0].time == device_anchor + timedelta(seconds=10)
    # Read as UTC, the same digits point seven hours back, past the one-hour retention.
    with pytest.raises(RecordingNotFound):
        with_adapter(adapter_for(vendor_sim, "hikvision"),
                     lambda a: a.fetch(ref, window, ListSink()))  # fmt: skip


def test_hikvision_playback_url_forms(vendor_sim: NvrSimulator, device_anchor: datetime) -> None:
    window = TimeWindow(
        device_anchor + timedelta(seconds=1.5), device_anchor + timedelta(seconds=4.2)
    )
    utc = HikvisionAdapter("nvr", 80, 554, "u", "p", "Asia/Jakarta")
    local = HikvisionAdapter("nvr", 80, 554, "u", "p", "Asia/Jakarta", z_is_local=True)
    ref = CameraRef("n", "12")

    start, end = device_anchor + timedelta(seconds=1), device_anchor + timedelta(seconds=5)
    wib = timedelta(hours=7)
    assert utc.playback_url(ref, window) == (
        f"rtsp://nvr:554/Streaming/tracks/1201?starttime={start:%Y%m%dT%H%M%S}Z"
        f"&endtime={end:%Y%m%dT%H%M%S}Z"
    )
    assert local.playback_url(ref, window).endswith(
        f"starttime={start + wib:%Y%m%dT%H%M%S}Z&endtime={end + wib:%Y%m%dT%H%M%S}Z"
    )


def test_onvif_maps_recording_and_source_tokens_and_ends_every_search(
    vendor_sim: NvrSimulator, device_anchor: datetime
) -> None:
    window = TimeWindow(
        device_anchor + timedelta(seconds=25), device_anchor + timedelta(seconds=47)
    )

    async def searches(adapter: NvrAdapter) -> tuple[Any, Any]:
        by_recording = await adapter.search(CameraRef("n", "Recording_2"), window)
        by_source = await adapter.search(CameraRef("n", "Profile_2"), window)
        return by_recording, by_source

    by_recording, by_source = with_adapter(adapter_for(vendor_sim, "onvif"), searches)

    assert by_recording == by_source
    assert len(by_source.gaps) == 1
    assert vendor_sim.http.onvif.searches == {}  # FindRecordings and FindEvents both ended
    with pytest.raises(RecordingNotFound, match="Recording_1 \\(source Profile_1\\)"):
        with_adapter(adapter_for(vendor_sim, "onvif"),
                     lambda a: a.search(CameraRef("n", "Kamera 9"), window))  # fmt: skip


def test_dahua_search_closes_its_finder(vendor_sim: NvrSimulator, device_anchor: datetime) -> None:
    window = TimeWindow(device_anchor, device_anchor + timedelta(seconds=60))

    coverage = with_adapter(adapter_for(vendor_sim, "dahua"),
                            lambda a: a.search(CameraRef("n", MOTION), window))  # fmt: skip

    assert len(coverage.spans) == 2
    assert vendor_sim.http._finds == {}


def test_open_adapter_picks_the_vendor_and_refuses_unknown_options() -> None:
    common: dict[str, Any] = {"host": "nvr", "http_port": 80, "rtsp_port": 554, "username": "u",
                              "password": "p", "timezone": "Asia/Jakarta"}  # fmt: skip
    onvif = open_adapter("onvif", options={}, **common)
    assert isinstance(onvif, OnvifAdapter)
    assert onvif.rtsp_port == 554  # the configured port replaces the replay URI's
    assert isinstance(open_adapter("dahua", options={}, **common), DahuaAdapter)
    hik = open_adapter("hikvision", options={"z_is_local": "true"}, **common)
    assert isinstance(hik, HikvisionAdapter)
    assert hik.z_is_local
    with pytest.raises(ValueError, match="do not apply"):
        open_adapter("dahua", options={"z_is_local": True}, **common)
    with pytest.raises(ValueError, match="true or false"):
        open_adapter("hikvision", options={"z_is_local": "maybe"}, **common)
    with pytest.raises(ValueError, match="unknown NVR vendor"):
        open_adapter("axis", options={}, **common)  # type: ignore[arg-type]


def test_onvif_digests_follow_a_skewed_device_clock(
    vendor_sim: NvrSimulator, device_anchor: datetime
) -> None:
    """A device 7 s ahead, refusing tokens 5 s off its clock, accepts ours but not naive ones."""
    window = TimeWindow(
        device_anchor + timedelta(seconds=25), device_anchor + timedelta(seconds=47)
    )

    async def through_gate() -> tuple[FreshnessGate, Any, BaseException | None]:
        async with FreshnessGate(vendor_sim) as gate:
            adapter = OnvifAdapter("127.0.0.1", gate.port, USER, PASSWORD)
            try:
                coverage = await adapter.search(CameraRef("n", "Recording_2"), window)
            finally:
                await adapter.aclose()
            naive = ONVIFCamera("127.0.0.1", gate.port, USER, PASSWORD, no_cache=True)
            try:
                await naive.update_xaddrs()
                refused = None
            except Exception as exc:  # noqa: BLE001 - the refusal is what this asserts
                refused = exc
            finally:
                await naive.close()
        return gate, coverage, refused

    gate, coverage, refused = asyncio.run(through_gate())

    assert len(coverage.gaps) == 1
    assert gate.checked >= 4
    assert gate.refused >= 1  # the naive client, stamped with our clock, was refused
    assert refused is not None
    assert "not fresh" in str(refused)


def test_onvif_without_get_services_falls_back_to_get_capabilities(
    vendor_sim: NvrSimulator, device_anchor: datetime
) -> None:
    """An older device that lacks GetServices: Search and Replay come from GetCapabilities."""
    window = TimeWindow(device_anchor + timedelta(seconds=3), device_anchor + timedelta(seconds=7))
    sink = ListSink()

    async def through_gate() -> tuple[FreshnessGate, Any]:
        async with FreshnessGate(vendor_sim, unsupported=frozenset({"GetServices"})) as gate:
            adapter = OnvifAdapter("127.0.0.1", gate.port, USER, PASSWORD)
            try:
                coverage = await adapter.search(CameraRef("n", "Recording_1"), window)
                await adapter.fetch(CameraRef("n", "Recording_1"), window, sink)
            finally:
                await adapter.aclose()
        return gate, coverage

    gate, coverage = asyncio.run(through_gate())

    assert gate.not_supported >= 1  # GetServices was asked for, and refused
    assert coverage.gaps == ()
    expected = truth(vendor_sim, CONTINUOUS, window)
    assert [list(u.nals) for u in sink.units] == [list(x.nals) for x in expected]


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_long_search_pages_through_every_span(
    vendor_sim: NvrSimulator, vendor: Vendor, device_anchor: datetime
) -> None:
    """Half an hour of the motion camera: 45 gaps, more than one ISAPI page (40) holds."""
    window = TimeWindow(device_anchor - timedelta(minutes=25), device_anchor + timedelta(minutes=5))

    coverage = with_adapter(adapter_for(vendor_sim, vendor),
                            lambda a: a.search(camera(vendor, MOTION), window))  # fmt: skip

    recorded = vendor_sim.archive.spans(vendor_sim.config.camera(2), window.start, window.end)
    assert len(recorded) > 40
    assert coverage.spans == tuple(Span(s.start, s.end) for s in recorded)
    assert len(coverage.gaps) == 45


@pytest.mark.parametrize("vendor", VENDORS)
def test_oldest_recording_is_where_the_device_overwrites_next(
    vendor_sim: NvrSimulator, vendor: Vendor
) -> None:
    """The simulator keeps an hour: its oldest footage is an hour back on the device clock."""
    since = datetime.now(UTC) - timedelta(days=1)
    later = datetime.now(UTC) - timedelta(minutes=5)

    async def ask(adapter: NvrAdapter) -> tuple[datetime | None, datetime | None]:
        ref = camera(vendor, CONTINUOUS)
        first = await adapter.oldest_recording(ref, since)
        return first, await adapter.oldest_recording(ref, later)

    oldest, bounded = with_adapter(adapter_for(vendor_sim, vendor), ask)

    assert oldest is not None
    expected = vendor_sim.archive.oldest()
    assert abs((oldest - expected).total_seconds()) <= vendor_sim.config.segment_seconds
    assert oldest.tzinfo is not None
    assert bounded == later  # never earlier than asked: what was before is not the question
