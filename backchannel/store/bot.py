"""SQL for the FAQ bot (its settings, knowledge list and state per conversation) and for
approvals (restricted members, held replies). Functions take a Connection and run inside
the caller's named transaction."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from backchannel.store.tables import (
    business_approvals,
    business_bot_conversations,
    business_bot_entries,
    business_bots,
    business_restricted_members,
    conversations,
    messages,
)

# --- settings -------------------------------------------------------------------------------


def settings(conn: Connection, business_id: int) -> RowMapping | None:
    return (
        conn.execute(select(business_bots).where(business_bots.c.business_id == business_id))
        .mappings()
        .first()
    )


def put_settings(conn: Connection, business_id: int, **values: Any) -> None:
    """Write the bot's settings (all columns on the first write)."""
    done = conn.execute(
        update(business_bots).where(business_bots.c.business_id == business_id).values(**values)
    )
    if done.rowcount == 0:
        conn.execute(insert(business_bots).values(business_id=business_id, **values))


# --- the knowledge list ---------------------------------------------------------------------


def insert_entry(conn: Connection, **values: Any) -> None:
    conn.execute(insert(business_bot_entries).values(**_json(values)))


def update_entry(conn: Connection, entry_id: int, **values: Any) -> None:
    conn.execute(
        update(business_bot_entries)
        .where(business_bot_entries.c.id == entry_id)
        .values(**_json(values))
    )


def delete_entry(conn: Connection, entry_id: int) -> None:
    conn.execute(delete(business_bot_entries).where(business_bot_entries.c.id == entry_id))


def entries(conn: Connection, business_id: int) -> list[RowMapping]:
    """The business's entries, oldest first."""
    return list(
        conn.execute(
            select(business_bot_entries)
            .where(business_bot_entries.c.business_id == business_id)
            .order_by(business_bot_entries.c.id)
        ).mappings()
    )


def count_entries(conn: Connection, business_id: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(business_bot_entries)
            .where(business_bot_entries.c.business_id == business_id)
        ).scalar_one()
    )


def entry_by_pid(conn: Connection, business_id: int, pid: str) -> RowMapping | None:
    return (
        conn.execute(
            select(business_bot_entries).where(
                business_bot_entries.c.business_id == business_id,
                business_bot_entries.c.pid == pid,
            )
        )
        .mappings()
        .first()
    )


_JSON_COLUMNS = ("alternatives", "keywords", "quick_replies", "offered")


def _json(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (orjson.dumps(v).decode() if k in _JSON_COLUMNS and v is not None else v)
        for k, v in values.items()
    }


def loads(raw: str | None) -> list[str]:
    """A JSON list column's value ([] for null)."""
    return list(orjson.loads(raw)) if raw else []


# --- the bot in a conversation --------------------------------------------------------------


def conversation(conn: Connection, business_id: int, conversation_id: int) -> RowMapping | None:
    return (
        conn.execute(
            select(business_bot_conversations).where(
                business_bot_conversations.c.business_id == business_id,
                business_bot_conversations.c.conversation_id == conversation_id,
            )
        )
        .mappings()
        .first()
    )


def put_conversation(
    conn: Connection, business_id: int, conversation_id: int, *, now: int, **values: Any
) -> None:
    values = _json({**values, "updated_at": now})
    done = conn.execute(
        update(business_bot_conversations)
        .where(
            business_bot_conversations.c.business_id == business_id,
            business_bot_conversations.c.conversation_id == conversation_id,
        )
        .values(**values)
    )
    if done.rowcount == 0:
        conn.execute(
            insert(business_bot_conversations).values(
                business_id=business_id, conversation_id=conversation_id, **values
            )
        )


# --- restricted members ---------------------------------------------------------------------


def is_restricted(conn: Connection, member_id: int) -> bool:
    return (
        conn.execute(
            select(business_restricted_members.c.member_id).where(
                business_restricted_members.c.member_id == member_id
            )
        ).first()
        is not None
    )


def restrict(conn: Connection, *, member_id: int, business_id: int, by: int, now: int) -> bool:
    """Flag a membership (idempotent); whether it was not flagged before."""
    if is_restricted(conn, member_id):
        return False
    conn.execute(
        insert(business_restricted_members).values(
            member_id=member_id, business_id=business_id, set_by=by, created_at=now
        )
    )
    return True


def unrestrict(conn: Connection, member_id: int) -> bool:
    done = conn.execute(
        delete(business_restricted_members).where(
            business_restricted_members.c.member_id == member_id
        )
    )
    return bool(done.rowcount)


def restricted_member_ids(conn: Connection, business_id: int) -> set[int]:
    return {
        int(row[0])
        for row in conn.execute(
            select(business_restricted_members.c.member_id).where(
                business_restricted_members.c.business_id == business_id
            )
        )
    }


# --- approvals ------------------------------------------------------------------------------

APPROVAL_COLUMNS = (
    *business_approvals.c,
    conversations.c.pid.label("conversation_pid"),
    messages.c.pid.label("message_pid"),
)


def insert_approval(conn: Connection, **values: Any) -> None:
    conn.execute(insert(business_approvals).values(**values))


def _approvals() -> Any:
    return (
        select(*APPROVAL_COLUMNS)
        .join(conversations, conversations.c.id == business_approvals.c.conversation_id)
        .outerjoin(messages, messages.c.id == business_approvals.c.message_id)
    )


def approval_by_pid(conn: Connection, business_id: int, pid: str) -> RowMapping | None:
    return (
        conn.execute(
            _approvals().where(
                business_approvals.c.business_id == business_id, business_approvals.c.pid == pid
            )
        )
        .mappings()
        .first()
    )


def approval_by_txn(
    conn: Connection, business_id: int, author_id: int, txn_id: str
) -> RowMapping | None:
    return (
        conn.execute(
            _approvals().where(
                business_approvals.c.business_id == business_id,
                business_approvals.c.author_id == author_id,
                business_approvals.c.txn_id == txn_id,
            )
        )
        .mappings()
        .first()
    )


def approvals_page(
    conn: Connection,
    business_id: int,
    *,
    state: str | None,
    author_id: int | None,
    before: int | None,
    limit: int,
) -> list[RowMapping]:
    """Held replies, newest first; of one author when `author_id` is set."""
    query = _approvals().where(business_approvals.c.business_id == business_id)
    if state is not None:
        query = query.where(business_approvals.c.state == state)
    if author_id is not None:
        query = query.where(business_approvals.c.author_id == author_id)
    if before is not None:
        query = query.where(business_approvals.c.id < before)
    return list(
        conn.execute(query.order_by(business_approvals.c.id.desc()).limit(limit)).mappings()
    )


def decide(conn: Connection, approval_id: int, **values: Any) -> bool:
    """Decide a pending approval; False when it was decided already (a race lost)."""
    done = conn.execute(
        update(business_approvals)
        .where(business_approvals.c.id == approval_id, business_approvals.c.state == "pending")
        .values(**values)
    )
    return bool(done.rowcount)
