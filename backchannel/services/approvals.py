"""Approval before sending: the replies of a team member flagged restricted (agents only,
domain/business.py `RESTRICTABLE`) wait for an owner's or admin's approval.

A held reply is `pending` until an admin approves it — as written, or edited — which sends
it as the business, attributed to its author (with `decided_by` the admin), or rejects it
with a comment for the author. Nothing reaches the customer before approval. The team hears
of both (`business.approval_requested`, `business.approval_decided`: those who may see the
conversation). A reply whose author left the team, or whose conversation left the author's
scope, can still be approved or rejected by an admin; the author is then not told (they see
nothing of the business any more). Every step is audited in its transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from backchannel.domain import business as rules
from backchannel.domain import messages as message_rules
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.services import access, messages, pagination, screening
from backchannel.services.business import Team, acting, audit_in_txn, gate, handle_of
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.views import iso, user_view
from backchannel.store import accounts as user_db
from backchannel.store import bot as db
from backchannel.store import business as business_db
from backchannel.store import messages as msg_db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]
STATES = ("pending", "approved", "rejected")
COMMENT_MAX = 1000


# --- who needs approval ---------------------------------------------------------------------


def needs_approval(t: WriteTxn, team: Team) -> bool:
    """Whether the requester's replies on this team wait for approval."""
    return team.role in rules.RESTRICTABLE and db.is_restricted(t.conn, team.member_id)


async def set_restricted(
    core: Core, requester: Requester, handle: str, member_handle: str, *, on: bool
) -> dict[str, Any]:
    """Make a member's replies wait for approval (`on`), or not; idempotent."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "manage_team")
        user = user_db.user_by_handle(t.conn, handle_of(member_handle))
        member = (
            None
            if user is None
            else business_db.open_member(t.conn, team.business["id"], user["id"])
        )
        if user is None or member is None:
            raise BackchannelError("member_not_found", "That person is not on the team.")
        if on and member["role"] not in rules.RESTRICTABLE:
            raise BackchannelError("invalid_request", "Only agents' replies can wait for approval.")
        member_id = int(member["member_id"])
        changed = (
            db.restrict(
                t.conn,
                member_id=member_id,
                business_id=int(team.business["id"]),
                by=requester.user_id,
                now=t.now_ms,
            )
            if on
            else db.unrestrict(t.conn, member_id)
        )
        if changed:
            audit_in_txn(
                t,
                team,
                requester,
                "member.restricted" if on else "member.unrestricted",
                member=user["handle"],
            )
        return {"user": user_view(user), "approval_required": on}

    return await core.store.write("business_set_restricted", txn)


async def restricted(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    """The members whose replies wait for approval."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "read")
        flagged = db.restricted_member_ids(t.conn, int(team.business["id"]))
        rows = business_db.members_of(t.conn, team.business["id"])
        return {
            "items": [
                {"user": user_view(row), "approval_required": True}
                for row in rows
                if int(row["member_id"]) in flagged and row["role"] in rules.RESTRICTABLE
            ]
        }

    return await core.store.write("business_restricted", txn)


# --- holding a reply ------------------------------------------------------------------------


def hold_in_txn(
    t: WriteTxn,
    core: Core,
    team: Team,
    requester: Requester,
    state: Row,
    *,
    txn_id: str | None,
    text: str,
    reply_to: str | None,
    content: message_rules.Content | None,
) -> dict[str, Any]:
    """Keep a restricted member's reply as pending, in `t` (team_inbox.reply calls this
    instead of sending). A retry with the same `txn_id` returns the same held reply."""
    if content is not None:
        raise BackchannelError(
            "invalid_request", "A reply that waits for approval carries text only."
        )
    body = message_rules.check_text(text, max_length=core.settings.max_message_length)
    business_id = int(team.business["id"])
    conversation_id = int(state["conversation_id"])
    if txn_id is not None:
        existing = db.approval_by_txn(t.conn, business_id, requester.user_id, txn_id)
        if existing is not None:
            if existing["conversation_id"] != conversation_id or existing["text"] != body:
                raise BackchannelError(
                    "txn_id_conflict",
                    "That txn_id was already used for a different reply; use a new txn_id.",
                )
            return _view(t, existing)
    if reply_to is not None:
        as_business = acting(t, core, team, requester)
        conversation = access.conversation(t.conn, as_business, state["conversation_pid"])
        access.message(t.conn, as_business, conversation, reply_to)
    pid = new_id("ap")
    db.insert_approval(
        t.conn,
        pid=pid,
        business_id=business_id,
        conversation_id=conversation_id,
        author_id=requester.user_id,
        txn_id=txn_id,
        text=body,
        reply_to=reply_to,
        state="pending",
        created_at=t.now_ms,
    )
    row = db.approval_by_pid(t.conn, business_id, pid)
    assert row is not None
    view = _view(t, row)
    audit_in_txn(t, team, requester, "message.held", conversation_id=conversation_id, approval=pid)
    emit(
        t,
        "business.approval_requested",
        {"business": team.business["handle"], "approval": view},
        conversation_id=conversation_id,
        business_id=business_id,
    )
    return view


def _view(t: WriteTxn, row: Row) -> dict[str, Any]:
    author = user_db.user_by_id(t.conn, row["author_id"])
    decider = None if row["decided_by"] is None else user_db.user_by_id(t.conn, row["decided_by"])
    return {
        "id": row["pid"],
        "conversation_id": row["conversation_pid"],
        "author": user_view(author) if author is not None else None,
        "text": row["text"],
        "reply_to": row["reply_to"],
        "state": row["state"],
        "comment": row["comment"],
        "decided_by": user_view(decider) if decider is not None else None,
        "decided_at": iso(row["decided_at"]),
        "message_id": row["message_pid"],
        "created_at": iso(row["created_at"]),
    }


# --- the queue and decisions ----------------------------------------------------------------


async def approvals(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    state: str | None,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """Held replies, newest first: all of them for owners and admins; a member's own for
    anyone else (so an author sees what became of theirs, and the comment)."""
    if state is not None and state not in STATES:
        raise BackchannelError("invalid_request", f"state is one of {', '.join(STATES)}.")
    before = pagination.decode(cursor, 1)
    size = pagination.clamp(limit)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "read")
        rows = db.approvals_page(
            t.conn,
            int(team.business["id"]),
            state=state,
            author_id=None if rules.allowed(team.role, "approve") else requester.user_id,
            before=before[0] if before else None,
            limit=size + 1,
        )
        audit_in_txn(t, team, requester, "approvals.listed", state=state)
        return pagination.page(rows, size, lambda row: _view(t, row), lambda r: (r["id"],))

    return await core.store.write("business_approvals", txn)


def _pending(t: WriteTxn, team: Team, approval_pid: str) -> Row:
    row = db.approval_by_pid(t.conn, int(team.business["id"]), approval_pid)
    if row is None:
        raise BackchannelError("approval_not_found", "No such held reply.")
    if row["state"] != "pending":
        raise BackchannelError("approval_decided", f"That reply was {row['state']} already.")
    return row


async def approve(
    core: Core, requester: Requester, handle: str, approval_pid: str, *, text: str | None
) -> dict[str, Any]:
    """Send a held reply — as written, or `text` instead (edit and approve) — as the
    business, attributed to its author; the message and the decision commit together."""
    edited = (
        None
        if text is None
        else message_rules.check_text(text, max_length=core.settings.max_message_length)
    )

    def prepare(t: WriteTxn) -> tuple[Requester, str]:
        team = gate(t, requester, handle, "approve")
        row = _pending(t, team, approval_pid)
        as_business = acting(t, core, team, requester)
        # Attributed to the author, even when they have left the team since.
        return dataclasses.replace(as_business, agent_id=int(row["author_id"])), edited or row[
            "text"
        ]

    as_author, final = await core.store.write("business_approve_check", prepare)
    counts = await screening.before_send(core, as_author, final)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "approve")
        row = _pending(t, team, approval_pid)
        message = messages.send_in_txn(
            t,
            core,
            as_author,
            row["conversation_pid"],
            text=final,
            reply_to=row["reply_to"],
            counts=counts,
        )
        if not db.decide(
            t.conn,
            int(row["id"]),
            state="approved",
            text=final,
            decided_by=requester.user_id,
            decided_at=t.now_ms,
            message_id=msg_db.message_id(t.conn, message["id"]),
        ):  # another admin decided meanwhile: the send rolls back with this
            raise BackchannelError("approval_decided", "That reply was decided already.")
        return _decided(t, team, requester, approval_pid, edited=final != row["text"])

    return await core.store.write("business_approve", txn)


async def reject(
    core: Core, requester: Requester, handle: str, approval_pid: str, *, comment: str
) -> dict[str, Any]:
    """Refuse a held reply with a comment for its author; nothing is sent."""
    said = comment.strip()
    if not said or len(said) > COMMENT_MAX:
        raise BackchannelError(
            "invalid_request", f"A rejection has a comment of 1 to {COMMENT_MAX} characters."
        )

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "approve")
        row = _pending(t, team, approval_pid)
        if not db.decide(
            t.conn,
            int(row["id"]),
            state="rejected",
            comment=said,
            decided_by=requester.user_id,
            decided_at=t.now_ms,
        ):
            raise BackchannelError("approval_decided", "That reply was decided already.")
        return _decided(t, team, requester, approval_pid, edited=False)

    return await core.store.write("business_reject", txn)


def _decided(
    t: WriteTxn, team: Team, requester: Requester, approval_pid: str, *, edited: bool
) -> dict[str, Any]:
    """Audit the decision and tell the team; returns the approval's view."""
    row = db.approval_by_pid(t.conn, int(team.business["id"]), approval_pid)
    assert row is not None
    view = _view(t, row)
    audit_in_txn(
        t,
        team,
        requester,
        f"approval.{row['state']}",
        conversation_id=int(row["conversation_id"]),
        approval=approval_pid,
        edited=edited or None,
    )
    emit(
        t,
        "business.approval_decided",
        {"business": team.business["handle"], "approval": view},
        conversation_id=int(row["conversation_id"]),
        business_id=int(team.business["id"]),
    )
    return view
