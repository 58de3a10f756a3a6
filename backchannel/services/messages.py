"""Use cases for messages: send, history, edit, unsend, delete for me, react, forward."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from backchannel.domain import messages as rules
from backchannel.domain import spam
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.services import (
    access,
    disappearing,
    inbox_state,
    limits,
    media,
    membership,
    moderation,
    pagination,
    previews,
    requests,
    screening,
)
from backchannel.services.core import Core, Requester
from backchannel.services.erase import erase_messages_in_txn
from backchannel.services.events import emit
from backchannel.services.views import iso, message_view, user_view
from backchannel.store import accounts as user_db
from backchannel.store import conversations as conv_db
from backchannel.store import messages as db
from backchannel.store import safety as safety_db
from backchannel.store.database import ReadTxn, WriteTxn

QUOTE_LENGTH = 200  # characters of the original a reply keeps


async def send_message(
    core: Core,
    requester: Requester,
    conversation_pid: str,
    *,
    txn_id: str | None,
    text: str,
    reply_to: str | None = None,
    content: rules.Content | None = None,
) -> tuple[dict[str, Any], bool]:
    """Send a message: `text`, or `content` (text with attachments, a location, a shared
    profile or post; domain/messages.py `check_content`). Returns (message, created).

    Idempotent by `txn_id` per sender, kept in the database: a retry (even a
    concurrent one, even through another node) returns the original message
    with `created=False`. The hot path: a fixed, small number of statements. Within the
    sender's messages-a-minute limit (`rate_limited` otherwise).
    """
    counts = await screening.before_send(core, requester, content.text if content else text)
    return await send_message_nowait(
        core,
        requester,
        conversation_pid,
        txn_id=txn_id,
        text=text,
        reply_to=reply_to,
        counts=counts,
        content=content,
    )


def send_message_nowait(
    core: Core,
    requester: Requester,
    conversation_pid: str,
    *,
    txn_id: str | None,
    text: str,
    reply_to: str | None = None,
    counts: screening.Counts = screening.NOT_COUNTED,
    content: rules.Content | None = None,
) -> asyncio.Future[tuple[dict[str, Any], bool]]:
    """`send_message` without waiting for the commit: the send is queued at once (so
    sends queued one after another commit in that order) and the future resolves to
    (message, created) once it is durable, or to its error. Bad text raises here.
    `counts`: from `screening.before_send`, awaited first (it also applies the rate limit)."""
    if content is None:
        content = rules.Content(rules.check_text(text, max_length=core.settings.max_message_length))
    body = content

    def txn(t: WriteTxn) -> tuple[dict[str, Any], bool]:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        if txn_id is not None and db.txn_used(t.conn, requester.user_id, txn_id):
            existing = db.message_by_txn(t.conn, requester.user_id, txn_id)
            if existing is not None:
                _check_same_request(existing, conversation_pid, body.text)
                return _reload(t, existing["id"], requester.user_id), False
        reply = None
        if reply_to is not None:
            reply = access.message(t.conn, requester, conversation, reply_to)
        view = _send_in_txn(
            t,
            core,
            requester,
            conversation,
            text=body.text,
            txn_id=txn_id,
            reply=reply,
            counts=counts,
            content=body,
        )
        return view, True

    return core.store.write_nowait("send_message", txn)


def _check_same_request(existing: Mapping[Any, Any], conversation_pid: str, text: str) -> None:
    if existing["conversation_pid"] != conversation_pid or (
        existing["edited_at"] is None and existing["unsent_at"] is None and existing["text"] != text
    ):
        raise BackchannelError(
            "txn_id_conflict",
            "That txn_id was already used for a different message; use a new txn_id.",
        )


def _send_in_txn(
    t: WriteTxn,
    core: Core,
    requester: Requester,
    conversation: Mapping[Any, Any],
    *,
    text: str,
    txn_id: str | None,
    reply: Mapping[Any, Any] | None,
    counts: screening.Counts,
    forwarded: bool = False,
    content: rules.Content | None = None,
) -> dict[str, Any]:
    """Admit, screen and insert one new message (services/screening.py says what the
    verdicts do); returns its view."""
    has_media = content is not None and bool(content.media or content.kind != "text")
    admission = requests.admit(t, core.settings, requester, conversation, has_media=has_media)
    verdict = screening.judge_in_txn(
        t, core, requester, text, counts, request_to=admission.request_to
    )
    private_to = admission.private_to
    if verdict is not None and verdict.outcome == "reject":
        raise BackchannelError("message_rejected", f"This message was not sent: {verdict.reason}.")
    if verdict is not None and verdict.outcome == "hold":
        private_to = requester.user_id
    if verdict is not None and verdict.outcome == "hide" and admission.request_to is not None:
        _to_hidden_requests(t, core, conversation, admission.request_to)
    view = _insert(
        t,
        requester,
        conversation,
        text=text,
        txn_id=txn_id,
        reply=reply,
        forwarded=forwarded,
        private_to=private_to,
        content=_shared(t, content),
    )
    if private_to is None and admission.request_to is None:
        previews.after_send(t, core, requester, view)  # requests carry no previews
    if private_to is None and conversation["business"]:
        inbox_state.message_sent(t, conversation, requester, view)
    if verdict is not None and _worth_a_flag(verdict):
        moderation.file_flag_in_txn(
            t,
            target_user_id=requester.user_id,
            conversation_id=conversation["id"],
            message_id=db.message_id(t.conn, view["id"]),
            reason="held" if verdict.outcome == "hold" else "spam",
            score=verdict.score,
            evidence={
                "outcome": verdict.outcome,
                "request": admission.request_to is not None,
                "signals": [
                    {"check": s.check, "score": s.score, "reason": s.reason}
                    for s in verdict.signals
                ],
            },
        )
    return view


def _shared(t: WriteTxn, content: rules.Content | None) -> rules.Content | None:
    """The content with a shared profile resolved to the user it names."""
    if content is None or content.kind != "profile" or content.share is None:
        return content
    user = user_db.user_by_handle(t.conn, str(content.share["handle"]).lower())
    if user is None:
        raise BackchannelError("user_not_found", "No such user to share.")
    return rules.Content(content.text, "profile", user_view(user), content.media)


def _worth_a_flag(verdict: spam.Verdict) -> bool:
    """Hidden, held messages are for moderators to see; hidden words alone are the
    recipient's taste, not abuse."""
    if verdict.outcome == "allow":
        return False
    return any(signal.check != "hidden_word" for signal in verdict.signals)


def _to_hidden_requests(
    t: WriteTxn, core: Core, conversation: Mapping[Any, Any], recipient_id: int
) -> None:
    conv_db.set_membership(t.conn, conversation["id"], recipient_id, folder="hidden")
    membership.emit_membership(
        t, core.settings, conversation["id"], conversation["pid"], recipient_id
    )


def release_held_in_txn(t: WriteTxn, message_id: int) -> bool:
    """Deliver a message the filters held, once a moderator cleared it: its members get
    `message.created` now (at a new position; the message keeps its own). Not across a
    block that stands now. Returns whether it went out."""
    row = db.messages_by_ids(t.conn, [message_id]).get(message_id)
    if row is None or row["private_to"] is None or row["unsent_at"] is not None:
        return False
    other = conv_db.other_direct_member(t.conn, row["conversation_id"], row["sender_id"])
    if other is not None and safety_db.is_blocked_by(
        t.conn, blocker_id=other, blocked_id=row["sender_id"]
    ):
        return False
    db.release(t.conn, message_id)
    reactions = db.reactions_for(t.conn, [message_id])
    position = emit(
        t,
        "message.created",
        {
            "message": message_view(
                row, reactions.get(message_id), media.attachments(t.conn, [row]).get(message_id)
            )
        },
        conversation_id=row["conversation_id"],
    )
    conv_db.touch(t.conn, row["conversation_id"], position=position, at=t.now_ms)
    return True


def _about(message: Mapping[Any, Any]) -> dict[str, Any]:
    """Where an event about a message goes: to its members, or only to its sender when the
    message is private to them."""
    if message["private_to"] is not None:
        return {"user_id": message["private_to"]}
    return {"message_position": message["position"]}


def _insert(
    t: WriteTxn,
    requester: Requester,
    conversation: Mapping[Any, Any],
    *,
    text: str,
    txn_id: str | None,
    reply: Mapping[Any, Any] | None,
    forwarded: bool = False,
    private_to: int | None = None,
    content: rules.Content | None = None,
    quick_replies: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Insert a message, its event and the conversation's activity, building the view
    from what is at hand rather than reading the row back. A message private to its
    sender leaves the conversation's activity alone (nobody else may notice it). A text
    message's `quick_replies` (buttons) are kept in its `extra`."""
    kind = "text" if content is None else content.kind
    share = None if content is None else content.share
    pids = () if content is None else content.media
    position = t.next_position()
    pid = new_id("m")
    quote = None if reply is None or reply["text"] is None else reply["text"][:QUOTE_LENGTH]
    timer, expires_at = disappearing.timer_of(conversation, t.now_ms)
    db.insert_message(
        t.conn,
        pid=pid,
        conversation_id=conversation["id"],
        sender_id=requester.user_id,
        position=position,
        txn_id=txn_id,
        text=text,
        reply_to_id=reply["id"] if reply is not None else None,
        reply_text=quote,
        forwarded=forwarded,
        now=t.now_ms,
        private_to=private_to,
        kind=kind,
        extra=orjson.dumps(share).decode()
        if share is not None
        else (orjson.dumps({"quick_replies": quick_replies}).decode() if quick_replies else None),
        media_count=len(pids),
        disappear_seconds=timer,
        expires_at=expires_at,
    )
    if expires_at is not None:
        disappearing.schedule_in_txn(t, int(conversation["id"]), expires_at)
    attached = []
    if pids:
        attached = media.attach_in_txn(t, requester, db.message_id(t.conn, pid), list(pids))
    view = {
        "id": pid,
        "conversation_id": conversation["pid"],
        "position": position,
        "sender": {
            "id": requester.user_pid,
            "handle": requester.handle,
            "display_name": requester.display_name,
        },
        "text": text,
        "reply_to": None
        if reply is None
        else {
            "id": reply["pid"],
            "sender_handle": reply["sender_handle"],
            "text": quote,
        },
        "forwarded": forwarded,
        "reactions": [],
        "created_at": iso(t.now_ms),
        "edited_at": None,
        "unsent": False,
        "kind": kind,
        "share": share,
        "media": attached,
        "preview": None,
    }
    if quick_replies:
        view["quick_replies"] = quick_replies
    emit(
        t,
        "message.created",
        {"message": view},
        conversation_id=conversation["id"],
        position=position,
        user_id=private_to,
    )
    if private_to is None:
        conv_db.touch(t.conn, conversation["id"], position=position, at=t.now_ms)
    return view


def send_automated_in_txn(
    t: WriteTxn,
    requester: Requester,
    conversation: Mapping[Any, Any],
    text: str,
    *,
    quick_replies: Sequence[Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """A message the sender's own automation sends (a business's welcome or away text,
    configured by its owners): inserted and announced like any, without the spam checks
    and limits that guard what people type. `quick_replies`: its buttons ([{id, label}],
    a bot's). Returns its view."""
    return _insert(
        t,
        requester,
        conversation,
        text=text,
        txn_id=None,
        reply=None,
        quick_replies=[dict(q) for q in quick_replies] if quick_replies else None,
    )


def send_in_txn(
    t: WriteTxn,
    core: Core,
    requester: Requester,
    conversation_pid: str,
    *,
    text: str,
    reply_to: str | None,
    counts: screening.Counts,
) -> dict[str, Any]:
    """A text message sent inside the caller's transaction, with all a send's checks (an
    approved reply: the approval commits with the message or not at all). `counts`: from
    `screening.before_send`, awaited first. Returns its view."""
    body = rules.Content(rules.check_text(text, max_length=core.settings.max_message_length))
    conversation = access.conversation(t.conn, requester, conversation_pid)
    reply = None if reply_to is None else access.message(t.conn, requester, conversation, reply_to)
    return _send_in_txn(
        t,
        core,
        requester,
        conversation,
        text=body.text,
        txn_id=None,
        reply=reply,
        counts=counts,
        content=body,
    )


async def history(
    core: Core,
    requester: Requester,
    conversation_pid: str,
    *,
    before: str | None,
    after: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """A page of messages in sending order.

    Without cursors: the newest page. `before`: the page older than that
    cursor; `after`: the page newer than it. `before_cursor` / `after_cursor`
    in the reply fetch the neighbouring pages, and are null at either end.
    """
    if before and after:
        raise BackchannelError("invalid_request", "Pass `before` or `after`, not both.")
    before_pos = pagination.decode(before, 1)
    after_pos = pagination.decode(after, 1)
    size = pagination.clamp(limit)

    def txn(t: ReadTxn) -> dict[str, Any]:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        page, _rows = history_in_txn(
            t,
            requester,
            conversation,
            from_position=conversation["joined_position"],
            before=before_pos[0] if before_pos else None,
            after=after_pos[0] if after_pos else None,
            size=size,
        )
        return page

    return await core.store.read("history", txn)


def history_in_txn(
    t: ReadTxn | WriteTxn,
    requester: Requester,
    conversation: Mapping[Any, Any],
    *,
    from_position: int,
    before: int | None,
    after: int | None,
    size: int,
) -> tuple[dict[str, Any], list[Any]]:
    """`history`'s page of a conversation the requester may read, from `from_position`
    (a member's joining; a business team's start) on; and its rows."""
    rows = db.history_page(
        t.conn,
        conversation_id=conversation["id"],
        user_id=requester.user_id,
        from_position=from_position,
        before=before,
        after=after,
        limit=size + 1,
    )
    more = len(rows) > size
    if after is not None:
        rows = rows[:size]
        older, newer = True, more
    else:
        rows = rows[-size:] if more else rows
        older, newer = more, before is not None
    reactions = db.reactions_for(t.conn, [row["id"] for row in rows], viewer_id=requester.user_id)
    attached = media.attachments(t.conn, rows)
    items = [message_view(row, reactions.get(row["id"]), attached.get(row["id"])) for row in rows]
    media.show_opens(t.conn, requester.user_id, rows, attached, items)
    page = {
        "items": items,
        "before_cursor": pagination.encode(rows[0]["position"]) if rows and older else None,
        "after_cursor": pagination.encode(rows[-1]["position"]) if rows and newer else None,
    }
    return page, rows


async def get_message(
    core: Core, requester: Requester, conversation_pid: str, message_pid: str
) -> dict[str, Any]:
    def txn(t: ReadTxn) -> dict[str, Any]:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        message = access.message(t.conn, requester, conversation, message_pid)
        reactions = db.reactions_for(t.conn, [message["id"]], viewer_id=requester.user_id)
        return message_view(
            message,
            reactions.get(message["id"]),
            media.attachments(t.conn, [message]).get(message["id"]),
        )

    return await core.store.read("get_message", txn)


async def edit_message(
    core: Core, requester: Requester, conversation_pid: str, message_pid: str, text: str
) -> dict[str, Any]:
    """Edit one's message within the edit window. Across a block in a direct conversation
    nothing changes for the other member: the blocker may not edit (`blocked_by_you`, as
    for sending), and the blocked person's edit of an older message reaches only them."""
    text = rules.check_text(text, max_length=core.settings.max_message_length)

    def txn(t: WriteTxn) -> dict[str, Any]:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        message = access.message(t.conn, requester, conversation, message_pid)
        access.require_sender(message, requester)
        _require_not_unsent(message)
        rules.check_edit_window(
            sent_at_ms=message["created_at"],
            now_ms=t.now_ms,
            window_seconds=core.settings.edit_window_seconds,
        )
        if conversation["blocking_other"]:
            raise BackchannelError("blocked_by_you", "You blocked them; unblock them to edit.")
        if conversation["blocked_by_other"] and message["private_to"] is None:
            return _edited_privately(t, requester, conversation, message, text)
        if message["text"] != text:
            db.set_text(t.conn, message["id"], old_text=message["text"], text=text, now=t.now_ms)
            emit(
                t,
                "message.edited",
                {
                    "conversation_id": conversation_pid,
                    "message_id": message_pid,
                    "text": text,
                    "edited_at": iso(t.now_ms),
                },
                conversation_id=conversation["id"],
                **_about(message),
            )
        return _reload(t, message["id"], requester.user_id)

    return await core.store.write("edit_message", txn)


def _edited_privately(
    t: WriteTxn,
    requester: Requester,
    conversation: Mapping[Any, Any],
    message: Mapping[Any, Any],
    text: str,
) -> dict[str, Any]:
    """An edit by someone blocked of a message the blocker already has: it looks done to
    them (the reply, their other devices' event), and the stored message stays as it was."""
    view = _reload(t, message["id"], requester.user_id)
    if message["text"] == text:
        return view
    edited_at = iso(t.now_ms)
    emit(
        t,
        "message.edited",
        {
            "conversation_id": conversation["pid"],
            "message_id": message["pid"],
            "text": text,
            "edited_at": edited_at,
        },
        conversation_id=conversation["id"],
        user_id=requester.user_id,
    )
    return view | {"text": text, "edited_at": edited_at}


async def unsend_message(
    core: Core, requester: Requester, conversation_pid: str, message_pid: str
) -> dict[str, Any]:
    """Erase a message's content for everyone — text, attachments (their bytes too, once
    committed), preview; a tombstone stays. Idempotent."""
    erased: list[str] = []

    def txn(t: WriteTxn) -> dict[str, Any]:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        message = access.message(t.conn, requester, conversation, message_pid)
        access.require_sender(message, requester)
        erased[:] = erase_messages_in_txn(t, [message["id"]], expired=False)
        return _reload(t, message["id"], requester.user_id)

    view = await core.store.write("unsend_message", txn)
    await media.forget_bytes(core, erased)
    return view


async def hide_message(
    core: Core, requester: Requester, conversation_pid: str, message_pid: str
) -> None:
    """Delete a message for the requester only (all their devices)."""

    def txn(t: WriteTxn) -> None:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        message = access.message(t.conn, requester, conversation, message_pid)
        if db.hide(t.conn, user_id=requester.user_id, message_id=message["id"]):
            emit(
                t,
                "message.hidden",
                {"conversation_id": conversation_pid, "message_id": message_pid},
                conversation_id=conversation["id"],
                user_id=requester.user_id,
            )

    await core.store.write("hide_message", txn)


async def set_reaction(
    core: Core,
    requester: Requester,
    conversation_pid: str,
    message_pid: str,
    emoji: str,
    *,
    on: bool,
) -> dict[str, Any]:
    """Add (`on`) or remove a reaction. Both are idempotent; returns the message."""
    emoji = rules.check_reaction(emoji)

    def txn(t: WriteTxn) -> dict[str, Any]:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        message = access.message(t.conn, requester, conversation, message_pid)
        _require_not_unsent(message)
        mine = db.user_reactions(t.conn, message_id=message["id"], user_id=requester.user_id)
        data = {
            "conversation_id": conversation_pid,
            "message_id": message_pid,
            "emoji": emoji,
            "user": requester.handle,
        }
        if on and emoji not in mine:
            if len(mine) >= core.settings.max_reactions_per_user:
                raise BackchannelError(
                    "too_many_reactions",
                    f"At most {core.settings.max_reactions_per_user} reactions per message.",
                )
            db.add_reaction(
                t.conn,
                message_id=message["id"],
                user_id=requester.user_id,
                emoji=emoji,
                now=t.now_ms,
            )
            emit(
                t,
                "reaction.added",
                data,
                conversation_id=conversation["id"],
                actor_id=requester.user_id,
                **_about(message),
            )
        elif not on and emoji in mine:
            db.remove_reaction(
                t.conn, message_id=message["id"], user_id=requester.user_id, emoji=emoji
            )
            emit(
                t,
                "reaction.removed",
                data,
                conversation_id=conversation["id"],
                actor_id=requester.user_id,
                **_about(message),
            )
        return _reload(t, message["id"], requester.user_id)

    return await core.store.write("set_reaction", txn)


async def forward_message(
    core: Core,
    requester: Requester,
    conversation_pid: str,
    message_pid: str,
    targets: list[str],
) -> list[dict[str, Any]]:
    """Send a copy of a message to other conversations of the requester, all or none:
    its text, its share and its attachments (new uploads of the requester's on the same
    bytes; view-once media is not forwarded)."""
    unique_targets = list(dict.fromkeys(targets))
    rules.check_forward_targets(
        len(unique_targets), maximum=limits.forward_targets(core, requester)
    )
    await limits.sending(core, requester, len(unique_targets))

    def txn(t: WriteTxn) -> list[dict[str, Any]]:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        message = access.message(t.conn, requester, conversation, message_pid)
        _require_not_unsent(message)
        destinations = [access.conversation(t.conn, requester, pid) for pid in unique_targets]
        # A text message's `extra` is its buttons (a bot's), which are not forwarded.
        kept = message["extra"] is not None and message["kind"] != "text"
        share = orjson.loads(message["extra"]) if kept else None
        return [
            _send_in_txn(
                t,
                core,
                requester,
                destination,
                text=message["text"],
                txn_id=None,
                reply=None,
                counts=screening.NOT_COUNTED,
                forwarded=True,
                content=rules.Content(
                    message["text"],
                    message["kind"],
                    share,
                    tuple(media.copies_for_forward_in_txn(t, requester, message)),
                ),
            )
            for destination in destinations
        ]

    return await core.store.write("forward_message", txn)


def _require_not_unsent(message: Mapping[Any, Any]) -> None:
    if message["unsent_at"] is not None:
        raise BackchannelError("message_unsent", "That message was unsent.")


def _reload(t: WriteTxn, message_id: int, viewer_id: int) -> dict[str, Any]:
    row = db.messages_by_ids(t.conn, [message_id])[message_id]
    reactions = db.reactions_for(t.conn, [message_id], viewer_id=viewer_id)
    return message_view(
        row, reactions.get(message_id), media.attachments(t.conn, [row]).get(message_id)
    )
