"""Write fetched access units into an MP4 by stream copy, hashing the file while it is written.

Nothing is re-encoded: the coded NAL units (H.264 or H.265) go into the container as they came
from the NVR (the MP4 muxer only swaps Annex-B start codes for length prefixes, and in an H.265
`hvc1` track keeps the parameter sets in the sample entry rather than in the samples), so camera
signatures and a court expert's own analysis see the original bitstream. The muxer writes a
fragmented MP4 strictly front to back into a file object that refuses to seek, so SHA-256 of the
bytes as they pass is the SHA-256 of the file: no second read. A second hash over the raw access
units (Annex-B, in order, parameter sets included) proves the bitstream equals the device's.

Trimming rule: the clip starts at the key frame at or before the window start (earlier frames
cannot be decoded without it) and ends with the last frame before the window end.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import av

from nvr_adapters import h264, h265
from nvr_adapters.errors import ReplayError
from nvr_adapters.types import AccessUnit, StreamInfo

CLOCK = 90000
TIME_BASE = Fraction(1, CLOCK)  # one object for every packet: Fraction() is not cheap
START_CODE = b"\x00\x00\x00\x01"
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
# How to find the parameter sets among a unit's NAL units, per codec.
PARAMETER_SET_TYPES = {
    "h264": (h264.nal_type, (h264.SPS, h264.PPS)),
    "hevc": (h265.nal_type, h265.PARAMETER_SETS),
}
# Sample entries: `hvc1`, as Apple's players refuse FFmpeg's default `hev1`. In an `hvc1` track
# the parameter sets live only in the sample entry (ISO/IEC 14496-15), so the muxer leaves their
# in-band copies out of the samples; the raw hash still covers them.
CODEC_TAGS = {"hevc": "hvc1"}


class HashingFile:
    """A write-only, forward-only file that hashes everything written through it."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self._target.write(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = 0) -> int:
        raise OSError("the evidence writer only writes forward")

    def flush(self) -> None:
        self._target.flush()


@dataclass(frozen=True)
class ClipFacts:
    path: Path
    sha256: str
    raw_sha256: str
    size: int
    frames: int
    first_frame_utc: datetime
    last_frame_utc: datetime


class ClipWriter:
    """An `AccessUnitSink` that stream-copies into an MP4 at `path` (never overwritten)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None
        self._hashing: HashingFile | None = None
        self._container: Any = None
        self._stream: Any = None
        self._raw = hashlib.sha256()
        self._info: StreamInfo | None = None
        self._sample_entry: frozenset[bytes] | None = None
        self._first: datetime | None = None
        self._last: datetime | None = None
        self._frames = 0

    def start(self, info: StreamInfo) -> None:
        if info.codec not in PARAMETER_SET_TYPES:
            raise ReplayError(f"cannot write {info.codec}")
        self._info = info

    @property
    def _codec(self) -> str:
        return self._info.codec if self._info else "h264"

    def write(self, unit: AccessUnit) -> None:
        if self._container is None:
            self._open(unit)
        assert self._first is not None
        if self._sample_entry is not None and not self._sample_entry.issuperset(
            _parameter_sets(self._codec, unit)
        ):
            # The muxer would drop them, and the frames after would decode wrongly.
            raise ReplayError("the parameter sets changed mid-clip: an hvc1 MP4 cannot carry that")
        annexb = unit.annexb()
        self._raw.update(annexb)
        packet = av.Packet(annexb)
        packet.pts = packet.dts = round((unit.time - self._first).total_seconds() * CLOCK)
        packet.time_base = TIME_BASE
        packet.is_keyframe = unit.key
        packet.stream = self._stream
        self._container.mux(packet)
        self._last = unit.time
        self._frames += 1

    def _open(self, unit: AccessUnit) -> None:
        if not unit.key:
            raise ReplayError("a clip must start with a key frame")
        self._first = unit.time
        self._file = self.path.open("xb")
        self._hashing = HashingFile(self._file)
        options = {"movflags": MOVFLAGS}
        self._container = av.open(self._hashing, mode="w", format="mp4", options=options)
        self._container.metadata["creation_time"] = unit.time.astimezone(UTC).isoformat()
        self._container.metadata["comment"] = f"saksi first frame UTC {unit.time.isoformat()}"
        # The sets the first key frame was coded with; the SDP's are what the device streams
        # live, which a recording made earlier need not match.
        sets = _parameter_sets(self._codec, unit) or (
            self._info.parameter_sets if self._info else ()
        )
        if not sets:
            raise ReplayError("neither the first key frame nor the SDP has the parameter sets")
        extradata = b"".join(START_CODE + p for p in sets)
        self._stream = _add_stream(self._container, self._codec, extradata, unit)
        if self._codec in CODEC_TAGS:
            self._sample_entry = frozenset(sets)

    def close(self) -> ClipFacts:
        """Finish the file and return its facts (hash computed while writing)."""
        if self._container is None or self._hashing is None or self._file is None:
            raise ReplayError("no frame was received: nothing to write")
        self._container.close()
        self._file.close()
        assert self._first is not None
        assert self._last is not None
        return ClipFacts(
            path=self.path,
            sha256=self._hashing.sha256.hexdigest(),
            raw_sha256=self._raw.hexdigest(),
            size=self._hashing.size,
            frames=self._frames,
            first_frame_utc=self._first,
            last_frame_utc=self._last,
        )


def _add_stream(container: Any, codec: str, extradata: bytes, unit: AccessUnit) -> Any:
    """Add a stream whose sample entry carries `extradata`, without opening an encoder.

    `add_stream` makes an encoder, which PyAV opens before writing the header, and which then puts
    parameter sets of its own into the sample entry (libx264's profile, not the camera's). A
    stream copied from a template (here, the key frame as an elementary stream) is never opened.
    """
    with av.open(io.BytesIO(extradata + unit.annexb()), format=codec) as probe:
        stream = container.add_stream_from_template(probe.streams.video[0])
    stream.width, stream.height = _dimensions(codec, unit)
    stream.time_base = Fraction(1, CLOCK)
    stream.codec_context.extradata = extradata
    if codec in CODEC_TAGS:
        stream.codec_context.codec_tag = CODEC_TAGS[codec]
    return stream


def _parameter_sets(codec: str, unit: AccessUnit) -> tuple[bytes, ...]:
    nal_type, kinds = PARAMETER_SET_TYPES[codec]
    return tuple(n for n in unit.nals if nal_type(n) in kinds)


def _dimensions(codec: str, unit: AccessUnit) -> tuple[int, int]:
    """Read the picture size by decoding the first key frame (metadata only; nothing is kept)."""
    decoder = av.CodecContext.create(codec, "r")
    assert isinstance(decoder, av.VideoCodecContext)
    for frame in decoder.decode(av.Packet(unit.annexb())):
        return int(frame.width), int(frame.height)
    for frame in decoder.decode(None):
        return int(frame.width), int(frame.height)
    raise ReplayError("the first key frame does not decode")
