"""What a report preserves, and why: the evidence copied into a report when it is filed.

A moderator reads a report later, often after the person reported has unsent or edited
the message, left the conversation or deactivated their account: evidence looked up then
would show nothing, or what they changed it to. So it is captured, as JSON, in the
transaction that files the report, and stored with it:

- a message: that message in full, with the MESSAGES_BEFORE and MESSAGES_AFTER around it;
- a conversation: its kind, title and members, and its last CONVERSATION_MESSAGES;
- a user: their profile, and the last USER_MESSAGES they sent where the reporter sees them.

Only what the reporter could read goes in (their history pages, from where they joined),
so a report is no way to read a conversation one is not in. Context messages keep
CONTEXT_TEXT_MAX characters; deactivated accounts' "~" handles show as none. (A filter's
flag stores the evidence its filter passes, plus the message: `file_flag_in_txn`.)
The builders only read, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from backchannel.services import pagination
from backchannel.services.views import iso
from backchannel.store import conversations as conv_db
from backchannel.store import messages as msg_db
from backchannel.store import moderation as db

# How much is kept: messages around a reported message, of a conversation, of a user.
MESSAGES_BEFORE = 10
MESSAGES_AFTER = 5
CONVERSATION_MESSAGES = 30
USER_MESSAGES = 20
CONTEXT_TEXT_MAX = 2000  # characters kept of each context message (the reported one: all)
PREVIEW_MAX = 140  # characters of the queue's one-line preview


def shown_handle(handle: str | None) -> str | None:
    """A handle as shown: deactivated accounts' "~" placeholders are no handle."""
    return None if handle is None or handle.startswith("~") else handle


def evidence_message(row: Mapping[Any, Any], *, full: bool = False) -> dict[str, Any]:
    """A message row (`store.messages`' shape) as evidence keeps it: its text cut to
    CONTEXT_TEXT_MAX unless `full` (the reported message itself), the message it
    replies to, and whether it was forwarded, edited or unsent when captured."""
    text = row["text"]
    if text is not None and not full:
        text = text[:CONTEXT_TEXT_MAX]
    return {
        "id": row["pid"],
        "conversation_id": row["conversation_pid"],
        "position": row["position"],
        "sender": {"id": row["sender_pid"], "handle": shown_handle(row["sender_handle"])},
        "text": text,
        "reply_to": None
        if row["reply_pid"] is None
        else {
            "id": row["reply_pid"],
            "sender_handle": shown_handle(row["reply_sender_handle"]),
            "text": row["reply_text"],
        },
        "forwarded": bool(row["forwarded"]),
        "created_at": iso(row["created_at"]),
        "edited_at": iso(row["edited_at"]),
        "unsent": row["unsent_at"] is not None,
    }


def _conversation_summary(conversation: Mapping[Any, Any]) -> dict[str, Any]:
    return {"id": conversation["pid"], "kind": conversation["kind"], "title": conversation["title"]}


def message_evidence(
    conn: Connection,
    conversation: Mapping[Any, Any],
    message: Mapping[Any, Any],
    *,
    viewer_id: int,
    from_position: int,
) -> dict[str, Any]:
    """The message, and the messages around it that the viewer can see."""

    def page(before: int | None, after: int | None, limit: int) -> list[dict[str, Any]]:
        rows = msg_db.history_page(
            conn,
            conversation_id=conversation["id"],
            user_id=viewer_id,
            from_position=from_position,
            before=before,
            after=after,
            limit=limit,
        )
        return [evidence_message(row) for row in rows]

    return {
        "kind": "message",
        "conversation": _conversation_summary(conversation),
        "message": evidence_message(message, full=True),
        "before": page(message["position"], None, MESSAGES_BEFORE),
        "after": page(None, message["position"], MESSAGES_AFTER),
    }


def conversation_evidence(
    conn: Connection, conversation: Mapping[Any, Any], *, viewer_id: int, from_position: int
) -> dict[str, Any]:
    """The conversation, its members and its last messages that the viewer can see."""
    rows = msg_db.history_page(
        conn,
        conversation_id=conversation["id"],
        user_id=viewer_id,
        from_position=from_position,
        before=None,
        after=None,
        limit=CONVERSATION_MESSAGES,
    )
    members = conv_db.member_rows(conn, [conversation["id"]])
    summary = _conversation_summary(conversation)
    summary["members"] = [{"id": m["pid"], "handle": shown_handle(m["handle"])} for m in members]
    return {
        "kind": "conversation",
        "conversation": summary,
        "messages": [evidence_message(row) for row in rows],
    }


def user_evidence(conn: Connection, user: Mapping[Any, Any], *, viewer_id: int) -> dict[str, Any]:
    """The profile, and the last messages the user sent where the viewer could see them."""
    ids = db.message_ids_sent_where_seen(
        conn, sender_id=user["id"], viewer_id=viewer_id, limit=USER_MESSAGES
    )
    rows = msg_db.messages_by_ids(conn, ids)
    deleted = user["deactivated_at"] is not None
    return {
        "kind": "user",
        "user": {
            "id": user["pid"],
            "handle": None if deleted else user["handle"],
            "display_name": user["display_name"],
            "bio": user["bio"],
            "created_at": iso(user["created_at"]),
        },
        "messages": [evidence_message(rows[i]) for i in reversed(ids) if i in rows],
    }


def evidence_by_ids(
    conn: Connection,
    *,
    viewer_id: int,
    target_user_id: int,
    conversation_id: int | None,
    message_id: int | None,
) -> dict[str, Any]:
    """Evidence as `moderation.file_report` captures it, from internal ids: of the
    message when `message_id` is set, else of the conversation, else of the user."""
    if conversation_id is None:
        user = db.moderated_user(conn, user_id=target_user_id)
        assert user is not None, target_user_id
        return user_evidence(conn, user, viewer_id=viewer_id)
    conversation = db.conversation_by_id(conn, conversation_id)
    assert conversation is not None, conversation_id
    joined = db.joined_position(conn, conversation_id, viewer_id)
    if joined is None:  # never a member: no message of it was theirs to see
        joined = pagination.MAX_PART
    if message_id is not None:
        message = msg_db.messages_by_ids(conn, [message_id]).get(message_id)
        assert message is not None, message_id
        return message_evidence(
            conn, conversation, message, viewer_id=viewer_id, from_position=joined
        )
    return conversation_evidence(conn, conversation, viewer_id=viewer_id, from_position=joined)


def preview(evidence: Mapping[str, Any]) -> str:
    """A line of the evidence for the queue: the message, or the last one, or the profile."""
    message = evidence.get("message")
    if not isinstance(message, dict):
        listed = evidence.get("messages") or []
        message = listed[-1] if listed and isinstance(listed[-1], dict) else None
    if message is not None:
        text = message.get("text")
        line = "(unsent)" if text is None else str(text)
    elif isinstance(evidence.get("user"), dict):
        user = evidence["user"]
        line = " — ".join(str(part) for part in (user.get("display_name"), user.get("bio")) if part)
    else:
        line = ""
    line = " ".join(line.split())
    return line if len(line) <= PREVIEW_MAX else line[: PREVIEW_MAX - 1] + "…"
