"""Devices that answer with recorded responses: an HTTP one for ISAPI and the Dahua CGI (served to
the real adapters through `httpx.MockTransport`), and a SOAP front for ONVIF that answers chosen
operations itself and passes every other one to the simulator."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: N817 - parses our own adapters' requests
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
from aiohttp import web

from nvr_sim import NvrSimulator

FIXTURES = Path(__file__).parents[1] / "fixtures" / "devices"
Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]
# Declarations for the prefixes an ONVIF answer uses, for a capture whose copy lost them.
SOAP_PREFIXES = {
    "SOAP-ENV": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "tse": "http://www.onvif.org/ver10/search/wsdl",
    "trp": "http://www.onvif.org/ver10/replay/wsdl",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "tns1": "http://www.onvif.org/ver10/topics",
}


def fixture(path: str) -> str:
    """A device fixture's text as stored (CRLF kept)."""
    with (FIXTURES / path).open(encoding="utf-8", newline="") as handle:
        return handle.read()


def answer(path: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, text=fixture(path))


@dataclass
class HttpDevice:
    """Answers each request from a script keyed by path, or by path and `action`: the answers
    are given in turn and the last one repeats. Every request is kept for the test to read."""

    script: dict[str, list[Answer]]
    requests: list[httpx.Request] = field(default_factory=list)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        action = request.url.params.get("action")
        key = f"{request.url.path}?{action}" if action else request.url.path
        answers = self.script.get(key)
        if not answers:
            return httpx.Response(400, text="Error\r\nBad Request!\r\n")
        reply = answers.pop(0) if len(answers) > 1 else answers[0]
        return reply(request) if callable(reply) else reply

    def actions(self) -> list[str]:
        """The CGI actions asked for, in order."""
        return [r.url.params.get("action", r.url.path) for r in self.requests]

    def params(self, action: str) -> list[httpx.QueryParams]:
        return [r.url.params for r in self.requests if r.url.params.get("action") == action]


class OnvifFront:
    """A SOAP endpoint that answers the operations in `script` (each a list of bodies, the last
    repeating) and forwards every other one to the simulator, its addresses made ours."""

    def __init__(
        self, sim: NvrSimulator, script: dict[str, Iterable[str | tuple[int, str]]],
        asked: list[str] | None = None,
    ) -> None:  # fmt: skip
        self.sim = sim
        self.script = {name: deque(bodies) for name, bodies in script.items()}
        self.asked = asked if asked is not None else []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> OnvifFront:
        app = web.Application()
        app.router.add_post("/onvif/{service}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.read()
        operation = _operation(body)
        self.asked.append(operation)
        bodies = self.script.get(operation)
        if bodies:
            reply = bodies.popleft() if len(bodies) > 1 else bodies[0]
            status, text = reply if isinstance(reply, tuple) else (200, reply)
            return web.Response(status=status, text=declared(text),
                                content_type="application/soap+xml")  # fmt: skip
        return await self._forward(request, body)

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        headers = {"Content-Type": request.headers.get("Content-Type", "application/soap+xml")}
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.sim.endpoints.http(request.path), data=body, headers=headers) as reply,
        ):
            text = (await reply.text()).replace(
                f"127.0.0.1:{self.sim.endpoints.http_port}", f"127.0.0.1:{self.port}"
            )
            return web.Response(status=reply.status, text=text,
                                content_type="application/soap+xml")  # fmt: skip


def dahua_finder(next_files: list[Answer], close: Answer | None = None) -> HttpDevice:
    """A Dahua device with one mediaFileFind object. `factory.create` and `findFile` answer as
    the HTTP API guide shows (no capture of those was found); `findNextFile` with `next_files`."""
    ok = httpx.Response(200, text="OK\r\n")
    find = "/cgi-bin/mediaFileFind.cgi"
    return HttpDevice({
        f"{find}?factory.create": [httpx.Response(200, text="result=1358\r\n")],
        f"{find}?findFile": [ok], f"{find}?findNextFile": next_files,
        f"{find}?close": [close or ok], f"{find}?destroy": [ok],
    })  # fmt: skip


def event(token: str, track: str, when: str, present: str) -> str:
    """One RecordingHistory/Track/State result of GetEventSearchResults, written by the test."""
    return (
        f"<tt:Result><tt:RecordingToken>{token}</tt:RecordingToken><tt:TrackToken>{track}"
        f"</tt:TrackToken><tt:Time>{when}</tt:Time><tt:Event><wsnt:Topic Dialect="
        '"http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        "tns1:RecordingHistory/Track/State</wsnt:Topic><wsnt:Message><tt:Message "
        f'UtcTime="{when}" PropertyOperation="Changed"><tt:Source><tt:SimpleItem '
        f'Name="RecordingToken" Value="{token}"/><tt:SimpleItem Name="Track" Value="{track}"/>'
        '</tt:Source><tt:Data><tt:SimpleItem Name="IsDataPresent" '
        f'Value="{present}"/></tt:Data></tt:Message></wsnt:Message></tt:Event>'
        "<tt:StartStateEvent>false</tt:StartStateEvent></tt:Result>"
    )


def event_page(state: str, results: str = "") -> str:
    """A GetEventSearchResults answer, written here: no public capture with naive times or a
    Queued state was found (onvif/specs#380 quotes one with `Z` times, cut short)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope><SOAP-ENV:Body>'
        f"<tse:GetEventSearchResultsResponse><tse:ResultList><tt:SearchState>{state}"
        f"</tt:SearchState>{results}</tse:ResultList></tse:GetEventSearchResultsResponse>"
        "</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )


def _operation(body: bytes) -> str:
    """The local name of the SOAP Body's first element: the operation asked for."""
    root = ET.fromstring(body)
    for node in root.iter():
        if node.tag.rsplit("}", 1)[-1] == "Body":
            return next(iter(node)).tag.rsplit("}", 1)[-1]
    raise AssertionError("a SOAP request without a Body")


def declared(text: str) -> str:
    """The answer with declarations added for prefixes it uses but does not declare (a capture
    quoted in an issue whose copy lost them); an answer that declares its own is untouched."""
    missing = [p for p in SOAP_PREFIXES if f"<{p}:" in text and f"xmlns:{p}=" not in text]
    if not missing:
        return text
    declarations = " ".join(f'xmlns:{p}="{SOAP_PREFIXES[p]}"' for p in missing)
    return re.sub(r"<SOAP-ENV:Envelope\s*>", f"<SOAP-ENV:Envelope {declarations}>", text, count=1)
