"""A person's scheduled messages ("send later"): written now, sent at their time (at most
MAX_AHEAD_DAYS ahead) by the job queue, listed, editable and cancellable until then.

At its time a message goes through the very path of a send (services/messages.py
`send_message`, as its author), so everything is checked again then: the author still an
active member (not left, not removed from the group), not blocked either way, no declined
or spent request, within their limits, through the spam checks. A send refused is
`failed` with the refusal's error code as `reason`, and the author is told
(`scheduled.updated`, to them alone); over the rate limit it waits and tries again. The
send's txn id is the item's, so a job run again after a crash, or by two nodes, returns
the message sent the first time: exactly one message, whatever happens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backchannel import jobs
from backchannel.domain import messages as rules
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.services import access, limits
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.views import iso
from backchannel.store import accounts as user_db
from backchannel.store import scheduled as db
from backchannel.store.database import ReadTxn, WriteTxn

Row = Mapping[Any, Any]
KIND = "messages.scheduled_send"
MAX_AHEAD_DAYS = 90
MAX_PENDING = 100  # per person
RETRY_AFTER_S = 5.0


def view(row: Row) -> dict[str, Any]:
    return {
        "id": row["pid"],
        "conversation_id": row["conversation_pid"],
        "text": row["text"],
        "reply_to": row["reply_to_pid"],
        "send_at": iso(row["send_at"]),
        "status": row["status"],
        "reason": row["reason"],
        "message_id": row["message_pid"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _check_time(send_at_ms: int, now_ms: int) -> int:
    if send_at_ms <= now_ms:
        raise BackchannelError("invalid_request", "send_at must be in the future.")
    if send_at_ms > now_ms + MAX_AHEAD_DAYS * 86_400_000:
        raise BackchannelError(
            "invalid_request", f"send_at is at most {MAX_AHEAD_DAYS} days ahead."
        )
    return send_at_ms


def _tell(t: WriteTxn, scheduled_id: int) -> dict[str, Any]:
    """The item's new state, to its author alone (all their devices)."""
    row = db.by_id(t.conn, scheduled_id)
    assert row is not None
    shown = view(row)
    emit(t, "scheduled.updated", {"scheduled": shown}, user_id=int(row["author_id"]))
    return shown


def _enqueue(t: WriteTxn, row: Row) -> None:
    jobs.enqueue(
        t,
        KIND,
        {"scheduled_id": int(row["id"]), "version": int(row["version"])},
        run_at=int(row["send_at"]),
        key=f"scheduled:{row['id']}",
    )


async def schedule(
    core: Core,
    requester: Requester,
    conversation_pid: str,
    *,
    text: str,
    send_at_ms: int,
    reply_to: str | None,
) -> dict[str, Any]:
    """Schedule `text` (a reply to `reply_to`, perhaps) in a conversation one is in."""
    checked = rules.check_text(text, max_length=core.settings.max_message_length)

    def txn(t: WriteTxn) -> dict[str, Any]:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        if reply_to is not None:
            access.message(t.conn, requester, conversation, reply_to)
        when = _check_time(send_at_ms, t.now_ms)
        if db.pending_count(t.conn, requester.user_id) >= MAX_PENDING:
            raise BackchannelError(
                "invalid_request", f"At most {MAX_PENDING} scheduled messages wait at once."
            )
        scheduled_id = db.insert_scheduled(
            t.conn,
            pid=new_id("s"),
            author_id=requester.user_id,
            conversation_id=int(conversation["id"]),
            text=checked,
            reply_to_pid=reply_to,
            send_at=when,
            status="pending",
            version=1,
            created_at=t.now_ms,
            updated_at=t.now_ms,
        )
        row = db.by_id(t.conn, scheduled_id)
        assert row is not None
        _enqueue(t, row)
        return _tell(t, scheduled_id)

    return await core.store.write("schedule_message", txn)


async def list_mine(
    core: Core, requester: Requester, *, conversation_pid: str | None, status: str | None
) -> dict[str, Any]:
    def txn(t: ReadTxn) -> dict[str, Any]:
        conversation_id = None
        if conversation_pid is not None:
            conversation_id = int(access.conversation(t.conn, requester, conversation_pid)["id"])
        rows = db.list_mine(
            t.conn, requester.user_id, conversation_id=conversation_id, status=status, limit=200
        )
        return {"items": [view(row) for row in rows]}

    return await core.store.read("scheduled_messages", txn)


def _pending(t: WriteTxn, requester: Requester, pid: str) -> Row:
    row = db.mine(t.conn, requester.user_id, pid)
    if row is None:
        raise BackchannelError("scheduled_message_not_found", "No such scheduled message of yours.")
    if row["status"] != "pending":
        raise BackchannelError("scheduled_not_pending", f"It is {row['status']} already.")
    return row


async def update(
    core: Core,
    requester: Requester,
    pid: str,
    *,
    text: str | None,
    send_at_ms: int | None,
) -> dict[str, Any]:
    """Change a pending message's text or time (its job follows the new time)."""
    checked = (
        None
        if text is None
        else rules.check_text(text, max_length=core.settings.max_message_length)
    )

    def txn(t: WriteTxn) -> dict[str, Any]:
        row = _pending(t, requester, pid)
        values: dict[str, Any] = {}
        if checked is not None:
            values["text"] = checked
        if send_at_ms is not None:
            values["send_at"] = _check_time(send_at_ms, t.now_ms)
        if not values:
            raise BackchannelError("invalid_request", "Nothing to change.")
        db.update_scheduled(
            t.conn, int(row["id"]), version=int(row["version"]) + 1, updated_at=t.now_ms, **values
        )
        fresh = db.by_id(t.conn, int(row["id"]))
        assert fresh is not None
        _enqueue(t, fresh)
        return _tell(t, int(row["id"]))

    return await core.store.write("update_scheduled_message", txn)


async def cancel(core: Core, requester: Requester, pid: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        row = _pending(t, requester, pid)
        db.update_scheduled(
            t.conn, int(row["id"]), status="cancelled", reason="cancelled", updated_at=t.now_ms
        )
        jobs.cancel(t, f"scheduled:{row['id']}")
        return _tell(t, int(row["id"]))

    return await core.store.write("cancel_scheduled_message", txn)


def _author(t: WriteTxn, core: Core, user_id: int) -> tuple[Requester | None, str | None]:
    """The author as a requester now, or why they cannot send at all."""
    user = user_db.user_by_id(t.conn, user_id)
    if user is None or user["deactivated_at"] is not None:
        return None, "account_closed"
    if user_db.is_suspended(t.conn, user_id):
        return None, "account_suspended"
    counters = user_db.trust_counters(t.conn, user_id)
    tier = limits.tier_of(core.settings, counters, t.now_ms)
    requester = Requester(
        user_id,
        str(user["pid"]),
        str(user["handle"]),
        None,
        str(user["display_name"]),
        tier,
        int(counters["created_at"]),
    )
    return requester, None


async def send_due(core: Core, job: jobs.Job) -> None:
    """The job `messages.scheduled_send`: send the version it was queued for, as its
    author would now; `failed` with the reason when that send is refused."""
    scheduled_id = int(job.payload["scheduled_id"])

    def check(t: WriteTxn) -> tuple[Row, Requester] | None:
        row = db.by_id(t.conn, scheduled_id)
        if row is None or row["status"] != "pending" or row["version"] != job.payload["version"]:
            jobs.done_in_txn(t, job)
            return None
        author, problem = _author(t, core, int(row["author_id"]))
        if author is None:
            _settle(t, job, row, status="failed", reason=problem)
            return None
        return row, author

    checked = await core.store.write("scheduled_message_check", check)
    if checked is None:
        return
    row, author = checked
    from backchannel.services import messages

    try:
        message, _ = await messages.send_message(
            core,
            author,
            str(row["conversation_pid"]),
            txn_id=f"scheduled.{row['pid']}",
            text=str(row["text"]),
            reply_to=row["reply_to_pid"],
        )
    except BackchannelError as error:
        if error.code == "rate_limited":
            retry = float(error.details.get("retry_after") or RETRY_AFTER_S)
            raise jobs.Retry("over the limit", retry) from error
        code = error.code

        def failed(t: WriteTxn) -> None:
            _settle(t, job, row, status="failed", reason=code)

        await core.store.write("scheduled_message_failed", failed)
        return

    def sent(t: WriteTxn) -> None:
        _settle(t, job, row, status="sent", reason=None, message_pid=str(message["id"]))

    await core.store.write("scheduled_message_sent", sent)


def _settle(
    t: WriteTxn,
    job: jobs.Job,
    row: Row,
    *,
    status: str,
    reason: str | None,
    message_pid: str | None = None,
) -> None:
    db.update_scheduled(
        t.conn,
        int(row["id"]),
        status=status,
        reason=reason,
        message_pid=message_pid,
        updated_at=t.now_ms,
    )
    _tell(t, int(row["id"]))
    jobs.done_in_txn(t, job)
