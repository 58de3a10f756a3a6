"""Opaque cursors: clients pass them back, never build them."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from backchannel.errors import BackchannelError

T = TypeVar("T")
MAX_LIMIT = 100
MAX_PART = 2**63 - 1


def encode(*parts: int) -> str:
    raw = ":".join(str(p) for p in parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, arity: int) -> tuple[int, ...] | None:
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = tuple(int(p) for p in raw.split(":"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BackchannelError("invalid_token", "The cursor is malformed.") from None
    # Positions, times and ids are BIGINT columns: anything larger is no cursor we made.
    if len(parts) != arity or any(p < 0 or p > MAX_PART for p in parts):
        raise BackchannelError("invalid_token", "The cursor is malformed.")
    return parts


def page(
    rows: Sequence[T],
    size: int,
    view: Callable[[T], dict[str, Any]],
    cursor: Callable[[T], tuple[int, ...]],
) -> dict[str, Any]:
    """`{items, next_cursor}` from up to `size + 1` rows fetched for a page of `size`: the
    extra row only says that there is more, from after the last item shown."""
    shown = rows[:size]
    more = len(rows) > size and bool(shown)
    return {
        "items": [view(row) for row in shown],
        "next_cursor": encode(*cursor(shown[-1])) if more else None,
    }


def clamp(limit: int | None, default: int = 50) -> int:
    if limit is None:
        return default
    return max(1, min(limit, MAX_LIMIT))
