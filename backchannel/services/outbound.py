"""Outbound: messages the team schedules, and the inbox's hooks for outbound — the
customer writing (which cancels the scheduled messages that asked for it) and opt-in and
opt-out keywords (services/broadcasts.py, which sends the broadcasts).

A **scheduled message** is a reply written now and sent later (`business.scheduled_send`,
a job keyed by the item): at its time it goes out through the same path as a teammate's
reply (services/messages.py `send_message`, as the business, attributed to the author), so
blocks, limits and the spam checks apply — after checking again that the author is still
on the team, may reply, and may see the conversation. Its text may use the saved replies'
variables, filled in when it is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backchannel import jobs
from backchannel.domain import broadcasts as rules
from backchannel.domain import business as business_rules
from backchannel.domain import templates
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.services import broadcasts, business, pagination
from backchannel.services.broadcasts import template_values, user_or_none
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.views import iso
from backchannel.store import accounts as user_db
from backchannel.store import business as bdb
from backchannel.store import messages as msg_db
from backchannel.store import outbound as db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]

SCHEDULED_KIND = "business.scheduled_send"
RETRY_AFTER_S = 5.0  # a limiter refusal without a wait named (never expected)


# --- views and helpers --------------------------------------------------------------------


def _scheduled_view(t: WriteTxn, row: Row) -> dict[str, Any]:
    return {
        "id": row["pid"],
        "conversation_id": row["conversation_pid"],
        "text": row["text"],
        "send_at": iso(row["send_at"]),
        "cancel_if_customer_replies": bool(row["cancel_if_reply"]),
        "status": row["status"],
        "reason": row["reason"],
        "author": user_or_none(t, row["author_id"]),
        "cancelled_by": user_or_none(t, row["cancelled_by"]),
        "message_id": row["message_pid"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _tell_scheduled(t: WriteTxn, business_id: int, scheduled_id: int) -> dict[str, Any]:
    """Tell the team (those who see the conversation) of a scheduled message; its view."""
    row = db.scheduled_by_id(t.conn, scheduled_id)
    assert row is not None
    view = _scheduled_view(t, row)
    account = user_db.user_by_id(t.conn, business_id)
    emit(
        t,
        "business.scheduled_updated",
        {"business": account["handle"] if account else None, "scheduled": view},
        conversation_id=int(row["conversation_id"]),
        business_id=business_id,
    )
    return view


# --- scheduled messages -------------------------------------------------------------------


def _scheduled(t: WriteTxn, team: business.Team, requester: Requester, pid: str) -> Row:
    """A scheduled message of the business in a conversation the requester sees."""
    row = db.scheduled_by_pid(t.conn, int(team.business["id"]), pid)
    if row is None or not _sees(t, team, requester, row):
        raise BackchannelError("scheduled_not_found", "No such scheduled message.")
    return row


def _sees(t: WriteTxn, team: business.Team, requester: Requester, row: Row) -> bool:
    """Whether the requester sees the conversation of a scheduled message (still in the
    inbox, and in their scope)."""
    state = bdb.state_by_ids(t.conn, int(team.business["id"]), int(row["conversation_id"]))
    return state is not None and business.in_scope(team, state, requester.user_id)


def _changeable(team: business.Team, requester: Requester, row: Row) -> None:
    """Its author changes or cancels it, and so do owners and admins; only while pending."""
    if row["author_id"] != requester.user_id and team.role not in ("owner", "admin"):
        raise BackchannelError(
            "business_forbidden", "Only its author, an owner or an admin may change it."
        )
    if row["status"] != "pending":
        raise BackchannelError("scheduled_not_pending", f"It is {row['status']} already.")


def _enqueue_scheduled(t: WriteTxn, row: Row) -> None:
    jobs.enqueue(
        t,
        SCHEDULED_KIND,
        {"scheduled_id": int(row["id"]), "version": int(row["version"])},
        run_at=int(row["send_at"]),
        key=f"scheduled:{row['pid']}",
    )


async def schedule(
    core: Core,
    requester: Requester,
    handle: str,
    conversation_pid: str,
    *,
    text: str,
    send_at_ms: int,
    cancel_if_reply: bool,
) -> dict[str, Any]:
    """Schedule a reply in a conversation the requester may reply in, to go out at
    `send_at_ms` as the business, attributed to them."""
    body = rules.check_text(text, max_length=core.settings.max_message_length)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "schedule")
        state = business.conversation_gate(t, team, requester, conversation_pid)
        send_at = rules.check_send_at(send_at_ms, t.now_ms, required=True)
        pid = new_id("s")
        business_id = int(team.business["id"])
        db.insert_scheduled(
            t.conn,
            pid=pid,
            business_id=business_id,
            conversation_id=int(state["conversation_id"]),
            author_id=requester.user_id,
            text=body,
            send_at=send_at,
            cancel_if_reply=1 if cancel_if_reply else 0,
            status="pending",
            version=1,
            created_at=t.now_ms,
            updated_at=t.now_ms,
        )
        row = db.scheduled_by_pid(t.conn, business_id, pid)
        assert row is not None
        _enqueue_scheduled(t, row)
        business.audit_in_txn(
            t,
            team,
            requester,
            "scheduled.created",
            conversation_id=int(state["conversation_id"]),
            scheduled=pid,
        )
        return _tell_scheduled(t, business_id, int(row["id"]))

    return await core.store.write("business_schedule", txn)


async def list_scheduled(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    conversation_pid: str | None,
    status: str | None,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """Scheduled messages, soonest first: of one conversation, or of every conversation
    the requester sees; `status` filters."""
    if status is not None and status not in ("pending", "sent", "cancelled", "failed"):
        raise BackchannelError("invalid_request", "status is pending, sent, cancelled or failed.")
    after = pagination.decode(cursor, 2)
    size = pagination.clamp(limit)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        business_id = int(team.business["id"])
        conversation_id = None
        if conversation_pid is not None:
            state = business.conversation_gate(t, team, requester, conversation_pid)
            conversation_id = int(state["conversation_id"])
        rows = db.scheduled_page(
            t.conn,
            business_id,
            conversation_id=conversation_id,
            status=status,
            after=(after[0], after[1]) if after else None,
            limit=size + 1,
        )
        shown = rows[:size]
        visible = [row for row in shown if team.scope == "all" or _sees(t, team, requester, row)]
        business.audit_in_txn(
            t, team, requester, "scheduled.listed", conversation_id=conversation_id
        )
        more = len(rows) > size and bool(shown)
        return {
            "items": [_scheduled_view(t, row) for row in visible],
            "next_cursor": pagination.encode(shown[-1]["send_at"], shown[-1]["id"])
            if more
            else None,
        }

    return await core.store.write("business_scheduled_list", txn)


async def get_scheduled(
    core: Core, requester: Requester, handle: str, scheduled_pid: str
) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        return _scheduled_view(t, _scheduled(t, team, requester, scheduled_pid))

    return await core.store.write("business_scheduled_get", txn)


async def update_scheduled(
    core: Core, requester: Requester, handle: str, scheduled_pid: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a pending message's text, time or `cancel_if_customer_replies`."""
    values: dict[str, Any] = {}
    if changes.get("text") is not None:
        values["text"] = rules.check_text(
            changes["text"], max_length=core.settings.max_message_length
        )
    if changes.get("cancel_if_customer_replies") is not None:
        values["cancel_if_reply"] = 1 if changes["cancel_if_customer_replies"] else 0

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "schedule")
        row = _scheduled(t, team, requester, scheduled_pid)
        _changeable(team, requester, row)
        if changes.get("send_at_ms") is not None:
            values["send_at"] = rules.check_send_at(changes["send_at_ms"], t.now_ms, required=True)
        if not values:
            raise BackchannelError("invalid_request", "Nothing to change.")
        db.update_scheduled(
            t.conn, int(row["id"]), version=int(row["version"]) + 1, updated_at=t.now_ms, **values
        )
        changed = db.scheduled_by_id(t.conn, int(row["id"]))
        assert changed is not None
        _enqueue_scheduled(t, changed)  # replaces the job of the version before
        business.audit_in_txn(
            t,
            team,
            requester,
            "scheduled.updated",
            conversation_id=int(row["conversation_id"]),
            scheduled=scheduled_pid,
        )
        return _tell_scheduled(t, int(team.business["id"]), int(row["id"]))

    return await core.store.write("business_scheduled_update", txn)


async def cancel_scheduled(
    core: Core, requester: Requester, handle: str, scheduled_pid: str
) -> dict[str, Any]:
    """Cancel a pending message; returns it, `cancelled` by the requester."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "schedule")
        row = _scheduled(t, team, requester, scheduled_pid)
        _changeable(team, requester, row)
        db.update_scheduled(
            t.conn,
            int(row["id"]),
            status="cancelled",
            reason="cancelled",
            cancelled_by=requester.user_id,
            updated_at=t.now_ms,
        )
        jobs.cancel(t, f"scheduled:{row['pid']}")
        business.audit_in_txn(
            t,
            team,
            requester,
            "scheduled.cancelled",
            conversation_id=int(row["conversation_id"]),
            scheduled=scheduled_pid,
        )
        return _tell_scheduled(t, int(team.business["id"]), int(row["id"]))

    return await core.store.write("business_scheduled_cancel", txn)


def _author_may_send(t: WriteTxn, core: Core, row: Row) -> tuple[str | None, Requester | None]:
    """(None, the business's Requester marked with the author) when the author may still
    send it now; else (why not, None): `author_removed`, `author_forbidden`, `out_of_scope`."""
    business_id = int(row["business_id"])
    member = bdb.open_member(t.conn, business_id, int(row["author_id"]))
    if member is None or member["deactivated_at"] is not None:
        return "author_removed", None
    if member["expires_at"] is not None and member["expires_at"] <= t.now_ms:
        return "author_removed", None
    if not business_rules.allowed(member["role"], "schedule"):
        return "author_forbidden", None
    account = user_db.user_by_id(t.conn, business_id)
    state = bdb.state_by_ids(t.conn, business_id, int(row["conversation_id"]))
    assert account is not None
    if state is None:  # no longer in the inbox
        return "out_of_scope", None
    teams = (
        bdb.team_ids_of(t.conn, int(row["author_id"]), business_id)
        if member["scope"] == "team"
        else []
    )
    team = business.Team(
        account, int(member["member_id"]), member["role"], member["scope"], tuple(teams)
    )
    if not business.in_scope(team, state, int(row["author_id"])):
        return "out_of_scope", None
    author = Requester(int(row["author_id"]), str(member["pid"]), str(member["handle"]))
    return None, business.acting(t, core, team, author)


def _settle_scheduled(
    t: WriteTxn, job: jobs.Job, row: Row, *, status: str, reason: str | None, message_id: int | None
) -> None:
    db.update_scheduled(
        t.conn,
        int(row["id"]),
        status=status,
        reason=reason,
        message_id=message_id,
        updated_at=t.now_ms,
    )
    bdb.audit(
        t.conn,
        business_id=int(row["business_id"]),
        actor_id=int(row["author_id"]),
        action="scheduled.sent" if status == "sent" else "scheduled.failed",
        now=t.now_ms,
        conversation_id=int(row["conversation_id"]),
        detail={"scheduled": row["pid"], **({"reason": reason} if reason else {})},
    )
    _tell_scheduled(t, int(row["business_id"]), int(row["id"]))
    jobs.done_in_txn(t, job)


async def send_scheduled(core: Core, job: jobs.Job) -> None:
    """The job `business.scheduled_send`: send a pending message of the version it was
    queued for, as its author would reply now; `failed` with the reason when they may not
    or the send is refused (a block, the spam checks); retried when over the limit."""
    scheduled_id = int(job.payload["scheduled_id"])

    def check(t: WriteTxn) -> tuple[Row, Requester, str] | None:
        row = db.scheduled_by_id(t.conn, scheduled_id)
        if row is None or row["status"] != "pending" or row["version"] != job.payload["version"]:
            jobs.done_in_txn(t, job)
            return None
        problem, as_business = _author_may_send(t, core, row)
        if problem is not None or as_business is None:
            _settle_scheduled(t, job, row, status="failed", reason=problem, message_id=None)
            return None
        state = bdb.state_by_ids(t.conn, int(row["business_id"]), int(row["conversation_id"]))
        assert state is not None
        values = template_values(
            t, int(row["business_id"]), int(state["customer_id"]), int(row["author_id"])
        )
        return row, as_business, templates.render(row["text"], values)

    checked = await core.store.write("business_scheduled_check", check)
    if checked is None:
        return
    row, as_business, text = checked
    from backchannel.services import messages  # it imports this module (via inbox_state)

    try:
        # The txn id makes a run after a crash return the message sent before.
        message, _ = await messages.send_message(
            core,
            as_business,
            str(row["conversation_pid"]),
            txn_id=f"scheduled.{row['pid']}",
            text=text,
        )
    except BackchannelError as error:
        if error.code == "rate_limited":
            raise jobs.Retry(
                "over the limit", float(error.details.get("retry_after") or RETRY_AFTER_S)
            ) from error
        reason = error.code

        def failed(t: WriteTxn) -> None:
            _settle_scheduled(t, job, row, status="failed", reason=reason, message_id=None)

        await core.store.write("business_scheduled_failed", failed)
        return

    def sent(t: WriteTxn) -> None:
        # Sent even if cancelled meanwhile (the customer wrote as it went): say what happened.
        _settle_scheduled(
            t,
            job,
            row,
            status="sent",
            reason=None,
            message_id=msg_db.message_id(t.conn, message["id"]),
        )

    await core.store.write("business_scheduled_sent", sent)


def on_customer_message(
    t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]
) -> None:
    """The customer wrote: cancel the pending messages that asked for it."""
    for row in db.pending_cancelled_by_reply(t.conn, business_id, int(conversation["id"])):
        db.update_scheduled(
            t.conn,
            int(row["id"]),
            status="cancelled",
            reason="customer_replied",
            updated_at=t.now_ms,
        )
        jobs.cancel(t, f"scheduled:{row['pid']}")
        _tell_scheduled(t, business_id, int(row["id"]))


def take_answer(t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]) -> bool:
    """Whether the customer's `message` answers this part (see inbox_hooks.customer_answer):
    an opt-in or opt-out keyword (services/broadcasts.py)."""
    return broadcasts.take_answer(t, business_id, conversation, message)
