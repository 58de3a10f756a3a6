"""Automation of a business inbox: rules (domain/rules.py) that act when something happens
in a conversation (round-robin assignment, one of their actions and also on by itself, is
services/assignment.py).

Rules run inside the transaction of what triggered them (services/inbox_hooks.py calls the
`on_*` functions), so what they do commits with it or not at all. Each enabled rule of the
trigger's type, in position order, whose conditions all hold, runs its actions: sends go
through `inbox_state.send_as_business_in_txn` (automation `rule`), state changes through
`inbox_state.change_state(by=None, reason="rule")` — so the team sees
`business.conversation_updated` — and each run is written to the rule's run log. A rule with
`stop` ends the round.

Loops: a change a rule makes can trigger `status_changed` rules, and a change *those* make
triggers none (`MAX_CHAIN`); a rule whose change it is does not run again on it. Idle rules are jobs
(`business.rule_idle`) queued when a customer starts waiting, keyed per rule and
conversation; the job acts only if the customer still waits since then.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

from backchannel import jobs
from backchannel.domain import business as roles
from backchannel.domain import hours, rules, templates
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.services import assignment, business, inbox_state, pagination, webhooks
from backchannel.services.core import Core, Requester
from backchannel.services.views import iso
from backchannel.store import accounts as user_db
from backchannel.store import automation as store
from backchannel.store import business as db
from backchannel.store import conversations as conv_db
from backchannel.store import messages as msg_db
from backchannel.store import workspace as workspace_db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]
IDLE_JOB = "business.rule_idle"
# A round of rules started by a person or the customer is chain 1; a status change made by
# it starts chain 2, whose own changes trigger nothing.
MAX_CHAIN = 2
_chain = threading.local()  # transactions run whole in one thread: the depth of this one


def _running() -> list[int]:
    """The rules acting now in this thread's transaction, outermost first."""
    if not hasattr(_chain, "rules"):
        _chain.rules = []
    found: list[int] = _chain.rules
    return found


def _depth() -> int:
    return len(_running())


@contextmanager
def _acting(rule_id: int) -> Iterator[None]:
    _running().append(rule_id)
    try:
        yield
    finally:
        _running().pop()


# --- the hooks (services/inbox_hooks.py) --------------------------------------------------


def on_conversation_created(t: WriteTxn, business_id: int, conversation_id: int) -> None:
    """A new conversation: round-robin takes it (when on), then `conversation_created`
    rules run."""
    assignment.assign_round_robin(t, business_id, conversation_id)
    _run(t, business_id, conversation_id, "conversation_created")


def on_customer_message(
    t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]
) -> None:
    """A customer's message: idle rules start counting if their wait starts now, then
    `message_received` rules run with its text."""
    conversation_id = int(conversation["id"])
    _schedule_idle(t, business_id, conversation_id)
    _run(t, business_id, conversation_id, "message_received", text=message.get("text") or "")


def on_state_changed(
    t: WriteTxn,
    business_id: int,
    conversation_id: int,
    before: Row,
    after: Row,
    *,
    by: int | None,
    reason: str | None,
) -> None:
    """A reopened conversation nobody holds goes to round-robin; a new status runs the
    `status_changed` rules (unless a rule's change made it, two rounds deep)."""
    if before["status"] != "open" and after["status"] == "open" and after["assignee_id"] is None:
        assignment.assign_round_robin(t, business_id, conversation_id)
    if before["status"] != after["status"] and _depth() < MAX_CHAIN:
        _run(t, business_id, conversation_id, "status_changed", status=str(after["status"]))


# --- running rules ------------------------------------------------------------------------


def _rule(row: Row) -> dict[str, Any]:
    return {
        "name": row["name"],
        "enabled": bool(row["enabled"]),
        **orjson.loads(row["definition"]),
    }


def _run(
    t: WriteTxn,
    business_id: int,
    conversation_id: int,
    trigger: str,
    *,
    text: str | None = None,
    status: str | None = None,
    minutes: int | None = None,
    only: int | None = None,
) -> None:
    """One round: the enabled rules of `trigger` (only the rule `only`, if given), in
    order, each acting if its conditions hold; a `stop` rule that acted ends the round."""
    rows = store.rules_of(t.conn, business_id, trigger=trigger)
    context = None
    for row in rows:
        rule = _rule(row)
        if only is not None and row["id"] != only:
            continue
        if row["id"] in _running():
            continue  # a rule's own change does not run it again
        if not rules.triggered(rule, trigger, status=status, minutes=minutes):
            continue
        state = db.state_by_ids(t.conn, business_id, conversation_id)
        if state is None:
            return
        context = context or _context(t, business_id, state, text)
        if not rules.evaluate(rule, context).matched:
            continue
        _apply(t, business_id, state, row, rule, trigger)
        context = None  # what it did (a label) is what the next rule sees
        if rule["stop"]:
            break


def _context(t: WriteTxn, business_id: int, state: Row, text: str | None) -> rules.Context:
    conversation_id = int(state["conversation_id"])
    labels = db.labels_for(t.conn, business_id, [conversation_id]).get(conversation_id, [])
    contact = workspace_db.contact(t.conn, business_id, state["customer_id"])
    profile = db.business(t.conn, business_id)
    assert profile is not None
    now = datetime.fromtimestamp(t.now_ms / 1000, UTC)
    return rules.Context(
        text=text,
        label_ids=frozenset(str(label["pid"]) for label in labels),
        attributes=orjson.loads(contact["attributes"]) if contact and contact["attributes"] else {},
        open_now=hours.is_open(inbox_state.schedule_of(profile), now),
        first_message=msg_db.count_from_others(t.conn, conversation_id, business_id, limit=2) == 1,
    )


def _apply(
    t: WriteTxn, business_id: int, state: Row, row: Row, rule: dict[str, Any], trigger: str
) -> None:
    """Run a matched rule's actions on the conversation and log the run."""
    conversation_id = int(state["conversation_id"])
    outcome: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    labelled = False
    with _acting(int(row["id"])):
        for action in rule["actions"]:
            kind = action["type"]
            done, detail = True, None
            if kind == "reply":
                done, detail = _reply(t, business_id, state, action["saved_reply_id"])
            elif kind == "label":
                label = db.label_by_pid(t.conn, business_id, action["label_id"])
                if label is None:
                    done, detail = False, "the label was deleted"
                else:
                    tagged = db.tag(t.conn, business_id, conversation_id, int(label["id"]))
                    labelled = labelled or tagged
                    detail = label["name"]
            elif kind == "assign":
                chosen = _assignee(t, business_id, action["to"])
                if chosen is None:
                    done, detail = False, "nobody to assign"
                else:
                    values["assignee_id"], detail = chosen
            elif kind == "priority":
                values["priority"] = action["priority"]
            elif kind == "resolve":
                values.update(status="resolved", snoozed_until=None)
            elif kind == "snooze":
                until = t.now_ms + int(action["minutes"]) * 60_000
                values.update(status="snoozed", snoozed_until=until)
                detail = iso(until)
            elif kind == "webhook":
                webhooks.queue(
                    t,
                    business_id,
                    "rule.webhook",
                    {
                        "rule": {"id": row["pid"], "name": row["name"]},
                        "trigger": trigger,
                        "conversation_id": state["conversation_pid"],
                    },
                )
            outcome.append({"type": kind, "done": done, "detail": detail})
        current = db.state_by_ids(t.conn, business_id, conversation_id)
        assert current is not None
        changes = {k: v for k, v in values.items() if current[k] != v}
        if changes or labelled:
            inbox_state.change_state(
                t, business_id, conversation_id, by=None, reason="rule", **changes
            )
    store.insert_run(
        t.conn,
        business_id=business_id,
        rule_id=int(row["id"]),
        conversation_id=conversation_id,
        trigger=trigger,
        outcome=outcome,
        now=t.now_ms,
    )


def _reply(t: WriteTxn, business_id: int, state: Row, reply_pid: str) -> tuple[bool, str | None]:
    """Send a saved reply, filled in for the customer, as the business (automation `rule`)
    — not into a request it has not accepted, nor past a block."""
    saved = workspace_db.saved_reply_by_pid(t.conn, business_id, reply_pid)
    if saved is None:
        return False, "the saved reply was deleted"
    conversation = conv_db.conversation_for_member(t.conn, state["conversation_pid"], business_id)
    account = user_db.user_by_id(t.conn, business_id)
    if conversation is None or account is None or account["deactivated_at"] is not None:
        return False, "the business cannot send here"
    if conversation["request_state"] is not None:
        return False, "the conversation is a request the business has not accepted"
    if conversation["blocked_by_other"] or conversation["blocking_other"]:
        return False, "a block stands between the business and the customer"
    customer = user_db.user_by_id(t.conn, state["customer_id"])
    contact = workspace_db.contact(t.conn, business_id, state["customer_id"])
    name = (contact["name"] if contact else None) or (
        customer["display_name"] if customer and customer["deactivated_at"] is None else ""
    )
    values: dict[str, str | None] = {
        "customer.name": name,
        "customer.first_name": templates.first_name(name),
        "customer.handle": customer["handle"] if customer else None,
        "agent.name": "",
        "agent.first_name": "",
        "business.name": account["display_name"],
    }
    attributes = orjson.loads(contact["attributes"]) if contact and contact["attributes"] else {}
    for key, value in attributes.items():
        values[f"customer.attributes.{key}"] = value
    text = templates.render(saved["text"], values)
    inbox_state.send_as_business_in_txn(t, business_id, conversation, text, automation="rule")
    return True, saved["shortcut"]


def _assignee(t: WriteTxn, business_id: int, to: str) -> tuple[int, str] | None:
    """(user id, handle) of whom an `assign` action gives the conversation to, or None: the
    teammate no longer may reply, or round-robin found nobody."""
    if to == rules.ROUND_ROBIN:
        chosen = assignment.pick(t, business_id)
    else:
        user = user_db.user_by_handle(t.conn, to)
        member = None if user is None else db.open_member(t.conn, business_id, user["id"])
        ok = member is not None and roles.allowed(member["role"], "reply")
        if member is not None and member["expires_at"] is not None:
            ok = ok and member["expires_at"] > t.now_ms
        chosen = int(member["user_id"]) if ok and member is not None else None
    if chosen is None:
        return None
    user = user_db.user_by_id(t.conn, chosen)
    return chosen, str(user["handle"]) if user else ""


def _schedule_idle(t: WriteTxn, business_id: int, conversation_id: int) -> None:
    """The customer's wait started now: each idle rule's job is due `minutes` after."""
    state = db.state_by_ids(t.conn, business_id, conversation_id)
    if state is None or state["waiting_since"] != t.now_ms:
        return  # no wait, or one already counted from its start
    since = int(state["waiting_since"])
    for row in store.rules_of(t.conn, business_id, trigger="idle"):
        minutes = int(_rule(row)["trigger"]["minutes"])
        jobs.enqueue(
            t,
            IDLE_JOB,
            {
                "business_id": business_id,
                "conversation_id": conversation_id,
                "rule_id": int(row["id"]),
                "since": since,
                "minutes": minutes,
            },
            run_at=since + minutes * 60_000,
            key=f"rule_idle:{row['id']}:{conversation_id}",
        )


async def run_idle(core: Core, job: jobs.Job) -> None:
    """The job `business.rule_idle`: the rule runs if the conversation is open and its
    customer still waits since the wait that queued it (an answer, or a new wait, makes the
    job moot), and the rule still is enabled with that many minutes."""
    payload = job.payload
    business_id = int(payload["business_id"])
    conversation_id = int(payload["conversation_id"])

    def txn(t: WriteTxn) -> None:
        state = db.state_by_ids(t.conn, business_id, conversation_id)
        if (
            state is not None
            and state["status"] == "open"
            and state["waiting_since"] == payload["since"]
        ):
            _run(
                t,
                business_id,
                conversation_id,
                "idle",
                minutes=int(payload["minutes"]),
                only=int(payload["rule_id"]),
            )
        jobs.done_in_txn(t, job)

    await core.store.write("business_rule_idle", txn)


# --- rules: the use cases -----------------------------------------------------------------


def _rule_view(row: Row) -> dict[str, Any]:
    rule = _rule(row)
    return {
        "id": row["pid"],
        "name": rule["name"],
        "enabled": rule["enabled"],
        "stop": rule["stop"],
        "position": row["position"],
        "trigger": rule["trigger"],
        "conditions": rule["conditions"],
        "actions": rule["actions"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _check_references(t: WriteTxn, business_id: int, rule: Mapping[str, Any]) -> None:
    problems = []
    for path, kind, value in rules.references(rule):
        if kind == "label" and db.label_by_pid(t.conn, business_id, value) is None:
            problems.append((path, f"no label {value!r} in this business"))
        elif kind == "saved_reply" and (
            workspace_db.saved_reply_by_pid(t.conn, business_id, value) is None
        ):
            problems.append((path, f"no saved reply {value!r} in this business"))
        elif kind == "member" and not _may_take(t, business_id, value):
            problems.append((path, f"{value!r} is not a teammate who may reply"))
    rules.invalid_references(problems)


def _may_take(t: WriteTxn, business_id: int, handle: str) -> bool:
    try:
        user = user_db.user_by_handle(t.conn, business.handle_of(handle))
    except BackchannelError:
        return False
    member = None if user is None else db.open_member(t.conn, business_id, user["id"])
    return member is not None and roles.allowed(member["role"], "reply")


def _stored(rule: dict[str, Any]) -> dict[str, Any]:
    """The columns of a checked rule."""
    definition = {k: rule[k] for k in ("stop", "trigger", "conditions", "actions")}
    return {
        "name": rule["name"],
        "enabled": 1 if rule["enabled"] else 0,
        "trigger": rule["trigger"]["type"],
        "definition": orjson.dumps(definition).decode(),
    }


async def list_rules(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_automation")
        return {"items": [_rule_view(r) for r in store.rules_of(t.conn, team.business["id"])]}

    return await core.store.write("business_rules", txn)


async def create_rule(
    core: Core, requester: Requester, handle: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Save a new rule, last in order; everything in it is checked now (`invalid_rule`)."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_automation")
        business_id = int(team.business["id"])
        rule = rules.check(body)
        _check_references(t, business_id, rule)
        row = store.insert_rule(
            t.conn,
            pid=new_id("ru"),
            business_id=business_id,
            position=store.next_position(t.conn, business_id),
            created_by=requester.user_id,
            created_at=t.now_ms,
            updated_at=t.now_ms,
            **_stored(rule),
        )
        business.audit_in_txn(
            t, team, requester, "rule.created", rule=row["pid"], name=rule["name"]
        )
        return _rule_view(row)

    return await core.store.write("business_create_rule", txn)


async def update_rule(
    core: Core, requester: Requester, handle: str, rule_pid: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change any of a rule's fields (or its `position`); the whole rule is checked again."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_automation")
        business_id = int(team.business["id"])
        row = _saved_rule(t, business_id, rule_pid)
        merged = {**_rule(row), **{k: v for k, v in changes.items() if k != "position"}}
        rule = rules.check(merged)
        _check_references(t, business_id, rule)
        row = store.update_rule(t.conn, int(row["id"]), updated_at=t.now_ms, **_stored(rule))
        if changes.get("position") is not None:
            row = _move(t, business_id, row, int(changes["position"]))
        business.audit_in_txn(
            t, team, requester, "rule.updated", rule=row["pid"], changed=sorted(changes)
        )
        return _rule_view(row)

    return await core.store.write("business_update_rule", txn)


def _move(t: WriteTxn, business_id: int, row: Row, index: int) -> Row:
    """Put the rule at `index` in running order (past the end: last); the others keep
    their order, and positions are renumbered 0, 1, 2…"""
    order = [int(r["id"]) for r in store.rules_of(t.conn, business_id) if r["id"] != row["id"]]
    order.insert(min(index, len(order)), int(row["id"]))
    for position, rule_id in enumerate(order):
        moved = store.update_rule(t.conn, rule_id, position=position)
        if rule_id == row["id"]:
            row = moved
    return row


async def delete_rule(core: Core, requester: Requester, handle: str, rule_pid: str) -> None:
    def txn(t: WriteTxn) -> None:
        team = business.gate(t, requester, handle, "manage_automation")
        row = _saved_rule(t, int(team.business["id"]), rule_pid)
        store.delete_rule(t.conn, int(row["id"]))
        business.audit_in_txn(t, team, requester, "rule.deleted", rule=row["pid"], name=row["name"])

    await core.store.write("business_delete_rule", txn)


def _saved_rule(t: WriteTxn, business_id: int, pid: str) -> Row:
    row = store.rule_by_pid(t.conn, business_id, pid)
    if row is None:
        raise BackchannelError("rule_not_found", "No such rule.")
    return row


async def dry_run(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    rule_pid: str | None,
    rule_body: dict[str, Any] | None,
    text: str,
    conversation_pid: str | None,
    first_message: bool | None,
) -> dict[str, Any]:
    """Which of a rule's conditions hold for `text` as a customer's message (in a
    conversation's context: its labels, the contact's attributes; else none), and the
    actions it would run. Sends, changes and logs nothing; only the read of a conversation
    is audited."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_automation")
        business_id = int(team.business["id"])
        unsaved = None if rule_body is None else rules.check(rule_body)
        if unsaved is None:
            assert rule_pid is not None
            rule = _rule(_saved_rule(t, business_id, rule_pid))
        else:
            _check_references(t, business_id, unsaved)
            rule = unsaved
        if conversation_pid is not None:
            state = business.conversation_gate(t, team, requester, conversation_pid)
            context = _context(t, business_id, state, text)
            # A read of the conversation (its labels, the contact's attributes): audited
            # like every delegated read. It is the one row a dry-run writes.
            business.audit_in_txn(
                t,
                team,
                requester,
                "rule.dry_run",
                conversation_id=int(state["conversation_id"]),
                rule=rule_pid,
            )
            sent = msg_db.count_from_others(
                t.conn, int(state["conversation_id"]), business_id, limit=1
            )
            first = sent == 0  # the text as the customer's next message
        else:
            profile = db.business(t.conn, business_id)
            assert profile is not None
            now = datetime.fromtimestamp(t.now_ms / 1000, UTC)
            context = rules.Context(
                text=text, open_now=hours.is_open(inbox_state.schedule_of(profile), now)
            )
            first = False
        context = rules.Context(
            text=context.text,
            label_ids=context.label_ids,
            attributes=context.attributes,
            open_now=context.open_now,
            first_message=first if first_message is None else first_message,
        )
        evaluation = rules.evaluate(rule, context)
        return {
            "matched": evaluation.matched,
            "conditions": evaluation.conditions,
            "actions": rule["actions"] if evaluation.matched else [],
        }

    # A write transaction for the gate's and the audit's sake.
    return await core.store.write("business_rule_dry_run", txn)


async def rule_runs(
    core: Core,
    requester: Requester,
    handle: str,
    rule_pid: str,
    *,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """A rule's run log, newest first: when, on which conversation, what each action did."""
    before = pagination.decode(cursor, 1)
    size = pagination.clamp(limit)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_automation")
        row = _saved_rule(t, int(team.business["id"]), rule_pid)
        rows = store.runs_page(
            t.conn, int(row["id"]), before=before[0] if before else None, limit=size + 1
        )
        return pagination.page(rows, size, _run_view, lambda r: (r["id"],))

    return await core.store.write("business_rule_runs", txn)


def _run_view(row: Row) -> dict[str, Any]:
    return {
        "conversation_id": row["conversation_pid"],
        "trigger": row["trigger"],
        "actions": orjson.loads(row["outcome"]),
        "at": iso(row["at"]),
    }
