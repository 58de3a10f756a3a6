"""SQL for a business's webhooks (endpoints, deliveries, attempts) and its API tokens.
Functions take a Connection and run inside the caller's named transaction."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from backchannel.store.tables import (
    business_api_tokens,
    business_webhook_attempts,
    business_webhook_deliveries,
    business_webhooks,
    users,
)

# --- endpoints ----------------------------------------------------------------------------


def insert_webhook(
    conn: Connection,
    *,
    pid: str,
    business_id: int,
    url: str,
    events: list[str],
    description: str | None,
    secret: str,
    enabled: bool,
    created_by: int,
    now: int,
) -> None:
    conn.execute(
        insert(business_webhooks).values(
            pid=pid,
            business_id=business_id,
            url=url,
            events=orjson.dumps(events).decode(),
            description=description,
            secret=secret,
            enabled=int(enabled),
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
    )


def count_webhooks(conn: Connection, business_id: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(business_webhooks)
            .where(business_webhooks.c.business_id == business_id)
        ).scalar_one()
    )


def webhooks_of(conn: Connection, business_id: int) -> list[RowMapping]:
    return list(
        conn.execute(
            select(business_webhooks)
            .where(business_webhooks.c.business_id == business_id)
            .order_by(business_webhooks.c.id)
        ).mappings()
    )


def enabled_webhooks(conn: Connection, business_id: int) -> list[RowMapping]:
    """The business's enabled endpoints (the caller picks those subscribed to an event)."""
    return list(
        conn.execute(
            select(business_webhooks.c.id, business_webhooks.c.events).where(
                business_webhooks.c.business_id == business_id, business_webhooks.c.enabled == 1
            )
        ).mappings()
    )


def webhook_by_pid(conn: Connection, business_id: int, pid: str) -> RowMapping | None:
    return (
        conn.execute(
            select(business_webhooks).where(
                business_webhooks.c.business_id == business_id, business_webhooks.c.pid == pid
            )
        )
        .mappings()
        .first()
    )


def update_webhook(conn: Connection, webhook_id: int, **values: Any) -> None:
    if "events" in values:
        values["events"] = orjson.dumps(values["events"]).decode()
    if "enabled" in values:
        values["enabled"] = int(values["enabled"])
    conn.execute(
        update(business_webhooks).where(business_webhooks.c.id == webhook_id).values(**values)
    )


def delete_webhook(conn: Connection, webhook_id: int) -> None:
    """The endpoint, its deliveries and their attempts."""
    deliveries = select(business_webhook_deliveries.c.id).where(
        business_webhook_deliveries.c.webhook_id == webhook_id
    )
    conn.execute(
        delete(business_webhook_attempts).where(
            business_webhook_attempts.c.delivery_id.in_(deliveries)
        )
    )
    conn.execute(
        delete(business_webhook_deliveries).where(
            business_webhook_deliveries.c.webhook_id == webhook_id
        )
    )
    conn.execute(delete(business_webhooks).where(business_webhooks.c.id == webhook_id))


def add_failure(conn: Connection, webhook_id: int, *, now: int) -> int:
    """Count one more failed attempt in a row; returns the count."""
    conn.execute(
        update(business_webhooks)
        .where(business_webhooks.c.id == webhook_id)
        .values(failures=business_webhooks.c.failures + 1, updated_at=now)
    )
    return int(
        conn.execute(
            select(business_webhooks.c.failures).where(business_webhooks.c.id == webhook_id)
        ).scalar_one()
    )


def reset_failures(conn: Connection, webhook_id: int) -> None:
    conn.execute(
        update(business_webhooks)
        .where(business_webhooks.c.id == webhook_id, business_webhooks.c.failures != 0)
        .values(failures=0)
    )


def disable(conn: Connection, webhook_id: int, *, reason: str, now: int) -> bool:
    """Turn an enabled endpoint off; whether it was on (so one node tells the team)."""
    result = conn.execute(
        update(business_webhooks)
        .where(business_webhooks.c.id == webhook_id, business_webhooks.c.enabled == 1)
        .values(enabled=0, disabled_reason=reason, updated_at=now)
    )
    return result.rowcount == 1


# --- deliveries ---------------------------------------------------------------------------

DELIVERY_WITH_WEBHOOK = (
    business_webhook_deliveries,
    business_webhooks.c.pid.label("webhook_pid"),
    business_webhooks.c.business_id,
    business_webhooks.c.url,
    business_webhooks.c.secret,
    business_webhooks.c.enabled,
)


def insert_delivery(
    conn: Connection, *, pid: str, webhook_id: int, type: str, body: bytes, now: int
) -> int:
    result = conn.execute(
        insert(business_webhook_deliveries).values(
            pid=pid,
            webhook_id=webhook_id,
            type=type,
            body=body.decode(),
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def delivery(conn: Connection, delivery_id: int) -> RowMapping | None:
    """A delivery with its endpoint's url, secret, state and business."""
    return (
        conn.execute(
            select(*DELIVERY_WITH_WEBHOOK)
            .join(
                business_webhooks,
                business_webhooks.c.id == business_webhook_deliveries.c.webhook_id,
            )
            .where(business_webhook_deliveries.c.id == delivery_id)
        )
        .mappings()
        .first()
    )


def delivery_by_pid(conn: Connection, webhook_id: int, pid: str) -> RowMapping | None:
    return (
        conn.execute(
            select(business_webhook_deliveries).where(
                business_webhook_deliveries.c.webhook_id == webhook_id,
                business_webhook_deliveries.c.pid == pid,
            )
        )
        .mappings()
        .first()
    )


def update_delivery(conn: Connection, delivery_id: int, **values: Any) -> None:
    conn.execute(
        update(business_webhook_deliveries)
        .where(business_webhook_deliveries.c.id == delivery_id)
        .values(**values)
    )


def deliveries_page(
    conn: Connection, webhook_id: int, *, before: int | None, limit: int
) -> list[RowMapping]:
    """Newest first, ids below `before` (a cursor) when set."""
    query = select(business_webhook_deliveries).where(
        business_webhook_deliveries.c.webhook_id == webhook_id
    )
    if before is not None:
        query = query.where(business_webhook_deliveries.c.id < before)
    return list(
        conn.execute(
            query.order_by(business_webhook_deliveries.c.id.desc()).limit(limit)
        ).mappings()
    )


def record_attempt(
    conn: Connection,
    delivery_id: int,
    *,
    attempt: int,
    status_code: int | None,
    latency_ms: int | None,
    error: str | None,
    now: int,
) -> None:
    conn.execute(
        insert(business_webhook_attempts).values(
            delivery_id=delivery_id,
            attempt=attempt,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            at=now,
        )
    )


def attempts_for(conn: Connection, delivery_ids: list[int]) -> dict[int, list[RowMapping]]:
    if not delivery_ids:
        return {}
    found: dict[int, list[RowMapping]] = {}
    rows = conn.execute(
        select(business_webhook_attempts)
        .where(business_webhook_attempts.c.delivery_id.in_(delivery_ids))
        .order_by(business_webhook_attempts.c.delivery_id, business_webhook_attempts.c.attempt)
    ).mappings()
    for row in rows:
        found.setdefault(int(row["delivery_id"]), []).append(row)
    return found


def prune_deliveries(conn: Connection, webhook_id: int, *, before: int) -> None:
    """Forget the endpoint's finished deliveries created before `before` (ms)."""
    old = select(business_webhook_deliveries.c.id).where(
        business_webhook_deliveries.c.webhook_id == webhook_id,
        business_webhook_deliveries.c.created_at < before,
        business_webhook_deliveries.c.state != "pending",
    )
    conn.execute(
        delete(business_webhook_attempts).where(business_webhook_attempts.c.delivery_id.in_(old))
    )
    conn.execute(
        delete(business_webhook_deliveries).where(
            business_webhook_deliveries.c.webhook_id == webhook_id,
            business_webhook_deliveries.c.created_at < before,
            business_webhook_deliveries.c.state != "pending",
        )
    )


# --- API tokens ---------------------------------------------------------------------------


def insert_token(
    conn: Connection,
    *,
    pid: str,
    business_id: int,
    name: str,
    role: str,
    token_hash: str,
    created_by: int,
    now: int,
) -> None:
    conn.execute(
        insert(business_api_tokens).values(
            pid=pid,
            business_id=business_id,
            name=name,
            role=role,
            token_hash=token_hash,
            created_by=created_by,
            created_at=now,
        )
    )


def tokens_of(conn: Connection, business_id: int) -> list[RowMapping]:
    return list(
        conn.execute(
            select(business_api_tokens)
            .where(business_api_tokens.c.business_id == business_id)
            .order_by(business_api_tokens.c.id)
        ).mappings()
    )


def token_by_pid(conn: Connection, business_id: int, pid: str) -> RowMapping | None:
    return (
        conn.execute(
            select(business_api_tokens).where(
                business_api_tokens.c.business_id == business_id,
                business_api_tokens.c.pid == pid,
            )
        )
        .mappings()
        .first()
    )


def token_role(conn: Connection, token_id: int) -> str | None:
    """The role of a token that still stands (None: revoked)."""
    role = conn.execute(
        select(business_api_tokens.c.role).where(business_api_tokens.c.id == token_id)
    ).scalar_one_or_none()
    return None if role is None else str(role)


def token_with_business(conn: Connection, token_hash: str) -> RowMapping | None:
    """A token and its business's account (active ones only), by the token's hash."""
    return (
        conn.execute(
            select(
                business_api_tokens.c.id.label("token_id"),
                business_api_tokens.c.name.label("token_name"),
                business_api_tokens.c.role,
                business_api_tokens.c.last_used_at,
                users.c.id,
                users.c.pid,
                users.c.handle,
                users.c.display_name,
                users.c.created_at,
            )
            .join(users, users.c.id == business_api_tokens.c.business_id)
            .where(
                business_api_tokens.c.token_hash == token_hash,
                users.c.deactivated_at.is_(None),
                users.c.suspended_at.is_(None),
            )
        )
        .mappings()
        .first()
    )


def touch_token(conn: Connection, token_id: int, now: int) -> None:
    conn.execute(
        update(business_api_tokens)
        .where(business_api_tokens.c.id == token_id)
        .values(last_used_at=now)
    )


def delete_token(conn: Connection, token_id: int) -> None:
    conn.execute(delete(business_api_tokens).where(business_api_tokens.c.id == token_id))
