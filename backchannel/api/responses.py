"""Fast JSON responses (orjson), bypassing re-validation of what services built."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.responses import Response


def json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


def no_content() -> Response:
    return Response(status_code=204)


def epoch_ms(value: datetime | None) -> int | None:
    """A request's instant as the milliseconds since the epoch the services take."""
    return None if value is None else int(value.timestamp() * 1000)
