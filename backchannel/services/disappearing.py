"""Disappearing messages: a conversation's timer, and messages erased when their time is up.

A member of a direct conversation, or an admin of a group, sets the timer
(`conversation.disappearing_updated`, in the conversation's log). Messages sent while it is
on carry it: counted from sending, a message's `expires_at` is known at once; counted from
`seen`, it starts when everyone but its sender has read it (`start_seen_timers`, from the
read path). One job per conversation (`messages.expire`, keyed by it) is due at its next
expiry; it erases what is due as an unsend does — text, edit history, reactions, preview,
attachments (their bytes once committed) — leaving a content-free tombstone, tells the
members (`message.expired`, which clients drop), and queues itself again for the next one.
The job is durable, so a restart in between only delays it (by at most the time the
server was down, then the job queue's own lateness: see docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backchannel import jobs
from backchannel.domain import messages as rules
from backchannel.errors import BackchannelError
from backchannel.services import access, media
from backchannel.services.core import Core, Requester
from backchannel.services.erase import erase_messages_in_txn
from backchannel.services.events import emit
from backchannel.services.views import disappearing_view
from backchannel.store import conversations as conv_db
from backchannel.store import messages as db
from backchannel.store.database import WriteTxn

EXPIRE_JOB = "messages.expire"
BATCH = 200  # messages erased per transaction; the job comes back at once for the rest


async def set_timer(
    core: Core, requester: Requester, pid: str, *, seconds: int | None, counted_from: str
) -> dict[str, Any]:
    """Set (or, with `seconds` None, turn off) the conversation's timer for messages sent
    from now on. Any member of a direct conversation; a group's admins."""
    seconds, counted_from = rules.check_disappearing(seconds, counted_from)
    from backchannel.services.conversations import detail

    def txn(t: WriteTxn) -> dict[str, Any]:
        conversation = access.conversation(t.conn, requester, pid)
        if conversation["kind"] == "group":
            access.require_admin(conversation)
        elif conversation["request_state"] is not None:
            raise BackchannelError("forbidden", "Accept the request first.")
        conv_db.update_conversation(
            t.conn,
            conversation["id"],
            disappear_seconds=seconds,
            disappear_from=counted_from,
        )
        emit(
            t,
            "conversation.disappearing_updated",
            {
                "conversation_id": pid,
                "disappearing": disappearing_view(
                    {"disappear_seconds": seconds, "disappear_from": counted_from}
                ),
                "by": requester.handle,
            },
            conversation_id=conversation["id"],
        )
        return detail(t.conn, core.settings, requester, pid)

    return await core.store.write("set_disappearing", txn)


def timer_of(conversation: Mapping[Any, Any], now: int) -> tuple[int | None, int | None]:
    """For a message sent now in `conversation`: (its timer, when it expires if known)."""
    seconds = conversation.get("disappear_seconds")
    if seconds is None:
        return None, None
    if conversation.get("disappear_from") == "seen":
        return int(seconds), None
    expires = now + int(seconds) * 1000
    return int(seconds), expires


def schedule_in_txn(t: WriteTxn, conversation_id: int, expires_at: int | None) -> None:
    """Make the conversation's expiry job due no later than `expires_at`."""
    if expires_at is not None:
        jobs.enqueue_earliest(
            t,
            EXPIRE_JOB,
            {"conversation_id": conversation_id},
            run_at=expires_at,
            key=f"expire:{conversation_id}",
        )


def after_read_in_txn(t: WriteTxn, conversation: Mapping[Any, Any]) -> None:
    """A read marker moved: `seen` timers of what everyone has now read start. (Only in
    conversations counting from `seen`; turning that off keeps `from`, so messages sent
    with such a timer still start theirs.)"""
    if conversation.get("disappear_from") != "seen":
        return
    conversation_id = int(conversation["id"])
    db.start_seen_timers(t.conn, conversation_id, now=t.now_ms)
    schedule_in_txn(t, conversation_id, db.next_expiry(t.conn, conversation_id))


async def expire(core: Core, job: jobs.Job) -> None:
    """The job `messages.expire`: erase the conversation's messages whose time is up."""
    conversation_id = int(job.payload["conversation_id"])
    erased: list[str] = []

    def txn(t: WriteTxn) -> None:
        due = db.expired_due(t.conn, conversation_id, now=t.now_ms, limit=BATCH)
        erased.extend(erase_messages_in_txn(t, [int(m["id"]) for m in due], expired=True))
        jobs.done_in_txn(t, job)
        upcoming = db.next_expiry(t.conn, conversation_id)
        if upcoming is not None:
            jobs.enqueue(
                t,
                EXPIRE_JOB,
                {"conversation_id": conversation_id},
                run_at=max(upcoming, t.now_ms),
                key=f"expire:{conversation_id}",
            )

    await core.store.write("expire_messages", txn)
    await media.forget_bytes(core, erased)
