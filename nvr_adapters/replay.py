"""Fetch a time range over RTSP: ONVIF replay (`Range: clock=`, 0xABAC) or vendor playback URLs.

FFmpeg can neither send `Range: clock=` nor read the 0xABAC extension, which is why this exists.
After a dropped connection the fetch resumes from the last complete access unit: a new session
asks for the range from just after it, and units the device repeats (it restarts at a clean
point) are recognised by their recording time and skipped, so nothing is lost or written twice.
"""

from __future__ import annotations

import base64
import re
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from nvr_adapters.errors import NvrError, NvrUnreachable, ReplayError
from nvr_adapters.h264 import IDR, Depacketizer, nal_type
from nvr_adapters.rtsp import RtspSession
from nvr_adapters.types import AccessUnit, AccessUnitSink, StreamInfo, TimeWindow

NTP_EPOCH_OFFSET = 2_208_988_800
FLAG_CLEAN, FLAG_END, FLAG_DISCONTINUITY, FLAG_TERMINATION = 0x80, 0x40, 0x20, 0x10


@dataclass(frozen=True)
class ReplayTarget:
    url: str
    username: str
    password: str
    window: TimeWindow
    onvif: bool = True


@dataclass
class FetchStats:
    frames: int = 0
    first: datetime | None = None
    last: datetime | None = None
    resumes: int = 0
    time_source: str = ""


@dataclass
class _Clock:
    """Maps RTP timestamps to UTC: from 0xABAC, else an RTCP sender report, else the request."""

    fallback: datetime
    sr: tuple[int, datetime] | None = None
    first_rtp: int | None = None

    def time(self, rtp: int, extension_time: datetime | None) -> tuple[datetime, str]:
        if extension_time is not None:
            return extension_time, "onvif-extension"
        if self.sr is not None:
            delta = ((rtp - self.sr[0] + 2**31) % 2**32 - 2**31) / 90000
            return self.sr[1] + timedelta(seconds=delta), "rtcp-sender-report"
        if self.first_rtp is None:
            self.first_rtp = rtp
        delta = ((rtp - self.first_rtp) % 2**32) / 90000
        return self.fallback + timedelta(seconds=delta), "requested-start"


@dataclass
class _Pending:
    rtp: int = -1
    time: datetime | None = None
    flags: int = 0
    depacketizer: Depacketizer = field(default_factory=Depacketizer)


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
        info, control = await _describe(session)
        if not started:
            sink.start(info)
        await session.request("SETUP", control, Transport="RTP/AVP/TCP;unicast;interleaved=0-1")
        begin = stats.last + timedelta(microseconds=1) if stats.last else target.window.start
        await _play(session, target, begin)
        return await _receive(session, target, sink, stats, begin)
    finally:
        await session.close()


async def _describe(session: RtspSession) -> tuple[StreamInfo, str]:
    response = await session.request("DESCRIBE", Accept="application/sdp")
    sdp = response.body.decode("utf-8", "replace")
    sprop = re.search(r"sprop-parameter-sets=([A-Za-z0-9+/=,]+)", sdp)
    parameter_sets = tuple(base64.b64decode(p) for p in sprop[1].split(",")) if sprop else ()
    control = re.search(r"a=control:(\S+)", sdp.split("m=video", 1)[-1])
    base = response.headers.get("content-base", session.url.rstrip("/") + "/")
    url = session.url
    if control and control[1] != "*":
        url = control[1] if control[1].startswith("rtsp://") else base + control[1]
    if "H264" not in sdp.upper():
        raise ReplayError("the device does not offer H.264 for this recording")
    return StreamInfo(codec="h264", parameter_sets=parameter_sets), url


async def _play(session: RtspSession, target: ReplayTarget, begin: datetime) -> None:
    if target.onvif:
        end = target.window.end
        await session.request(
            "PLAY", Range=f"clock={_clock(begin)}-{_clock(end)}", Rate_Control="no",
            Require="onvif-replay", Immediate="yes",
        )  # fmt: skip
    else:
        await session.request("PLAY", Range="npt=0.000-")


def _clock(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"


async def _receive(
    session: RtspSession, target: ReplayTarget, sink: AccessUnitSink, stats: FetchStats,
    begin: datetime,
) -> bool:  # fmt: skip
    clock, pending = _Clock(fallback=begin), _Pending()
    while (item := await session.packets.get()) is not None:
        channel, packet = item
        if channel == 1:
            if _rtcp(packet, clock):
                return True
            continue
        assembled = _rtp(packet, pending, clock)
        if assembled is None:
            continue
        pending = _Pending()
        unit, source, terminated = assembled
        if unit.time >= target.window.end:
            return True
        _deliver(unit, source, sink, stats)
        if terminated:
            return True
    raise NvrUnreachable("the connection to the NVR dropped during the replay")


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


def _rtp(packet: bytes, pending: _Pending, clock: _Clock) -> tuple[AccessUnit, str, bool] | None:
    """Add an RTP packet to the unit being assembled; return the unit once its marker arrives."""
    if len(packet) < 12 or packet[0] >> 6 != 2:
        raise ReplayError("not an RTP packet")
    offset = 12 + 4 * (packet[0] & 0x0F)
    marker, rtp = packet[1] & 0x80, struct.unpack("!I", packet[4:8])[0]
    if packet[0] & 0x10:
        profile, words = struct.unpack("!HH", packet[offset : offset + 4])
        extension = packet[offset + 4 : offset + 4 + 4 * words]
        offset += 4 + 4 * words
        if profile == 0xABAC and len(extension) >= 10:
            ntp, flags = struct.unpack("!QB", extension[:9])
            # The flags belong to the whole unit, but a server may mark only one of its packets
            # (GStreamer: D on the first, E and T on the last), so they add up.
            pending.time, pending.flags = _ntp_time(ntp), pending.flags | flags
    pending.rtp = rtp
    pending.depacketizer.push(packet[offset:], struct.unpack("!H", packet[2:4])[0])
    if not marker:
        return None
    nals = pending.depacketizer.take()
    time, source = clock.time(rtp, pending.time)
    flags = pending.flags
    key = any(nal_type(n) == IDR for n in nals)
    unit = AccessUnit(
        time=time, nals=nals, key=key, discontinuity=bool(flags & FLAG_DISCONTINUITY),
        end_of_section=bool(flags & (FLAG_END | FLAG_TERMINATION)),
    )  # fmt: skip
    return unit, source, bool(flags & FLAG_TERMINATION)


__all__ = ["FetchStats", "NvrError", "ReplayTarget", "fetch"]
