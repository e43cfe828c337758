"""The SHA-256 of a clip's video stream in the byte form stock FFmpeg writes it.

A recipient reproduces it with

    ffmpeg -i CLIP -map 0:v:0 -c copy -bsf:v h264_mp4toannexb -f h264 - | sha256sum
    ffmpeg -i CLIP -map 0:v:0 -c copy -bsf:v hevc_mp4toannexb -f hevc - | sha256sum

Saksi's own "raw" hash (`raw_sha256`: every NAL unit behind a 4-byte start code) proves the
frames equal the device's, but no stock tool writes that form (issue 20). This module computes
the FFmpeg form with our own code from the MP4's samples (PyAV only demuxes: nothing is decoded
or re-muxed), following the behaviour of FFmpeg 5.1's bitstream filters
(libavcodec/h264_mp4toannexb_bsf.c and hevc_mp4toannexb_bsf.c, read, not copied):

- H.264: each NAL unit of a sample gets a 3-byte start code (00 00 01), except the first of the
  sample's output and SPS/PPS units, which get 4 (00 00 00 01). The avcC parameter sets (4-byte
  start codes) are put before an IDR slice when the stream carries none of its own before it
  (the slice after them then takes 3 bytes); the filter's state (a new IDR picture expected,
  SPS/PPS seen) runs across samples.
- H.265: every NAL unit gets a 4-byte start code, and the hvcC's arrays (4-byte start codes
  each) are put before the first IRAP unit (types 16-23) of every sample, whether or not the
  sample carries its own parameter sets.

A test runs the commands above on H.264 and H.265 clips and compares.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av

FOUR, THREE = b"\x00\x00\x00\x01", b"\x00\x00\x01"
H264_IDR, H264_NON_IDR, H264_SPS, H264_PPS = 5, 1, 7, 8
HEVC_IRAP = range(16, 24)
COMMANDS = {
    "h264": "ffmpeg -i {clip} -map 0:v:0 -c copy -bsf:v h264_mp4toannexb -f h264 - | sha256sum",
    "hevc": "ffmpeg -i {clip} -map 0:v:0 -c copy -bsf:v hevc_mp4toannexb -f hevc - | sha256sum",
}


@dataclass(frozen=True, slots=True)
class StreamHash:
    codec: str  # "h264" or "hevc"
    sha256: str

    def command(self, clip: str) -> str:
        """The stock command that prints the same hash for `clip`."""
        return COMMANDS[self.codec].format(clip=clip)


def elementary_stream_sha256(path: Path) -> StreamHash:
    """Hash the first video stream of an MP4 as FFmpeg's mp4toannexb filter writes it."""
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec, extradata = stream.codec_context.name, bytes(stream.codec_context.extradata or b"")
        if codec == "h264":
            convert = _H264(*_avcc(extradata)).sample
        elif codec == "hevc":
            convert = _Hevc(*_hvcc(extradata)).sample
        else:
            raise ValueError(f"{path.name}: {codec} has no Annex-B form")
        for packet in container.demux(stream):
            if packet.size:
                for piece in convert(bytes(packet)):
                    digest.update(piece)
    return StreamHash(codec, digest.hexdigest())


def _units(sample: bytes, length_size: int) -> Iterator[bytes]:
    """The NAL units of a length-prefixed MP4 sample."""
    offset = 0
    while offset + length_size <= len(sample):
        size = int.from_bytes(sample[offset : offset + length_size], "big")
        offset += length_size
        yield sample[offset : offset + size]
        offset += size


def _avcc(extradata: bytes) -> tuple[int, bytes, bytes]:
    """Length size, SPS units and PPS units (each behind 4 bytes) of an avcC record."""
    length_size = (extradata[4] & 0x03) + 1
    offset, groups = 5, []
    for mask in (0x1F, 0xFF):  # the SPS count has 5 bits, the PPS count 8
        count, offset = extradata[offset] & mask, offset + 1
        units = b""
        for _ in range(count):
            size = int.from_bytes(extradata[offset : offset + 2], "big")
            units += FOUR + extradata[offset + 2 : offset + 2 + size]
            offset += 2 + size
        groups.append(units)
    return length_size, groups[0], groups[1]


def _hvcc(extradata: bytes) -> tuple[int, bytes]:
    """Length size and every parameter set (each behind 4 bytes) of an hvcC record."""
    length_size, arrays = (extradata[21] & 0x03) + 1, extradata[22]
    offset, units = 23, b""
    for _ in range(arrays):
        count = int.from_bytes(extradata[offset + 1 : offset + 3], "big")
        offset += 3
        for _ in range(count):
            size = int.from_bytes(extradata[offset : offset + 2], "big")
            units += FOUR + extradata[offset + 2 : offset + 2 + size]
            offset += 2 + size
    return length_size, units


@dataclass
class _H264:
    length_size: int
    sps: bytes
    pps: bytes
    new_idr: bool = True
    sps_seen: bool = False
    pps_seen: bool = False
    _out: list[bytes] = field(default_factory=list)

    def sample(self, sample: bytes) -> list[bytes]:
        self._out = []
        for unit in _units(sample, self.length_size):
            self._unit(unit, unit[0] & 0x1F)
        return self._out

    def _emit(self, prefix: bytes, unit: bytes, parameter_set: bool) -> None:
        """Parameter sets inserted from the avcC count as output: a unit after them is no
        longer the sample's first."""
        first = not self._out and not prefix
        self._out += [prefix, FOUR if first or parameter_set else THREE, unit]

    def _unit(self, unit: bytes, kind: int) -> None:
        if kind == H264_SPS:
            self.sps_seen = self.new_idr = True
        elif kind == H264_PPS:
            self.pps_seen = self.new_idr = True
            if not self.sps_seen and self.sps:  # the avcC's SPS goes before a lone PPS
                self._emit(self.sps, unit, True)
                self.sps_seen = True
                return
        if not self.new_idr and kind == H264_IDR and unit[1] & 0x80:  # first_mb_in_slice 0
            self.new_idr = True
        if self.new_idr and kind == H264_IDR and not self.sps_seen and not self.pps_seen:
            self._emit(self.sps + self.pps, unit, False)
            self.new_idr = False
        elif self.new_idr and kind == H264_IDR and self.sps_seen and not self.pps_seen:
            self._emit(self.pps, unit, False)
        else:
            self._emit(b"", unit, kind in (H264_SPS, H264_PPS))
            if not self.new_idr and kind == H264_NON_IDR:
                self.new_idr, self.sps_seen, self.pps_seen = True, False, False


@dataclass
class _Hevc:
    length_size: int
    parameter_sets: bytes

    def sample(self, sample: bytes) -> list[bytes]:
        out: list[bytes] = []
        irap_seen = False
        for unit in _units(sample, self.length_size):
            irap = (unit[0] >> 1) & 0x3F in HEVC_IRAP
            if irap and not irap_seen:
                out.append(self.parameter_sets)
            irap_seen |= irap
            out += [FOUR, unit]
        return out
