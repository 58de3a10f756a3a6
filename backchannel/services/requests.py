"""Message requests and a member's own view of a conversation: whether and how a new
message goes out (requests, blocks), accepting and declining requests, moving between
folders, archive, hide, pin, mute."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backchannel.config import Settings
from backchannel.domain import policy
from backchannel.errors import BackchannelError
from backchannel.services import access, moderation, safety
from backchannel.services.conversations import detail, leave_in_txn
from backchannel.services.core import Core, Requester
from backchannel.services.membership import emit_membership
from backchannel.store import accounts as user_db
from backchannel.store import conversations as db
from backchannel.store import safety as safety_db
from backchannel.store.database import WriteTxn


async def accept_request(core: Core, requester: Requester, pid: str) -> dict[str, Any]:
    """Accept a message request: the conversation moves to Primary, and from now on the
    sender sees read receipts, typing and presence as in any conversation. Idempotent."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        conversation = access.conversation(t.conn, requester, pid)
        if conversation["request_state"] is not None:
            accept_in_txn(t, core.settings, conversation, requester.user_id)
        return detail(t.conn, core.settings, requester, pid)

    return await core.store.write("accept_request", txn)


def accept_in_txn(
    t: WriteTxn, settings: Settings, conversation: Mapping[Any, Any], user_id: int
) -> None:
    db.set_membership(
        t.conn,
        conversation["id"],
        user_id,
        request_state=None,
        folder="primary",
        request_messages=0,
    )
    emit_membership(t, settings, conversation["id"], conversation["pid"], user_id)


async def decline_request(
    core: Core,
    requester: Requester,
    pid: str,
    *,
    block: bool = False,
    report: dict[str, str] | None = None,
) -> None:
    """Delete a message request (optionally blocking and reporting its sender, in one
    action). The sender is not told: to them the request still looks pending, and their
    messages reach the requester as a new request only after `request_cooldown_seconds`.
    A group request is declined by leaving the group."""

    def txn(t: WriteTxn) -> int | None:
        conversation = access.conversation(t.conn, requester, pid)
        if conversation["request_state"] != "pending":
            raise BackchannelError("not_a_request", "That conversation is not a pending request.")
        asker = conversation["request_from"]
        if conversation["kind"] == "group":
            leave_in_txn(t, conversation["id"], requester.user_id, by_id=requester.user_id)
        else:
            db.set_membership(
                t.conn,
                conversation["id"],
                requester.user_id,
                request_state="declined",
                declined_at=t.now_ms,
            )
            emit_membership(t, core.settings, conversation["id"], pid, requester.user_id)
        if asker is not None:
            user_db.count_declined_request(t.conn, asker)
        if block and asker is not None:
            safety_db.add_block(
                t.conn, blocker_id=requester.user_id, blocked_id=asker, now=t.now_ms
            )
        if report is not None and asker is not None:
            moderation.file_report_in_txn(
                t,
                reporter_id=requester.user_id,
                target_user_id=asker,
                conversation_id=conversation["id"],
                message_id=None,
                reason=report["reason"],
                comment=report.get("comment", ""),
            )
        return asker if block else None

    blocked = await core.store.write("decline_request", txn)
    if blocked is not None:
        await safety.after_block(core, requester, blocked)


async def update_membership(
    core: Core,
    requester: Requester,
    pid: str,
    *,
    folder: str | None = None,
    archived: bool | None = None,
    hidden: bool | None = None,
    pinned: bool | None = None,
    muted: bool | None = None,
    muted_until_ms: int | None = None,
) -> dict[str, Any]:
    """Change the requester's own view of a conversation: move it between Primary and
    General, archive it or hide a group (both until new activity), pin it, mute it
    (until a time, or for ever). Nobody else learns of it."""
    if folder is not None:
        policy.check_choice(folder, policy.MOVABLE_FOLDERS, field="folder")

    def txn(t: WriteTxn) -> dict[str, Any]:
        conversation = access.conversation(t.conn, requester, pid)
        values: dict[str, Any] = {}
        if folder is not None:
            if conversation["request_state"] is not None:
                raise BackchannelError(
                    "not_accepted", "Accept the request before moving the conversation."
                )
            values["folder"] = folder
        if archived is not None:
            values["archived_position"] = conversation["last_position"] if archived else None
        if hidden is not None:
            if conversation["kind"] != "group" and hidden:
                raise BackchannelError("forbidden", "Only groups can be hidden; archive instead.")
            values["hidden_position"] = conversation["last_position"] if hidden else None
        if pinned is not None:
            values["pinned_at"] = t.now_ms if pinned else None
        if muted is not None:
            values["muted_until"] = (muted_until_ms or policy.MUTE_FOREVER) if muted else None
        if values:
            db.set_membership(t.conn, conversation["id"], requester.user_id, **values)
            emit_membership(t, core.settings, conversation["id"], pid, requester.user_id)
        return detail(t.conn, core.settings, requester, pid)

    return await core.store.write("update_membership", txn)


@dataclass(frozen=True, slots=True)
class Admission:
    """How a new message goes out: `private_to` set, to nobody but its sender (it looks
    sent to them and never arrives); `request_to` set, as (part of) a message request
    to that member."""

    private_to: int | None = None
    request_to: int | None = None


def admit(
    t: WriteTxn,
    settings: Settings,
    requester: Requester,
    conversation: Mapping[Any, Any],
    *,
    has_media: bool = False,
) -> Admission:
    """Whether and how the requester's new message goes out, by the request and block rules.

    Replying to a request accepts it. In a direct conversation: the blocker may not send;
    the blocked person's messages stay private to them; a request's sender may send
    `request_message_limit` text messages until it is accepted, and a declined request
    still takes them (privately) until its cool-down is over, when they start a new one.
    """
    if conversation["request_state"] is not None:
        accept_in_txn(t, settings, conversation, requester.user_id)
    if conversation["kind"] != "direct":
        return Admission()
    if conversation["blocking_other"]:
        raise BackchannelError("blocked_by_you", "You blocked them; unblock them to send.")
    if conversation["other_request_state"] is None:
        return Admission(requester.user_id if conversation["blocked_by_other"] else None)
    return _request_message(t, settings, requester, conversation, has_media=has_media)


def _request_message(
    t: WriteTxn,
    settings: Settings,
    requester: Requester,
    conversation: Mapping[Any, Any],
    *,
    has_media: bool,
) -> Admission:
    """One more message in the request to the other member of a direct conversation."""
    other = conversation["other_id"]
    status = safety.request_status(settings, conversation, "other_", t.now_ms)
    renewed = status in ("expired", "renewable")
    sent = 0 if renewed else conversation["other_request_messages"]
    if sent >= settings.request_message_limit:
        raise BackchannelError(
            "request_limit_reached",
            f"You can send {settings.request_message_limit} message(s) until they accept "
            "your request.",
        )
    policy.check_request_message(has_media=has_media)
    if renewed:
        db.set_membership(
            t.conn,
            conversation["id"],
            other,
            request_state="pending",
            folder="requests",
            request_from=requester.user_id,
            request_at=t.now_ms,
            request_messages=0,
            declined_at=None,
        )
    db.count_request_message(t.conn, conversation["id"], other)
    if sent == 0:
        user_db.count_request_sent(t.conn, requester.user_id)
    if renewed:
        emit_membership(t, settings, conversation["id"], conversation["pid"], other)
    if status == "declined" or conversation["blocked_by_other"]:
        return Admission(private_to=requester.user_id)
    return Admission(request_to=other)
