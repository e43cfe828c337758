"""Synthetic recordings: frames drawn with OpenCV, encoded once with libx264 (libx265 for an H.265
camera), cached on disk.

The archive is virtual: a segment (e.g. one minute) is encoded the first time something asks for
it and kept in the cache, so a 24-hour archive costs only what is replayed. Every frame shows the
camera's name and the wall-clock time it was "recorded" (UTC and WIB), so a replay can be read
by eye; each access unit is stored with its exact UTC time, which is the truth the tests compare
against.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import av
import cv2
import numpy as np

from nvr_sim.config import CameraConfig, SimConfig
from nvr_sim.rtp import PARAMETER_SET_TYPES, nal_type

START_CODE = b"\x00\x00\x00\x01"
# Filler data NAL units, to bring footage up to a camera's bitrate: H.264 nal_unit_type 12
# (Rec. ITU-T H.264 Table 7-1, filler_data_rbsp §7.3.2.7), header 0x0C since nal_ref_idc is 0
# for filler (§7.4.1); H.265 FD_NUT 38 (Rec. ITU-T H.265 Table 7-1, filler_data_rbsp §7.3.2.8),
# header 0x4C 0x01 (nuh_layer_id 0, TemporalId 0). The payload is ff_byte 0xFF repeated, then
# rbsp_trailing_bits 0x80. Both standards forbid filler before an access unit's first VCL NAL
# unit (H.264 §7.4.1.2.3, H.265 §7.4.2.4.4), so it goes last.
FILLER_HEADER = {"h264": b"\x0c", "h265": b"\x4c\x01"}
# Filler payloads are multiples of this, so that units share the few distinct filler strings
# (a padded minute of 720p holds no more memory than its encoded bytes and a few fillers).
FILLER_STEP = 256


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
        self._parameter_sets: dict[Path, tuple[bytes, ...]] = {}

    def segment(self, camera: CameraConfig, start: datetime) -> list[AccessUnit]:
        """Return the access units of the segment starting at `start`, encoding it if needed."""
        path = self._path(camera, start)
        with self._lock(path):
            if not path.with_suffix(".json").exists():
                self._encode(camera, start, path)
        units = _load(path)
        kbps = self.config.bitrate_kbps
        # The cache keeps what the encoder made; the filler is added at every load, the same
        # each time, so changing the bitrate needs no new encode.
        return with_filler(units, camera.codec, kbps, self.config.fps) if kbps else units

    def parameter_sets(self, camera: CameraConfig) -> tuple[bytes, ...]:
        """The camera's parameter sets (SPS, PPS; H.265: VPS, SPS, PPS), which open every GOP.

        They depend only on the encoder settings, so they are worked out once per camera: from
        any segment already cached, else from a one-frame encode, never a whole segment's.
        """
        folder = self._folder(camera)
        with self._lock(folder):
            if folder not in self._parameter_sets:
                cached = next(folder.glob("*.json"), None) if folder.is_dir() else None
                nals = (
                    _first_nals(cached.with_suffix(f".{camera.codec}"))
                    if cached
                    else self._encode_one_frame(camera)
                )
                found = {nal_type(camera.codec, nal): nal for nal in nals}
                sets = tuple(found[kind] for kind in PARAMETER_SET_TYPES[camera.codec])
                self._parameter_sets[folder] = sets
            return self._parameter_sets[folder]

    def _path(self, camera: CameraConfig, start: datetime) -> Path:
        return self._folder(camera) / f"{int(start.timestamp())}.{camera.codec}"

    def _folder(self, camera: CameraConfig) -> Path:
        c = self.config
        shape = f"{c.width}x{c.height}@{c.fps}-g{c.gop_seconds}-s{c.segment_seconds}"
        # H.264 keeps the folder it always had, so existing caches stay valid.
        folder = f"ch{camera.channel}" + ("" if camera.codec == "h264" else f"-{camera.codec}")
        return c.cache_dir / shape / folder

    def _lock(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())

    def _encode(self, camera: CameraConfig, start: datetime, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        c = self.config
        codec = self._encoder(camera)
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

    def _encoder(self, camera: CameraConfig) -> av.VideoCodecContext:
        c = self.config
        codec = _encoder(camera.codec, c.gop_seconds * c.fps)
        codec.width, codec.height, codec.pix_fmt = c.width, c.height, "yuv420p"
        codec.time_base = Fraction(1, c.fps)
        codec.framerate = Fraction(c.fps, 1)
        return codec

    def _encode_one_frame(self, camera: CameraConfig) -> list[bytes]:
        """The NAL units of a one-frame encode with the camera's settings: an IDR picture with
        the same parameter sets as every segment's (the encoder writes them from its settings)."""
        codec = self._encoder(camera)
        picture = np.zeros((self.config.height, self.config.width, 3), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="bgr24")
        frame.pts = 0
        packets = [*codec.encode(frame), *codec.encode(None)]
        return list(split_annexb(bytes(packets[0])))

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


def with_filler(units: Sequence[AccessUnit], codec: str, kbps: int, fps: int) -> list[AccessUnit]:
    """Pad units with filler NAL units so that each second of them carries about `kbps` kbit.

    Each unit is padded up to where a constant bitrate would have the stream by its end, so a
    large key frame is made up for by less filler after it; a unit already past that point
    gets none (footage above the bitrate stays as encoded).
    """
    per_unit = kbps * 1000 / 8 / fps
    overhead = len(START_CODE) + len(FILLER_HEADER[codec]) + 1
    padded: list[AccessUnit] = []
    sent = 0
    for number, unit in enumerate(units):
        size = sum(len(START_CODE) + len(nal) for nal in unit.nals)
        room = round(per_unit * (number + 1)) - sent - size - overhead
        if room < 0:
            padded.append(unit)
        else:
            payload = room - room % FILLER_STEP
            padded.append(replace(unit, nals=(*unit.nals, filler_nal(codec, payload))))
            size += overhead + payload
        sent += size
    return padded


@functools.lru_cache(maxsize=256)
def filler_nal(codec: str, payload: int) -> bytes:
    """A filler data NAL unit with `payload` 0xFF bytes."""
    return FILLER_HEADER[codec] + b"\xff" * payload + b"\x80"


def _first_nals(path: Path) -> list[bytes]:
    """The NAL units of a cached segment's first access unit, read without the rest."""
    first = json.loads(path.with_suffix(".json").read_text())[0]
    with path.open("rb") as data:
        data.seek(first["offset"])
        return list(split_annexb(data.read(first["size"])))


def split_annexb(data: bytes) -> Iterator[bytes]:
    """Split an Annex-B byte stream into NAL units (3- or 4-byte start codes)."""
    pieces = data.split(b"\x00\x00\x01")[1:]  # what comes before the first start code is none
    last = len(pieces) - 1
    for number, piece in enumerate(pieces):
        # A 4-byte start code leaves its leading zero on the previous NAL: drop trailing zeros.
        nal = piece if number == last else piece.rstrip(b"\x00")
        if nal:
            yield nal
