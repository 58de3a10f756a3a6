"""SQL for who may reach whom: blocks, hidden words, and the facts the policy needs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, and_, delete, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backchannel.store.accounts import USER_COLUMNS
from backchannel.store.tables import blocks, follows, hidden_words, users


def relationship(conn: Connection, sender_id: int, recipient_id: int) -> RowMapping:
    """The facts `domain.policy.reach` weighs, in one statement: follows both ways, a
    block either way, and the recipient's settings (`dm_inbox`, `dm_requests`: NULL for
    the deployment's default) and birth date."""
    follows_sender = exists().where(
        follows.c.follower_id == recipient_id, follows.c.followee_id == sender_id
    )
    follows_recipient = exists().where(
        follows.c.follower_id == sender_id, follows.c.followee_id == recipient_id
    )
    return (
        conn.execute(
            select(
                users.c.dm_inbox,
                users.c.dm_requests,
                users.c.birth_date,
                follows_sender.label("recipient_follows_sender"),
                follows_recipient.label("sender_follows_recipient"),
                blocked_between(sender_id, recipient_id).label("blocked"),
            ).where(users.c.id == recipient_id)
        )
        .mappings()
        .one()
    )


def blocked_between(a: int, b: int | ColumnElement[Any]) -> ColumnElement[bool]:
    """EXISTS: a block in either direction between users `a` and `b`."""
    return exists().where(
        or_(
            and_(blocks.c.blocker_id == a, blocks.c.blocked_id == b),
            and_(blocks.c.blocker_id == b, blocks.c.blocked_id == a),
        )
    )


def is_blocked_by(conn: Connection, *, blocker_id: int, blocked_id: int) -> bool:
    return (
        conn.execute(
            select(blocks.c.created_at).where(
                blocks.c.blocker_id == blocker_id, blocks.c.blocked_id == blocked_id
            )
        ).first()
        is not None
    )


def block_pairs(conn: Connection, user_id: int, others: list[int]) -> set[int]:
    """Those of `others` in a block with `user_id`, either way."""
    if not others:
        return set()
    rows = conn.execute(
        select(blocks.c.blocker_id, blocks.c.blocked_id).where(
            or_(
                and_(blocks.c.blocker_id == user_id, blocks.c.blocked_id.in_(others)),
                and_(blocks.c.blocked_id == user_id, blocks.c.blocker_id.in_(others)),
            )
        )
    )
    return {blocked if blocker == user_id else blocker for blocker, blocked in rows}


def add_block(conn: Connection, *, blocker_id: int, blocked_id: int, now: int) -> bool:
    """Block (idempotent). True when the block is new."""
    dialect = conn.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    result = conn.execute(
        insert(blocks)
        .values(blocker_id=blocker_id, blocked_id=blocked_id, created_at=now)
        .on_conflict_do_nothing()
    )
    return bool(result.rowcount)


def remove_block(conn: Connection, *, blocker_id: int, blocked_id: int) -> bool:
    result = conn.execute(
        delete(blocks).where(blocks.c.blocker_id == blocker_id, blocks.c.blocked_id == blocked_id)
    )
    return bool(result.rowcount)


def blocked_page(
    conn: Connection, blocker_id: int, *, before: tuple[int, int] | None, limit: int
) -> list[RowMapping]:
    """Whom a user blocked, most recent first, keyset-paginated by (created_at, id)."""
    query = (
        select(*USER_COLUMNS, blocks.c.created_at.label("blocked_at"))
        .join(blocks, blocks.c.blocked_id == users.c.id)
        .where(blocks.c.blocker_id == blocker_id)
        .order_by(blocks.c.created_at.desc(), users.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        at, user_id = before
        query = query.where(
            or_(blocks.c.created_at < at, and_(blocks.c.created_at == at, users.c.id < user_id))
        )
    return list(conn.execute(query).mappings())


def hidden_words_of(conn: Connection, user_id: int) -> list[str]:
    return list(
        conn.execute(
            select(hidden_words.c.phrase)
            .where(hidden_words.c.user_id == user_id)
            .order_by(hidden_words.c.phrase)
        ).scalars()
    )


def replace_hidden_words(conn: Connection, user_id: int, phrases: list[str], *, now: int) -> None:
    conn.execute(delete(hidden_words).where(hidden_words.c.user_id == user_id))
    if phrases:
        conn.execute(
            hidden_words.insert(),
            [{"user_id": user_id, "phrase": p, "created_at": now} for p in phrases],
        )
