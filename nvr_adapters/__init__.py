"""Talking to NVRs: the RTSP/ONVIF replay client, H.264 depacketisation, and the stream-copy
writer that hashes clips while writing them."""

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

__all__ = [
    "AccessUnit",
    "AccessUnitSink",
    "CameraRef",
    "ClockOffset",
    "Coverage",
    "DeviceInfo",
    "ClipFacts",
    "ClipWriter",
    "FetchStats",
    "NvrAdapter",
    "NvrAuthFailed",
    "NvrBusy",
    "NvrError",
    "NvrUnreachable",
    "RecordingNotFound",
    "ReplayError",
    "ReplayTarget",
    "Span",
    "StreamInfo",
    "TimeWindow",
    "fetch",
]
