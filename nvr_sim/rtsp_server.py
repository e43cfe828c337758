"""The RTSP replay server: ONVIF replay (Profile G) and the Hikvision/Dahua playback URLs.

RTP is carried over the RTSP TCP connection (interleaved). ONVIF replay honours
`Require: onvif-replay`, absolute `Range: clock=` (starting at the clean point at or before the
start, echoed in the reply), `Rate-Control: no|yes`, `Immediate: yes`, and marks every access
unit with the 0xABAC extension. Vendor playback sends plain RTP, as those devices do.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from nvr_sim.archive import Archive, ReplayRun
from nvr_sim.config import CameraConfig
from nvr_sim.link import Link, Sessions
from nvr_sim.rtp import (
    FLAG_DISCONTINUITY,
    FLAG_END,
    FLAG_TERMINATION,
    interleaved,
    rtcp_bye,
    rtcp_sender_report,
)
from nvr_sim.rtsp_protocol import (
    Authenticator,
    Request,
    Response,
    Target,
    format_clock,
    parse_clock_range,
    parse_target,
    read_request,
)
from nvr_sim.wire import Batch, Fill, WireSegment, microseconds, ticks

logger = logging.getLogger(__name__)
METHODS = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, GET_PARAMETER, TEARDOWN"
# Access units framed and written at once when not pacing in real time (one segment comes from
# the archive per trip to the thread pool, already framed: `wire`).
WRITE_UNITS = 250
# Beyond the device's playback sessions (RFC 2326 §7.1.1 status 453), as Hikvision NVRs answer
# one playback too many (mpromonet/webrtc-streamer#174, #495; Tedyst/HikLoad#4).
BUSY = Response(453, "Not Enough Bandwidth")


@dataclass(frozen=True, slots=True)
class Play:
    """How one PLAY's units go on the wire."""

    origin: datetime  # the requested start, at RTP time `base`
    base: int
    first_at: datetime  # the recording time of the first unit, sent as the stream starts
    cseq: int
    onvif: bool
    realtime: bool
    faults: dict[str, float]

    @property
    def origin_us(self) -> int:
        return microseconds(self.origin)

    def timestamp(self, moment: datetime) -> int:
        """The RTP time of `moment` (as `WireSegment.batch` stamps the packets)."""
        return self.base + int(ticks(microseconds(moment) - self.origin_us))


class RtspServer:
    def __init__(
        self, archive: Archive, host: str, port: int, *, link: Link | None = None,
        sessions: Sessions | None = None,
    ) -> None:  # fmt: skip
        self.archive = archive
        self.host, self.port = host, port
        self.link = link or Link(None)
        self.sessions = sessions or Sessions(None)
        self.auth = Authenticator(archive.config.username, archive.config.password)
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self.plays: Counter[int] = Counter()  # PLAY requests per channel, for `first` faults

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # Aborting the transports ends every connection's read loop; cancelling its task
            # instead would make asyncio log the cancellation as an error.
            for writer in list(self._connections.values()):
                writer.transport.abort()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            await Connection(self, reader, writer).run()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class Connection:
    def __init__(
        self, server: RtspServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.archive = server.archive
        self.session = secrets.token_hex(8)
        self.ssrc = secrets.randbits(32)
        self.sequence = secrets.randbits(16)  # the next RTP sequence number (mod 2^16)
        self.target: Target | None = None
        self.stream: asyncio.Task[None] | None = None
        self.running = asyncio.Event()
        self.position: datetime | None = None
        self.end: datetime | None = None
        self.sent = 0
        self.faults: dict[str, float] = {}  # those of the latest PLAY
        self._wall0 = 0.0  # the loop time the stream started at, moved on by pauses
        self.link = server.link
        self.holds_session = False  # one of the device's playback sessions, until TEARDOWN

    async def run(self) -> None:
        try:
            while (request := await read_request(self.reader)) is not None:
                response = await self._dispatch(request)
                self.writer.write(response.encode(request.cseq))
                await self.writer.drain()
        finally:
            # Also when the connection failed (a client's reset): a stream left behind would run
            # on, unobserved, until its next write failed or the loop closed under it.
            await self._stop_stream()
            self._release_session()

    def _hold_session(self) -> bool:
        """Take one of the device's playback sessions for this connection, if none is held;
        False when the device runs as many as it can."""
        if not self.holds_session:
            self.holds_session = self.server.sessions.acquire()
        return self.holds_session

    def _release_session(self) -> None:
        if self.holds_session:
            self.server.sessions.release()
            self.holds_session = False

    async def _dispatch(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(200, "OK", {"Public": METHODS})
        if not self.server.auth.check(request):
            return Response(401, "Unauthorized", self.server.auth.challenge())
        required = request.headers.get("require")
        if required and required.strip().lower() != "onvif-replay":
            return Response(551, "Option not supported", {"Unsupported": required})
        handler = {
            "DESCRIBE": self._describe, "SETUP": self._setup, "PLAY": self._play,
            "PAUSE": self._pause, "GET_PARAMETER": self._keepalive, "TEARDOWN": self._teardown,
        }.get(request.method)  # fmt: skip
        if handler is None:
            return Response(405, "Method Not Allowed", {"Allow": METHODS})
        return await handler(request)

    def _resolve(self, url: str) -> Target | None:
        config = self.archive.config
        z_local = {c.channel: c.hikvision_z_is_local for c in config.cameras}
        target = parse_target(url, ZoneInfo(config.timezone), z_local)
        shift = config.faults.get(target.channel, {}).get("wrong_timezone_hours") if target else 0
        if shift:
            # The device reads local times in a zone off by `shift` hours, as a misconfigured NVR.
            offset = ZoneInfo(config.timezone).utcoffset(datetime.now()) or timedelta(0)
            wrong = timezone(offset + timedelta(hours=shift))
            target = parse_target(url, wrong, z_local)
        if target is None or target.channel not in {c.channel for c in config.cameras}:
            return None
        return target

    def _fault(self) -> dict[str, float]:
        channel = self.target.channel if self.target else 0
        return self.archive.config.faults.get(channel, {})

    async def _describe(self, request: Request) -> Response:
        target = self._resolve(request.url)
        if target is None:
            return Response(404, "Not Found")
        if not self._hold_session():
            return BUSY
        self.target = target
        sdp = await asyncio.get_running_loop().run_in_executor(None, self._sdp, request.url)
        return Response(
            200, "OK", {"Content-Type": "application/sdp", "Content-Base": request.url + "/"}, sdp
        )

    def _sdp(self, url: str) -> bytes:
        assert self.target is not None
        camera = self.archive.config.camera(self.target.channel)
        encoding, fmtp = self._format(camera)
        oldest, newest = self.archive.oldest(), self.archive.newest()
        lines = [
            "v=0", f"o=- {self.ssrc} 1 IN IP4 {self.server.host}", f"s={camera.name}", "t=0 0",
            f"a=range:clock={format_clock(oldest)}-{format_clock(newest)}",
            "m=video 0 RTP/AVP 96", f"a=rtpmap:96 {encoding}/90000",
            f"a=fmtp:96 {fmtp}",
            "a=control:trackID=0", "a=x-onvif-track:VIDEO001", "a=recvonly",
        ]  # fmt: skip
        if self._fault().get("missing_range"):
            lines = [line for line in lines if not line.startswith("a=range:")]
        return ("\r\n".join(lines) + "\r\n").encode()

    def _format(self, camera: CameraConfig) -> tuple[str, str]:
        """The rtpmap encoding name and the fmtp, with the parameter sets of the camera's stream."""
        sets = self.archive.footage.parameter_sets(camera)
        sprop = [base64.b64encode(nal).decode() for nal in sets]
        if camera.codec == "h265":
            return "H265", "sprop-vps={};sprop-sps={};sprop-pps={}".format(*sprop)
        level = sets[0][1:4].hex()
        fmtp = f"packetization-mode=1;profile-level-id={level};sprop-parameter-sets="
        return "H264", fmtp + ",".join(sprop)

    async def _setup(self, request: Request) -> Response:
        transport = request.headers.get("transport", "")
        if "RTP/AVP/TCP" not in transport.upper():
            return Response(461, "Unsupported Transport")
        if self.target is None:
            self.target = self._resolve(request.url.rsplit("/trackID=", 1)[0])
            if self.target is None:
                return Response(404, "Not Found")
            if not self._hold_session():
                return BUSY
        reply = f"RTP/AVP/TCP;unicast;interleaved=0-1;ssrc={self.ssrc:08X}"
        return Response(200, "OK", {"Transport": reply, "Session": f"{self.session};timeout=60"})

    def _session_ok(self, request: Request) -> bool:
        return request.headers.get("session", "").split(";")[0] == self.session

    def _count_play(self, channel: int) -> dict[str, float]:
        """The faults of this PLAY: with `first: K`, only the channel's first K PLAYs have them."""
        self.server.plays[channel] += 1
        fault = self.archive.config.faults.get(channel, {})
        self.faults = {} if self.server.plays[channel] > fault.get("first", float("inf")) else fault
        return self.faults

    async def _play(self, request: Request) -> Response:
        if not self._session_ok(request) or self.target is None:
            return Response(454, "Session Not Found")
        fault = self._count_play(self.target.channel)
        if "status" in fault:
            status = int(fault["status"])
            return Response(status, "Service Unavailable" if status == 503 else "Session Not Found")
        if not self._hold_session():
            return BUSY
        start, end = self._range(request)
        resuming = self.stream is not None and not self.stream.done() and start is None
        if resuming:
            self.running.set()
            return Response(200, "OK", {"Session": self.session})
        await self._stop_stream()
        return await self._start_stream(request, start, end)

    def _range(self, request: Request) -> tuple[datetime | None, datetime | None]:
        assert self.target is not None
        if self.target.style != "onvif":
            if self.stream is not None and not self.stream.done():
                return None, None
            return (
                self.target.start or self.archive.oldest(),
                self.target.end or self.archive.newest(),
            )
        start, end = parse_clock_range(request.headers.get("range", ""))
        if start is None and (self.stream is None or self.stream.done()):
            start = self.position or self.archive.oldest()
        return start, end

    async def _start_stream(
        self, request: Request, start: datetime | None, end: datetime | None
    ) -> Response:
        assert self.target is not None
        assert start is not None
        end = end or self.archive.newest()
        camera = self.archive.config.camera(self.target.channel)
        onvif = self.target.style == "onvif"
        runs = self.archive.replay_runs(camera, start, end, onvif=onvif)
        loop = asyncio.get_running_loop()
        first = await loop.run_in_executor(None, next, runs, None)
        if first is None:
            return Response(404, "Not Found", {"Reason": "no recording in the requested range"})
        realtime = self._paced(request, onvif)
        first_at = first.wire.time(first.lo)
        base = secrets.randbits(32)
        play = Play(start, base, first_at, request.cseq, onvif, realtime, self.faults)
        self.running.set()
        self.stream = asyncio.create_task(self._send(runs, first, play))
        headers = {
            "Session": self.session,
            "RTP-Info": f"url={request.url};seq={self.sequence & 0xFFFF};rtptime={play.base}",
        }
        if onvif and not self._fault().get("missing_range"):
            headers["Range"] = f"clock={format_clock(first_at)}-{format_clock(end)}"
            headers["Rate-Control"] = "yes" if realtime else "no"
        return Response(200, "OK", headers)

    def _paced(self, request: Request, onvif: bool) -> bool:
        """Whether this PLAY is sent at real time: vendor playback as the profile says; ONVIF
        replay unless `Rate-Control: no` was asked of a device that honours it. The `realtime`
        fault paces it whatever was asked."""
        config = self.archive.config
        if self.faults.get("realtime"):
            return True
        if not onvif:
            return config.realtime_vendor
        asked_fast = request.headers.get("rate-control", "yes").lower() == "no"
        return not (asked_fast and config.onvif_rate_control)

    async def _send(self, runs: Iterator[ReplayRun], first: ReplayRun, play: Play) -> None:
        loop = asyncio.get_running_loop()
        if "stall_seconds" in play.faults:
            await asyncio.sleep(play.faults["stall_seconds"])
        self._wall0 = loop.time()
        report = rtcp_sender_report(self.ssrc, play.first_at, play.timestamp(play.first_at))
        await self._send_bytes(interleaved(1, report))
        run: ReplayRun | None = first
        while run is not None:
            # The next run is fetched first: the last unit of the range carries the T flag.
            upcoming = await loop.run_in_executor(None, next, runs, None)
            if not await self._send_run(run, play, ends=upcoming is None):
                self.writer.transport.abort()
                return
            run = upcoming
        await self._send_bytes(interleaved(1, rtcp_bye(self.ssrc)))
        if not play.onvif:
            # Vendor playback ends the way those devices end it: BYE, then the connection
            # closes. (A client that read the BYE while still probing would otherwise wait.)
            self.writer.close()

    async def _send_run(self, run: ReplayRun, play: Play, *, ends: bool) -> bool:
        """Send the run in batches of `WRITE_UNITS`; False once a drop fault cuts the stream."""
        for lo in range(run.lo, run.hi, WRITE_UNITS):
            hi = min(lo + WRITE_UNITS, run.hi)
            fill = Fill(self.sequence, self.ssrc, play.origin_us, play.base, play.cseq)
            batch = run.wire.batch(lo, hi, fill, _edge_flags(run, lo, hi, play, ends=ends))
            self.sequence += batch.packets
            if not await self._write(batch, run.wire, lo, play):
                return False
        return True

    async def _write(self, batch: Batch, wire: WireSegment, lo: int, play: Play) -> bool:
        """Write a batch at once, or unit by unit when pacing, paused or about to cut."""
        cuts = "drop_after_bytes" in play.faults or "drop_after_seconds" in play.faults
        if play.realtime or cuts or not self.running.is_set():
            return await self._write_units(batch, wire, lo, play)
        await self._send_bytes(batch.data)
        self.sent += len(batch.data)
        self.position = wire.time(lo + len(batch.unit_ends) - 1)
        return True

    async def _send_bytes(self, data: bytes) -> None:
        """Write media through the device's link (replies are not metered: a few hundred bytes
        each, and a PLAY's reply must go out before the stream it starts)."""
        for piece in self.link.slices(data):
            await self.link.take(len(piece))
            self.writer.write(piece)
            await self.writer.drain()

    async def _write_units(self, batch: Batch, wire: WireSegment, lo: int, play: Play) -> bool:
        begin = 0
        for number, end in enumerate(batch.unit_ends):
            moment = wire.time(lo + number)
            await self._wait_turn(moment, play)
            await self._send_bytes(batch.data[begin:end])
            self.sent += end - begin
            self.position, begin = moment, end
            if self._dropping(play):
                return False
        return True

    async def _wait_turn(self, moment: datetime, play: Play) -> None:
        """Wait for the unit's time in a real-time replay, and while the replay is paused."""
        loop = asyncio.get_running_loop()
        if play.realtime:
            delay = self._wall0 + (moment - play.first_at).total_seconds() - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        if not self.running.is_set():
            paused_at = loop.time()
            await self.running.wait()
            self._wall0 += loop.time() - paused_at  # real-time pacing resumes where it stopped

    def _dropping(self, play: Play) -> bool:
        """Whether the `drop_after_bytes`/`drop_after_seconds` fault cuts the connection now."""
        fault = play.faults
        elapsed = asyncio.get_running_loop().time() - self._wall0
        return self.sent > fault.get("drop_after_bytes", float("inf")) or (
            elapsed > fault.get("drop_after_seconds", float("inf"))
        )

    async def _pause(self, request: Request) -> Response:
        if not self._session_ok(request):
            return Response(454, "Session Not Found")
        self.running.clear()
        return Response(200, "OK", {"Session": self.session})

    async def _keepalive(self, request: Request) -> Response:
        return Response(200, "OK", {"Session": self.session})

    async def _teardown(self, request: Request) -> Response:
        await self._stop_stream()
        self._release_session()
        self.target = None
        return Response(200, "OK")

    async def _stop_stream(self) -> None:
        if self.stream is not None:
            self.stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.stream
            self.stream = None


def _edge_flags(run: ReplayRun, lo: int, hi: int, play: Play, *, ends: bool) -> dict[int, int]:
    """The ONVIF flags the replay sets on units [lo, hi) of the run: D on the first unit after a
    gap, E on the last before one, T (instead of E) on the last of the range."""
    if not play.onvif:
        return {}
    flags = {lo: FLAG_DISCONTINUITY} if run.discontinuity and lo == run.lo else {}
    edge = FLAG_TERMINATION if ends else (FLAG_END if run.end_of_section else 0)
    if hi == run.hi and edge:
        flags[hi - 1] = flags.get(hi - 1, 0) | edge
    return flags
