"""Every error becomes `{"error": {"code", "message"}}` with a stable code."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from backchannel.api.responses import json
from backchannel.errors import BackchannelError

log = logging.getLogger(__name__)


def _describe(error: dict[str, object]) -> str:
    loc = ".".join(str(p) for p in error.get("loc", ()) if p != "body")  # type: ignore[attr-defined]
    return f"{loc or 'body'}: {error.get('msg')}"


def install(app: FastAPI) -> None:
    @app.exception_handler(BackchannelError)
    async def _backchannel(_request: Request, exc: BackchannelError) -> Response:
        if exc.code == "rate_limited" and "retry_after" in exc.details:
            headers = {"Retry-After": str(exc.details["retry_after"])}
            return json(exc.body(), exc.status, headers=headers)
        return json(exc.body(), exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        fields = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "message": str(e.get("msg")),
                "type": str(e.get("type")),
            }
            for e in errors[:10]
        ]
        message = "; ".join(_describe(e) for e in errors[:3]) or "Invalid request."
        return json(BackchannelError("invalid_request", message, fields=fields).body(), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            error = BackchannelError("method_not_allowed", "That method is not allowed here.")
        elif exc.status_code == 404:
            error = BackchannelError("not_found", "No such route.")
        elif exc.status_code == 413:
            error = BackchannelError("request_too_large")
        else:
            error = BackchannelError("invalid_request", str(exc.detail))
        return json(error.body(), error.status, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        log.error("unhandled error", exc_info=exc)
        return json(BackchannelError("internal_error").body(), 500)
