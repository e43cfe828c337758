"""Fetch a time range over RTSP: ONVIF replay (`Range: clock=`, 0xABAC) or vendor playback URLs.

FFmpeg can neither send `Range: clock=` nor read the 0xABAC extension, which is why this exists.
After a dropped connection the fetch resumes from the last complete access unit: a new session
asks for the range from just after it, and units the device repeats (it restarts at a clean
point) are recognised by their recording time and skipped, so nothing is lost or written twice.
"""

from __future__ import annotations

import asyncio
import base64
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from nvr_adapters import h264, h265
from nvr_adapters.errors import NvrError, NvrUnreachable, ReplayError
from nvr_adapters.rtsp import FrameRun, RtspSession
from nvr_adapters.types import AccessUnit, AccessUnitSink, StreamInfo, TimeWindow

NTP_EPOCH_OFFSET = 2_208_988_800
ONVIF_TIME = "onvif-extension"  # how a unit's time was found, when the 0xABAC extension gave it
FLAG_CLEAN, FLAG_END, FLAG_DISCONTINUITY, FLAG_TERMINATION = 0x80, 0x40, 0x20, 0x10
# Read in place from the packet (no slices): V/P/X/CC, M/PT, sequence number, timestamp; an
# extension's profile and length in words; the 0xABAC extension's NTP time and flags.
RTP_HEADER = struct.Struct("!BBHI")
EXTENSION_HEADER = struct.Struct("!HH")
ONVIF_EXTENSION = struct.Struct("!QB")


@dataclass(frozen=True)
class ReplayTarget:
    url: str
    username: str
    password: str
    window: TimeWindow
    onvif: bool = True
    # A device that sends nothing for this long is treated as a dropped connection (resumed):
    # a stalled replay must not hold an export, and its NVR session, for ever.
    stall_timeout: float = 30.0


@dataclass
class FetchStats:
    frames: int = 0
    first: datetime | None = None
    last: datetime | None = None
    resumes: int = 0
    time_source: str = ""
    # ONVIF replay: the device's `Rate-Control` answer to our `no` ("no": sent as fast as it
    # can; "yes" or absent: paced at real time, whatever was asked). None for vendor playback.
    rate_control: str | None = None


@dataclass
class _Clock:
    """Maps RTP timestamps to UTC where the 0xABAC extension gave no time: from an RTCP sender
    report, else from the requested start."""

    fallback: datetime
    sr: tuple[int, datetime] | None = None
    first_rtp: int | None = None

    def time(self, rtp: int) -> tuple[datetime, str]:
        """The time of a unit the 0xABAC extension gave none, and how it was found."""
        if self.sr is not None:
            delta = ((rtp - self.sr[0] + 2**31) % 2**32 - 2**31) / 90000
            return self.sr[1] + timedelta(seconds=delta), "rtcp-sender-report"
        if self.first_rtp is None:
            self.first_rtp = rtp
        delta = ((rtp - self.first_rtp) % 2**32) / 90000
        return self.fallback + timedelta(seconds=delta), "requested-start"


class _Depacketizer(Protocol):
    def push(self, payload: bytes, seq: int | None = None) -> None: ...

    def take(self) -> tuple[bytes, ...]: ...


@dataclass(frozen=True)
class _Codec:
    """What differs between H.264 and H.265 once the SDP has named the codec."""

    name: str  # as PyAV/FFmpeg call it
    depacketizer: Callable[[], _Depacketizer]
    is_key: Callable[[tuple[bytes, ...]], bool]
    parameter_sets: Callable[[dict[str, str]], tuple[bytes, ...]]


def _h264_key(nals: tuple[bytes, ...]) -> bool:
    for nal in nals:  # once per frame: a plain loop, no generator
        if nal and nal[0] & 0x1F == h264.IDR:
            return True
    return False


def _h264_parameter_sets(fmtp: dict[str, str]) -> tuple[bytes, ...]:
    sprop = fmtp.get("sprop-parameter-sets", "")
    return tuple(base64.b64decode(p) for p in sprop.split(",") if p.strip())


# Keyed by the encoding name of the SDP's rtpmap (`a=rtpmap:96 H265/90000`).
CODECS = {
    "H264": _Codec("h264", h264.Depacketizer, _h264_key, _h264_parameter_sets),
    "H265": _Codec("hevc", h265.Depacketizer, h265.is_key, h265.sdp_parameter_sets),
}


async def fetch(target: ReplayTarget, sink: AccessUnitSink, *, max_resumes: int = 3) -> FetchStats:
    """Fetch the target's window into `sink`, resuming after dropped connections."""
    stats = FetchStats()
    started = False
    while True:
        try:
            done = await _session(target, sink, stats, started)
            started = True
            if done:
                return stats
        except NvrUnreachable:
            if stats.resumes >= max_resumes:
                raise
        stats.resumes += 1
        started = started or stats.frames > 0


async def _session(
    target: ReplayTarget, sink: AccessUnitSink, stats: FetchStats, started: bool
) -> bool:
    session = RtspSession(target.url, target.username, target.password)
    await session.connect()
    try:
        info, codec, control = await _describe(session)
        if not started:
            sink.start(info)
        await session.request("SETUP", control, Transport="RTP/AVP/TCP;unicast;interleaved=0-1")
        begin = stats.last + timedelta(microseconds=1) if stats.last else target.window.start
        stats.rate_control = await _play(session, target, begin)
        return await _receive(session, target, sink, stats, begin, codec)
    finally:
        await session.close()


async def _describe(session: RtspSession) -> tuple[StreamInfo, _Codec, str]:
    response = await session.request("DESCRIBE", Accept="application/sdp")
    sdp = response.body.decode("utf-8", "replace")
    info, codec = stream_info(sdp)
    control = re.search(r"a=control:(\S+)", sdp.split("m=video", 1)[-1])
    base = response.headers.get("content-base", session.url.rstrip("/") + "/")
    url = session.url
    if control and control[1] != "*":
        url = control[1] if control[1].startswith("rtsp://") else base + control[1]
    return info, codec, url


def stream_info(sdp: str) -> tuple[StreamInfo, _Codec]:
    """Read the codec and parameter sets of the SDP's video track (its first H.264/H.265 format)."""
    video = _media_section(sdp, "video")
    offered = []
    for payload in video.split("\n", 1)[0].split()[3:]:
        pattern = rf"^a=rtpmap:{re.escape(payload)}\s+([\w.-]+)/(\d+)"
        rtpmap = re.search(pattern, video, re.MULTILINE)
        if rtpmap and rtpmap[1].upper() in CODECS:
            codec = CODECS[rtpmap[1].upper()]
            parameter_sets = codec.parameter_sets(_fmtp(video, payload))
            return StreamInfo(codec.name, parameter_sets, clock_rate=int(rtpmap[2])), codec
        offered.append(rtpmap[1] if rtpmap else f"payload type {payload}")
    raise ReplayError(
        f"the device offers {', '.join(offered) or 'nothing'} for this recording,"
        " not H.264 or H.265"
    )


def _media_section(sdp: str, kind: str) -> str:
    """The SDP's first `m=<kind>` section, up to the next `m=` line."""
    for section in re.split(r"^(?=m=)", sdp, flags=re.MULTILINE):
        if section.startswith(f"m={kind} "):
            return section
    raise ReplayError(f"the device's SDP has no {kind} track")


def _fmtp(media: str, payload: str) -> dict[str, str]:
    line = re.search(rf"^a=fmtp:{re.escape(payload)}\s+(.*?)\s*$", media, re.MULTILINE)
    params = (p.partition("=") for p in (line[1].split(";") if line else []))
    return {name.strip().lower(): value.strip() for name, _, value in params if name.strip()}


async def _play(session: RtspSession, target: ReplayTarget, begin: datetime) -> str | None:
    """Start the replay; for ONVIF, return the device's `Rate-Control` answer ("" if none)."""
    if not target.onvif:
        await session.request("PLAY", Range="npt=0.000-")
        return None
    end = target.window.end
    response = await session.request(
        "PLAY", Range=f"clock={_clock(begin)}-{_clock(end)}", Rate_Control="no",
        Require="onvif-replay", Immediate="yes",
    )  # fmt: skip
    return response.headers.get("rate-control", "").strip().lower()


def _clock(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"


async def _receive(
    session: RtspSession, target: ReplayTarget, sink: AccessUnitSink, stats: FetchStats,
    begin: datetime, codec: _Codec,
) -> bool:  # fmt: skip
    assembler, end = Assembler(codec, _Clock(fallback=begin)), target.window.end
    while (batch := await _next_batch(session, target.stall_timeout)) is not None:
        for unit, source, terminated in assembler.units(batch):
            if unit.time >= end:
                return True
            _deliver(unit, source, sink, stats)
            if terminated:
                return True
        if assembler.ended:
            return True
    raise NvrUnreachable("the connection to the NVR dropped during the replay")


async def _next_batch(session: RtspSession, timeout: float) -> FrameRun | None:
    # `asyncio.timeout`, not `wait_for`: Python 3.11's wait_for loses a cancellation that lands
    # as the batch arrives, and a replay its attempt's heartbeat cancelled would run on.
    try:
        async with asyncio.timeout(timeout):
            return await session.batches.get()
    except TimeoutError:
        raise NvrUnreachable(f"the NVR sent nothing for {timeout:g} s during the replay") from None


def _deliver(unit: AccessUnit, source: str, sink: AccessUnitSink, stats: FetchStats) -> None:
    if stats.last is not None and unit.time <= stats.last:
        return  # repeated after a resume: already written
    if stats.frames == 0 and not unit.key:
        return  # a clip starts at a clean point
    sink.write(unit)
    stats.frames += 1
    stats.first = stats.first or unit.time
    stats.last = unit.time
    stats.time_source = source


def _rtcp(packet: bytes, clock: _Clock) -> bool:
    """Read an RTCP packet: remember a sender report; True on BYE."""
    offset = 0
    while offset + 4 <= len(packet):
        kind = packet[offset + 1]
        length = (struct.unpack("!H", packet[offset + 2 : offset + 4])[0] + 1) * 4
        if kind == 200 and offset + 20 <= len(packet):
            ntp, rtp = struct.unpack("!QI", packet[offset + 8 : offset + 20])
            clock.sr = (rtp, _ntp_time(ntp))
        if kind == 203:
            return True
        offset += length
    return False


def _ntp_time(ntp: int) -> datetime:
    seconds = (ntp >> 32) - NTP_EPOCH_OFFSET + (ntp & 0xFFFFFFFF) / 2**32
    return datetime.fromtimestamp(seconds, tz=UTC)


class Assembler:
    """Builds access units out of one session's packets (RTP, and RTCP for time), in order.

    Runs for every packet, tens of thousands a minute of footage: a batch is walked in one loop,
    the RTP header read in place, and the session's one depacketiser reused from unit to unit.
    """

    __slots__ = ("_clock", "_codec", "_depacketizer", "_flags", "_time", "ended")

    def __init__(self, codec: _Codec, clock: _Clock) -> None:
        self._codec, self._clock = codec, clock
        self._depacketizer = codec.depacketizer()
        self._time: datetime | None = None
        self._flags = 0
        self.ended = False  # the device said BYE

    def units(self, run: FrameRun) -> Iterator[tuple[AccessUnit, str, bool]]:
        """The units a run of frames completes, each with how its time was found and whether the
        device marked it the end of the replay; a BYE ends them (and sets `ended`)."""
        push, header, data, end = self._depacketizer.push, RTP_HEADER.unpack_from, run.data, run.end
        start = run.start
        while start < end:  # each frame: `$`, channel, 16-bit length, packet
            channel, packet = data[start + 1], start + 4
            start = packet + (data[start + 2] << 8 | data[start + 3])
            if channel:  # 1: the video's RTCP; no other channel was set up
                if channel == 1 and _rtcp(data[packet:start], self._clock):
                    self.ended = True
                    return
                continue
            if start - packet < 12 or data[packet] >> 6 != 2:
                raise ReplayError("not an RTP packet")
            first, second, seq, rtp = header(data, packet)
            payload = packet + 12 + 4 * (first & 0x0F)
            if first & 0x10:
                payload = self._extension(data, payload, start)
            push(data[payload:start], seq)
            if second & 0x80:  # the marker: the unit's last packet
                yield self._unit(rtp)

    def _extension(self, data: bytes, offset: int, end: int) -> int:
        """Read the header extension at `offset` of a packet ending at `end` (0xABAC: time and
        flags); return where the extension ends."""
        if offset + 4 > end:
            raise ReplayError("an RTP packet cut inside its header extension")
        profile, words = EXTENSION_HEADER.unpack_from(data, offset)
        start = offset + 4
        after: int = start + 4 * words
        if profile == 0xABAC and min(after, end) - start >= 10:
            ntp, flags = ONVIF_EXTENSION.unpack_from(data, start)
            # The flags belong to the whole unit, but a server may mark only one of its packets
            # (GStreamer: D on the first, E and T on the last), so they add up.
            self._time, self._flags = _ntp_time(ntp), self._flags | flags
        return after

    def _unit(self, rtp: int) -> tuple[AccessUnit, str, bool]:
        nals = self._depacketizer.take()
        time, flags, self._time, self._flags = self._time, self._flags, None, 0
        source = ONVIF_TIME
        if time is None:
            time, source = self._clock.time(rtp)
        unit = AccessUnit(
            time, nals, self._codec.is_key(nals), bool(flags & FLAG_DISCONTINUITY),
            bool(flags & (FLAG_END | FLAG_TERMINATION)),
        )  # fmt: skip
        return unit, source, bool(flags & FLAG_TERMINATION)


__all__ = ["FetchStats", "NvrError", "ReplayTarget", "fetch"]
