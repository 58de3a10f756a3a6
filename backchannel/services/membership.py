"""A member's own view of a conversation — folder, message request, archive, hide, mute,
pin — as the API shows it and as `membership.updated` tells the member's devices.

Nobody else sees any of it; the rules of requests are in domain/policy.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import RowMapping

from backchannel.config import Settings
from backchannel.domain import policy
from backchannel.services import safety
from backchannel.services.events import emit
from backchannel.services.views import iso, user_view
from backchannel.store import conversations as db
from backchannel.store.database import WriteTxn


def membership_view(
    settings: Settings, row: Mapping[Any, Any], members: list[RowMapping], *, now_ms: int
) -> dict[str, Any]:
    """The member's own view of a conversation: folder, request, archive, mute, pin."""
    request = None
    if row["request_state"] is not None:
        asker = next((m for m in members if m["id"] == row["request_from"]), None)
        request = {
            "status": safety.request_status(settings, row, "", now_ms),
            "from": None if asker is None else user_view(asker)["handle"],
            "sent_at": iso(row["request_at"]),
        }
    muted_until = row["muted_until"]
    muted = muted_until is not None and muted_until > now_ms
    return {
        "folder": row["folder"],
        "request": request,
        "archived": row["archived_position"] is not None
        and row["last_position"] <= row["archived_position"],
        "hidden": row["hidden_position"] is not None
        and row["last_position"] <= row["hidden_position"],
        "muted": muted,
        "muted_until": iso(muted_until) if muted and muted_until != policy.MUTE_FOREVER else None,
        "pinned": row["pinned_at"] is not None,
    }


def request_sent(
    settings: Settings,
    row: Mapping[Any, Any],
    members: list[RowMapping],
    viewer_id: int,
    *,
    now_ms: int,
) -> dict[str, Any]:
    """For the sender of a direct request: still awaiting acceptance (a declined request
    looks the same), and how many messages they may still send in it."""
    other = next((m for m in members if m["id"] != viewer_id), None)
    if row["kind"] != "direct" or other is None or other["request_state"] is None:
        return {"awaiting_acceptance": False, "remaining_messages": None}
    facts = {
        "request_state": other["request_state"],
        "request_at": other["request_at"],
        "declined_at": other["declined_at"],
        "request_messages": other["request_messages"],
    }
    status = safety.request_status(settings, facts, "", now_ms)
    return {
        "awaiting_acceptance": True,
        "remaining_messages": policy.request_allowance(
            status, other["request_messages"], limit=settings.request_message_limit
        ),
    }


def emit_membership(
    t: WriteTxn, settings: Settings, conversation_id: int, pid: str, user_id: int
) -> None:
    """Tell the member's devices (only theirs) their view of the conversation changed."""
    row = db.conversation_for_member(t.conn, pid, user_id)
    assert row is not None
    members = db.member_rows(t.conn, [conversation_id])
    state = membership_view(settings, row, members, now_ms=t.now_ms)
    emit(
        t,
        "membership.updated",
        {"conversation_id": pid, **state},
        conversation_id=conversation_id,
        user_id=user_id,
    )
