"""Talking to NVRs: the RTSP/ONVIF replay client, H.264 depacketisation, and the stream-copy
writer that hashes clips while writing them."""

from nvr_adapters.dahua import DahuaAdapter
from nvr_adapters.errors import (
    NvrAuthFailed,
    NvrBusy,
    NvrError,
    NvrUnreachable,
    RecordingNotFound,
    ReplayError,
)
from nvr_adapters.factory import Vendor, open_adapter
from nvr_adapters.hikvision import HikvisionAdapter
from nvr_adapters.onvif import OnvifAdapter
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
