"""A saturated service answers 503 with Retry-After at once instead of piling requests up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from app.admission import Admission


def slow_app(release: asyncio.Event) -> Admission:
    async def work(_request: Request) -> PlainTextResponse:
        await release.wait()
        return PlainTextResponse("done")

    async def health(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/work", work), Route("/healthz", health)])
    return Admission(app, limit=2, queue=1, wait_s=5.0)


async def burst() -> tuple[list[httpx.Response], httpx.Response]:
    release = asyncio.Event()
    transport = httpx.ASGITransport(app=slow_app(release))
    async with httpx.AsyncClient(transport=transport, base_url="http://saksi") as client:
        calls = [asyncio.create_task(client.get("/work")) for _ in range(6)]
        await asyncio.sleep(0.2)  # two run, one waits in line, three are turned away
        health = await client.get("/healthz")  # never queued
        release.set()
        return list(await asyncio.gather(*calls)), health


def test_beyond_the_limit_and_the_queue_requests_get_503_with_retry_after() -> None:
    replies, health = asyncio.run(burst())

    assert sorted(r.status_code for r in replies) == [200, 200, 200, 503, 503, 503]
    refused = [r for r in replies if r.status_code == 503]
    assert all(r.headers["retry-after"] == "2" for r in refused)
    assert all(r.json()["error"] == "ServiceBusy" for r in refused)
    assert health.status_code == 200


async def waits_too_long() -> list[int]:
    release = asyncio.Event()
    app = slow_app(release)
    app.wait_s = 0.3
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://saksi") as client:
        calls = [asyncio.create_task(client.get("/work")) for _ in range(3)]
        await asyncio.sleep(0.6)  # the third waited its 0.3 s and was turned away
        release.set()
        return sorted(r.status_code for r in await asyncio.gather(*calls))


def test_a_request_that_waits_past_its_time_is_turned_away_and_the_rest_run() -> None:
    assert asyncio.run(waits_too_long()) == [200, 200, 503]


async def streams_then_works() -> tuple[list[int], int]:
    """Two slow streams (downloads, progress) are answering; a third request still runs."""
    finish = asyncio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first"
        await finish.wait()
        yield b"last"

    async def stream(_request: Request) -> StreamingResponse:
        return StreamingResponse(chunks())

    async def work(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("done")

    app = Admission(Starlette(routes=[Route("/stream", stream), Route("/work", work)]),
                    limit=2, queue=0, wait_s=1.0)  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://saksi") as client:
        streams = [asyncio.create_task(client.get("/stream")) for _ in range(2)]
        await asyncio.sleep(0.2)
        during = (await client.get("/work")).status_code
        finish.set()
        return [r.status_code for r in await asyncio.gather(*streams)], during


def test_a_streaming_body_does_not_hold_a_place() -> None:
    streams, during = asyncio.run(streams_then_works())
    assert streams == [200, 200]
    assert during == 200  # with the places held to the end of the bodies it was a 503
