"""The typed seam between the service and the devices: windows, spans, access units, sinks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TimeWindow:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a time window needs tz-aware datetimes")
        if self.end <= self.start:
            raise ValueError("a time window must end after it starts")


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One coded picture as received: NAL units without start codes, and when it was recorded."""

    time: datetime
    nals: tuple[bytes, ...]
    key: bool
    # ONVIF replay flags of this unit (0xABAC): D after a discontinuity, E before a gap.
    discontinuity: bool = False
    end_of_section: bool = False

    def annexb(self) -> bytes:
        return b"".join(b"\x00\x00\x00\x01" + nal for nal in self.nals)


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
