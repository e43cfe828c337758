"""Talking to NVRs: the RTSP/ONVIF replay client, H.264 and H.265 depacketisation, the
stream-copy writer that hashes clips while writing them, and the vendor adapters.

The vendor adapters (and `open_adapter`) are imported on first use: they bring the SOAP and HTTP
stacks, which a plain replay (`saksi replay`) does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nvr_adapters.errors import (
    NvrAuthFailed,
    NvrBusy,
    NvrError,
    NvrUnreachable,
    RecordingNotFound,
    ReplayError,
)
from nvr_adapters.replay import FetchStats, ReplayTarget, fetch
from nvr_adapters.types import (
    AccessUnit,
    AccessUnitSink,
    CameraRef,
    ClockOffset,
    Coverage,
    DeviceInfo,
    NvrAdapter,
    Span,
    StreamInfo,
    TimeWindow,
)
from nvr_adapters.writer import ClipFacts, ClipWriter

if TYPE_CHECKING:
    from nvr_adapters.dahua import DahuaAdapter
    from nvr_adapters.factory import Vendor, open_adapter
    from nvr_adapters.hikvision import HikvisionAdapter
    from nvr_adapters.onvif import OnvifAdapter

_LAZY = {
    "DahuaAdapter": "nvr_adapters.dahua",
    "HikvisionAdapter": "nvr_adapters.hikvision",
    "OnvifAdapter": "nvr_adapters.onvif",
    "Vendor": "nvr_adapters.factory",
    "open_adapter": "nvr_adapters.factory",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nvr_adapters' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AccessUnit",
    "AccessUnitSink",
    "CameraRef",
    "ClockOffset",
    "Coverage",
    "DahuaAdapter",
    "DeviceInfo",
    "ClipFacts",
    "ClipWriter",
    "FetchStats",
    "HikvisionAdapter",
    "NvrAdapter",
    "NvrAuthFailed",
    "NvrBusy",
    "NvrError",
    "NvrUnreachable",
    "OnvifAdapter",
    "RecordingNotFound",
    "ReplayError",
    "ReplayTarget",
    "Span",
    "StreamInfo",
    "TimeWindow",
    "Vendor",
    "fetch",
    "open_adapter",
]
