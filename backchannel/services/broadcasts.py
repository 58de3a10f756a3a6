"""Broadcasts to the contacts who opted in, and opting in and out.

Contacts opt in by sending one of the business's opt-in keywords (`take_answer`, called
through services/outbound.py: the keyword message is an answer, it reopens nothing) and
out by an opt-out keyword, honoured at once: their deliveries still queued are skipped. A
broadcast goes to them in the conversations they have with the business — it never starts
one, nor sends into a message request. Its recipients are chosen when it is created; the
job `business.broadcast_send` sends to them in batches paced within the business's own
messages-a-minute limit (domain/broadcasts.py `pace`), each recipient in its own
transaction, which claims the recipient first: an opt-out, a cancel or a restart in between
never sends twice nor to someone who left. The text may use the saved replies' variables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from backchannel import jobs
from backchannel.domain import broadcasts as rules
from backchannel.domain import limits as limit_rules
from backchannel.domain import templates
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.services import business, inbox_state, limits, pagination
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.views import iso, user_view
from backchannel.store import accounts as user_db
from backchannel.store import business as bdb
from backchannel.store import conversations as conv_db
from backchannel.store import messages as msg_db
from backchannel.store import outbound as db
from backchannel.store import workspace as workspace_db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]
log = logging.getLogger(__name__)

BROADCAST_KIND = "business.broadcast_send"
RETRY_AFTER_S = 5.0  # a limiter refusal without a wait named (never expected)


# --- helpers shared with scheduled messages -----------------------------------------------


def user_or_none(t: WriteTxn, user_id: int | None) -> dict[str, Any] | None:
    row = None if user_id is None else user_db.user_by_id(t.conn, user_id)
    return None if row is None else user_view(row)


def template_values(
    t: WriteTxn, business_id: int, customer_id: int, agent_id: int
) -> dict[str, str | None]:
    """The saved replies' variables for a message to `customer_id` by `agent_id`."""
    customer = user_db.user_by_id(t.conn, customer_id)
    agent = user_db.user_by_id(t.conn, agent_id)
    account = user_db.user_by_id(t.conn, business_id)
    contact = workspace_db.contact(t.conn, business_id, customer_id)
    name = (contact["name"] if contact else None) or (
        customer["display_name"] if customer and customer["deactivated_at"] is None else ""
    )
    agent_name = agent["display_name"] if agent else ""
    values: dict[str, str | None] = {
        "customer.name": name,
        "customer.first_name": templates.first_name(name),
        "customer.handle": customer["handle"] if customer else None,
        "agent.name": agent_name,
        "agent.first_name": templates.first_name(agent_name),
        "business.name": account["display_name"] if account else None,
    }
    if contact and contact["attributes"]:
        for key, value in orjson.loads(contact["attributes"]).items():
            values[f"customer.attributes.{key}"] = value
    return values


def _business_requester(t: WriteTxn, core: Core, business_id: int) -> Requester:
    """The business's own Requester (its trust tier), as when it writes itself."""
    account = user_db.user_by_id(t.conn, business_id)
    assert account is not None
    team = business.Team(account, 0, "owner", "all", ())
    me = Requester(business_id, str(account["pid"]), str(account["handle"]))
    return business.acting(t, core, team, me)


# --- opting in and out --------------------------------------------------------------------


def keywords(t: WriteTxn, business_id: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The business's (opt-in, opt-out) keywords."""
    row = db.keywords(t.conn, business_id)
    if row is None:
        return rules.DEFAULT_OPT_IN, rules.DEFAULT_OPT_OUT
    return tuple(orjson.loads(row["opt_in"])), tuple(orjson.loads(row["opt_out"]))


def take_answer(t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]) -> bool:
    """Whether the customer's `message` answers this part (see inbox_hooks.customer_answer):
    an opt-in or opt-out keyword, recorded and confirmed as the business (an opt-out skips
    the customer's deliveries still queued, at once)."""
    text = message.get("text")
    if message.get("kind", "text") != "text" or message.get("media") or not text:
        return False
    if len(text.strip()) > rules.KEYWORD_MAX:  # most messages: no query at all
        return False
    opt_in, opt_out = keywords(t, business_id)
    answer = rules.keyword_answer(text, opt_in=opt_in, opt_out=opt_out)
    if answer is None:
        return False
    state = bdb.state_by_ids(t.conn, business_id, int(conversation["id"]))
    if state is None:
        return False
    customer_id = int(state["customer_id"])
    db.opt(
        t.conn, business_id, customer_id, int(conversation["id"]), into=answer == "in", now=t.now_ms
    )
    if answer == "out":
        for broadcast_id in db.skip_opted_out(t.conn, business_id, customer_id, now=t.now_ms):
            _tell_broadcast(t, broadcast_id)
    account = user_db.user_by_id(t.conn, business_id)
    own = conv_db.conversation_for_member(t.conn, str(conversation["pid"]), business_id)
    # Confirmed unless the business has not accepted the request it came in (an answer
    # would accept it) or blocked the customer.
    if (
        account is not None
        and own is not None
        and own["request_state"] is None
        and not own["blocking_other"]
    ):
        name = str(account["display_name"])
        text = (
            rules.opted_in_text(name, opt_out)
            if answer == "in"
            else rules.opted_out_text(name, opt_in)
        )
        _send_automated(t, business_id, own, text)
    return True


def _send_automated(t: WriteTxn, business_id: int, conversation: Row, text: str) -> int:
    """Send as the business's `broadcast` automation; the team is then told the state, as
    after any automatic message (it answers for nobody). Returns the message's id."""
    view = inbox_state.send_as_business_in_txn(
        t, business_id, conversation, text, automation="broadcast"
    )
    inbox_state.announce(t, business_id, int(conversation["id"]), "automation")
    return msg_db.message_id(t.conn, view["id"])


async def get_keywords(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        opt_in, opt_out = keywords(t, int(team.business["id"]))
        return {"opt_in": list(opt_in), "opt_out": list(opt_out)}

    return await core.store.write("business_broadcast_keywords", txn)


async def set_keywords(
    core: Core, requester: Requester, handle: str, *, opt_in: list[str], opt_out: list[str]
) -> dict[str, Any]:
    """Set the business's opt-in and opt-out keywords (owners, admins)."""
    try:
        words_in = rules.check_keywords(opt_in, field="opt_in")
        words_out = rules.check_keywords(opt_out, field="opt_out")
    except ValueError as error:
        raise BackchannelError("invalid_request", str(error)) from None
    both = {rules.normalize(w) for w in words_in} & {rules.normalize(w) for w in words_out}
    if both:
        raise BackchannelError("invalid_request", f"{sorted(both)[0]!r} cannot opt in and out.")

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "broadcast")
        db.set_keywords(
            t.conn,
            int(team.business["id"]),
            opt_in=orjson.dumps(list(words_in)).decode(),
            opt_out=orjson.dumps(list(words_out)).decode(),
            now=t.now_ms,
        )
        business.audit_in_txn(t, team, requester, "broadcast.keywords_updated")
        return {"opt_in": list(words_in), "opt_out": list(words_out)}

    return await core.store.write("business_broadcast_set_keywords", txn)


def _subscriber_view(row: Row) -> dict[str, Any]:
    return {
        "customer": user_view(row),
        "conversation_id": row["conversation_pid"],
        "status": "opted_in" if row["status"] == "in" else "opted_out",
        "opted_in_at": iso(row["opted_in_at"]),
        "opted_out_at": iso(row["opted_out_at"]),
    }


async def subscribers(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    status: str | None,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """Who opted in (`opted_in`) or out (`opted_out`), for owners and admins."""
    if status is not None and status not in ("opted_in", "opted_out"):
        raise BackchannelError("invalid_request", "status is opted_in or opted_out.")
    after = pagination.decode(cursor, 1)
    size = pagination.clamp(limit)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "broadcast")
        rows = db.subscriber_page(
            t.conn,
            int(team.business["id"]),
            status=None if status is None else {"opted_in": "in", "opted_out": "out"}[status],
            after=after[0] if after else None,
            limit=size + 1,
        )
        business.audit_in_txn(t, team, requester, "broadcast.subscribers_listed")
        return pagination.page(rows, size, _subscriber_view, lambda r: (r["customer_id"],))

    return await core.store.write("business_broadcast_subscribers", txn)


# --- broadcasts ---------------------------------------------------------------------------

COUNTED = ("queued", "sent", "skipped", "failed", "cancelled")


def _broadcast_view(t: WriteTxn, row: Row, counts: Mapping[str, int]) -> dict[str, Any]:
    audience = orjson.loads(row["audience"]) if row["audience"] else {}
    tally = {status: int(counts.get(status, 0)) for status in COUNTED}
    return {
        "id": row["pid"],
        "text": row["text"],
        "audience": {"label": audience.get("label")},
        "status": row["status"],
        "send_at": iso(row["send_at"]),
        "author": user_or_none(t, row["author_id"]),
        "cancelled_by": user_or_none(t, row["cancelled_by"]),
        "counts": {"total": sum(tally.values()), **tally},
        "created_at": iso(row["created_at"]),
        "finished_at": iso(row["finished_at"]),
    }


def _tell_broadcast(t: WriteTxn, broadcast_id: int) -> dict[str, Any]:
    """Tell the team of a broadcast (its counts now); its view."""
    row = db.broadcast_by_id(t.conn, broadcast_id)
    assert row is not None
    view = _broadcast_view(t, row, db.counts(t.conn, [broadcast_id]).get(broadcast_id, {}))
    account = user_db.user_by_id(t.conn, int(row["business_id"]))
    emit(
        t,
        "business.broadcast_updated",
        {"business": account["handle"] if account else None, "broadcast": view},
        business_id=int(row["business_id"]),
    )
    return view


def _broadcast(t: WriteTxn, team: business.Team, pid: str) -> Row:
    row = db.broadcast_by_pid(t.conn, int(team.business["id"]), pid)
    if row is None:
        raise BackchannelError("broadcast_not_found", "No such broadcast.")
    return row


async def create_broadcast(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    text: str,
    label_pid: str | None,
    send_at_ms: int | None,
) -> dict[str, Any]:
    """A broadcast to the contacts opted in now (those of a label, when named), now or at
    `send_at_ms`; `no_recipients` when there are none."""
    body = rules.check_text(text, max_length=core.settings.max_message_length)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "broadcast")
        business_id = int(team.business["id"])
        send_at = rules.check_send_at(send_at_ms, t.now_ms, required=False)
        label = None
        if label_pid is not None:
            label = bdb.label_by_pid(t.conn, business_id, label_pid)
            if label is None:
                raise BackchannelError("label_not_found", "No such label.")
        audience = db.audience(
            t.conn, business_id, label_id=None if label is None else int(label["id"])
        )
        if not audience:
            raise BackchannelError("no_recipients", "Nobody opted in matches this audience.")
        pid = new_id("bc")
        broadcast_id = db.insert_broadcast(
            t.conn,
            pid=pid,
            business_id=business_id,
            author_id=requester.user_id,
            text=body,
            audience=None
            if label is None
            else orjson.dumps({"label": inbox_state.label_view(label)}).decode(),
            status="scheduled" if send_at is not None else "sending",
            send_at=send_at if send_at is not None else t.now_ms,
            created_at=t.now_ms,
            updated_at=t.now_ms,
        )
        db.insert_recipients(t.conn, broadcast_id, audience, now=t.now_ms)
        jobs.enqueue(
            t,
            BROADCAST_KIND,
            {"broadcast_id": broadcast_id},
            run_at=send_at,
            key=f"broadcast:{pid}",
        )
        business.audit_in_txn(
            t, team, requester, "broadcast.created", broadcast=pid, recipients=len(audience)
        )
        return _tell_broadcast(t, broadcast_id)

    return await core.store.write("business_broadcast_create", txn)


async def list_broadcasts(
    core: Core, requester: Requester, handle: str, *, cursor: str | None, limit: int | None
) -> dict[str, Any]:
    before = pagination.decode(cursor, 1)
    size = pagination.clamp(limit, 25)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        rows = db.broadcast_page(
            t.conn, int(team.business["id"]), before=before[0] if before else None, limit=size + 1
        )
        counts = db.counts(t.conn, [int(r["id"]) for r in rows[:size]])
        return pagination.page(
            rows,
            size,
            lambda r: _broadcast_view(t, r, counts.get(int(r["id"]), {})),
            lambda r: (r["id"],),
        )

    return await core.store.write("business_broadcasts", txn)


async def get_broadcast(
    core: Core, requester: Requester, handle: str, broadcast_pid: str
) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        row = _broadcast(t, team, broadcast_pid)
        return _broadcast_view(t, row, db.counts(t.conn, [int(row["id"])]).get(int(row["id"]), {}))

    return await core.store.write("business_broadcast", txn)


def _recipient_view(row: Row) -> dict[str, Any]:
    return {
        "customer": user_view(row),
        "conversation_id": row["conversation_pid"],
        "status": row["status"],
        "reason": row["reason"],
        "message_id": row["message_pid"],
        "updated_at": iso(row["updated_at"]),
    }


async def recipients(
    core: Core,
    requester: Requester,
    handle: str,
    broadcast_pid: str,
    *,
    status: str | None,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """A broadcast's recipients and what became of each one's message."""
    if status is not None and status not in COUNTED:
        raise BackchannelError("invalid_request", f"status is one of {', '.join(COUNTED)}.")
    after = pagination.decode(cursor, 1)
    size = pagination.clamp(limit)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "broadcast")
        row = _broadcast(t, team, broadcast_pid)
        rows = db.recipient_page(
            t.conn, int(row["id"]), status=status, after=after[0] if after else None, limit=size + 1
        )
        business.audit_in_txn(
            t, team, requester, "broadcast.recipients_listed", broadcast=broadcast_pid
        )
        return pagination.page(rows, size, _recipient_view, lambda r: (r["customer_id"],))

    return await core.store.write("business_broadcast_recipients", txn)


async def cancel_broadcast(
    core: Core, requester: Requester, handle: str, broadcast_pid: str
) -> dict[str, Any]:
    """Stop a broadcast: those not sent to yet are `cancelled`; those sent keep it."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "broadcast")
        row = _broadcast(t, team, broadcast_pid)
        if row["status"] in ("done", "cancelled"):
            raise BackchannelError("broadcast_finished", f"The broadcast is {row['status']}.")
        db.cancel_queued(t.conn, int(row["id"]), now=t.now_ms)
        db.update_broadcast(
            t.conn,
            int(row["id"]),
            status="cancelled",
            cancelled_by=requester.user_id,
            finished_at=t.now_ms,
            updated_at=t.now_ms,
        )
        jobs.cancel(t, f"broadcast:{broadcast_pid}")
        business.audit_in_txn(t, team, requester, "broadcast.cancelled", broadcast=broadcast_pid)
        return _tell_broadcast(t, int(row["id"]))

    return await core.store.write("business_broadcast_cancel", txn)


def _deliver(t: WriteTxn, broadcast: Row, recipient: Row) -> None:
    """One recipient's message, in its own transaction: claimed first (so an opt-out or a
    cancel that committed first wins, and a second run sends nothing), then skipped when
    they opted out (`opted_out`), the business blocked them (`blocked`), or they cannot be
    messaged in that conversation (`cannot_message`: left it, deactivated, a request not
    accepted — or they blocked the business, which the team never learns as such)."""
    broadcast_id, customer_id = int(broadcast["id"]), int(recipient["customer_id"])
    if not db.set_recipient(t.conn, broadcast_id, customer_id, now=t.now_ms, status="sent"):
        return
    business_id = int(broadcast["business_id"])

    def skip(reason: str) -> None:
        db.settle_recipient(
            t.conn, broadcast_id, customer_id, now=t.now_ms, status="skipped", reason=reason
        )

    found = db.subscriber(t.conn, business_id, customer_id)
    if found is None or found["status"] != "in":
        return skip("opted_out")
    customer = user_db.user_by_id(t.conn, customer_id)
    state = bdb.state_by_ids(t.conn, business_id, int(recipient["conversation_id"]))
    if customer is None or customer["deactivated_at"] is not None or state is None:
        return skip("cannot_message")
    own = conv_db.conversation_for_member(t.conn, str(state["conversation_pid"]), business_id)
    if own is None:
        return skip("cannot_message")
    if own["blocking_other"]:
        return skip("blocked")  # the business's own block: the team may know of it
    if own["blocked_by_other"]:
        return skip("cannot_message")  # the customer's block looks like any refusal
    if own["request_state"] is not None or own["other_request_state"] is not None:
        return skip("cannot_message")  # never a message request, nor an answer accepting one
    text = templates.render(
        broadcast["text"], template_values(t, business_id, customer_id, int(broadcast["author_id"]))
    )
    message_id = _send_automated(t, business_id, own, text)
    db.settle_recipient(
        t.conn, broadcast_id, customer_id, now=t.now_ms, status="sent", message_id=message_id
    )


async def send_broadcast(core: Core, job: jobs.Job) -> None:
    """The job `business.broadcast_send`: one paced batch of a broadcast's queued
    recipients, then itself again after the pause (or the broadcast is `done`). Over the
    business's limit, it waits (`Retry`) and resumes with those still queued."""
    broadcast_id = int(job.payload["broadcast_id"])

    def start(t: WriteTxn) -> tuple[Row, Requester, rules.Pace, Sequence[Row]] | None:
        row = db.broadcast_by_id(t.conn, broadcast_id)
        if row is None or row["status"] in ("done", "cancelled"):
            jobs.done_in_txn(t, job)
            return None
        if row["status"] == "scheduled":
            db.update_broadcast(t.conn, broadcast_id, status="sending", updated_at=t.now_ms)
            row = db.broadcast_by_id(t.conn, broadcast_id)
            assert row is not None
        as_business = _business_requester(t, core, int(row["business_id"]))
        tier = limit_rules.limits_for(as_business.tier, core.settings)
        pace = rules.pace(
            tier.messages_per_minute,
            share=core.settings.broadcast_rate_share,
            batch_max=core.settings.broadcast_batch_size,
        )
        return row, as_business, pace, db.queued_recipients(t.conn, broadcast_id, limit=pace.batch)

    started = await core.store.write("business_broadcast_start", start)
    if started is None:
        return
    row, as_business, pace, batch = started
    for recipient in batch:
        try:
            await limits.sending(core, as_business)
        except BackchannelError as error:
            after = float(error.details.get("retry_after") or RETRY_AFTER_S)
            raise jobs.Retry("over the business's limit", after) from error
        await _deliver_one(core, row, recipient)

    def finish(t: WriteTxn) -> None:
        if db.queued_recipients(t.conn, broadcast_id, limit=1):
            # Re-queued under the same key: this run's job ends with it.
            jobs.enqueue(
                t,
                BROADCAST_KIND,
                job.payload,
                run_at=t.now_ms + int(pace.interval_s * 1000),
                key=f"broadcast:{row['pid']}",
            )
        else:
            current = db.broadcast_by_id(t.conn, broadcast_id)
            if current is not None and current["status"] == "sending":
                db.update_broadcast(
                    t.conn, broadcast_id, status="done", finished_at=t.now_ms, updated_at=t.now_ms
                )
            jobs.done_in_txn(t, job)
        _tell_broadcast(t, broadcast_id)

    await core.store.write("business_broadcast_batch", finish)


async def _deliver_one(core: Core, broadcast: Row, recipient: Row) -> None:
    """Deliver to one recipient; a refusal or an error marks them `failed` and the others
    go on."""
    try:
        await core.store.write(
            "business_broadcast_deliver", lambda t: _deliver(t, broadcast, recipient)
        )
        return
    except BackchannelError as error:
        reason = error.code
    except Exception:
        log.warning("broadcast delivery failed", exc_info=True)
        reason = "internal_error"

    def failed(t: WriteTxn) -> None:
        db.set_recipient(
            t.conn,
            int(broadcast["id"]),
            int(recipient["customer_id"]),
            now=t.now_ms,
            status="failed",
            reason=reason,
        )

    await core.store.write("business_broadcast_failed", failed)
