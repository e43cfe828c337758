"""Admission control: a saturated service answers 503 with Retry-After instead of piling up.

Each request in progress holds a database connection and a worker thread. Beyond what the
pool holds, requests used to wait 30 s for a connection and then fail with 500 (`QueuePool
limit of size 5 overflow 10 reached`), and 500 clients left the server unresponsive for
minutes after the load stopped (issue 17). Here at most `limit` requests run at once; up to
`queue` more wait, each at most `wait_s`; anything beyond is refused at once with 503 and
`Retry-After`, in the one error envelope. Health probes are never queued: they tell whether
the process is alive, which under load it is.

A request holds its place until its response starts, not until its body has been sent: the
work that needs a thread and a connection is done by then, and a download streaming a package
to a slow link for minutes, or an export's progress stream, must not keep others out.
"""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)
UNQUEUED = frozenset({"/healthz", "/readyz"})


class Admission:
    """ASGI middleware admitting at most `limit` HTTP requests at once."""

    def __init__(
        self, app: ASGIApp, *, limit: int, queue: int, wait_s: float, retry_after_s: int = 2
    ) -> None:
        self.app = app
        self.limit, self.queue, self.wait_s = limit, queue, wait_s
        self.retry_after_s = retry_after_s
        self.running = 0
        self.waiting = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._condition = asyncio.Condition()

    @property
    def _freed(self) -> asyncio.Condition:
        """The condition of the running loop (a test may serve one app from several loops)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._condition = loop, asyncio.Condition()
        return self._condition

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNQUEUED:
            await self.app(scope, receive, send)
            return
        if not await self._admit():
            await self._refuse(send)
            return
        released = False

        async def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            freed = self._freed
            async with freed:
                self.running -= 1
                freed.notify()

        async def send_then_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                await release()  # the answer is computed; its body may take its time
            await send(message)

        try:
            await self.app(scope, receive, send_then_release)
        finally:
            await release()

    async def _admit(self) -> bool:
        """Take a place, waiting in line if there is room in it; False when refused."""
        freed = self._freed
        async with freed:
            if self.running < self.limit:
                self.running += 1
                return True
            if self.waiting >= self.queue:
                return False
            self.waiting += 1
            try:
                await asyncio.wait_for(
                    freed.wait_for(lambda: self.running < self.limit), self.wait_s
                )
            except TimeoutError:
                return False
            finally:
                self.waiting -= 1
            self.running += 1
            return True

    async def _refuse(self, send: Send) -> None:
        detail = "the service is busy; try again shortly"
        body = json.dumps({"error": "ServiceBusy", "detail": detail}).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"retry-after", str(self.retry_after_s).encode()),
                   (b"content-length", str(len(body)).encode())]  # fmt: skip
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


__all__ = ["Admission"]
