"""SQL of outbound messages: scheduled messages, broadcast subscribers, broadcasts and their
recipients. Functions take a Connection and run inside the caller's named transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, insert, select, update

from backchannel.store.tables import (
    business_broadcast_keywords,
    business_broadcast_recipients,
    business_broadcasts,
    business_conversation_labels,
    business_conversations,
    business_scheduled,
    business_subscribers,
    conversations,
    messages,
    users,
)

scheduled = business_scheduled
subscribers = business_subscribers
broadcasts = business_broadcasts
recipients = business_broadcast_recipients
keyword_table = business_broadcast_keywords

SCHEDULED_COLUMNS = (
    *scheduled.c,
    conversations.c.pid.label("conversation_pid"),
    messages.c.pid.label("message_pid"),
)

# --- scheduled messages -------------------------------------------------------------------


def insert_scheduled(conn: Connection, **values: Any) -> None:
    conn.execute(insert(scheduled).values(**values))


def _scheduled_query() -> Any:
    return (
        select(*SCHEDULED_COLUMNS)
        .join(conversations, conversations.c.id == scheduled.c.conversation_id)
        .outerjoin(messages, messages.c.id == scheduled.c.message_id)
    )


def scheduled_by_pid(conn: Connection, business_id: int, pid: str) -> RowMapping | None:
    query = _scheduled_query().where(scheduled.c.business_id == business_id, scheduled.c.pid == pid)
    return conn.execute(query).mappings().first()


def scheduled_by_id(conn: Connection, scheduled_id: int) -> RowMapping | None:
    query = _scheduled_query().where(scheduled.c.id == scheduled_id)
    return conn.execute(query).mappings().first()


def scheduled_page(
    conn: Connection,
    business_id: int,
    *,
    conversation_id: int | None,
    status: str | None,
    after: tuple[int, int] | None,
    limit: int,
) -> list[RowMapping]:
    """Scheduled messages of a business (or of one of its conversations), soonest first,
    from after `(send_at, id)`."""
    query = _scheduled_query().where(scheduled.c.business_id == business_id)
    if conversation_id is not None:
        query = query.where(scheduled.c.conversation_id == conversation_id)
    if status is not None:
        query = query.where(scheduled.c.status == status)
    if after is not None:
        query = query.where(
            (scheduled.c.send_at > after[0])
            | and_(scheduled.c.send_at == after[0], scheduled.c.id > after[1])
        )
    query = query.order_by(scheduled.c.send_at, scheduled.c.id).limit(limit)
    return list(conn.execute(query).mappings())


def update_scheduled(conn: Connection, scheduled_id: int, **values: Any) -> None:
    conn.execute(update(scheduled).where(scheduled.c.id == scheduled_id).values(**values))


def pending_cancelled_by_reply(
    conn: Connection, business_id: int, conversation_id: int
) -> list[RowMapping]:
    """The pending messages of a conversation to cancel when the customer writes."""
    query = _scheduled_query().where(
        scheduled.c.business_id == business_id,
        scheduled.c.conversation_id == conversation_id,
        scheduled.c.status == "pending",
        scheduled.c.cancel_if_reply == 1,
    )
    return list(conn.execute(query).mappings())


# --- subscribers --------------------------------------------------------------------------


def subscriber(conn: Connection, business_id: int, customer_id: int) -> RowMapping | None:
    query = select(subscribers).where(
        subscribers.c.business_id == business_id, subscribers.c.customer_id == customer_id
    )
    return conn.execute(query).mappings().first()


def opt(
    conn: Connection,
    business_id: int,
    customer_id: int,
    conversation_id: int,
    *,
    into: bool,
    now: int,
) -> None:
    """Record an opt-in (`into`) or an opt-out, in the conversation it came in."""
    current = subscriber(conn, business_id, customer_id)
    status = "in" if into else "out"
    if current is None:
        conn.execute(
            insert(subscribers).values(
                business_id=business_id,
                customer_id=customer_id,
                conversation_id=conversation_id,
                status=status,
                opted_in_at=now,
                opted_out_at=None if into else now,
                updated_at=now,
            )
        )
        return
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if into:
        values.update(conversation_id=conversation_id, opted_out_at=None)
        if current["status"] != "in":
            values["opted_in_at"] = now
    elif current["status"] != "out":
        values["opted_out_at"] = now
    conn.execute(
        update(subscribers)
        .where(subscribers.c.business_id == business_id, subscribers.c.customer_id == customer_id)
        .values(**values)
    )


def subscriber_page(
    conn: Connection, business_id: int, *, status: str | None, after: int | None, limit: int
) -> list[RowMapping]:
    """Subscribers (`in` or `out`) with their account and conversation, by customer id,
    after `after`."""
    query = (
        select(
            subscribers,
            users.c.pid,
            users.c.handle,
            users.c.display_name,
            users.c.deactivated_at,
            conversations.c.pid.label("conversation_pid"),
        )
        .join(users, users.c.id == subscribers.c.customer_id)
        .join(conversations, conversations.c.id == subscribers.c.conversation_id)
        .where(subscribers.c.business_id == business_id)
    )
    if status is not None:
        query = query.where(subscribers.c.status == status)
    if after is not None:
        query = query.where(subscribers.c.customer_id > after)
    return list(conn.execute(query.order_by(subscribers.c.customer_id).limit(limit)).mappings())


def keywords(conn: Connection, business_id: int) -> RowMapping | None:
    query = select(keyword_table).where(keyword_table.c.business_id == business_id)
    return conn.execute(query).mappings().first()


def set_keywords(
    conn: Connection, business_id: int, *, opt_in: str, opt_out: str, now: int
) -> None:
    """Set a business's keywords (JSON lists)."""
    values = {"opt_in": opt_in, "opt_out": opt_out, "updated_at": now}
    done = conn.execute(
        update(keyword_table).where(keyword_table.c.business_id == business_id).values(**values)
    )
    if not done.rowcount:
        conn.execute(insert(keyword_table).values(business_id=business_id, **values))


def audience(conn: Connection, business_id: int, *, label_id: int | None) -> list[RowMapping]:
    """The opted-in contacts a broadcast would reach now: `(customer_id, conversation_id)`
    of the conversation they opted in in, while it is still in the business's inbox (and
    carries `label_id`, when given)."""
    query = (
        select(subscribers.c.customer_id, subscribers.c.conversation_id)
        .join(
            business_conversations,
            and_(
                business_conversations.c.business_id == subscribers.c.business_id,
                business_conversations.c.conversation_id == subscribers.c.conversation_id,
            ),
        )
        .where(subscribers.c.business_id == business_id, subscribers.c.status == "in")
    )
    if label_id is not None:
        query = query.join(
            business_conversation_labels,
            and_(
                business_conversation_labels.c.business_id == subscribers.c.business_id,
                business_conversation_labels.c.conversation_id == subscribers.c.conversation_id,
                business_conversation_labels.c.label_id == label_id,
            ),
        )
    return list(conn.execute(query.order_by(subscribers.c.customer_id)).mappings())


# --- broadcasts ---------------------------------------------------------------------------


def insert_broadcast(conn: Connection, **values: Any) -> int:
    return int(
        conn.execute(insert(broadcasts).values(**values).returning(broadcasts.c.id)).scalar_one()
    )


def insert_recipients(
    conn: Connection, broadcast_id: int, rows: list[RowMapping], *, now: int
) -> None:
    if rows:
        conn.execute(
            insert(recipients),
            [
                {
                    "broadcast_id": broadcast_id,
                    "customer_id": row["customer_id"],
                    "conversation_id": row["conversation_id"],
                    "status": "queued",
                    "updated_at": now,
                }
                for row in rows
            ],
        )


def broadcast_by_pid(conn: Connection, business_id: int, pid: str) -> RowMapping | None:
    query = select(broadcasts).where(
        broadcasts.c.business_id == business_id, broadcasts.c.pid == pid
    )
    return conn.execute(query).mappings().first()


def broadcast_by_id(conn: Connection, broadcast_id: int) -> RowMapping | None:
    return (
        conn.execute(select(broadcasts).where(broadcasts.c.id == broadcast_id)).mappings().first()
    )


def broadcast_page(
    conn: Connection, business_id: int, *, before: int | None, limit: int
) -> list[RowMapping]:
    """A business's broadcasts, newest first, before id `before`."""
    query = select(broadcasts).where(broadcasts.c.business_id == business_id)
    if before is not None:
        query = query.where(broadcasts.c.id < before)
    return list(conn.execute(query.order_by(broadcasts.c.id.desc()).limit(limit)).mappings())


def update_broadcast(conn: Connection, broadcast_id: int, **values: Any) -> None:
    conn.execute(update(broadcasts).where(broadcasts.c.id == broadcast_id).values(**values))


def counts(conn: Connection, broadcast_ids: list[int]) -> dict[int, dict[str, int]]:
    """broadcast id -> recipients by status."""
    if not broadcast_ids:
        return {}
    rows = conn.execute(
        select(recipients.c.broadcast_id, recipients.c.status, func.count())
        .where(recipients.c.broadcast_id.in_(broadcast_ids))
        .group_by(recipients.c.broadcast_id, recipients.c.status)
    ).all()
    result: dict[int, dict[str, int]] = {}
    for broadcast_id, status, n in rows:
        result.setdefault(int(broadcast_id), {})[str(status)] = int(n)
    return result


def queued_recipients(conn: Connection, broadcast_id: int, *, limit: int) -> list[RowMapping]:
    query = (
        select(recipients)
        .where(recipients.c.broadcast_id == broadcast_id, recipients.c.status == "queued")
        .order_by(recipients.c.customer_id)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def recipient(conn: Connection, broadcast_id: int, customer_id: int) -> RowMapping | None:
    query = select(recipients).where(
        recipients.c.broadcast_id == broadcast_id, recipients.c.customer_id == customer_id
    )
    return conn.execute(query).mappings().first()


def set_recipient(
    conn: Connection, broadcast_id: int, customer_id: int, *, now: int, **values: Any
) -> bool:
    """Settle a queued recipient (status, reason, message_id); whether it was still queued."""
    result = conn.execute(
        update(recipients)
        .where(
            recipients.c.broadcast_id == broadcast_id,
            recipients.c.customer_id == customer_id,
            recipients.c.status == "queued",
        )
        .values(updated_at=now, **values)
    )
    return bool(result.rowcount)


def settle_recipient(
    conn: Connection, broadcast_id: int, customer_id: int, *, now: int, **values: Any
) -> None:
    """Record what became of a recipient claimed by `set_recipient`."""
    conn.execute(
        update(recipients)
        .where(recipients.c.broadcast_id == broadcast_id, recipients.c.customer_id == customer_id)
        .values(updated_at=now, **values)
    )


def cancel_queued(conn: Connection, broadcast_id: int, *, now: int) -> int:
    result = conn.execute(
        update(recipients)
        .where(recipients.c.broadcast_id == broadcast_id, recipients.c.status == "queued")
        .values(status="cancelled", updated_at=now)
    )
    return int(result.rowcount)


def skip_opted_out(conn: Connection, business_id: int, customer_id: int, *, now: int) -> list[int]:
    """The customer opted out: their queued deliveries in the business's broadcasts are
    skipped (`opted_out`). Returns the broadcasts touched."""
    ids = [
        int(row[0])
        for row in conn.execute(
            select(recipients.c.broadcast_id)
            .join(broadcasts, broadcasts.c.id == recipients.c.broadcast_id)
            .where(
                broadcasts.c.business_id == business_id,
                recipients.c.customer_id == customer_id,
                recipients.c.status == "queued",
            )
        )
    ]
    if ids:
        conn.execute(
            update(recipients)
            .where(
                recipients.c.broadcast_id.in_(ids),
                recipients.c.customer_id == customer_id,
                recipients.c.status == "queued",
            )
            .values(status="skipped", reason="opted_out", updated_at=now)
        )
    return ids


def recipient_page(
    conn: Connection, broadcast_id: int, *, status: str | None, after: int | None, limit: int
) -> list[RowMapping]:
    """Recipients with their account and message, by customer id, after `after`."""
    query = (
        select(
            recipients,
            users.c.pid,
            users.c.handle,
            users.c.display_name,
            users.c.deactivated_at,
            conversations.c.pid.label("conversation_pid"),
            messages.c.pid.label("message_pid"),
        )
        .join(users, users.c.id == recipients.c.customer_id)
        .join(conversations, conversations.c.id == recipients.c.conversation_id)
        .outerjoin(messages, messages.c.id == recipients.c.message_id)
        .where(recipients.c.broadcast_id == broadcast_id)
    )
    if status is not None:
        query = query.where(recipients.c.status == status)
    if after is not None:
        query = query.where(recipients.c.customer_id > after)
    return list(conn.execute(query.order_by(recipients.c.customer_id).limit(limit)).mappings())
