"""SQL of a person's scheduled messages (services/scheduled.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from backchannel.store.tables import conversations, scheduled_messages

_COLUMNS = (*scheduled_messages.c, conversations.c.pid.label("conversation_pid"))


def _select() -> Any:
    return select(*_COLUMNS).join(
        conversations, conversations.c.id == scheduled_messages.c.conversation_id
    )


def insert_scheduled(conn: Connection, **values: Any) -> int:
    return int(
        conn.execute(
            insert(scheduled_messages).values(**values).returning(scheduled_messages.c.id)
        ).scalar_one()
    )


def by_id(conn: Connection, scheduled_id: int) -> RowMapping | None:
    return conn.execute(_select().where(scheduled_messages.c.id == scheduled_id)).mappings().first()


def mine(conn: Connection, author_id: int, pid: str) -> RowMapping | None:
    query = _select().where(
        scheduled_messages.c.author_id == author_id, scheduled_messages.c.pid == pid
    )
    return conn.execute(query).mappings().first()


def list_mine(
    conn: Connection,
    author_id: int,
    *,
    conversation_id: int | None,
    status: str | None,
    limit: int,
) -> list[RowMapping]:
    """The author's, soonest first."""
    query = _select().where(scheduled_messages.c.author_id == author_id)
    if conversation_id is not None:
        query = query.where(scheduled_messages.c.conversation_id == conversation_id)
    if status is not None:
        query = query.where(scheduled_messages.c.status == status)
    query = query.order_by(scheduled_messages.c.send_at, scheduled_messages.c.id).limit(limit)
    return list(conn.execute(query).mappings())


def pending_count(conn: Connection, author_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                scheduled_messages.c.author_id == author_id,
                scheduled_messages.c.status == "pending",
            )
        ).scalar_one()
    )


def update_scheduled(conn: Connection, scheduled_id: int, **values: Any) -> None:
    conn.execute(
        update(scheduled_messages).where(scheduled_messages.c.id == scheduled_id).values(**values)
    )
