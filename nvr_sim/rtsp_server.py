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
import itertools
import logging
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from nvr_sim.archive import Archive, ReplayUnit
from nvr_sim.config import CameraConfig
from nvr_sim.rtp import (
    FLAG_CLEAN,
    FLAG_DISCONTINUITY,
    FLAG_END,
    FLAG_TERMINATION,
    Packetizer,
    interleaved,
    onvif_extension,
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

logger = logging.getLogger(__name__)
METHODS = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, GET_PARAMETER, TEARDOWN"
# Access units fetched from the archive per trip to the thread pool, and gathered per write when
# not pacing in real time: a round trip per unit, or a write per packet, costs more CPU than
# packetizing does.
FETCH_UNITS = 250
WRITE_UNITS = 50


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

    def timestamp(self, moment: datetime) -> int:
        return self.base + round((moment - self.origin).total_seconds() * 90000)


class RtspServer:
    def __init__(
        self, archive: Archive, host: str, port: int, *, realtime_vendor: bool = False
    ) -> None:
        self.archive = archive
        self.host, self.port = host, port
        self.realtime_vendor = realtime_vendor
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
        self.packetizer = Packetizer(self.ssrc, secrets.randbits(16))
        self.target: Target | None = None
        self.stream: asyncio.Task[None] | None = None
        self.running = asyncio.Event()
        self.position: datetime | None = None
        self.end: datetime | None = None
        self.sent = 0
        self.faults: dict[str, float] = {}  # those of the latest PLAY
        self._wall0 = 0.0  # the loop time the stream started at, moved on by pauses

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
        self.packetizer.codec = camera.codec
        units = self.archive.replay(camera, start, end)
        loop = asyncio.get_running_loop()
        first = await loop.run_in_executor(None, next, units, None)
        if first is None:
            return Response(404, "Not Found", {"Reason": "no recording in the requested range"})
        onvif = self.target.style == "onvif"
        # `realtime`: a device that paces its replay whatever `Rate-Control: no` asks.
        realtime = bool(self.faults.get("realtime")) or (
            (request.headers.get("rate-control", "yes").lower() != "no")
            if onvif
            else self.server.realtime_vendor
        )
        base = secrets.randbits(32)
        play = Play(start, base, first.unit.time, request.cseq, onvif, realtime, self.faults)
        self.running.set()
        self.stream = asyncio.create_task(self._send(units, first, play))
        sequence = self.packetizer.sequence & 0xFFFF
        headers = {
            "Session": self.session,
            "RTP-Info": f"url={request.url};seq={sequence};rtptime={play.base}",
        }
        if onvif and not self._fault().get("missing_range"):
            headers["Range"] = f"clock={format_clock(first.unit.time)}-{format_clock(end)}"
            headers["Rate-Control"] = "yes" if realtime else "no"
        return Response(200, "OK", headers)

    async def _send(self, units: Iterator[ReplayUnit], first: ReplayUnit, play: Play) -> None:
        loop = asyncio.get_running_loop()
        if "stall_seconds" in play.faults:
            await asyncio.sleep(play.faults["stall_seconds"])
        self._wall0 = loop.time()
        report = rtcp_sender_report(self.ssrc, play.first_at, play.timestamp(play.first_at))
        self.writer.write(interleaved(1, report))
        batch = [first]
        while batch:
            # The next batch is fetched first: the last unit of the range carries the T flag.
            upcoming = await loop.run_in_executor(None, _take, units, FETCH_UNITS)
            if not await self._send_batch(batch, play, ends=not upcoming):
                self.writer.transport.abort()
                return
            batch = upcoming
        self.writer.write(interleaved(1, rtcp_bye(self.ssrc)))
        await self.writer.drain()
        if not play.onvif:
            # Vendor playback ends the way those devices end it: BYE, then the connection
            # closes. (A client that read the BYE while still probing would otherwise wait.)
            self.writer.close()

    async def _send_batch(self, batch: list[ReplayUnit], play: Play, *, ends: bool) -> bool:
        """Send the units, gathered into few writes; False once a drop fault cuts the stream."""
        pending: list[bytes] = []
        for number, item in enumerate(batch):
            if play.realtime or not self.running.is_set():
                await self._flush(pending)
                await self._wait_turn(item, play)
            pending.append(self._framed(item, play, last=ends and number == len(batch) - 1))
            self.sent += len(pending[-1])
            self.position = item.unit.time
            if self._dropping(play):
                await self._flush(pending)
                return False
            if play.realtime or len(pending) >= WRITE_UNITS:
                await self._flush(pending)
        await self._flush(pending)
        return True

    async def _wait_turn(self, item: ReplayUnit, play: Play) -> None:
        """Wait for the unit's time in a real-time replay, and while the replay is paused."""
        loop = asyncio.get_running_loop()
        if play.realtime:
            delay = self._wall0 + (item.unit.time - play.first_at).total_seconds() - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        if not self.running.is_set():
            paused_at = loop.time()
            await self.running.wait()
            self._wall0 += loop.time() - paused_at  # real-time pacing resumes where it stopped

    async def _flush(self, pending: list[bytes]) -> None:
        if pending:
            self.writer.writelines(pending)
            pending.clear()
            await self.writer.drain()

    def _dropping(self, play: Play) -> bool:
        """Whether the `drop_after_bytes`/`drop_after_seconds` fault cuts the connection now."""
        fault = play.faults
        elapsed = asyncio.get_running_loop().time() - self._wall0
        return self.sent > fault.get("drop_after_bytes", float("inf")) or (
            elapsed > fault.get("drop_after_seconds", float("inf"))
        )

    def _framed(self, item: ReplayUnit, play: Play, *, last: bool) -> bytes:
        """The unit's packets, interleaved on channel 0, with the 0xABAC extension in replay."""
        unit = item.unit
        extension = None
        if play.onvif:
            flags = (FLAG_CLEAN if unit.key else 0) | (
                FLAG_DISCONTINUITY if item.discontinuity else 0
            )
            flags |= FLAG_TERMINATION if last else (FLAG_END if item.end_of_section else 0)
            extension = onvif_extension(unit.time, flags, play.cseq)
        return self.packetizer.framed(unit.nals, play.timestamp(unit.time), extension)

    async def _pause(self, request: Request) -> Response:
        if not self._session_ok(request):
            return Response(454, "Session Not Found")
        self.running.clear()
        return Response(200, "OK", {"Session": self.session})

    async def _keepalive(self, request: Request) -> Response:
        return Response(200, "OK", {"Session": self.session})

    async def _teardown(self, request: Request) -> Response:
        await self._stop_stream()
        self.target = None
        return Response(200, "OK")

    async def _stop_stream(self) -> None:
        if self.stream is not None:
            self.stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.stream
            self.stream = None


def _take(units: Iterator[ReplayUnit], count: int) -> list[ReplayUnit]:
    return list(itertools.islice(units, count))
