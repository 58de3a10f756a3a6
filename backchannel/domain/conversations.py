"""Rules for conversations: members, group size, roles. Pure functions."""

from __future__ import annotations

import unicodedata

from backchannel.errors import BackchannelError

TITLE_MAX = 100


def direct_key(user_a: int, user_b: int) -> str:
    """The key that makes a direct conversation unique per unordered pair."""
    low, high = sorted((user_a, user_b))
    return f"{low}:{high}"


def check_new_members(handles: list[str], *, me: str, kind: str) -> list[str]:
    """The distinct other members named for a new conversation."""
    if not handles:
        raise BackchannelError("invalid_members", "Name at least one other member.")
    if len(set(handles)) != len(handles):
        raise BackchannelError("invalid_members", "A member is named more than once.")
    if me in handles:
        raise BackchannelError("invalid_members", "Do not name yourself; you are included.")
    if kind == "direct" and len(handles) != 1:
        raise BackchannelError(
            "invalid_members", "A direct conversation has exactly one other member."
        )
    return handles


def check_group_size(total: int, *, maximum: int) -> None:
    if total > maximum:
        raise BackchannelError(
            "group_too_large", f"Groups may have at most {maximum} members; this makes {total}."
        )


def check_title(title: str | None) -> str | None:
    if title is None:
        return None
    title = title.strip()
    if len(title) > TITLE_MAX:
        raise BackchannelError(
            "invalid_request", f"Titles may have at most {TITLE_MAX} characters."
        )
    if any(unicodedata.category(ch) == "Cc" for ch in title):
        raise BackchannelError("invalid_request", "Titles must not contain control characters.")
    return title or None
