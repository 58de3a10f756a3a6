"""Webhooks per business (issue 7, "Integrations").

What happens in a business's inbox (services/inbox_hooks.py calls the `on_*` functions;
reports and rules call `queue`) becomes, in the same transaction, one *delivery* per
endpoint subscribed to it — its body fixed then — and one `webhook.deliver` job. The job
POSTs the body, signed (domain/webhooks.py), to the endpoint (services/webhook_sender.py:
public addresses only, as for link previews). A 2xx is delivered; anything else is
retried with the queue's exponential backoff and jitter (or the receiver's `Retry-After`),
each attempt in the delivery log. After `webhook_disable_after` failed attempts in a row
the endpoint is turned off and the business's owners and admins are told
(`business.webhook_disabled`). Business API tokens: services/business_tokens.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from backchannel import jobs
from backchannel.config import Settings
from backchannel.domain import webhooks as rules
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError

# `business` as a module: it imports this one (through inbox_state), so its names are
# looked up when called.
from backchannel.services import business, inbox_state, pagination, webhook_sender
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.views import iso, user_view
from backchannel.store import accounts as user_db
from backchannel.store import business as business_db
from backchannel.store import webhooks as db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]


# --- the hooks: what happened, in its own transaction ------------------------------------


def on_conversation_created(t: WriteTxn, business_id: int, conversation_id: int) -> None:
    def data() -> dict[str, Any]:
        state = _state(t, business_id, conversation_id)
        return {"conversation_id": state["conversation_id"], "state": state}

    _queue(t, business_id, "conversation.created", data)


def on_customer_message(
    t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]
) -> None:
    _queue(
        t,
        business_id,
        "message.received",
        lambda: {"conversation_id": conversation["pid"], "message": message},
    )


def on_business_message(
    t: WriteTxn,
    business_id: int,
    conversation: Row,
    message: dict[str, Any],
    *,
    agent_id: int | None,
    automation_kind: str | None,
) -> None:
    def data() -> dict[str, Any]:
        agent = None if agent_id is None else user_db.user_by_id(t.conn, agent_id)
        return {
            "conversation_id": conversation["pid"],
            "message": {**message, "agent": None if agent is None else user_view(agent)},
            "automation": automation_kind,
        }

    _queue(t, business_id, "message.sent", data)


def on_state_changed(
    t: WriteTxn, business_id: int, conversation_id: int, before: Row, after: Row, *, by: int | None
) -> None:
    if before["status"] != after["status"]:
        _queue(
            t,
            business_id,
            "conversation.status_changed",
            lambda: {
                "conversation_id": after["conversation_pid"],
                "status": after["status"],
                "previous_status": before["status"],
                "by": _user(t, by),
                "state": _state(t, business_id, conversation_id),
            },
        )
    if before["assignee_id"] != after["assignee_id"]:
        _queue(
            t,
            business_id,
            "conversation.assigned",
            lambda: {
                "conversation_id": after["conversation_pid"],
                "assignee": _user(t, after["assignee_id"]),
                "previous_assignee": _user(t, before["assignee_id"]),
                "by": _user(t, by),
                "state": _state(t, business_id, conversation_id),
            },
        )


def queue(t: WriteTxn, business_id: int, event: str, data: dict[str, Any]) -> None:
    """Deliver `event` with `data` to the business's webhooks subscribed to it, from the
    job queue, once `t` commits (other parts call this: `csat.received`, `rule.webhook`).
    `data` is what the business's team may see, with public ids only."""
    assert event in rules.EVENTS, event
    _queue(t, business_id, event, lambda: data)


def _queue(t: WriteTxn, business_id: int, event: str, data: Callable[[], dict[str, Any]]) -> None:
    """`queue`, building `data` only when some endpoint wants the event (one query for a
    business without webhooks: this runs on every message of every business inbox)."""
    targets = [
        int(row["id"])
        for row in db.enabled_webhooks(t.conn, business_id)
        if event in orjson.loads(row["events"])
    ]
    if not targets:
        return
    ref = _business_ref(t, business_id)
    values = data()
    for webhook_id in targets:
        _deliver_later(t, webhook_id, event, ref, values)


def _deliver_later(
    t: WriteTxn, webhook_id: int, event: str, ref: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    pid = new_id("dlv")
    body = rules.body(pid, event, iso(t.now_ms) or "", ref, data)
    delivery_id = db.insert_delivery(
        t.conn, pid=pid, webhook_id=webhook_id, type=event, body=body, now=t.now_ms
    )
    jobs.enqueue(t, "webhook.deliver", {"delivery": delivery_id}, key=f"webhook:{delivery_id}")
    return {"id": pid, "type": event}


def _business_ref(t: WriteTxn, business_id: int) -> dict[str, Any]:
    row = user_db.user_by_id(t.conn, business_id)
    assert row is not None
    return {"id": row["pid"], "handle": row["handle"]}


def _user(t: WriteTxn, user_id: int | None) -> dict[str, Any] | None:
    row = None if user_id is None else user_db.user_by_id(t.conn, user_id)
    return None if row is None else user_view(row)


def _state(t: WriteTxn, business_id: int, conversation_id: int) -> dict[str, Any]:
    state = business_db.state_by_ids(t.conn, business_id, conversation_id)
    assert state is not None
    labels = business_db.labels_for(t.conn, business_id, [conversation_id])
    return inbox_state.state_view(t, state, labels.get(conversation_id, []))


# --- delivery: the job `webhook.deliver` --------------------------------------------------


async def deliver(core: Core, job: jobs.Job) -> None:
    """The job `webhook.deliver`: one attempt of one delivery, logged. Raises `Retry` to
    be run again after the backoff (or the receiver's `Retry-After`)."""
    from backchannel.jobs.runner import backoff_seconds  # the runner imports the handlers

    settings = core.settings
    delivery_id = int(job.payload["delivery"])
    row = await core.store.read("webhook_delivery", lambda t: db.delivery(t.conn, delivery_id))
    if row is None or row["state"] != "pending":
        return  # deleted with its webhook, or finished (a redelivery queued anew)
    if not row["enabled"]:
        await core.store.write(
            "webhook_delivery_skipped",
            lambda t: db.update_delivery(
                t.conn,
                delivery_id,
                state="failed",
                error="the webhook is turned off",
                next_attempt_at=None,
                updated_at=t.now_ms,
            ),
        )
        return
    outcome = await webhook_sender.attempt(
        settings,
        row["url"],
        row["secret"],
        row["pid"],
        row["body"].encode(),
        core.store.now_ms() // 1000,
    )

    def txn(t: WriteTxn) -> float | None:
        current = db.delivery(t.conn, delivery_id)
        if current is None or current["state"] != "pending":
            return None
        number = int(current["attempts"]) + 1
        db.record_attempt(
            t.conn,
            delivery_id,
            attempt=number,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            error=outcome.error,
            now=t.now_ms,
        )
        logged = {
            "attempts": number,
            "status_code": outcome.status_code,
            "latency_ms": outcome.latency_ms,
            "error": outcome.error,
            "updated_at": t.now_ms,
        }
        webhook_id = int(current["webhook_id"])
        if outcome.error is None:
            db.update_delivery(
                t.conn, delivery_id, state="delivered", next_attempt_at=None, **logged
            )
            db.reset_failures(t.conn, webhook_id)
            db.prune_deliveries(
                t.conn, webhook_id, before=t.now_ms - int(settings.webhook_log_days * 86_400_000)
            )
            return None
        failures = db.add_failure(t.conn, webhook_id, now=t.now_ms)
        if failures >= settings.webhook_disable_after:
            _disable(t, current, failures)
        elif job.attempt < settings.jobs_max_attempts:
            delay = outcome.retry_after or backoff_seconds(job.attempt)
            db.update_delivery(
                t.conn, delivery_id, next_attempt_at=t.now_ms + int(delay * 1000), **logged
            )
            return delay
        db.update_delivery(t.conn, delivery_id, state="failed", next_attempt_at=None, **logged)
        return None

    delay = await core.store.write("webhook_attempt", txn)
    if delay is not None:
        raise jobs.Retry(outcome.error or "failed", delay)


def _disable(t: WriteTxn, delivery: Row, failures: int) -> None:
    """Turn the delivery's endpoint off and tell the business's owners and admins."""
    reason = f"{failures} failed delivery attempts in a row; the last: {delivery['error'] or ''}"
    if not db.disable(t.conn, int(delivery["webhook_id"]), reason=reason[:200], now=t.now_ms):
        return  # another delivery's attempt turned it off already
    business_id = int(delivery["business_id"])
    hook = db.webhook_by_pid(t.conn, business_id, delivery["webhook_pid"])
    assert hook is not None
    handle = _business_ref(t, business_id)["handle"]
    for member in business_db.members_of(t.conn, business_id):
        if member["role"] not in ("owner", "admin"):
            continue
        if member["expires_at"] is not None and member["expires_at"] <= t.now_ms:
            continue
        emit(
            t,
            "business.webhook_disabled",
            {"business": handle, "webhook": webhook_view(hook), "failures": failures},
            user_id=int(member["user_id"]),
        )


# --- managing webhooks (owners and admins) ------------------------------------------------


def webhook_view(row: Row, *, secret: bool = False) -> dict[str, Any]:
    view = {
        "id": row["pid"],
        "url": row["url"],
        "events": orjson.loads(row["events"]),
        "description": row["description"],
        "enabled": bool(row["enabled"]),
        "failures": row["failures"],
        "disabled_reason": row["disabled_reason"],
        "created_at": iso(row["created_at"]),
    }
    if secret:
        view["secret"] = row["secret"]
    return view


async def check_url(settings: Settings, url: str) -> str:
    """A webhook URL as stored (normalized), or `invalid_webhook_url` saying why."""
    try:
        return (await webhook_sender.vet(settings, url)).url
    except webhook_sender.Refused as exc:
        raise BackchannelError(
            "invalid_webhook_url", f"The webhook URL cannot be used: {exc}."
        ) from None


def _webhook(t: WriteTxn, business_id: int, pid: str) -> Row:
    row = db.webhook_by_pid(t.conn, business_id, pid)
    if row is None:
        raise BackchannelError("webhook_not_found", "No such webhook.")
    return row


async def create_webhook(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    url: str,
    events: list[str],
    description: str | None,
    enabled: bool,
) -> dict[str, Any]:
    """A new endpoint; its signing secret is in this answer only (and a rotation's)."""
    subscribed = rules.check_events(events)
    await _may_manage(core, requester, handle)  # before any name lookup for a stranger
    stored = await check_url(core.settings, url)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_integrations")
        business_id = int(team.business["id"])
        if db.count_webhooks(t.conn, business_id) >= rules.MAX_WEBHOOKS:
            raise BackchannelError("too_many_webhooks", f"At most {rules.MAX_WEBHOOKS} webhooks.")
        pid = new_id("wh")
        db.insert_webhook(
            t.conn,
            pid=pid,
            business_id=business_id,
            url=stored,
            events=subscribed,
            description=description,
            secret=rules.new_secret(),
            enabled=enabled,
            created_by=requester.user_id,
            now=t.now_ms,
        )
        business.audit_in_txn(t, team, requester, "webhook.created", webhook=pid, url=stored)
        return webhook_view(_webhook(t, business_id, pid), secret=True)

    return await core.store.write("webhook_create", txn)


async def _may_manage(core: Core, requester: Requester, handle: str) -> None:
    await core.store.write(
        "webhook_gate", lambda t: business.gate(t, requester, handle, "manage_integrations")
    )


async def list_webhooks(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_integrations")
        return {"items": [webhook_view(r) for r in db.webhooks_of(t.conn, team.business["id"])]}

    return await core.store.write("webhook_list", txn)


async def update_webhook(
    core: Core, requester: Requester, handle: str, pid: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change any of url, events, description, enabled. Turning it on again starts its
    count of failures afresh."""
    values: dict[str, Any] = {}
    if "events" in changes:
        values["events"] = rules.check_events(changes["events"] or [])
    if "description" in changes:
        values["description"] = changes["description"]
    if changes.get("enabled") is not None:
        values["enabled"] = bool(changes["enabled"])
    await _may_manage(core, requester, handle)
    if changes.get("url") is not None:
        values["url"] = await check_url(core.settings, changes["url"])
    if not values:
        raise BackchannelError("invalid_request", "Nothing to change.")

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_integrations")
        row = _webhook(t, int(team.business["id"]), pid)
        if values.get("enabled") and not row["enabled"]:
            values.update(failures=0, disabled_reason=None)
        db.update_webhook(t.conn, int(row["id"]), updated_at=t.now_ms, **values)
        business.audit_in_txn(
            t, team, requester, "webhook.updated", webhook=pid, changed=sorted(changes)
        )
        return webhook_view(_webhook(t, int(team.business["id"]), pid))

    return await core.store.write("webhook_update", txn)


async def rotate_secret(core: Core, requester: Requester, handle: str, pid: str) -> dict[str, Any]:
    """A new signing secret, at once (the old one signs nothing more)."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_integrations")
        row = _webhook(t, int(team.business["id"]), pid)
        db.update_webhook(t.conn, int(row["id"]), secret=rules.new_secret(), updated_at=t.now_ms)
        business.audit_in_txn(t, team, requester, "webhook.secret_rotated", webhook=pid)
        return webhook_view(_webhook(t, int(team.business["id"]), pid), secret=True)

    return await core.store.write("webhook_rotate", txn)


async def delete_webhook(core: Core, requester: Requester, handle: str, pid: str) -> None:
    """The endpoint and its delivery log; deliveries still queued are dropped."""

    def txn(t: WriteTxn) -> None:
        team = business.gate(t, requester, handle, "manage_integrations")
        row = _webhook(t, int(team.business["id"]), pid)
        db.delete_webhook(t.conn, int(row["id"]))
        business.audit_in_txn(t, team, requester, "webhook.deleted", webhook=pid, url=row["url"])

    await core.store.write("webhook_delete", txn)


async def ping(core: Core, requester: Requester, handle: str, pid: str) -> dict[str, Any]:
    """Queue a `webhook.ping` delivery to the endpoint (whatever it subscribes to)."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_integrations")
        business_id = int(team.business["id"])
        row = _webhook(t, business_id, pid)
        if not row["enabled"]:
            raise BackchannelError("invalid_request", "The webhook is off: turn it on first.")
        ref = _deliver_later(
            t, int(row["id"]), rules.PING, _business_ref(t, business_id), {"webhook_id": pid}
        )
        business.audit_in_txn(t, team, requester, "webhook.pinged", webhook=pid)
        delivery = db.delivery_by_pid(t.conn, int(row["id"]), ref["id"])
        assert delivery is not None
        return delivery_view(delivery, [])

    return await core.store.write("webhook_ping", txn)


async def redeliver(
    core: Core, requester: Requester, handle: str, pid: str, delivery_pid: str
) -> dict[str, Any]:
    """Send a delivery again (the same id and body), from a first attempt's backoff."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_integrations")
        row = _webhook(t, int(team.business["id"]), pid)
        delivery = db.delivery_by_pid(t.conn, int(row["id"]), delivery_pid)
        if delivery is None:
            raise BackchannelError("delivery_not_found", "No such delivery of this webhook.")
        if not row["enabled"]:
            raise BackchannelError("invalid_request", "The webhook is off: turn it on first.")
        delivery_id = int(delivery["id"])
        db.update_delivery(
            t.conn, delivery_id, state="pending", next_attempt_at=t.now_ms, updated_at=t.now_ms
        )
        jobs.enqueue(t, "webhook.deliver", {"delivery": delivery_id}, key=f"webhook:{delivery_id}")
        business.audit_in_txn(
            t, team, requester, "webhook.redelivered", webhook=pid, delivery=delivery_pid
        )
        fresh = db.delivery_by_pid(t.conn, int(row["id"]), delivery_pid)
        assert fresh is not None
        return delivery_view(fresh, db.attempts_for(t.conn, [delivery_id]).get(delivery_id, []))

    return await core.store.write("webhook_redeliver", txn)


def delivery_view(row: Row, attempts: Sequence[Row]) -> dict[str, Any]:
    return {
        "id": row["pid"],
        "type": row["type"],
        "state": row["state"],
        "attempts": [
            {
                "attempt": a["attempt"],
                "status_code": a["status_code"],
                "latency_ms": a["latency_ms"],
                "error": a["error"],
                "at": iso(a["at"]),
            }
            for a in attempts
        ],
        "status_code": row["status_code"],
        "latency_ms": row["latency_ms"],
        "error": row["error"],
        "next_attempt_at": iso(row["next_attempt_at"]) if row["state"] == "pending" else None,
        "created_at": iso(row["created_at"]),
        "payload": orjson.loads(row["body"]),
    }


async def deliveries(
    core: Core,
    requester: Requester,
    handle: str,
    pid: str,
    *,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """The delivery log, newest first: each delivery with its attempts."""
    before = pagination.decode(cursor, 1)
    size = pagination.clamp(limit)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_integrations")
        row = _webhook(t, int(team.business["id"]), pid)
        rows = db.deliveries_page(
            t.conn, int(row["id"]), before=before[0] if before else None, limit=size + 1
        )
        attempts = db.attempts_for(t.conn, [int(r["id"]) for r in rows[:size]])
        return pagination.page(
            rows,
            size,
            lambda r: delivery_view(r, attempts.get(int(r["id"]), [])),
            lambda r: (int(r["id"]),),
        )

    return await core.store.write("webhook_deliveries", txn)
