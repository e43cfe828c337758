"""Security headers on every answer, and the stricter ones HTML pages need.

The web UI's pages load only their own scripts, styles and images (no inline script or style:
the templates have none, and `script-src 'self'` keeps it so), may not be framed (clickjacking
of the SOP's buttons), and download pages send no Referer (the link's token is in their URL).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"))
HTML_ONLY = ((b"content-security-policy", CSP.encode()),)
# The recipient's download pages carry the link's token in their address.
NO_REFERRER_PREFIXES = ("/unduh/", "/portal")
# FastAPI's interactive API documentation is built from inline script and a CDN's files.
API_DOCS = ("/docs", "/redoc")


class SecurityHeaders:
    """ASGI middleware adding the headers above to each response's start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_extra(message, path)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _extra(message: Message, path: str) -> list[tuple[bytes, bytes]]:
    headers = dict(message.get("headers", []))
    extra = [header for header in ALWAYS if header[0] not in headers]
    html = headers.get(b"content-type", b"").startswith(b"text/html")
    if html and not path.startswith(API_DOCS):
        extra += HTML_ONLY
    if path.startswith(NO_REFERRER_PREFIXES):
        extra.append((b"referrer-policy", b"no-referrer"))
    else:
        extra.append((b"referrer-policy", b"same-origin"))
    return extra
