"""Synthetic recordings: frames drawn with OpenCV, encoded once with libx264 (libx265 for an H.265
camera), cached on disk.

The archive is virtual: a segment (e.g. one minute) is encoded the first time something asks for
it and kept in the cache, so a 24-hour archive costs only what is replayed. Every frame shows the
camera's name and the wall-clock time it was "recorded" (UTC and WIB), so a replay can be read
by eye; each access unit is stored with its exact UTC time, which is the truth the tests compare
against.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import av
import cv2
import numpy as np

from nvr_sim.config import CameraConfig, SimConfig

START_CODE = b"\x00\x00\x00\x01"


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One coded picture: its NAL units (without start codes) and its recording time."""

    time: datetime
    key: bool
    nals: tuple[bytes, ...]

    def annexb(self) -> bytes:
        return b"".join(START_CODE + nal for nal in self.nals)


class Footage:
    """Encodes and caches the segments of every camera."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()

    def segment(self, camera: CameraConfig, start: datetime) -> list[AccessUnit]:
        """Return the access units of the segment starting at `start`, encoding it if needed."""
        path = self._path(camera, start)
        with self._lock(path):
            if not path.with_suffix(".json").exists():
                self._encode(camera, start, path)
        return _load(path)

    def _path(self, camera: CameraConfig, start: datetime) -> Path:
        c = self.config
        shape = f"{c.width}x{c.height}@{c.fps}-g{c.gop_seconds}-s{c.segment_seconds}"
        # H.264 keeps the folder it always had, so existing caches stay valid.
        folder = f"ch{camera.channel}" + ("" if camera.codec == "h264" else f"-{camera.codec}")
        return c.cache_dir / shape / folder / f"{int(start.timestamp())}.{camera.codec}"

    def _lock(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())

    def _encode(self, camera: CameraConfig, start: datetime, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        c = self.config
        codec = _encoder(camera.codec, c.gop_seconds * c.fps)
        codec.width, codec.height, codec.pix_fmt = c.width, c.height, "yuv420p"
        codec.time_base = Fraction(1, c.fps)
        codec.framerate = Fraction(c.fps, 1)
        units: list[dict[str, object]] = []
        with path.with_suffix(".part").open("wb") as out:
            for index in range(c.segment_seconds * c.fps):
                moment = start + timedelta(seconds=index / c.fps)
                frame = av.VideoFrame.from_ndarray(
                    self._draw(camera, moment, index), format="bgr24"
                )
                frame.pts = index
                for packet in codec.encode(frame):
                    _append(out, packet, start, c.fps, units)
            for packet in codec.encode(None):
                _append(out, packet, start, c.fps, units)
        path.with_suffix(".part").replace(path)
        path.with_suffix(".json").write_text(json.dumps(units))

    def _draw(self, camera: CameraConfig, moment: datetime, index: int) -> np.ndarray:
        c = self.config
        image = np.full((c.height, c.width, 3), (48, 40, 32), dtype=np.uint8)
        scale = c.height / 720
        # Something that moves, so a frozen stream is visible at a glance.
        x = int(index * 7 % max(1, c.width - 80 * scale))
        cv2.rectangle(image, (x, int(c.height * 0.6)), (x + int(80 * scale), int(c.height * 0.75)),
                      (0, 165, 255), -1)  # fmt: skip
        local = moment.astimezone(ZoneInfo("Asia/Jakarta"))
        lines = [
            camera.name,
            f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC",
            f"{local:%Y-%m-%d %H:%M:%S} WIB",
        ]
        for number, text in enumerate(lines):
            cv2.putText(image, text, (int(20 * scale), int((60 + 70 * number) * scale)),
                        cv2.FONT_HERSHEY_SIMPLEX, 1.6 * scale, (255, 255, 255),
                        max(1, int(3 * scale)), cv2.LINE_AA)  # fmt: skip
        return image


def _encoder(codec: str, keyint: int) -> av.VideoCodecContext:
    """An encoder whose every GOP opens with an IDR picture that carries its parameter sets."""
    common = f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0:repeat-headers=1:aud=0"
    if codec == "h264":
        context = av.CodecContext.create("libx264", "w")
        context.options = {"preset": "ultrafast", "x264-params": common}
        return context
    if "libx265" not in av.codecs_available:
        raise RuntimeError("H.265 footage needs libx265, which this build of PyAV lacks")
    context = av.CodecContext.create("libx265", "w")
    # x265 opens GOPs with CRA pictures unless told not to; a closed GOP starts with an IDR.
    params = f"{common}:open-gop=0:log-level=error"
    context.options = {"preset": "ultrafast", "x265-params": params}
    return context


def _append(
    out: IO[bytes], packet: Any, start: datetime, fps: int, units: list[dict[str, object]]
) -> None:
    data = bytes(packet)
    offset = out.tell()
    out.write(data)
    pts = int(packet.pts if packet.pts is not None else len(units))
    units.append({"pts": pts, "key": bool(packet.is_keyframe), "offset": offset, "size": len(data)})


def _load(path: Path) -> list[AccessUnit]:
    index = json.loads(path.with_suffix(".json").read_text())
    start = datetime.fromtimestamp(int(path.stem), tz=UTC)
    fps = int(path.parent.parent.name.split("@")[1].split("-")[0])
    data = path.read_bytes()
    units = []
    for entry in index:
        chunk = data[entry["offset"] : entry["offset"] + entry["size"]]
        units.append(
            AccessUnit(
                time=start + timedelta(seconds=entry["pts"] / fps),
                key=entry["key"],
                nals=tuple(split_annexb(chunk)),
            )
        )
    return units


def split_annexb(data: bytes) -> Iterator[bytes]:
    """Split an Annex-B byte stream into NAL units (3- or 4-byte start codes)."""
    positions = []
    i = 0
    while (i := data.find(b"\x00\x00\x01", i)) != -1:
        positions.append(i)
        i += 3
    for number, position in enumerate(positions):
        begin = position + 3
        end = positions[number + 1] if number + 1 < len(positions) else len(data)
        nal = data[begin:end]
        # A 4-byte start code leaves its leading zero on the previous NAL: drop trailing zeros.
        if number + 1 < len(positions):
            nal = nal.rstrip(b"\x00") if nal.endswith(b"\x00") else nal
        if nal:
            yield nal
