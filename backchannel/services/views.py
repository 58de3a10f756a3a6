"""The JSON shapes of users, conversations and messages, built from store rows.

REST responses and event payloads use the same shapes, so a client applies
an event with the code that renders a fetch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

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


def message_view(row: Row, reactions: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """A message as every member sees it. Unsent messages keep only their tombstone."""
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
    return {
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
    }


def conversation_view(row: Row, member_rows: Sequence[Row]) -> dict[str, Any]:
    """The parts of a conversation every member sees alike (no unread counts)."""
    return {
        "id": row["pid"],
        "kind": row["kind"],
        "title": row["title"],
        "created_at": iso(row["created_at"]),
        "members": [dict(user_view(m), role=m["role"]) for m in member_rows],
        "member_count": len(member_rows),
    }
