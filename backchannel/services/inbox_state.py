"""What the DM engine tells the business inbox, inside its own transactions: a direct
conversation with a business was created (it enters the business's inbox), and a message
was sent in one (who waits for whom, reopening, which agent wrote it).

Kept apart from services/business.py so the conversation and message services can call
it without importing the business use cases (which call them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from backchannel import jobs
from backchannel.domain import hours
from backchannel.services import inbox_hooks
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.views import iso, user_view
from backchannel.store import accounts as user_db
from backchannel.store import business as db
from backchannel.store import conversations as conv_db
from backchannel.store import messages as msg_db
from backchannel.store import workspace as workspace_db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]


def direct_created(t: WriteTxn, conversation_id: int, member_ids: list[int], position: int) -> None:
    """A new direct conversation: for each member that is a business, it enters that
    business's inbox (open, unassigned) from its first position on."""
    for business_id in db.business_ids(t.conn, member_ids):
        (customer_id,) = [m for m in member_ids if m != business_id] or [business_id]
        db.insert_conversation_state(
            t.conn,
            business_id=business_id,
            conversation_id=conversation_id,
            customer_id=customer_id,
            position=position,
            now=t.now_ms,
        )
        announce(t, business_id, conversation_id, "new")
        inbox_hooks.conversation_created(t, business_id, conversation_id)


def message_sent(
    t: WriteTxn, conversation: Mapping[Any, Any], requester: Requester, view: dict[str, Any]
) -> None:
    """A message in a business conversation (`conversation["business"]` set). From the
    customer: the clock of their wait starts (if not running) and a resolved, pending or
    snoozed conversation reopens, then the welcome or away message and the inbox's hooks —
    unless the message answers one of the business's automations (a rating, an opt-out), which
    takes it alone. From the business: nobody waits; an agent's reply is attributed to them,
    for the team only."""
    now = t.now_ms
    answered_by: list[int] = []
    for state in db.states_of_conversation(t.conn, conversation["id"]):
        business_id = int(state["business_id"])
        if requester.user_id == business_id:
            db.update_state(
                t.conn,
                business_id,
                conversation["id"],
                waiting_since=None,
                last_message_at=now,
                updated_at=now,
            )
            if requester.agent_id is not None:
                _attribute(t, business_id, conversation, requester.agent_id, view)
            inbox_hooks.business_message(
                t,
                business_id,
                conversation,
                view,
                agent_id=requester.agent_id,
                automation_kind=None,
            )
            continue
        if inbox_hooks.customer_answer(t, business_id, conversation, view):
            db.update_state(t.conn, business_id, conversation["id"], last_message_at=now)
            continue
        values: dict[str, Any] = {"last_message_at": now, "updated_at": now}
        if state["waiting_since"] is None:
            values["waiting_since"] = now
        db.update_state(t.conn, business_id, conversation["id"], **values)
        if state["status"] != "open":
            change_state(
                t,
                business_id,
                int(conversation["id"]),
                by=None,
                reason="customer_replied",
                status="open",
                snoozed_until=None,
            )
        answered_by.append(business_id)
    if answered_by:
        automate(t, conversation, requester)
    for business_id in answered_by:
        inbox_hooks.customer_message(t, business_id, conversation, view)


AWAY_AGAIN_AFTER_OPEN_S = 0  # a new closure (the business was open since) sends it again


def automate(t: WriteTxn, conversation: Mapping[Any, Any], requester: Requester) -> None:
    """After a customer's message: the business's welcome text on their first message, its
    away text when it is closed (once per closure). Not in a request the business has not
    accepted (an answer would accept it), and never in answer to the business itself."""
    for state in db.states_of_conversation(t.conn, conversation["id"]):
        business_id = int(state["business_id"])
        if requester.user_id == business_id:
            continue
        business = db.business(t.conn, business_id)
        account = user_db.user_by_id(t.conn, business_id)
        if business is None or account is None or account["deactivated_at"] is not None:
            continue
        if not (business["welcome_text"] or business["away_text"]):
            continue
        own = conv_db.conversation_for_member(t.conn, conversation["pid"], business_id)
        if own is None or own["request_state"] is not None:
            continue
        now = datetime.fromtimestamp(t.now_ms / 1000, UTC)
        texts = []
        if business["welcome_text"] and _first_from_customer(t, conversation["id"], business_id):
            texts.append(("welcome", business["welcome_text"]))
        schedule = schedule_of(business)
        if business["away_text"] and not hours.is_open(schedule, now):
            sent = state["away_sent_at"]
            since = None if sent is None else datetime.fromtimestamp(sent / 1000, UTC)
            if since is None or hours.open_seconds(schedule, since, now) > AWAY_AGAIN_AFTER_OPEN_S:
                texts.append(("away", business["away_text"]))
                db.update_state(t.conn, business_id, conversation["id"], away_sent_at=t.now_ms)
        if not texts:
            continue
        for automation, text in texts:
            send_as_business_in_txn(t, business_id, conversation, text, automation=automation)
        # The automation does not answer for the team: the customer still waits.
        announce(t, business_id, int(conversation["id"]), "automation")


def send_as_business_in_txn(
    t: WriteTxn,
    business_id: int,
    conversation: Mapping[Any, Any],
    text: str,
    *,
    automation: str,
    quick_replies: Sequence[Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """Send `text` as the business from one of its automations (`welcome`, `away`, `bot`,
    `rule`, `csat`…), in `t`: the customer sees the business; the team sees the automation
    (`business.message_sent`). It does not answer for the team: the customer still waits.
    `quick_replies`: buttons the customer may tap ([{id, label}]). Returns the message's view."""
    from backchannel.services.messages import send_automated_in_txn

    account = user_db.user_by_id(t.conn, business_id)
    assert account is not None
    as_business = Requester(
        business_id,
        str(account["pid"]),
        str(account["handle"]),
        None,
        str(account["display_name"]),
    )
    view = send_automated_in_txn(t, as_business, conversation, text, quick_replies=quick_replies)
    message_id = msg_db.message_id(t.conn, view["id"])
    db.record_agent(
        t.conn, message_id=message_id, business_id=business_id, agent_id=None, automation=automation
    )
    emit(
        t,
        "business.message_sent",
        {
            "conversation_id": conversation["pid"],
            "message_id": view["id"],
            "agent": None,
            "automation": automation,
        },
        conversation_id=conversation["id"],
        business_id=business_id,
    )
    inbox_hooks.business_message(
        t, business_id, conversation, view, agent_id=None, automation_kind=automation
    )
    return view


def change_state(
    t: WriteTxn,
    business_id: int,
    conversation_id: int,
    *,
    by: int | None,
    reason: str | None,
    **values: Any,
) -> dict[str, Any]:
    """Change a conversation's working state (status, snoozed_until, priority, assignee_id,
    team_id) in `t`, by the teammate `by` or by itself (`reason`): the one place that does,
    so the team is told (`business.conversation_updated`), a snooze's end is scheduled or
    cancelled, and reports, webhooks and automation hear of it. Returns the state's view."""
    before = db.state_by_ids(t.conn, business_id, conversation_id)
    assert before is not None
    db.update_state(t.conn, business_id, conversation_id, updated_at=t.now_ms, **values)
    after = db.state_by_ids(t.conn, business_id, conversation_id)
    assert after is not None
    key = f"snooze:{business_id}:{conversation_id}"
    if after["status"] == "snoozed" and after["snoozed_until"] is not None:
        payload = {"business_id": business_id, "conversation_id": conversation_id}
        jobs.enqueue(
            t,
            "business.snooze_end",
            {**payload, "until": int(after["snoozed_until"])},
            run_at=int(after["snoozed_until"]),
            key=key,
        )
    elif before["status"] == "snoozed":
        jobs.cancel(t, key)
    view = announce(t, business_id, conversation_id, reason, by=by)
    inbox_hooks.state_changed(t, business_id, conversation_id, before, after, by=by, reason=reason)
    return view


async def end_snooze(core: Core, job: jobs.Job) -> None:
    """The job `business.snooze_end`: a snoozed conversation opens again at its time —
    unless it is no longer snoozed until then (woken by the customer, or re-snoozed)."""
    business_id = int(job.payload["business_id"])
    conversation_id = int(job.payload["conversation_id"])

    def txn(t: WriteTxn) -> None:
        state = db.state_by_ids(t.conn, business_id, conversation_id)
        if (
            state is not None
            and state["status"] == "snoozed"
            and state["snoozed_until"] == job.payload["until"]
        ):
            change_state(
                t,
                business_id,
                conversation_id,
                by=None,
                reason="snooze_ended",
                status="open",
                snoozed_until=None,
            )
        jobs.done_in_txn(t, job)

    await core.store.write("business_snooze_end", txn)


def schedule_of(business: Mapping[Any, Any]) -> hours.Schedule | None:
    """A business's hours (its time zone's), or None: always open."""
    if not business["hours"]:
        return None
    return hours.parse({**orjson.loads(business["hours"]), "timezone": business["timezone"]})


def _first_from_customer(t: WriteTxn, conversation_id: int, business_id: int) -> bool:
    return msg_db.count_from_others(t.conn, conversation_id, business_id, limit=2) == 1


def announce(
    t: WriteTxn,
    business_id: int,
    conversation_id: int,
    reason: str | None,
    *,
    by: int | None = None,
) -> dict[str, Any]:
    """Tell the team of a conversation's state: it entered the inbox (`new`), a teammate
    changed it (`by`), or it changed by itself (`reason`). Returns the state's view."""
    state = db.state_by_ids(t.conn, business_id, conversation_id)
    business = user_db.user_by_id(t.conn, business_id)
    assert state is not None and business is not None
    labels = db.labels_for(t.conn, business_id, [conversation_id]).get(conversation_id, [])
    view = state_view(t, state, labels)
    actor = None if by is None else user_db.user_by_id(t.conn, by)
    emit(
        t,
        "business.conversation_updated",
        {
            "business": business["handle"],
            "state": view,
            "by": None if actor is None else user_view(actor),
            "reason": reason,
        },
        conversation_id=conversation_id,
        business_id=business_id,
    )
    return view


def state_view(
    t: WriteTxn,
    state: Row,
    labels: Sequence[Row],
    users: Mapping[int, Row] | None = None,
    teams: Mapping[int, Row] | None = None,
) -> dict[str, Any]:
    """A conversation's working state as the team sees it (`state` in replies and events).
    `users`, `teams`: the customer, assignee and team rows by id when the caller read them
    already (a page of the inbox)."""

    def user(user_id: int) -> Row | None:
        if users is not None and user_id in users:
            return users[user_id]
        return user_db.user_by_id(t.conn, user_id)

    assignee = user(state["assignee_id"]) if state["assignee_id"] else None
    customer = user(state["customer_id"])
    return {
        "conversation_id": state["conversation_pid"],
        "customer": user_view(customer) if customer is not None else None,
        "status": state["status"],
        "snoozed_until": iso(state["snoozed_until"]),
        "priority": state["priority"],
        "assignee": user_view(assignee) if assignee is not None else None,
        "team": _team_view(t, state["team_id"], teams),
        "labels": [label_view(label) for label in labels],
        "waiting_since": iso(state["waiting_since"]),
        "last_message_at": iso(state["last_message_at"]),
        "created_at": iso(state["created_at"]),
    }


def _team_view(
    t: WriteTxn, team_id: int | None, teams: Mapping[int, Row] | None = None
) -> dict[str, Any] | None:
    if team_id is None:
        return None
    row = teams.get(team_id) if teams is not None else workspace_db.team_by_id(t.conn, team_id)
    return None if row is None else {"id": row["pid"], "name": row["name"]}


def label_view(row: Row) -> dict[str, Any]:
    return {"id": row["pid"], "name": row["name"], "color": row["color"]}


def _attribute(
    t: WriteTxn,
    business_id: int,
    conversation: Mapping[Any, Any],
    agent_id: int,
    view: dict[str, Any],
) -> None:
    message_id = msg_db.message_id(t.conn, view["id"])
    db.record_agent(t.conn, message_id=message_id, business_id=business_id, agent_id=agent_id)
    agent = user_db.user_by_id(t.conn, agent_id)
    emit(
        t,
        "business.message_sent",
        {
            "conversation_id": conversation["pid"],
            "message_id": view["id"],
            "agent": user_view(agent) if agent is not None else None,
            "automation": None,
        },
        conversation_id=conversation["id"],
        business_id=business_id,
    )
