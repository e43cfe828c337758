"""The device's link: one token bucket, accurate when saturated, shared fairly; its sessions."""

from __future__ import annotations

import asyncio
import time

from nvr_sim.link import SLICE, Link, Sessions

MBPS = 20.0


async def send(link: Link, writer: asyncio.StreamWriter, size: int) -> None:
    """Write `size` bytes through the link as fast as it lets, as the servers do."""
    data = bytes(size)
    for piece in link.slices(data):
        await link.take(len(piece))
        writer.write(piece)
        await writer.drain()
    writer.close()


async def receive(reader: asyncio.StreamReader) -> tuple[int, float, float]:
    """Read to the end: bytes, and the times of the first and last bytes."""
    first = last = 0.0
    received = 0
    while chunk := await reader.read(1 << 16):
        last = time.perf_counter()
        first = first or last
        received += len(chunk)
    return received, first, last


async def transfers(link: Link, sizes: list[int]) -> list[tuple[int, float, float]]:
    """Send `sizes` bytes over loopback connections at once, all through `link`."""
    sent: list[asyncio.Task[None]] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sent.append(asyncio.create_task(send(link, writer, sizes[len(sent)])))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in sizes]
    results = await asyncio.gather(*(receive(reader) for reader, _ in connections))
    await asyncio.gather(*sent)
    for _, writer in connections:
        writer.close()
    server.close()
    await server.wait_closed()
    return list(results)


LOADED_FLOOR = 0.9


def test_a_saturated_link_delivers_its_rate() -> None:
    """20 Mbit/s for 2 s over loopback, as the receiving client measures it."""
    size = int(MBPS * 1_000_000 / 8 * 2)
    [(received, first, last)] = asyncio.run(transfers(Link(MBPS), [size]))

    rate = received * 8 / (last - first) / 1_000_000
    assert received == size
    # Never above the rate (the shaping); below it only as much as a busy machine starves the
    # event loop (the suite runs a test file per core: 0.97 failed there at 0.965).
    assert LOADED_FLOOR * MBPS <= rate <= 1.05 * MBPS


def test_concurrent_transfers_share_the_link() -> None:
    size = int(MBPS * 1_000_000 / 8)  # two of a second each: two seconds together
    results = asyncio.run(transfers(Link(MBPS), [size, size]))

    began = min(first for _, first, _ in results)
    ended = max(last for _, _, last in results)
    total = sum(received for received, _, _ in results) * 8 / (ended - began) / 1_000_000
    assert LOADED_FLOOR * MBPS <= total <= 1.05 * MBPS
    for received, first, last in results:
        share = received * 8 / (last - first) / 1_000_000
        assert 0.4 * MBPS <= share <= 0.6 * MBPS  # about half each, not one after the other


def test_an_unlimited_link_never_waits_nor_slices() -> None:
    link = Link(None)

    async def take_a_lot() -> float:
        started = time.perf_counter()
        for _ in range(1000):
            await link.take(1 << 20)
        return time.perf_counter() - started

    assert not link.limited
    assert asyncio.run(take_a_lot()) < 0.5
    assert [len(piece) for piece in link.slices(bytes(3 * SLICE))] == [3 * SLICE]
    assert [len(piece) for piece in Link(MBPS).slices(bytes(SLICE + 1))] == [SLICE, 1]


def test_sessions_up_to_the_limit() -> None:
    sessions, unlimited = Sessions(2), Sessions(None)

    assert [sessions.acquire() for _ in range(3)] == [True, True, False]
    sessions.release()
    assert sessions.acquire()
    assert all(unlimited.acquire() for _ in range(100))
