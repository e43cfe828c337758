"""The NVR's archive: which spans each camera recorded, and the access units of a range."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from nvr_sim.config import CameraConfig, SimConfig, segment_start
from nvr_sim.footage import AccessUnit, Footage
from nvr_sim.wire import WireCache, WireSegment


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ReplayUnit:
    """An access unit as replayed: with the flags of the ONVIF replay extension."""

    unit: AccessUnit
    # D: the first unit after a gap in the recording; E: the last unit before one.
    discontinuity: bool
    end_of_section: bool


@dataclass(frozen=True, slots=True)
class ReplayRun:
    """Units [lo, hi) of one framed segment, as replayed: the flags of the ONVIF replay
    extension on its edges, as `ReplayUnit` has them on each unit."""

    wire: WireSegment
    lo: int
    hi: int
    discontinuity: bool  # on units[lo]
    end_of_section: bool  # on units[hi - 1]


class Archive:
    def __init__(self, config: SimConfig, footage: Footage | None = None) -> None:
        self.config = config
        self.footage = footage or Footage(config)
        self.wire = WireCache(self.footage)

    def now(self) -> datetime:
        """The NVR's own clock (it may be off from true time by the configured offset)."""
        return datetime.now(UTC) + self.config.clock_offset

    def oldest(self) -> datetime:
        return segment_start(self.now() - self.config.retention, self.config.segment_seconds)

    def newest(self) -> datetime:
        # Only whole segments are "recorded": the one being written is not replayable yet.
        return segment_start(self.now(), self.config.segment_seconds)

    def recorded(self, camera: CameraConfig, start: datetime) -> bool:
        """Whether the segment starting at `start` exists on this camera."""
        return self.oldest() <= start < self.newest() and self._scheduled(camera, start)

    def _scheduled(self, camera: CameraConfig, start: datetime) -> bool:
        """Whether the camera's schedule records the segment (retention aside)."""
        if camera.schedule != "motion":
            return True
        number = int(start.timestamp()) // self.config.segment_seconds
        return number % self.config.motion_period != self.config.motion_period - 1

    def spans(self, camera: CameraConfig, start: datetime, end: datetime) -> list[Span]:
        """The recorded spans of a camera overlapping [start, end), merged."""
        spans: list[Span] = []
        for seg in self._segments(start, end):  # those retention keeps
            if not self._scheduled(camera, seg):
                continue
            seg_end = seg + timedelta(seconds=self.config.segment_seconds)
            if spans and spans[-1].end == seg:
                spans[-1] = Span(spans[-1].start, seg_end)
            else:
                spans.append(Span(seg, seg_end))
        return [Span(max(s.start, start), min(s.end, end)) for s in spans]

    def files(self, camera: CameraConfig, start: datetime, end: datetime) -> list[datetime]:
        """The starts of the recorded segments overlapping [start, end): the device's files."""
        return [seg for seg in self._segments(start, end) if self._scheduled(camera, seg)]

    def _segments(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """The segments overlapping [start, end) that retention still keeps: nothing outside it
        is recorded, and a search reaching back a year would otherwise walk three million
        ten-second segments one by one (long enough for a client to time out)."""
        step = timedelta(seconds=self.config.segment_seconds)
        seg = max(segment_start(start, self.config.segment_seconds), self.oldest())
        end = min(end, self.newest())
        while seg < end:
            yield seg
            seg += step

    def replay(self, camera: CameraConfig, start: datetime, end: datetime) -> Iterator[ReplayUnit]:
        """Yield the units from the clean point at or before `start` up to `end`."""
        pending: tuple[AccessUnit, bool] | None = None
        after_gap = started = False
        for seg in self._segments(start, end):
            if not self.recorded(camera, seg):
                after_gap = started
                continue
            for unit in self._from_clean_point(camera, seg, start, started):
                if unit.time >= end:
                    break
                if pending is not None:
                    yield ReplayUnit(pending[0], pending[1], end_of_section=after_gap)
                pending, after_gap, started = (unit, after_gap), False, True
        if pending is not None:
            yield ReplayUnit(pending[0], pending[1], end_of_section=True)

    def replay_runs(
        self, camera: CameraConfig, start: datetime, end: datetime, *, onvif: bool
    ) -> Iterator[ReplayRun]:
        """The units `replay` yields, framed for the wire, one run per recorded segment."""
        pending: ReplayRun | None = None
        after_gap = started = False
        for seg in self._segments(start, end):
            if not self.recorded(camera, seg):
                after_gap = started
                continue
            wire = self.wire.segment(camera, seg, onvif)
            lo = 0 if started or wire.time(0) >= start else wire.clean_point(start)
            hi = wire.count_before(end)
            if hi <= lo:
                continue
            if pending is not None:
                yield replace(pending, end_of_section=after_gap)
            pending = ReplayRun(wire, lo, hi, discontinuity=after_gap, end_of_section=False)
            after_gap, started = False, True
        if pending is not None:
            yield replace(pending, end_of_section=True)

    def _from_clean_point(
        self, camera: CameraConfig, seg: datetime, start: datetime, started: bool
    ) -> Iterator[AccessUnit]:
        units = self.footage.segment(camera, seg)
        if started or units[0].time >= start:
            yield from units
            return
        first = max(i for i, u in enumerate(units) if u.key and u.time <= start)
        yield from units[first:]
