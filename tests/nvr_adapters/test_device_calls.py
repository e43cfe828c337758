"""Each adapter reads the NVR's MAC address where the device tells it, and names every call it
sent, none of which could change a setting (issue 20 items 4 and "settings changed or restored
during the export"): on the simulator, and for ONVIF against what the device itself saw."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from nvr_adapters import DeviceInfo, NvrAdapter, TimeWindow
from nvr_adapters.device_calls import DeviceCalls, changes_settings
from nvr_adapters.factory import Vendor
from nvr_adapters.mac import device_mac, normalise_mac
from nvr_sim import NvrSimulator
from tests.nvr_adapters.conftest_vendors import (
    CONTINUOUS,
    VENDORS,
    ListSink,
    adapter_for,
    device_anchor,
    vendor_sim,
)
from tests.nvr_adapters.test_vendor_adapters import camera, with_adapter

__all__ = ["device_anchor", "vendor_sim"]  # fixtures, imported for pytest to find
MAC_CALLS = {
    "onvif": "ONVIF GetNetworkInterfaces",
    "hikvision": "HTTP GET /ISAPI/System/Network/interfaces",
    "dahua": "HTTP GET /cgi-bin/configManager.cgi?action=getConfig",
}


def _calls(adapter: NvrAdapter) -> DeviceCalls:
    calls = getattr(adapter, "calls", None)
    assert isinstance(calls, DeviceCalls)
    return calls


@pytest.fixture
def silent(vendor_sim: NvrSimulator) -> Iterator[NvrSimulator]:
    """The same device, telling no MAC address for the length of one test."""
    config = vendor_sim.archive.config
    vendor_sim.archive.config = dataclasses.replace(config, mac=None)
    try:
        yield vendor_sim
    finally:
        vendor_sim.archive.config = config


@pytest.mark.parametrize("vendor", VENDORS)
def test_probe_reads_the_mac_and_plays_back_with_reading_calls_only(
    vendor_sim: NvrSimulator, vendor: Vendor, device_anchor: datetime
) -> None:
    adapter = adapter_for(vendor_sim, vendor)
    seen_before = len(vendor_sim.http.onvif.operations)
    window = TimeWindow(device_anchor + timedelta(seconds=3), device_anchor + timedelta(seconds=5))

    async def export(a: NvrAdapter) -> DeviceInfo:
        info = await a.probe()
        await a.search(camera(vendor, CONTINUOUS), window)
        await a.fetch(camera(vendor, CONTINUOUS), window, ListSink())
        return info

    info = with_adapter(adapter, export)

    assert info.mac == vendor_sim.config.mac
    assert info.mac_method is not None
    assert info.mac_method.startswith(MAC_CALLS[vendor])
    calls = _calls(adapter).calls
    assert any(call.startswith(MAC_CALLS[vendor]) for call in calls)
    assert [c for c in calls if c.startswith("RTSP ")], "the playback is on record"
    assert _calls(adapter).changing() == []
    if vendor == "onvif":  # every operation the device received, and nothing it did not
        seen = vendor_sim.http.onvif.operations[seen_before:]
        assert {c.removeprefix("ONVIF ") for c in calls if c.startswith("ONVIF ")} == set(seen)


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_device_that_tells_no_mac_still_probes(silent: NvrSimulator, vendor: Vendor) -> None:
    info = with_adapter(adapter_for(silent, vendor), lambda a: a.probe())

    assert info.mac is None
    assert info.mac_method is None
    assert info.serial == silent.config.serial


def test_settings_changing_calls_are_recognised_by_name() -> None:
    writes = ["ONVIF SetSystemDateAndTime", "ONVIF CreateRecording", "ONVIF SystemReboot",
              "HTTP PUT /ISAPI/System/time", "HTTP POST /ISAPI/System/reboot",
              "HTTP GET /cgi-bin/configManager.cgi?action=setConfig",
              "HTTP GET /cgi-bin/magicBox.cgi?action=reboot"]  # fmt: skip
    reads = ["ONVIF FindEvents", "ONVIF GetReplayUri", "HTTP POST /ISAPI/ContentMgmt/search",
             "HTTP GET /cgi-bin/mediaFileFind.cgi?action=factory.create",
             "HTTP GET /cgi-bin/loadfile.cgi?action=startLoad", "RTSP /cam/playback"]  # fmt: skip
    assert [c for c in writes + reads if changes_settings(c)] == writes


def test_mac_forms() -> None:
    assert normalise_mac("AC-CC-8E-12-34-56") == "ac:cc:8e:12:34:56"
    assert normalise_mac("accc.8e12.3456") == "ac:cc:8e:12:34:56"
    assert normalise_mac(" 58:03:FB:76:A1:BC ") == "58:03:fb:76:a1:bc"
    for bad in ("58:03:fb:76:a1", "58:03-fb:76:a1:bc", "zz:03:fb:76:a1:bc", ""):
        with pytest.raises(ValueError, match="not a MAC address"):
            normalise_mac(bad)
    assert device_mac("00:00:00:00:00:00") is None
    assert device_mac(None) is None
