"""Check a written clip and picture it: every frame decodes, its times cover the window, gaps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import cv2
import numpy as np

from nvr_adapters.errors import ReplayError
from nvr_adapters.types import TimeWindow

COMMENT_PREFIX = "saksi first frame UTC "
ZONE_LABELS = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class ClipCheck:
    frames: int
    decoded: int
    first_frame_utc: datetime
    last_frame_utc: datetime
    gaps: list[Gap] = field(default_factory=list)
    starts_late_s: float = 0.0
    ends_early_s: float = 0.0

    @property
    def complete(self) -> bool:
        """Every frame decoded, and nothing of the window is missing at either end or between."""
        return self.decoded == self.frames and not self.gaps and self.starts_late_s <= 0


def first_frame_utc(path: Path) -> datetime:
    """The UTC time of the first frame, as the writer recorded it in the container."""
    with av.open(str(path)) as container:
        comment = container.metadata.get("comment", "")
    if not comment.startswith(COMMENT_PREFIX):
        raise ReplayError(f"{path.name} carries no first-frame time")
    return datetime.fromisoformat(comment.removeprefix(COMMENT_PREFIX))


def frame_times(path: Path) -> tuple[list[datetime], int]:
    """Decode every frame; return their UTC times and how many packets there were."""
    origin = first_frame_utc(path)
    times, packets = [], 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size:
                packets += 1
            for frame in packet.decode():
                times.append(origin + timedelta(seconds=_seconds(frame.pts, stream.time_base)))
    return sorted(times), packets


def check_clip(path: Path, window: TimeWindow, gap_factor: float = 2.5) -> ClipCheck:
    """Decode the whole clip and compare its frame times with the requested window."""
    times, packets = frame_times(path)
    if not times:
        raise ReplayError(f"{path.name} has no decodable frame")
    steps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
    nominal = steps[len(steps) // 2] if steps else timedelta(0)
    limit = nominal * gap_factor
    gaps = [Gap(a, b) for a, b in zip(times, times[1:], strict=False) if nominal and b - a > limit]
    # Nothing recorded at the start or the end of the window is a gap too (a motion camera).
    if nominal and times[0] - window.start > limit:
        gaps.insert(0, Gap(window.start, times[0]))
    if nominal and window.end - (times[-1] + nominal) > limit:
        gaps.append(Gap(times[-1] + nominal, window.end))
    return ClipCheck(
        frames=packets, decoded=len(times), first_frame_utc=times[0], last_frame_utc=times[-1],
        gaps=gaps, starts_late_s=(times[0] - window.start).total_seconds(),
        ends_early_s=(window.end - times[-1] - nominal).total_seconds(),
    )  # fmt: skip


def contact_sheet(
    path: Path, out: Path, every_seconds: float, zone: ZoneInfo, columns: int = 4
) -> int:
    """Write a JPEG of thumbnails every `every_seconds`, labelled in office time; return count."""
    origin = first_frame_utc(path)
    thumbs, next_at = [], 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            offset = _seconds(frame.pts, stream.time_base)
            if offset + 1e-6 < next_at:
                continue
            moment = (origin + timedelta(seconds=offset)).astimezone(zone)
            thumbs.append(
                _thumbnail(frame.to_ndarray(format="bgr24"), f"{moment:%d/%m/%Y %H:%M:%S}")
            )
            next_at = offset + every_seconds
    if not thumbs:
        raise ReplayError("no frame to picture")
    rows = [thumbs[i : i + columns] for i in range(0, len(thumbs), columns)]
    blank = np.zeros_like(thumbs[0])
    grid = [np.hstack(row + [blank] * (columns - len(row))) for row in rows]
    cv2.imwrite(str(out), np.vstack(grid), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return len(thumbs)


def _seconds(pts: int | None, time_base: Fraction | None) -> float:
    if pts is None or time_base is None:
        raise ReplayError("a frame without a timestamp cannot be placed in time")
    return float(pts * time_base)


def _thumbnail(image: np.ndarray, label: str, width: int = 320) -> np.ndarray:
    height = int(image.shape[0] * width / image.shape[1])
    thumb = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    cv2.rectangle(thumb, (0, height - 22), (width, height), (0, 0, 0), -1)
    cv2.putText(thumb, label, (6, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
    return thumb
