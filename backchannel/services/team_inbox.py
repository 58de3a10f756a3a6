"""The business inbox, worked by the team: listing and reading its conversations, replying
as the business, triage (status, priority, assignee, team), labels and private notes.

Each use case passes services/business.py's `gate` and `conversation_gate`, acts through the
business's own Requester (`acting`), and writes its audit row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson

from backchannel.domain import business as rules
from backchannel.domain import messages as message_rules
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.services import (
    access,
    approvals,
    inbox_state,
    inbox_views,
    messages,
    pagination,
)
from backchannel.services.business import (
    Team,
    acting,
    audit_in_txn,
    conversation_gate,
    gate,
    handle_of,
    in_scope,
)
from backchannel.services.conversations import detail, details, mark_read_in_txn
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.views import iso, user_view
from backchannel.store import accounts as user_db
from backchannel.store import business as db
from backchannel.store import messages as msg_db
from backchannel.store import workspace as workspace_db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]


# --- the inbox ----------------------------------------------------------------------------


async def inbox(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    status: str | None,
    assignee: str | None,
    label: str | None,
    priority: str | None,
    waiting_minutes: int | None,
    unread: bool,
    cursor: str | None,
    limit: int | None,
    view: str | None = None,
) -> dict[str, Any]:
    """A page of the business's conversations the requester may see, newest activity
    first, filtered by status, assignee (a handle, `me` or `none`), label, priority,
    unread, and how long the customer has waited — or by a saved `view`'s filters, which
    those given beside it override."""
    if status is not None and status not in rules.STATUSES:
        raise BackchannelError("invalid_request", f"status is one of {', '.join(rules.STATUSES)}.")
    if priority is not None:
        rules.check_priority(priority)
    before = pagination.decode(cursor, 2)
    size = pagination.clamp(limit, 25)
    view_id = view

    def txn(t: WriteTxn) -> dict[str, Any]:
        nonlocal status, assignee, label, priority, waiting_minutes, unread
        team = gate(t, requester, handle, "read")
        business_id = team.business["id"]
        if view_id is not None:
            saved = inbox_views.filters_in_txn(t, team, requester, view_id)
            status = status if status is not None else saved.get("status")
            assignee = assignee if assignee is not None else saved.get("assignee")
            label = label if label is not None else saved.get("label")
            priority = priority if priority is not None else saved.get("priority")
            if waiting_minutes is None:
                waiting_minutes = saved.get("waiting_minutes")
            unread = unread or bool(saved.get("unread", False))
        who: int | str | None = None
        if assignee == "none":
            who = "none"
        elif assignee == "me":
            who = requester.user_id
        elif assignee is not None:
            user = user_db.user_by_handle(t.conn, handle_of(assignee))
            who = -1 if user is None else int(user["id"])
        label_id = None
        if label is not None:
            found = db.label_by_pid(t.conn, business_id, label)
            label_id = -1 if found is None else int(found["id"])
        rows = db.inbox_page(
            t.conn,
            business_id=business_id,
            status=status,
            assignee=who,
            label_id=label_id,
            priority=priority,
            waiting_since_before=(
                None if waiting_minutes is None else t.now_ms - waiting_minutes * 60_000
            ),
            unread=unread,
            visible_to=None
            if team.scope == "all"
            else (requester.user_id, team.scope, list(team.teams)),
            before=(before[0], before[1]) if before else None,
            limit=size + 1,
        )
        as_business = acting(t, core, team, requester)
        shown = rows[:size]
        labels = db.labels_for(t.conn, business_id, [int(r["conversation_id"]) for r in shown])
        # The page in a fixed number of queries, however long it is.
        conversations = details(
            t.conn, core.settings, as_business, [str(r["conversation_pid"]) for r in shown]
        )
        last_ids = [last for _, last in conversations.values() if last is not None]
        agents = db.agents_for(t.conn, last_ids)
        users = user_db.users_by_ids(
            t.conn,
            [int(r["customer_id"]) for r in shown]
            + [int(r["assignee_id"]) for r in shown if r["assignee_id"] is not None],
        )

        teams = {int(r["id"]): r for r in workspace_db.teams_of(t.conn, business_id)}

        def view(row: Row) -> dict[str, Any]:
            conversation, last_id = conversations[str(row["conversation_pid"])]
            if conversation.get("last_message") is not None and last_id is not None:
                conversation["last_message"] = {
                    **conversation["last_message"],
                    **_writer(agents.get(last_id)),
                }
            return {
                "conversation": conversation,
                "state": inbox_state.state_view(
                    t, row, labels.get(int(row["conversation_id"]), []), users, teams
                ),
            }

        page = pagination.page(rows, size, view, lambda r: (r["sort_at"], r["conversation_id"]))
        audit_in_txn(
            t,
            team,
            requester,
            "inbox.listed",
            status=status,
            assignee=assignee,
            label=label,
            view=view_id,
        )
        return page

    return await core.store.write("business_inbox", txn)


def _with_agent(t: WriteTxn, conversation: dict[str, Any]) -> dict[str, Any]:
    """The conversation with its last message's `agent` (who wrote it for the business)."""
    last = conversation.get("last_message")
    if last is not None:
        message_id = msg_db.message_id(t.conn, last["id"])
        conversation["last_message"] = {
            **last,
            **_writer(db.agents_for(t.conn, [message_id]).get(message_id)),
        }
    return conversation


def _writer(row: Row | None) -> dict[str, Any]:
    """`agent` (the teammate) and `automation` (welcome, away) of a business's message."""
    if row is None:
        return {"agent": None, "automation": None}
    return {
        "agent": user_view(row) if row["pid"] is not None else None,
        "automation": row["automation"],
    }


async def mark_read(
    core: Core, requester: Requester, handle: str, conversation_pid: str, message_pid: str
) -> int:
    """Move the business's read marker (for the whole team) up to a message; the customer
    sees "Seen" as from the business, if both share read receipts. Returns the position."""

    def txn(t: WriteTxn) -> int:
        team = gate(t, requester, handle, "reply")
        state = conversation_gate(t, team, requester, conversation_pid)
        as_business = acting(t, core, team, requester)
        position, moved = mark_read_in_txn(t, as_business, conversation_pid, message_pid)
        if moved:
            audit_in_txn(
                t,
                team,
                requester,
                "conversation.marked_read",
                conversation_id=int(state["conversation_id"]),
            )
            emit(
                t,
                "business.read_updated",
                {
                    "business": team.business["handle"],
                    "conversation_id": conversation_pid,
                    "read_position": position,
                    "by": user_view_of(t, requester.user_id),
                },
                conversation_id=int(state["conversation_id"]),
                business_id=team.business["id"],
            )
        return position

    return await core.store.write("business_mark_read", txn)


async def get_conversation(
    core: Core, requester: Requester, handle: str, conversation_pid: str
) -> dict[str, Any]:
    """One conversation for the team: the business's view of it, its working state and
    the team's private notes."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "read")
        state = conversation_gate(t, team, requester, conversation_pid)
        as_business = acting(t, core, team, requester)
        conversation_id = int(state["conversation_id"])
        labels = db.labels_for(t.conn, team.business["id"], [conversation_id])
        audit_in_txn(t, team, requester, "conversation.read", conversation_id=conversation_id)
        return {
            "conversation": _with_agent(
                t, detail(t.conn, core.settings, as_business, conversation_pid)
            ),
            "state": inbox_state.state_view(t, state, labels.get(conversation_id, [])),
            "notes": [
                _note_view(n) for n in db.notes_for(t.conn, team.business["id"], conversation_id)
            ],
        }

    return await core.store.write("business_conversation", txn)


async def history(
    core: Core,
    requester: Requester,
    handle: str,
    conversation_pid: str,
    *,
    before: str | None,
    after: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """The conversation's messages as the business sees them, from when it entered the
    business's inbox; the business's own messages say which agent wrote them."""
    if before and after:
        raise BackchannelError("invalid_request", "Pass `before` or `after`, not both.")
    before_pos = pagination.decode(before, 1)
    after_pos = pagination.decode(after, 1)
    size = pagination.clamp(limit)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "read")
        state = conversation_gate(t, team, requester, conversation_pid)
        as_business = acting(t, core, team, requester)
        conversation = access.conversation(t.conn, as_business, conversation_pid)
        page, rows = messages.history_in_txn(
            t,
            as_business,
            conversation,
            from_position=max(int(conversation["joined_position"]), int(state["start_position"])),
            before=before_pos[0] if before_pos else None,
            after=after_pos[0] if after_pos else None,
            size=size,
        )
        agents = db.agents_for(t.conn, [int(row["id"]) for row in rows])
        for row, item in zip(rows, page["items"], strict=True):
            item.update(_writer(agents.get(int(row["id"]))))
        audit_in_txn(
            t, team, requester, "messages.read", conversation_id=int(state["conversation_id"])
        )
        return page

    return await core.store.write("business_history", txn)


async def reply(
    core: Core,
    requester: Requester,
    handle: str,
    conversation_pid: str,
    *,
    txn_id: str | None,
    text: str,
    reply_to: str | None,
    content: message_rules.Content | None,
) -> tuple[dict[str, Any], Literal["created", "retry", "held"]]:
    """Send a message as the business; the customer sees the business, the team sees the
    agent (`business.message_sent`). The business's own limits and checks apply. A member
    whose replies need approval gets it held instead (`held`: the pending approval,
    services/approvals.py); nothing is sent."""

    def check(t: WriteTxn) -> Requester | dict[str, Any]:
        team = gate(t, requester, handle, "reply")
        state = conversation_gate(t, team, requester, conversation_pid)
        if approvals.needs_approval(t, team):
            return approvals.hold_in_txn(
                t,
                core,
                team,
                requester,
                state,
                txn_id=txn_id,
                text=text,
                reply_to=reply_to,
                content=content,
            )
        audit_in_txn(
            t, team, requester, "message.sent", conversation_id=int(state["conversation_id"])
        )
        return acting(t, core, team, requester)

    # The gate and its audit commit before the send: a refused send still shows the try.
    as_business = await core.store.write("business_reply_gate", check)
    if isinstance(as_business, dict):
        return as_business, "held"
    message, created = await messages.send_message(
        core,
        as_business,
        conversation_pid,
        txn_id=txn_id,
        text=text,
        reply_to=reply_to,
        content=content,
    )
    if as_business.agent_id is not None:
        message["agent"] = user_view(
            {
                "pid": requester.user_pid,
                "handle": requester.handle,
                "display_name": requester.display_name,
                "deactivated_at": None,
            }
        )
    return message, "created" if created else "retry"


async def update_conversation(
    core: Core,
    requester: Requester,
    handle: str,
    conversation_pid: str,
    changes: dict[str, Any],
) -> dict[str, Any]:
    """Triage: status (and snoozed_until), priority, assignee (a handle or null)."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "triage")
        state = conversation_gate(t, team, requester, conversation_pid)
        business_id = int(team.business["id"])
        conversation_id = int(state["conversation_id"])
        values: dict[str, Any] = {}
        if "status" in changes:
            values["status"] = changes["status"]
            values["snoozed_until"] = rules.check_status(
                changes["status"], changes.get("snoozed_until"), t.now_ms
            )
        elif changes.get("snoozed_until") is not None:
            raise BackchannelError("invalid_request", "snoozed_until goes with status snoozed.")
        if "priority" in changes:
            values["priority"] = rules.check_priority(changes["priority"])
        if "assignee" in changes:
            values["assignee_id"] = _assignee(t, business_id, changes["assignee"])
        if "team" in changes:
            values["team_id"] = _team_id(t, business_id, changes["team"])
        if not values:
            raise BackchannelError("invalid_request", "Nothing to change.")
        view = inbox_state.change_state(
            t, business_id, conversation_id, by=requester.user_id, reason=None, **values
        )
        audit_in_txn(
            t,
            team,
            requester,
            "conversation.updated",
            conversation_id=conversation_id,
            **{k: v for k, v in changes.items() if k != "snoozed_until"},
            snoozed_until=view["snoozed_until"],
        )
        return view

    return await core.store.write("business_update_conversation", txn)


def user_view_of(t: WriteTxn, user_id: int) -> dict[str, Any] | None:
    row = user_db.user_by_id(t.conn, user_id)
    return user_view(row) if row is not None else None


def _team_id(t: WriteTxn, business_id: int, pid: str | None) -> int | None:
    if pid is None:
        return None
    row = workspace_db.team_by_pid(t.conn, business_id, pid)
    if row is None:
        raise BackchannelError("team_not_found", "No such team.")
    return int(row["id"])


def _assignee(t: WriteTxn, business_id: int, handle: str | None) -> int | None:
    """The member to assign (one who may reply, with access now), or None to unassign."""
    if handle is None:
        return None
    user = user_db.user_by_handle(t.conn, handle_of(handle))
    member = None if user is None else db.open_member(t.conn, business_id, user["id"])
    if (
        member is None
        or not rules.allowed(member["role"], "reply")
        or (member["expires_at"] is not None and member["expires_at"] <= t.now_ms)
    ):
        raise BackchannelError("invalid_assignee", "Assign someone on the team who may reply.")
    return int(member["user_id"])


# --- labels -------------------------------------------------------------------------------


async def labels(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "read")
        return {
            "items": [
                inbox_state.label_view(row) for row in db.labels_of(t.conn, team.business["id"])
            ]
        }

    return await core.store.write("business_labels", txn)


async def create_label(
    core: Core, requester: Requester, handle: str, *, name: str, color: str
) -> dict[str, Any]:
    shown, key, colour = rules.check_label(name, color)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "manage_labels")
        if db.label_key_taken(t.conn, team.business["id"], key):
            raise BackchannelError("label_exists", "There is a label of that name already.")
        row = db.insert_label(
            t.conn,
            pid=new_id("l"),
            business_id=team.business["id"],
            name=shown,
            key=key,
            color=colour,
            now=t.now_ms,
        )
        view = inbox_state.label_view(row)
        audit_in_txn(t, team, requester, "label.created", label=shown)
        emit(
            t,
            "business.labels_updated",
            {"business": team.business["handle"], "label": view, "deleted": False},
            business_id=team.business["id"],
        )
        return view

    return await core.store.write("business_create_label", txn)


async def update_label(
    core: Core,
    requester: Requester,
    handle: str,
    label_pid: str,
    *,
    name: str | None,
    color: str | None,
) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "manage_labels")
        row = _label(t, team, label_pid)
        shown, key, colour = rules.check_label(name or row["name"], color or row["color"])
        if db.label_key_taken(t.conn, team.business["id"], key, other_than=int(row["id"])):
            raise BackchannelError("label_exists", "There is a label of that name already.")
        view = inbox_state.label_view(
            db.update_label(t.conn, int(row["id"]), name=shown, key=key, color=colour)
        )
        audit_in_txn(t, team, requester, "label.updated", label=shown)
        emit(
            t,
            "business.labels_updated",
            {"business": team.business["handle"], "label": view, "deleted": False},
            business_id=team.business["id"],
        )
        return view

    return await core.store.write("business_update_label", txn)


async def delete_label(core: Core, requester: Requester, handle: str, label_pid: str) -> None:
    def txn(t: WriteTxn) -> None:
        team = gate(t, requester, handle, "manage_labels")
        row = _label(t, team, label_pid)
        db.delete_label(t.conn, int(row["id"]))
        audit_in_txn(t, team, requester, "label.deleted", label=row["name"])
        emit(
            t,
            "business.labels_updated",
            {
                "business": team.business["handle"],
                "label": inbox_state.label_view(row),
                "deleted": True,
            },
            business_id=team.business["id"],
        )

    await core.store.write("business_delete_label", txn)


def _label(t: WriteTxn, team: Team, label_pid: str) -> Row:
    row = db.label_by_pid(t.conn, team.business["id"], label_pid)
    if row is None:
        raise BackchannelError("label_not_found", "No such label.")
    return row


async def set_label(
    core: Core,
    requester: Requester,
    handle: str,
    conversation_pid: str,
    label_pid: str,
    *,
    on: bool,
) -> dict[str, Any]:
    """Put a label on a conversation or take it off (idempotent); returns the state."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "triage")
        state = conversation_gate(t, team, requester, conversation_pid)
        label = _label(t, team, label_pid)
        business_id = int(team.business["id"])
        conversation_id = int(state["conversation_id"])
        change = db.tag if on else db.untag
        changed = change(t.conn, business_id, conversation_id, int(label["id"]))
        labels = db.labels_for(t.conn, business_id, [conversation_id]).get(conversation_id, [])
        view = inbox_state.state_view(t, state, labels)
        if changed:
            audit_in_txn(
                t,
                team,
                requester,
                "conversation.labelled" if on else "conversation.unlabelled",
                conversation_id=conversation_id,
                label=label["name"],
            )
            emit(
                t,
                "business.conversation_updated",
                {
                    "business": team.business["handle"],
                    "state": view,
                    "by": user_view_of(t, requester.user_id),
                },
                conversation_id=conversation_id,
                business_id=team.business["id"],
            )
        return view

    return await core.store.write("business_set_label", txn)


# --- notes --------------------------------------------------------------------------------


def _note_view(row: Row) -> dict[str, Any]:
    author = {
        "pid": row["author_pid"],
        "handle": row["author_handle"],
        "display_name": row["author_name"],
        "deactivated_at": row["author_deactivated_at"],
    }
    return {
        "id": row["pid"],
        "author": user_view(author),
        "text": row["text"],
        "mentions": orjson.loads(row["mentions"]) if row["mentions"] else [],
        "created_at": iso(row["created_at"]),
    }


async def add_note(
    core: Core, requester: Requester, handle: str, conversation_pid: str, text: str
) -> dict[str, Any]:
    """A private note for the team. @mentioned teammates (who can see the conversation)
    are told (`business.mentioned`); other handles stay plain text."""
    body = rules.check_note(text)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "note")
        state = conversation_gate(t, team, requester, conversation_pid)
        business_id = int(team.business["id"])
        conversation_id = int(state["conversation_id"])
        mentioned = []
        for mention in rules.mentions(body):
            user = user_db.user_by_handle(t.conn, mention)
            member = None if user is None else db.open_member(t.conn, business_id, user["id"])
            if member is None or user is None or user["id"] == requester.user_id:
                continue
            if member["expires_at"] is not None and member["expires_at"] <= t.now_ms:
                continue
            scope = Team(
                team.business,
                int(member["member_id"]),
                member["role"],
                member["scope"],
                tuple(db.team_ids_of(t.conn, user["id"], business_id)),
            )
            if in_scope(scope, state, int(user["id"])):
                mentioned.append(user)
        pid = new_id("n")
        db.insert_note(
            t.conn,
            pid=pid,
            business_id=business_id,
            conversation_id=conversation_id,
            author_id=requester.user_id,
            text=body,
            mentions=[u["pid"] for u in mentioned],
            now=t.now_ms,
        )
        author = user_db.user_by_id(t.conn, requester.user_id)
        assert author is not None
        note = {
            "id": pid,
            "author": user_view(author),
            "text": body,
            "mentions": [u["pid"] for u in mentioned],
            "created_at": iso(t.now_ms),
        }
        audit_in_txn(t, team, requester, "note.added", conversation_id=conversation_id)
        emit(
            t,
            "business.note_added",
            {
                "business": team.business["handle"],
                "conversation_id": conversation_pid,
                "note": note,
            },
            conversation_id=conversation_id,
            business_id=team.business["id"],
        )
        for user in mentioned:
            emit(
                t,
                "business.mentioned",
                {
                    "business": team.business["handle"],
                    "conversation_id": conversation_pid,
                    "note": note,
                },
                user_id=int(user["id"]),
            )
        return note

    return await core.store.write("business_add_note", txn)
