"""The web client: its page at `/`, its modules and styles under `/static/`.

The page talks to the server only through the public REST API and the WebSocket, like
any other client. Everything is served with a Content-Security-Policy that allows no
inline script, no inline style and nothing from elsewhere.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

WEB = Path(__file__).resolve().parent.parent.parent / "web"
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self' ws: wss:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {"content-security-policy": POLICY, "cache-control": "no-cache"}


async def index() -> Response:
    """The web client's one page."""
    return FileResponse(WEB / "index.html", media_type="text/html", headers=HEADERS)


class StaticAssets(StaticFiles):
    """The client's files, with its policy (a module is a document's code, not data)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.encode(), v.encode()) for k, v in HEADERS.items()),
                ]
            await send(message)

        await super().__call__(scope, receive, with_policy)


def assets() -> StaticAssets:
    return StaticAssets(directory=WEB, check_dir=False)
