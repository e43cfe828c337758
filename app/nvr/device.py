"""The device side of an export: probe the NVR, search the window, fetch it — on the NVR's clock.

Adapters speak the device's clock (the times its recordings carry). The requested window is in
true UTC, so it is moved by the measured clock offset before it is asked for, but only when the
offset is larger than its measurement's uncertainty; frame times and gaps are moved back before
they are stored. The offset, how it was measured and whether it was applied go on record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from app.cameras.models import Camera, NvrVendor
from app.cameras.service import adapter_options
from nvr_adapters import CameraRef, Coverage, DeviceInfo, NvrAdapter, TimeWindow
from nvr_adapters.factory import Vendor, open_adapter


@dataclass(frozen=True)
class DeviceTarget:
    vendor: Vendor
    host: str
    http_port: int
    rtsp_port: int
    username: str
    password: str
    timezone: str
    camera: CameraRef
    window: TimeWindow  # true UTC, as requested
    options: dict[str, str | bool] = field(default_factory=dict)  # the NVR's device settings


@dataclass
class DeviceFacts:
    device: dict[str, Any] = field(default_factory=dict)
    clock: dict[str, Any] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)
    shift: timedelta = timedelta(0)  # device clock minus true time, as applied

    def device_window(self, window: TimeWindow) -> TimeWindow:
        return TimeWindow(window.start + self.shift, window.end + self.shift)


def target_for(camera: Camera, window: TimeWindow, password: str) -> DeviceTarget:
    """How to reach a camera's footage: ONVIF by recording (or source) token, else by channel."""
    nvr = camera.nvr
    vendor: Vendor = nvr.vendor.value
    if nvr.vendor is NvrVendor.ONVIF:
        reference = camera.source_token or f"Recording_{camera.channel}"
    else:
        reference = str(camera.channel)
    return DeviceTarget(
        vendor=vendor, host=nvr.host, http_port=nvr.http_port, rtsp_port=nvr.rtsp_port,
        username=nvr.username, password=password, timezone=nvr.timezone,
        camera=CameraRef(str(nvr.id), reference, camera.name), window=window,
        options=adapter_options(nvr),
    )  # fmt: skip


def open_target(target: DeviceTarget) -> NvrAdapter:
    return open_adapter(
        target.vendor, host=target.host, http_port=target.http_port, rtsp_port=target.rtsp_port,
        username=target.username, password=target.password, timezone=target.timezone,
        options=target.options,
    )  # fmt: skip


async def probe_and_search(
    adapter: NvrAdapter, target: DeviceTarget, on_state: Callable[[str, DeviceFacts], None]
) -> tuple[DeviceFacts, TimeWindow, Coverage]:
    """Probe the device, then search the window on its clock; report `searching` as it starts.

    Returns the facts, the window as asked of the device and what the device holds of it."""
    facts = DeviceFacts()
    _probed(facts, await adapter.probe())
    on_state("searching", facts)
    window = facts.device_window(target.window)
    coverage = await adapter.search(target.camera, window)
    _searched(facts, coverage, facts.shift)
    return facts, window, coverage


def _probed(facts: DeviceFacts, info: DeviceInfo) -> None:
    clock = info.clock
    applied = abs(clock.seconds) > clock.uncertainty_s
    facts.shift = timedelta(seconds=clock.seconds) if applied else timedelta(0)
    facts.device = {"make": info.make, "model": info.model, "firmware": info.firmware,
                    "serial": info.serial}  # fmt: skip
    if info.warnings:
        facts.device["warnings"] = list(info.warnings)
    if info.mac is not None:  # the device's own answer, and the call it came with
        facts.device["mac"], facts.device["mac_method"] = info.mac, info.mac_method
    facts.clock = {
        "seconds": f"{clock.seconds:.3f}", "uncertainty_s": f"{clock.uncertainty_s:.3f}",
        "method": clock.method, "measured_at": clock.measured_at.isoformat(),
        "applied": applied,
        # What the offset is against, and which way round (issue 20: only the BAST said so).
        "reference": "the Saksi server's system clock", "sign": "NVR minus server",
    }  # fmt: skip


def _searched(facts: DeviceFacts, coverage: Coverage, shift: timedelta) -> None:
    def span(start: Any, end: Any) -> dict[str, str]:
        return {"start": (start - shift).isoformat(), "end": (end - shift).isoformat()}

    facts.coverage = {
        "recorded": [span(s.start, s.end) for s in coverage.spans],
        "gaps": [span(g.start, g.end) for g in coverage.gaps],
    }
