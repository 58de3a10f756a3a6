"""The authorization gates: one per object type, the same 404 for missing and forbidden.

Every read or write of a conversation or message passes through here, inside
the caller's transaction, so REST, the WebSocket, the CLI and the SDK cannot
disagree about who may see what.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from backchannel.domain.ids import is_public_id
from backchannel.errors import BackchannelError
from backchannel.services.core import Requester
from backchannel.store import conversations as conv_db
from backchannel.store import messages as msg_db


def conversation(
    conn: Connection, requester: Requester, conversation_pid: str
) -> Mapping[Any, Any]:
    """The conversation and the requester's membership in it.

    Raises `conversation_not_found` when it does not exist and, identically,
    when the requester is not (or no longer) a member.
    """
    row = None
    if is_public_id(conversation_pid):
        row = conv_db.conversation_for_member(conn, conversation_pid, requester.user_id)
    if row is None:
        raise BackchannelError("conversation_not_found", "No such conversation.")
    return row


def message(
    conn: Connection, requester: Requester, conversation: Mapping[Any, Any], message_pid: str
) -> Mapping[Any, Any]:
    """A message the requester can see in a conversation they are in.

    Not found: no such message, another conversation's, from before the
    requester joined, or deleted for them. All look the same.
    """
    row = None
    if is_public_id(message_pid):
        row = msg_db.visible_message(
            conn,
            conversation_id=conversation["id"],
            pid=message_pid,
            from_position=conversation["joined_position"],
            user_id=requester.user_id,
        )
    if row is None:
        raise BackchannelError("message_not_found", "No such message.")
    return row


def require_admin(conversation: Mapping[Any, Any]) -> None:
    if conversation["kind"] != "group":
        raise BackchannelError("forbidden", "Direct conversations have no admins.")
    if conversation["role"] != "admin":
        raise BackchannelError("not_group_admin", "Only group admins may do that.")


def require_sender(message: Mapping[Any, Any], requester: Requester) -> None:
    if message["sender_id"] != requester.user_id:
        raise BackchannelError("not_message_sender", "Only the sender may do that.")
