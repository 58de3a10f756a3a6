"""SQL for conversations and their members."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

from backchannel.store.accounts import USER_COLUMNS
from backchannel.store.prepared import Prepared
from backchannel.store.tables import (
    conversations,
    member_spans,
    members,
    message_hides,
    messages,
    users,
)

CONVERSATION_COLUMNS = (
    conversations.c.id,
    conversations.c.pid,
    conversations.c.kind,
    conversations.c.title,
    conversations.c.created_at,
    conversations.c.last_position,
    conversations.c.last_message_at,
)
MEMBERSHIP_COLUMNS = (
    members.c.role,
    members.c.joined_position,
    members.c.read_position,
)


_CONVERSATION_FOR_MEMBER = Prepared(
    "conversation_for_member",
    """
    SELECT c.id, c.pid, c.kind, c.title, c.created_at, c.last_position, c.last_message_at,
           m.role, m.joined_position, m.read_position
    FROM conversations c JOIN members m ON m.conversation_id = c.id
    WHERE c.pid = :pid AND m.user_id = :user_id
    """,
)


def conversation_for_member(conn: Connection, pid: str, user_id: int) -> Mapping[Any, Any] | None:
    """The conversation with this public id and the user's membership, or None.

    None both when the conversation does not exist and when the user is not a
    member: callers turn both into the same 404. (Hot path: prepared SQL.)
    """
    return _CONVERSATION_FOR_MEMBER(conn, pid=pid, user_id=user_id).mapping()


def conversations_for_member(
    conn: Connection, pids: list[str], user_id: int
) -> dict[str, RowMapping]:
    rows = conn.execute(
        select(*CONVERSATION_COLUMNS, *MEMBERSHIP_COLUMNS)
        .join(members, members.c.conversation_id == conversations.c.id)
        .where(conversations.c.pid.in_(pids), members.c.user_id == user_id)
    ).mappings()
    return {row["pid"]: row for row in rows}


def direct_by_key(conn: Connection, key: str) -> RowMapping | None:
    return (
        conn.execute(select(*CONVERSATION_COLUMNS).where(conversations.c.direct_key == key))
        .mappings()
        .first()
    )


def insert_conversation(
    conn: Connection,
    *,
    pid: str,
    kind: str,
    direct_key: str | None,
    title: str | None,
    created_by: int,
    position: int,
    now: int,
) -> RowMapping:
    return (
        conn.execute(
            insert(conversations)
            .values(
                pid=pid,
                kind=kind,
                direct_key=direct_key,
                title=title,
                created_by=created_by,
                created_at=now,
                last_position=position,
            )
            .returning(*CONVERSATION_COLUMNS)
        )
        .mappings()
        .one()
    )


def add_members(
    conn: Connection,
    conversation_id: int,
    user_roles: list[tuple[int, str]],
    *,
    position: int,
    now: int,
) -> None:
    """Make users members from `position` on (inclusive), with one span each."""
    conn.execute(
        insert(members),
        [
            {
                "conversation_id": conversation_id,
                "user_id": user_id,
                "role": role,
                "joined_position": position,
                "joined_at": now,
                "read_position": position,
            }
            for user_id, role in user_roles
        ],
    )
    conn.execute(
        insert(member_spans),
        [
            {"conversation_id": conversation_id, "user_id": user_id, "start_position": position}
            for user_id, _ in user_roles
        ],
    )


def remove_member(conn: Connection, conversation_id: int, user_id: int, *, position: int) -> None:
    """End a membership; the user still sees the event at `position` (their removal)."""
    conn.execute(
        delete(members).where(
            members.c.conversation_id == conversation_id, members.c.user_id == user_id
        )
    )
    conn.execute(
        update(member_spans)
        .where(
            member_spans.c.conversation_id == conversation_id,
            member_spans.c.user_id == user_id,
            member_spans.c.end_position.is_(None),
        )
        .values(end_position=position)
    )


def set_role(conn: Connection, conversation_id: int, user_id: int, role: str) -> None:
    conn.execute(
        update(members)
        .where(members.c.conversation_id == conversation_id, members.c.user_id == user_id)
        .values(role=role)
    )


def member_rows(conn: Connection, conversation_ids: list[int]) -> list[RowMapping]:
    """Members with their profiles, in join order, for several conversations at once."""
    if not conversation_ids:
        return []
    return list(
        conn.execute(
            select(
                members.c.conversation_id,
                members.c.role,
                members.c.joined_position,
                members.c.read_position,
                *USER_COLUMNS,
            )
            .join(users, users.c.id == members.c.user_id)
            .where(members.c.conversation_id.in_(conversation_ids))
            .order_by(members.c.conversation_id, members.c.joined_position, users.c.id)
        ).mappings()
    )


def member_ids(conn: Connection, conversation_id: int) -> list[int]:
    return list(
        conn.execute(
            select(members.c.user_id).where(members.c.conversation_id == conversation_id)
        ).scalars()
    )


def conversation_pid(conn: Connection, conversation_id: int) -> str:
    return str(
        conn.execute(
            select(conversations.c.pid).where(conversations.c.id == conversation_id)
        ).scalar_one()
    )


def group_ids_of(conn: Connection, user_id: int) -> list[int]:
    return list(
        conn.execute(
            select(conversations.c.id)
            .join(members, members.c.conversation_id == conversations.c.id)
            .where(members.c.user_id == user_id, conversations.c.kind == "group")
        ).scalars()
    )


def member_count(conn: Connection, conversation_id: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(members)
            .where(members.c.conversation_id == conversation_id)
        ).scalar_one()
    )


_TOUCH = Prepared(
    "touch_conversation",
    "UPDATE conversations SET last_position = :position, last_message_at = :at WHERE id = :id",
    deferrable=True,
)


def update_conversation(conn: Connection, conversation_id: int, **values: object) -> None:
    conn.execute(
        update(conversations).where(conversations.c.id == conversation_id).values(**values)
    )


def touch(conn: Connection, conversation_id: int, *, position: int, at: int) -> None:
    """Record a new message as the conversation's latest activity (hot path)."""
    _TOUCH(conn, position=position, at=at, id=conversation_id)


def set_read_position(conn: Connection, conversation_id: int, user_id: int, position: int) -> bool:
    """Move a read marker forward (never back). True when it moved."""
    result = conn.execute(
        update(members)
        .where(
            members.c.conversation_id == conversation_id,
            members.c.user_id == user_id,
            members.c.read_position < position,
        )
        .values(read_position=position)
    )
    return bool(result.rowcount)


def inbox_page(
    conn: Connection,
    user_id: int,
    *,
    before: int | None,
    limit: int,
    only_pid: str | None = None,
) -> list[RowMapping]:
    """A user's conversations by last activity, newest first, in one statement.

    Each row carries the membership, the id of the last message the user can
    see (not hidden for them, not before they joined) and their unread count.
    """
    hidden = (
        select(literal(1))
        .select_from(message_hides)
        .where(message_hides.c.user_id == user_id, message_hides.c.message_id == messages.c.id)
        .exists()
    )
    last_message_id = (
        select(messages.c.id)
        .where(
            messages.c.conversation_id == conversations.c.id,
            messages.c.position >= members.c.joined_position,
            ~hidden,
        )
        .order_by(messages.c.position.desc())
        .limit(1)
        .scalar_subquery()
    )
    unread = (
        select(func.count())
        .select_from(messages)
        .where(
            messages.c.conversation_id == conversations.c.id,
            messages.c.position > members.c.read_position,
            messages.c.sender_id != user_id,
            messages.c.unsent_at.is_(None),
            ~hidden,  # deleted for me: nothing left to read
        )
        .scalar_subquery()
    )
    others = members.alias("m2")
    count = (
        select(func.count())
        .select_from(others)
        .where(others.c.conversation_id == conversations.c.id)
        .scalar_subquery()
    )
    query = (
        select(
            *CONVERSATION_COLUMNS,
            *MEMBERSHIP_COLUMNS,
            last_message_id.label("last_message_id"),
            unread.label("unread_count"),
            count.label("member_count"),
        )
        .join(members, members.c.conversation_id == conversations.c.id)
        .where(members.c.user_id == user_id)
        .order_by(conversations.c.last_position.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(conversations.c.last_position < before)
    if only_pid is not None:
        query = query.where(conversations.c.pid == only_pid)
    return list(conn.execute(query).mappings())
