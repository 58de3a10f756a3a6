"""The JSON shapes of users, conversations and messages, built from store rows.

REST responses and event payloads use the same shapes, so a client applies
an event with the code that renders a fetch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

DELETED_NAME = "Deleted user"

# Store rows (SQLAlchemy RowMapping) or plain dicts with the same keys.
Row = Mapping[Any, Any]


def iso(ms: int | None) -> str | None:
    """Milliseconds since the epoch as an ISO 8601 UTC timestamp, or None."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def user_view(row: Row) -> dict[str, Any]:
    deleted = row["deactivated_at"] is not None
    return {
        "id": row["pid"],
        "handle": None if deleted else row["handle"],
        "display_name": DELETED_NAME if deleted else row["display_name"],
        "deleted": deleted,
    }


def profile_view(row: Row, **extra: Any) -> dict[str, Any]:
    view = user_view(row)
    view["bio"] = "" if view["deleted"] else row["bio"]
    view["created_at"] = iso(row["created_at"])
    view.update(extra)
    return view


def message_view(
    row: Row,
    reactions: list[tuple[str, str]] | None = None,
    media: Sequence[Row] | None = None,
) -> dict[str, Any]:
    """A message as every member sees it. Unsent messages keep only their tombstone.
    `media`: its attachment rows, in order (store/media.py `media_for_messages`)."""
    unsent = row["unsent_at"] is not None
    reply = None
    if row["reply_pid"] is not None:
        reply = {
            "id": row["reply_pid"],
            # A deactivated sender's handle is a "~" placeholder: never shown.
            "sender_handle": None
            if (row["reply_sender_handle"] or "~").startswith("~")
            else row["reply_sender_handle"],
            "text": None if row["reply_text"] is None else row["reply_text"][:200],
        }
    grouped: dict[str, list[str]] = {}
    for emoji, handle in reactions or ():
        if not handle.startswith("~"):  # a deactivated account's reactions are not shown
            grouped.setdefault(emoji, []).append(handle)
    sender_deleted = row["sender_handle"].startswith("~")
    # `extra`: a share's JSON, or a text message's quick replies (a bot's buttons).
    extra = None if unsent or row["extra"] is None else orjson.loads(row["extra"])
    text_kind = row["kind"] == "text"
    view = {
        "id": row["pid"],
        "conversation_id": row["conversation_pid"],
        "position": row["position"],
        "sender": {
            "id": row["sender_pid"],
            "handle": None if sender_deleted else row["sender_handle"],
            "display_name": DELETED_NAME if sender_deleted else row["sender_display_name"],
        },
        "text": row["text"],
        "reply_to": reply,
        "forwarded": bool(row["forwarded"]),
        "reactions": [{"emoji": e, "users": users} for e, users in grouped.items()],
        "created_at": iso(row["created_at"]),
        "edited_at": None if unsent else iso(row["edited_at"]),
        "unsent": unsent,
        "kind": row["kind"],
        "share": None if text_kind else extra,
        "media": [] if unsent else [media_view(m) for m in media or ()],
        "preview": None if unsent or not row["preview"] else orjson.loads(row["preview"]) or None,
    }
    if text_kind and extra and extra.get("quick_replies"):
        view["quick_replies"] = extra["quick_replies"]
    return view


def media_view(row: Row, *, opened_by: list[str] | None = None) -> dict[str, Any]:
    """An upload as members see it (its bytes: `GET /api/v1/media/{id}`)."""
    erased = row["erased_at"] is not None
    view = {
        "id": row["pid"],
        "kind": row["kind"],
        "mime": row["mime"],
        "size": row["size"],
        "filename": row["filename"],
        "width": row["width"],
        "height": row["height"],
        "duration_ms": row["duration_ms"],
        "waveform": None if row["waveform"] is None else orjson.loads(row["waveform"]),
        "blurhash": None if erased else row["blurhash"],
        "has_thumbnail": row["thumbnail_key"] is not None and not erased,
        "view_once": bool(row["view_once"]),
        "erased": erased,
    }
    if opened_by is not None:
        view["opened_by"] = opened_by
    return view


def conversation_view(row: Row, member_rows: Sequence[Row]) -> dict[str, Any]:
    """The parts of a conversation every member sees alike (no unread counts)."""
    return {
        "id": row["pid"],
        "kind": row["kind"],
        "title": row["title"],
        "created_at": iso(row["created_at"]),
        "members": [dict(user_view(m), role=m["role"]) for m in member_rows],
        "member_count": len(member_rows),
        "disappearing": disappearing_view(row),
    }


def disappearing_view(row: Row) -> dict[str, Any] | None:
    """A conversation's disappearing-messages timer, or None when off."""
    seconds = row.get("disappear_seconds")
    return None if seconds is None else {"seconds": int(seconds), "from": row["disappear_from"]}
