"""Splitting an RTSP connection's bytes into interleaved packets and responses, chunk by chunk,
and the session reading a real socket: responses between frames, drops mid-frame, backpressure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from nvr_adapters import replay
from nvr_adapters.rtsp import MAX_BATCHES, Deframer, FrameRun, Packet, RtspResponse, RtspSession

KEEPALIVE_REPLY = b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n"
# A body holding what would look like a frame and a response end, to be taken as body.
PARAMETER_REPLY = (
    b"RTSP/1.0 200 OK\r\nCSeq: 6\r\nContent-Length: 12\r\n\r\n$\x00\x00\x01\r\n\r\nabcd"
)


def frame(channel: int, packet: bytes) -> bytes:
    return b"$" + bytes([channel]) + len(packet).to_bytes(2, "big") + packet


def rtp(number: int, size: int = 40) -> bytes:
    """A stand-in packet, recognisable by its number (the framing never looks inside)."""
    return bytes([0x80, 0x60]) + number.to_bytes(2, "big") + bytes(size)


STREAM: list[Packet | bytes] = [
    (0, rtp(1)), (0, rtp(2, 1400)), (1, b"\x80\xc8\x00\x06" + bytes(24)), KEEPALIVE_REPLY,
    (0, rtp(3, 0)), PARAMETER_REPLY, (0, rtp(4, 65_531)), (0, rtp(5)),
]  # fmt: skip
WIRE = b"".join(item if isinstance(item, bytes) else frame(*item) for item in STREAM)


def flatten(items: list[FrameRun | RtspResponse]) -> list[Packet | RtspResponse]:
    return [x for item in items for x in (item.packets() if isinstance(item, FrameRun) else [item])]


def split_at(data: bytes, *cuts: int) -> list[bytes]:
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def feed_all(chunks: list[bytes]) -> list[Packet | RtspResponse]:
    deframer = Deframer()
    return flatten([item for chunk in chunks for item in deframer.feed(chunk)])


def expected() -> list[Packet | RtspResponse]:
    return feed_all([WIRE])


def test_one_chunk_yields_every_frame_and_response_in_order() -> None:
    items = Deframer().feed(WIRE)
    shape = [len(i.packets()) if isinstance(i, FrameRun) else i.headers["cseq"] for i in items]
    assert shape == [3, "5", 1, "6", 2]  # packets, a reply, a packet, a reply, packets
    assert flatten(items)[:3] == [STREAM[0], STREAM[1], STREAM[2]]
    reply = flatten(items)[5]
    assert isinstance(reply, RtspResponse)
    assert (reply.status, reply.body) == (200, b"$\x00\x00\x01\r\n\r\nabcd")
    assert flatten(items)[-2:] == [STREAM[-2], STREAM[-1]]


def test_many_frames_in_one_chunk_come_as_one_batch() -> None:
    packets = [(0, rtp(n, n % 1500)) for n in range(2000)]
    (item,) = Deframer().feed(b"".join(frame(*p) for p in packets))
    assert isinstance(item, FrameRun)
    assert item.packets() == packets


def test_a_cut_anywhere_changes_nothing() -> None:
    big = WIRE.index(frame(0, rtp(4, 65_531)))
    cuts = [*range(1, big + 8), *range(big + 8, len(WIRE), 4099), *range(len(WIRE) - 60, len(WIRE))]
    for cut in cuts:
        assert feed_all(split_at(WIRE, cut)) == expected(), cut


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 1000, 4096])
def test_chunks_of_any_size_give_the_same_items(size: int) -> None:
    chunks = [WIRE[i : i + size] for i in range(0, len(WIRE), size)]
    assert feed_all(chunks) == expected()


def test_each_frame_header_cut_after_each_byte() -> None:
    """The `$`, channel and two length bytes of one frame in up to four chunks."""
    start = len(frame(0, rtp(1)))
    for cuts in [(start + 1,), (start + 2,), (start + 3,), (start + 1, start + 2, start + 3)]:
        assert feed_all(split_at(WIRE, *cuts)) == expected()


def test_a_partial_frame_waits_for_its_end() -> None:
    deframer = Deframer()
    whole, partial = frame(0, rtp(1)), frame(0, rtp(2, 1400))
    assert flatten(deframer.feed(whole + partial[:700])) == [(0, rtp(1))]
    assert flatten(deframer.feed(partial[700:])) == [(0, rtp(2, 1400))]


def test_a_reply_whose_body_is_still_coming_waits_for_it() -> None:
    deframer = Deframer()
    assert deframer.feed(PARAMETER_REPLY[:-3]) == []
    (reply,) = deframer.feed(PARAMETER_REPLY[-3:] + frame(0, rtp(1)))[:1]
    assert isinstance(reply, RtspResponse)
    assert reply.body.endswith(b"abcd")


@pytest.mark.parametrize(
    "wire",
    [
        b"GARBAGE\r\n\r\n",  # no status code
        b"ANNOUNCE rtsp://10.0.0.1/ RTSP/1.0\r\nCSeq: 1\r\n\r\n",  # a request, not a reply
        b"\r\n\r\n",  # an empty head
        b"RTSP/1.0 200 OK\r\nContent-Length: many\r\n\r\n",
    ],
)
def test_what_is_neither_a_frame_nor_a_reply_is_an_error(wire: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the session's read loop ends on any of them
        Deframer().feed(frame(0, rtp(1)) + wire)


def test_a_reply_head_without_an_end_is_an_error_once_it_is_too_long() -> None:
    deframer = Deframer()
    assert deframer.feed(b"RTSP/1.0 200 OK\r\nX-Padding: ") == []
    with pytest.raises(ValueError, match="without an end"):
        deframer.feed(b"x" * 70_000)


# --- the session on a real socket -------------------------------------------------------------

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def session_against(serve: Serve) -> tuple[RtspSession, asyncio.Server]:
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    session = RtspSession(f"rtsp://127.0.0.1:{port}/replay", "admin", "secret", timeout=5)
    await session.connect()
    return session, server


async def batches_until_end(session: RtspSession) -> list[list[Packet]]:
    batches = []
    while (batch := await asyncio.wait_for(session.batches.get(), 5)) is not None:
        batches.append(batch.packets())
    return batches


async def packets_until_end(session: RtspSession) -> list[Packet]:
    return [packet for batch in await batches_until_end(session) for packet in batch]


def sending(packets: list[Packet], pause: float) -> Serve:
    """A device that writes one frame at a time, `pause` seconds apart, then hangs up."""

    async def serve(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for packet in packets:
            writer.write(frame(*packet))
            await writer.drain()
            await asyncio.sleep(pause)
        writer.close()

    return serve


@pytest.mark.asyncio
async def test_frames_sent_one_by_one_are_read_many_at_a_time() -> None:
    """Regression: a client woken once per frame spent most of its CPU time waking up."""
    sent = [(0, rtp(n, 1000)) for n in range(400)]
    session, server = await session_against(sending(sent, 0))
    try:
        batches = await batches_until_end(session)
        assert [p for batch in batches for p in batch] == sent
        assert len(batches) < len(sent) / 10
    finally:
        await session.close()
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_frames_sent_in_real_time_are_each_handed_on_as_they_come() -> None:
    sent = [(0, rtp(n, 1000)) for n in range(10)]
    session, server = await session_against(sending(sent, 0.02))
    try:
        assert await batches_until_end(session) == [[packet] for packet in sent]
    finally:
        await session.close()
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_a_reply_between_trickled_frames_and_a_drop_mid_frame() -> None:
    """Frames cut into small writes, a request answered mid-stream, then the line drops."""
    sent = [(0, rtp(n, 300 + n)) for n in range(200)]
    wire = b"".join(frame(*p) for p in sent)
    half = len(b"".join(frame(*p) for p in sent[:100]))  # the reply goes between two frames

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the keep-alive, sent while frames flow
        for offset in range(0, half, 997):
            writer.write(wire[offset : min(offset + 997, half)])
            await writer.drain()
            await asyncio.sleep(0)
        writer.write(KEEPALIVE_REPLY + wire[half:] + frame(0, rtp(999, 1400))[:700])
        await writer.drain()
        writer.transport.abort()

    session, server = await session_against(serve)
    try:
        received = asyncio.create_task(packets_until_end(session))
        reply = await session.request("GET_PARAMETER")
        assert (reply.status, session.session) == (200, "12345678")
        assert await received == sent
    finally:
        await session.close()
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_a_device_that_stops_speaking_rtsp_ends_the_session() -> None:
    """Regression: a request from the device (not a reply) killed the reading task, and the
    replay waited for packets forever."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(0, rtp(1)))
        await asyncio.sleep(0.05)
        writer.write(b"ANNOUNCE rtsp://10.0.0.1/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        await reader.read()  # the connection stays open until the client closes it
        writer.close()

    session, server = await session_against(serve)
    try:
        assert await packets_until_end(session) == [(0, rtp(1))]
    finally:
        await session.close()
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_a_consumer_that_does_not_read_stops_the_sender() -> None:
    """The batches wait in a bounded queue; beyond it the socket buffers fill, then the sender
    stops: memory does not grow with what the device would send."""
    burst = frame(0, rtp(0, 1400)) * 64
    sent = [0]

    async def serve(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while sent[0] < 500 * 1024 * 1024:
                writer.write(burst)
                await writer.drain()
                sent[0] += len(burst)
        except ConnectionError:
            pass
        writer.transport.abort()

    session, server = await session_against(serve)
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if session.batches.full():
                break
        await asyncio.sleep(0.3)  # the socket buffers fill
        stalled_at = sent[0]
        await asyncio.sleep(0.3)
        assert sent[0] == stalled_at < 100 * 1024 * 1024
        assert session.batches.qsize() == MAX_BATCHES
    finally:
        await session.close()
        server.close()
        await server.wait_closed()


# --- cancellation that lands as an answer arrives ---------------------------------------------
# Python 3.11's `asyncio.wait_for` returns the awaited result when its caller is cancelled in the
# same loop step as the result arrives, and the cancellation is lost: a replay whose attempt was
# closed by recovery then ran to the end of its window (a flaky crash-recovery test showed it).


@pytest.mark.asyncio
async def test_a_replay_cancelled_as_its_next_batch_arrives_stops() -> None:
    session = RtspSession("rtsp://127.0.0.1:554/replay", "admin", "secret", timeout=5)
    waiting = asyncio.create_task(replay._next_batch(session, 5))
    await asyncio.sleep(0.01)  # waiting on the queue
    session.batches.put_nowait(None)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


@pytest.mark.asyncio
async def test_a_request_cancelled_as_its_reply_arrives_stops() -> None:
    heard = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        heard.set()
        await reader.read()  # never answers: the reply is handed in below
        writer.close()

    session, server = await session_against(serve)
    try:
        asking = asyncio.create_task(session.request("GET_PARAMETER"))
        await asyncio.wait_for(heard.wait(), 5)
        session._responses.put_nowait(RtspResponse(200, {}, b""))
        asking.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asking
    finally:
        await session.close()
        server.close()
        await server.wait_closed()
