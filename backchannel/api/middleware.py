"""ASGI middleware: request ids, access log, metrics, security headers, body limit.

Pure ASGI (no BaseHTTPMiddleware) to keep the per-request cost small.
"""

from __future__ import annotations

import logging
import random
import re
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backchannel.api.responses import json
from backchannel.errors import BackchannelError
from backchannel.observability import Metrics, request_id_var

access_log = logging.getLogger("backchannel.access")
log = logging.getLogger(__name__)
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_BODY_BYTES = 1024 * 1024

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
NO_STORE = (b"cache-control", b"no-store")


UPLOAD_PATH = "/api/v1/media"
FORM_OVERHEAD = 64 * 1024  # multipart boundaries, part headers and small fields


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, upload_max_bytes: int = 0) -> None:
        self.app = app
        self.metrics = metrics
        # Uploads get their own bound (the largest kind's limit); api/uploads.py cuts the
        # file itself at its limit as it streams.
        self.upload_max_bytes = upload_max_bytes + FORM_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        # Request ids only correlate logs: they need to be unique, not unguessable, so no
        # system call for randomness per request.
        request_id = (
            incoming if REQUEST_ID_RE.fullmatch(incoming) else f"{random.getrandbits(64):016x}"
        )
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        sensitive = b"authorization" in headers or scope["path"].startswith("/api/")
        try:
            length = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            length = 0

        started_response = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                own = {name.lower() for name, _ in message.get("headers", [])}
                # A response with its own policy (the web client's pages, media) keeps it:
                # two policies would both apply, and the default one forbids everything.
                extra = [(b"x-request-id", request_id.encode())]
                extra += [header for header in SECURITY_HEADERS if header[0] not in own]
                if sensitive:
                    extra.append(NO_STORE)
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        received = 0
        upload = scope["path"] == UPLOAD_PATH and scope["method"] == "POST"
        max_body = self.upload_max_bytes if upload else MAX_BODY_BYTES

        async def limited_receive() -> Message:
            # A body without Content-Length (chunked) is counted as it arrives.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    # FastAPI re-raises HTTPException from body reading; the API's
                    # handler renders it as `request_too_large`.
                    raise HTTPException(413)
            return message

        try:
            if length > max_body:
                response = json(BackchannelError("request_too_large").body(), 413)
                await response(scope, receive, send_wrapper)
            else:
                await self.app(scope, limited_receive, send_wrapper)
        except Exception:
            # Rendered here rather than by Starlette's outermost handler, so the 500 keeps
            # the request id and security headers, and the log line carries the id.
            log.exception("unhandled error")
            if started_response:
                raise
            response = json(BackchannelError("internal_error").body(), 500)
            await response(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    }
                },
            )
            request_id_var.reset(token)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
