"""SQL for data exports: the exports, their steps, and what one person may see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, and_, insert, literal, or_, select, update

from backchannel.store.messages import deleted_for, visible_to
from backchannel.store.tables import (
    blocks,
    conversations,
    export_steps,
    exports,
    follows,
    member_spans,
    members,
    message_edits,
    messages,
    users,
)

ACTIVE = ("queued", "running")

# --- exports ------------------------------------------------------------------------------


def insert_export(conn: Connection, **values: Any) -> int:
    key = conn.execute(insert(exports).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def export_by_pid(conn: Connection, pid: str) -> RowMapping | None:
    return conn.execute(select(exports).where(exports.c.pid == pid)).mappings().first()


def export_by_id(conn: Connection, export_id: int) -> RowMapping | None:
    return conn.execute(select(exports).where(exports.c.id == export_id)).mappings().first()


def exports_of(conn: Connection, user_id: int, *, kind: str, limit: int) -> list[RowMapping]:
    """A user's exports of one kind, newest first."""
    return list(
        conn.execute(
            select(exports)
            .where(exports.c.user_id == user_id, exports.c.kind == kind)
            .order_by(exports.c.created_at.desc(), exports.c.id.desc())
            .limit(limit)
        ).mappings()
    )


def active_export(
    conn: Connection, user_id: int, *, kind: str, actor_prefix: str | None = None
) -> RowMapping | None:
    """The user's export of this kind still being built (queued or running), if any; with
    `actor_prefix`, only one asked for by an actor whose name starts so."""
    query = select(exports).where(
        exports.c.user_id == user_id, exports.c.kind == kind, exports.c.state.in_(ACTIVE)
    )
    if actor_prefix is not None:
        query = query.where(exports.c.actor.startswith(actor_prefix, autoescape=True))
    return conn.execute(query.order_by(exports.c.id.desc()).limit(1)).mappings().first()


def update_export(conn: Connection, export_id: int, **values: Any) -> None:
    conn.execute(update(exports).where(exports.c.id == export_id).values(**values))


# --- steps --------------------------------------------------------------------------------


def insert_steps(conn: Connection, export_id: int, conversation_ids: list[int | None]) -> None:
    """Steps 0, 1, … in this order (None: the account's step)."""
    conn.execute(
        insert(export_steps),
        [
            {"export_id": export_id, "seq": seq, "conversation_id": conversation_id}
            for seq, conversation_id in enumerate(conversation_ids)
        ],
    )


def steps_of(conn: Connection, export_id: int) -> list[RowMapping]:
    return list(
        conn.execute(
            select(export_steps)
            .where(export_steps.c.export_id == export_id)
            .order_by(export_steps.c.seq)
        ).mappings()
    )


def finish_step(conn: Connection, export_id: int, seq: int, *, key: str, now: int) -> bool:
    """Record a step's part; False when it was recorded already (a second run of it)."""
    result = conn.execute(
        update(export_steps)
        .where(
            export_steps.c.export_id == export_id,
            export_steps.c.seq == seq,
            export_steps.c.storage_key.is_(None),
        )
        .values(storage_key=key, done_at=now)
    )
    return bool(result.rowcount)


def count_done(conn: Connection, export_id: int) -> int:
    return len(
        conn.execute(
            select(export_steps.c.seq).where(
                export_steps.c.export_id == export_id, export_steps.c.storage_key.is_not(None)
            )
        ).all()
    )


def expired_ready(conn: Connection, *, now: int, limit: int) -> list[RowMapping]:
    """Ready exports whose time is up (the sweep's safety net behind the expiry jobs)."""
    return list(
        conn.execute(
            select(exports.c.id)
            .where(exports.c.state == "ready", exports.c.expires_at <= now)
            .limit(limit)
        ).mappings()
    )


# --- what the person may see ----------------------------------------------------------------


def conversations_of(conn: Connection, user_id: int) -> list[int]:
    """Every conversation the user was ever a member of, oldest first, but for message
    requests they declined (deleted: to them those do not exist)."""
    declined = (
        select(literal(1))
        .select_from(members)
        .where(
            members.c.conversation_id == member_spans.c.conversation_id,
            members.c.user_id == user_id,
            members.c.request_state == "declined",
        )
        .exists()
    )
    rows = conn.execute(
        select(member_spans.c.conversation_id)
        .where(member_spans.c.user_id == user_id, ~declined)
        .group_by(member_spans.c.conversation_id)
        .order_by(member_spans.c.conversation_id)
    )
    return [int(row[0]) for row in rows]


def spans_of(conn: Connection, conversation_id: int, user_id: int) -> list[tuple[int, int | None]]:
    """The stretches of positions `[start, end]` (end None: still a member) the user was a
    member of the conversation for."""
    rows = conn.execute(
        select(member_spans.c.start_position, member_spans.c.end_position)
        .where(
            member_spans.c.conversation_id == conversation_id,
            member_spans.c.user_id == user_id,
        )
        .order_by(member_spans.c.start_position)
    )
    return [(int(start), None if end is None else int(end)) for start, end in rows]


def visible_message_ids(
    conn: Connection,
    *,
    conversation_id: int,
    user_id: int,
    spans: list[tuple[int, int | None]],
    up_to: int,
    after: int,
    limit: int,
) -> list[int]:
    """A page of the ids of the messages the user may see, in position order after
    `after`, up to `up_to` (inclusive): sent while they were a member (`spans`), not
    private to someone else, not deleted for them."""
    if not spans:
        return []
    hidden = deleted_for(user_id)
    within = or_(
        *(
            and_(
                messages.c.position >= start,
                messages.c.position <= (up_to if end is None else end),
            )
            for start, end in spans
        )
    )
    rows = conn.execute(
        select(messages.c.id)
        .where(
            messages.c.conversation_id == conversation_id,
            messages.c.position > after,
            messages.c.position <= up_to,
            within,
            visible_to(user_id),
            ~hidden,
        )
        .order_by(messages.c.position)
        .limit(limit)
    )
    return [int(row[0]) for row in rows]


def edits_for(conn: Connection, message_ids: list[int]) -> dict[int, list[RowMapping]]:
    """Each message's earlier texts, oldest first."""
    if not message_ids:
        return {}
    rows = conn.execute(
        select(message_edits.c.message_id, message_edits.c.previous_text, message_edits.c.edited_at)
        .where(message_edits.c.message_id.in_(message_ids))
        .order_by(message_edits.c.message_id, message_edits.c.id)
    ).mappings()
    result: dict[int, list[RowMapping]] = {}
    for row in rows:
        result.setdefault(int(row["message_id"]), []).append(row)
    return result


def expiry_of(conn: Connection, message_ids: list[int]) -> dict[int, int | None]:
    """When each message disappears (None: never, or not yet known)."""
    if not message_ids:
        return {}
    rows = conn.execute(
        select(messages.c.id, messages.c.expires_at).where(messages.c.id.in_(message_ids))
    )
    return {int(row[0]): None if row[1] is None else int(row[1]) for row in rows}


def member_users(conn: Connection, conversation_id: int) -> list[RowMapping]:
    """The current members' user rows, in the order they joined."""
    return list(
        conn.execute(
            select(users.c.pid, users.c.handle, users.c.display_name, users.c.deactivated_at)
            .join(members, members.c.user_id == users.c.id)
            .where(members.c.conversation_id == conversation_id)
            .order_by(members.c.joined_position, users.c.id)
        ).mappings()
    )


def follows_of(conn: Connection, user_id: int, *, direction: str) -> list[RowMapping]:
    """Whom the user follows (`following`) or who follows them (`followers`), with when."""
    mine, theirs = (
        (follows.c.follower_id, follows.c.followee_id)
        if direction == "following"
        else (follows.c.followee_id, follows.c.follower_id)
    )
    return list(
        conn.execute(
            select(
                users.c.pid,
                users.c.handle,
                users.c.display_name,
                users.c.deactivated_at,
                follows.c.created_at.label("since"),
            )
            .join(users, users.c.id == theirs)
            .where(mine == user_id)
            .order_by(follows.c.created_at, users.c.id)
        ).mappings()
    )


def blocks_of(conn: Connection, user_id: int) -> list[RowMapping]:
    """Whom the user blocked (never who blocked them: that stays theirs), with when."""
    return list(
        conn.execute(
            select(
                users.c.pid,
                users.c.handle,
                users.c.display_name,
                users.c.deactivated_at,
                blocks.c.created_at.label("since"),
            )
            .join(users, users.c.id == blocks.c.blocked_id)
            .where(blocks.c.blocker_id == user_id)
            .order_by(blocks.c.created_at, users.c.id)
        ).mappings()
    )


def conversation_row(conn: Connection, conversation_id: int) -> RowMapping | None:
    return (
        conn.execute(
            select(
                conversations.c.id,
                conversations.c.pid,
                conversations.c.kind,
                conversations.c.title,
                conversations.c.created_at,
            ).where(conversations.c.id == conversation_id)
        )
        .mappings()
        .first()
    )
