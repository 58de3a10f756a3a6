"""Appending to the event log, and the catalogue of event types.

Services are the only code that emits events, always inside the write
transaction that makes the change, so an event exists exactly when its change
committed. Waking readers happens after commit, in the store's writer.
"""

from __future__ import annotations

from typing import Any

import orjson

from backchannel.store import events as ev_db
from backchannel.store.database import WriteTxn

# type -> (audience, what it says). docs/api.md documents every one (tested).
EVENT_TYPES: dict[str, tuple[str, str]] = {
    "conversation.created": ("members", "A conversation you are in was created."),
    "conversation.updated": ("members", "A group's title changed."),
    "conversation.disappearing_updated": (
        "members",
        "The disappearing-messages timer was set or turned off.",
    ),
    "message.expired": ("members", "A disappearing message's time was up: drop it."),
    "scheduled.updated": (
        "you",
        "A message you scheduled was scheduled, changed, sent, cancelled, or not sent (why).",
    ),
    "member.joined": ("members", "People were added to a group (you, perhaps)."),
    "member.left": ("members", "Someone left or was removed (you, perhaps: then no more events)."),
    "member.role_changed": ("members", "Someone became or stopped being a group admin."),
    "message.created": ("members", "A new message."),
    "message.edited": ("members", "A message's text changed."),
    "message.unsent": ("members", "A message was unsent; drop its content, keep a tombstone."),
    "message.preview": (
        "members",
        "A message's link preview is ready, or its sender removed it (`preview` null).",
    ),
    "message.hidden": ("you", "You deleted a message for yourself (on another device)."),
    "reaction.added": ("members", "Someone reacted to a message."),
    "reaction.removed": ("members", "Someone took a reaction back."),
    "media.opened": ("you", "Someone opened view-once media you sent."),
    "read.updated": ("you", "Your read marker moved (on some device); unread counts follow."),
    "membership.updated": (
        "you",
        "Your own view of a conversation changed: folder, request, archive, mute, pin.",
    ),
    "receipt.updated": (
        "members with read receipts on",
        "Another member read up to a message (only between people who both share receipts).",
    ),
    "account.warned": ("you", "A moderator warned you about your conduct."),
    "export.updated": (
        "you",
        "An export of your data was asked for, progressed, was ready, failed or expired.",
    ),
    # The business inbox: for the team of the business (services/business.py).
    "business.conversation_updated": (
        "team",
        "A conversation's working state changed: status, assignee, priority, labels.",
    ),
    "business.message_sent": ("team", "An agent replied as the business: who it was."),
    "business.read_updated": ("team", "A teammate marked a conversation read for the team."),
    "business.note_added": ("team", "A private note was added to a conversation."),
    "business.team_updated": ("team", "Someone joined or left the team, or changed role."),
    "business.labels_updated": ("team", "The business's labels changed."),
    "business.mentioned": ("you", "A teammate @mentioned you in a private note."),
    # approvals (services/approvals.py): a restricted member's reply waits, then is decided
    "business.approval_requested": ("team", "A reply waits for an admin's approval."),
    "business.approval_decided": ("team", "A held reply was approved (and sent) or rejected."),
    "business.scheduled_updated": (
        "team",
        "A scheduled message was created, changed, sent, cancelled or failed.",
    ),
    "business.broadcast_updated": (
        "team",
        "A broadcast was created, went out in part or in full, or was cancelled.",
    ),
    "business.webhook_disabled": (
        "owners and admins",
        "A webhook of the business failed too often in a row and was turned off.",
    ),
}


def emit(
    t: WriteTxn,
    type: str,
    data: dict[str, Any],
    *,
    conversation_id: int | None = None,
    user_id: int | None = None,
    position: int | None = None,
    message_position: int | None = None,
    actor_id: int | None = None,
    business_id: int | None = None,
) -> int:
    """Append an event in the current write transaction. Returns its position.

    `actor_id`: set for events a block holds back (reactions, receipts): members in a
    block with the actor, either way, do not get them (store/events.py). `business_id`:
    a business team's event, for its team only (about `conversation_id` when set)."""
    assert type in EVENT_TYPES, type
    if position is None:
        position = t.next_position()
    ev_db.append(
        t.conn,
        position=position,
        type=type,
        payload=orjson.dumps(data).decode(),
        now=t.now_ms,
        conversation_id=conversation_id,
        user_id=user_id,
        message_position=message_position,
        actor_id=actor_id,
        business_id=business_id,
    )
    return position
