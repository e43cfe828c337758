"""Segments framed for the wire once, each replay filling in only its own header fields.

A real NVR streams its archive from C code, at a cost a client machine never sees. The
simulator shares the machine with the clients it serves (the benchmarks run both on two cores),
so packetising every frame again in Python for every replay would weigh on what is measured. A
segment is therefore packetised once, interleaved framing and RTP headers included, into one
string of bytes with the fields that differ per replay left at zero: the sequence number, the
RTP timestamp and the SSRC of every packet, and the CSeq byte of the ONVIF extension. A replay
copies a range of units and writes those fields with numpy, a few array operations per batch
instead of a few Python calls per packet. The ONVIF flags a replay sets on its edges (D, E, T)
are ORed into the copy; the clean-point flag C and the NTP time are the recording's and are
already there. The result is byte for byte what `Packetizer.framed` makes (tested).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from nvr_sim.config import CameraConfig
from nvr_sim.footage import AccessUnit, Footage
from nvr_sim.rtp import FLAG_CLEAN, Packetizer, onvif_extension

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# Where the per-replay fields sit, from the `$` of an interleaved packet: framing (4 bytes),
# then the RTP header's sequence number (2), timestamp (4) and SSRC (4); in the ONVIF extension
# after the 12-byte RTP header, the flags and the CSeq byte.
SEQUENCE_AT, TIMESTAMP_AT, SSRC_AT = 6, 8, 12
FLAGS_AT, CSEQ_AT = 28, 29
# Segments kept framed, by size: a few hours of 720p across the cameras a benchmark replays
# (footage padded to 4 Mbit/s frames to ~31 MB a minute: then about sixteen minutes).
CACHE_BYTES = 512 << 20

Int64s = npt.NDArray[np.int64]


def microseconds(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def ticks(delta_us: Int64s | int) -> Int64s | int:
    """90 kHz RTP clock ticks in `delta_us` microseconds, rounded to the nearest."""
    return (delta_us * 9 + 50) // 100


@dataclass(frozen=True)
class Fill:
    """The header fields of one replay: first sequence number, SSRC, the RTP time `base` at
    `origin_us`, and the PLAY's CSeq (ONVIF replay only)."""

    sequence: int
    ssrc: int
    origin_us: int
    base: int
    cseq: int


@dataclass(frozen=True)
class Batch:
    data: bytes
    packets: int
    unit_ends: list[int]  # the byte offset in `data` where each unit ends


class WireSegment:
    """One segment's units, packetised and framed on channel 0, per-replay fields zero."""

    def __init__(self, units: Sequence[AccessUnit], codec: str, onvif: bool) -> None:
        self.onvif = onvif
        self.times_us = np.array([microseconds(u.time) for u in units], dtype=np.int64)
        self.keys = np.array([u.key for u in units], dtype=bool)
        packetizer = Packetizer(ssrc=0, sequence=0, codec=codec)
        parts: list[bytes] = []
        unit_at, packet_at, offset = [0], [], 0
        for unit in units:
            extension = onvif_extension(unit.time, FLAG_CLEAN if unit.key else 0, 0)
            for packet in packetizer.framed_packets(unit.nals, 0, extension if onvif else None):
                packet_at.append(offset)
                parts.append(packet)
                offset += len(packet)
            unit_at.append(offset)
        self.data = b"".join(parts)
        self.unit_at = np.array(unit_at, dtype=np.int64)
        self.packet_at = np.array(packet_at, dtype=np.int64)
        # Where each unit's packets begin in `packet_at`, and the unit of every packet.
        self.unit_packets = np.searchsorted(self.packet_at, self.unit_at).astype(np.int64)
        self.packet_unit = np.repeat(np.arange(len(units)), np.diff(self.unit_packets))

    def __len__(self) -> int:
        return len(self.times_us)

    def clean_point(self, start: datetime) -> int:
        """The index of the key frame at or before `start` (0 if the segment starts after it)."""
        before = np.flatnonzero(self.keys & (self.times_us <= microseconds(start)))
        return int(before[-1]) if len(before) else 0

    def count_before(self, end: datetime) -> int:
        """How many units were recorded before `end`."""
        return int(np.searchsorted(self.times_us, microseconds(end), side="left"))

    def time(self, index: int) -> datetime:
        return EPOCH + int(self.times_us[index]) * MICROSECOND

    def batch(self, lo: int, hi: int, fill: Fill, flags: dict[int, int]) -> Batch:
        """Units [lo, hi) framed for one replay; `flags` ORs ONVIF flags into units by index."""
        start, stop = int(self.unit_at[lo]), int(self.unit_at[hi])
        data = np.frombuffer(self.data, dtype=np.uint8, count=stop - start, offset=start).copy()
        first, last = int(self.unit_packets[lo]), int(self.unit_packets[hi])
        at = self.packet_at[first:last] - start
        count = last - first
        sequence = (fill.sequence + np.arange(count, dtype=np.int64)) & 0xFFFF
        _put(data, at + SEQUENCE_AT, sequence, 2)
        unit_ticks = ticks(self.times_us[lo:hi] - fill.origin_us)
        timestamp = fill.base + np.asarray(unit_ticks)[self.packet_unit[first:last] - lo]
        _put(data, at + TIMESTAMP_AT, timestamp & 0xFFFFFFFF, 4)
        _put(data, at + SSRC_AT, np.full(count, fill.ssrc, dtype=np.int64), 4)
        if self.onvif:
            heads = self.packet_at[self.unit_packets[lo:hi]] - start
            data[heads + CSEQ_AT] = fill.cseq & 0xFF
            for index, flag in flags.items():
                data[int(self.packet_at[self.unit_packets[index]]) - start + FLAGS_AT] |= flag
        ends = (self.unit_at[lo + 1 : hi + 1] - start).tolist()
        return Batch(data.tobytes(), count, ends)


def _put(data: npt.NDArray[np.uint8], at: Int64s, values: Int64s, size: int) -> None:
    """Write `values` big-endian, `size` bytes each, at the offsets `at`."""
    for byte in range(size):
        data[at + byte] = (values >> (8 * (size - 1 - byte))) & 0xFF


class WireCache:
    """Framed segments, least recently used dropped past `CACHE_BYTES` (thread-safe)."""

    def __init__(self, footage: Footage, budget: int = CACHE_BYTES) -> None:
        self.footage = footage
        self.budget = budget
        self._kept: OrderedDict[tuple[int, str, datetime, bool], WireSegment] = OrderedDict()
        self._lock = threading.Lock()

    def segment(self, camera: CameraConfig, start: datetime, onvif: bool) -> WireSegment:
        key = (camera.channel, camera.codec, start, onvif)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        wire = WireSegment(self.footage.segment(camera, start), camera.codec, onvif)
        with self._lock:
            self._kept[key] = wire
            while len(self._kept) > 1 and sum(len(w.data) for w in self._kept.values()) > (
                self.budget
            ):
                self._kept.popitem(last=False)
        return wire
