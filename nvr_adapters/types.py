"""The typed seam between the service and the devices: windows, spans, access units, sinks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol

START_CODE = b"\x00\x00\x00\x01"


@dataclass(frozen=True, slots=True)
class TimeWindow:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a time window needs tz-aware datetimes")
        if self.end <= self.start:
            raise ValueError("a time window must end after it starts")


class AccessUnit(NamedTuple):
    """One coded picture as received: NAL units without start codes, and when it was recorded.

    A named tuple, not a dataclass: tens of thousands are made per minute of footage, and a tuple
    is made in a third of the time of a frozen dataclass (immutable all the same)."""

    time: datetime
    nals: tuple[bytes, ...]
    key: bool
    # ONVIF replay flags of this unit (0xABAC): D after a discontinuity, E before a gap.
    discontinuity: bool = False
    end_of_section: bool = False

    def annexb(self) -> bytes:
        """The NAL units each behind a 4-byte start code (one join: no copy per unit)."""
        return START_CODE.join((b"", *self.nals)) if self.nals else b""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    codec: str
    parameter_sets: tuple[bytes, ...]
    clock_rate: int = 90000
    extra: dict[str, str] = field(default_factory=dict)


class AccessUnitSink(Protocol):
    """Where fetched access units go (the writer, a test, a counter)."""

    def start(self, info: StreamInfo) -> None: ...

    def write(self, unit: AccessUnit) -> None: ...


@dataclass(frozen=True, slots=True)
class CameraRef:
    """One camera on one NVR: the adapter's channel or recording token and a display name."""

    nvr_id: str
    channel: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """How far the device clock is ahead of ours (negative: behind), and how that was measured."""

    seconds: float
    method: str  # e.g. "onvif-GetSystemDateAndTime", "isapi-time", "rtcp-sender-report"
    measured_at: datetime
    uncertainty_s: float = 0.0


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    make: str
    model: str
    firmware: str
    serial: str
    clock: ClockOffset
    # What the probe found amiss with the device's settings (e.g. its time zone), for the record.
    warnings: tuple[str, ...] = ()
    # The device's own MAC address (`aa:bb:cc:dd:ee:ff`), None when it does not tell, and the
    # call it was read with (e.g. "onvif-GetNetworkInterfaces").
    mac: str | None = None
    mac_method: str | None = None


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a device holds for a window: recorded spans, and the gaps between them."""

    window: TimeWindow
    spans: tuple[Span, ...]
    # What the device's search says the window's recording weighs (its files' sizes, in
    # proportion to how much of each the window takes); None when it does not say.
    recorded_bytes: int | None = None

    @property
    def gaps(self) -> tuple[Span, ...]:
        gaps, cursor = [], self.window.start
        for span in sorted(self.spans, key=lambda s: s.start):
            if span.start > cursor:
                gaps.append(Span(cursor, min(span.start, self.window.end)))
            cursor = max(cursor, span.end)
        if cursor < self.window.end:
            gaps.append(Span(cursor, self.window.end))
        return tuple(g for g in gaps if g.end > g.start)


class NvrAdapter(Protocol):
    """One NVR, whatever its make: what it is, what it holds, and its footage."""

    async def probe(self) -> DeviceInfo: ...

    async def search(self, camera: CameraRef, window: TimeWindow) -> Coverage: ...

    async def fetch(self, camera: CameraRef, window: TimeWindow, sink: AccessUnitSink) -> None: ...

    async def oldest_recording(self, camera: CameraRef, since: datetime) -> datetime | None:
        """The start of the camera's oldest footage still on the device (device clock), looking
        no further back than `since`; None when nothing is recorded. What it overwrites next."""
        ...

    async def aclose(self) -> None: ...
