"""SQL for conversations and their members."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from backchannel.store.accounts import USER_COLUMNS
from backchannel.store.messages import deleted_for, visible_to
from backchannel.store.prepared import Prepared
from backchannel.store.safety import blocked_between
from backchannel.store.tables import (
    conversations,
    member_spans,
    members,
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
    conversations.c.disappear_seconds,
    conversations.c.disappear_from,
)
MEMBERSHIP_COLUMNS = (
    members.c.role,
    members.c.joined_position,
    members.c.read_position,
    members.c.folder,
    members.c.request_state,
    members.c.request_from,
    members.c.request_at,
    members.c.request_messages,
    members.c.declined_at,
    members.c.archived_position,
    members.c.hidden_position,
    members.c.muted_until,
    members.c.pinned_at,
)


# In a direct conversation, `other_*` is the other member's side: their request state
# (a request *to them*) and a block either way. NULL / false in groups.
_CONVERSATION_FOR_MEMBER = Prepared(
    "conversation_for_member",
    """
    SELECT c.id, c.pid, c.kind, c.title, c.created_at, c.last_position, c.last_message_at,
           c.business, c.disappear_seconds, c.disappear_from, m.role, m.joined_position, m.read_position, m.folder, m.request_state,
           m.request_from, m.request_at, m.request_messages, m.declined_at,
           m.archived_position, m.hidden_position, m.muted_until, m.pinned_at,
           o.user_id AS other_id, o.request_state AS other_request_state,
           o.request_at AS other_request_at, o.request_messages AS other_request_messages,
           o.declined_at AS other_declined_at,
           CASE WHEN EXISTS (SELECT 1 FROM blocks b
                             WHERE b.blocker_id = o.user_id AND b.blocked_id = m.user_id)
                THEN 1 ELSE 0 END AS blocked_by_other,
           CASE WHEN EXISTS (SELECT 1 FROM blocks b
                             WHERE b.blocker_id = m.user_id AND b.blocked_id = o.user_id)
                THEN 1 ELSE 0 END AS blocking_other
    FROM conversations c
    JOIN members m ON m.conversation_id = c.id
    LEFT JOIN members o
      ON o.conversation_id = c.id AND c.kind = 'direct' AND o.user_id <> m.user_id
    WHERE c.pid = :pid AND m.user_id = :user_id
    """,
)


def conversation_for_member(conn: Connection, pid: str, user_id: int) -> Mapping[Any, Any] | None:
    """The conversation with this public id and the user's membership, or None.

    None both when the conversation does not exist and when the user is not a
    member: callers turn both into the same 404. (Hot path: prepared SQL.)
    """
    return _CONVERSATION_FOR_MEMBER(conn, pid=pid, user_id=user_id).mapping()


def set_membership(conn: Connection, conversation_id: int, user_id: int, **values: object) -> None:
    """Change a member's own view of a conversation (folder, request, archive, mute, pin)."""
    conn.execute(
        update(members)
        .where(members.c.conversation_id == conversation_id, members.c.user_id == user_id)
        .values(**values)
    )


def count_request_message(conn: Connection, conversation_id: int, recipient_id: int) -> None:
    """One more message sent in the pending request to `recipient_id`."""
    conn.execute(
        update(members)
        .where(members.c.conversation_id == conversation_id, members.c.user_id == recipient_id)
        .values(request_messages=members.c.request_messages + 1)
    )


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
    requests_from: dict[int, int] | None = None,
) -> None:
    """Make users members from `position` on (inclusive), with one span each.

    `requests_from`: user id -> who asked, for members who join by a message request
    (their Requests folder, pending until they accept)."""
    asked = requests_from or {}
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
                "folder": "requests" if user_id in asked else "primary",
                "request_state": "pending" if user_id in asked else None,
                "request_from": asked.get(user_id),
                "request_at": now if user_id in asked else None,
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


def member_rows(
    conn: Connection, conversation_ids: list[int], *, viewer_id: int | None = None
) -> list[RowMapping]:
    """Members with their profiles, in join order, for several conversations at once.

    With `viewer_id`, each row also says whether a block stands between that member and
    the viewer (`blocked_with_viewer`), for what the viewer may learn of them."""
    if not conversation_ids:
        return []
    blocked: ColumnElement[Any] = (
        literal(False) if viewer_id is None else blocked_between(viewer_id, members.c.user_id)
    )
    return list(
        conn.execute(
            select(
                members.c.conversation_id,
                members.c.role,
                members.c.joined_position,
                members.c.read_position,
                members.c.request_state,
                members.c.request_at,
                members.c.declined_at,
                members.c.request_messages,
                blocked.label("blocked_with_viewer"),
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


def other_direct_member(conn: Connection, conversation_id: int, user_id: int) -> int | None:
    """In a direct conversation, the member who is not `user_id`; None in groups."""
    return conn.execute(
        select(members.c.user_id)
        .join(conversations, conversations.c.id == members.c.conversation_id)
        .where(
            members.c.conversation_id == conversation_id,
            members.c.user_id != user_id,
            conversations.c.kind == "direct",
        )
    ).scalar()


def signal_audience(conn: Connection, conversation_id: int, user_id: int) -> list[int]:
    """Who gets the user's ephemeral signals (typing) in a conversation: the other members,
    but none holding it as an unanswered request and none in a block with the user."""
    return list(
        conn.execute(
            select(members.c.user_id).where(
                members.c.conversation_id == conversation_id,
                members.c.user_id != user_id,
                members.c.request_state.is_(None),
                ~blocked_between(user_id, members.c.user_id),
            )
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


def _pinned() -> ColumnElement[int]:
    return case((members.c.pinned_at.is_not(None), 1), else_=0)


def _set_aside(position: Any) -> ColumnElement[bool]:
    """Archived or hidden at `position`, with no activity since."""
    return and_(position.is_not(None), conversations.c.last_position <= position)


def _folder_filter(folder: str | None, *, requests_since: int) -> list[ColumnElement[bool]]:
    """Which memberships a folder lists. None: the inbox (primary and general)."""
    accepted = [
        members.c.request_state.is_(None),
        ~_set_aside(members.c.hidden_position),
    ]
    if folder is None:
        return [*accepted, ~_set_aside(members.c.archived_position)]
    if folder in ("primary", "general"):
        return [
            *accepted,
            ~_set_aside(members.c.archived_position),
            members.c.folder == folder,
        ]
    if folder == "archived":
        return [*accepted, _set_aside(members.c.archived_position)]
    # requests | hidden: pending, not expired, with something to read
    return [
        members.c.request_state == "pending",
        members.c.folder == folder,
        members.c.request_at > requests_since,
    ]


def inbox_page(
    conn: Connection,
    user_id: int,
    *,
    before: tuple[int, int] | None,
    limit: int,
    only_pid: str | None = None,
    only_pids: Sequence[str] | None = None,
    folder: str | None = None,
    requests_since: int = 0,
) -> list[RowMapping]:
    """A folder of a user's conversations, pinned first, then by last activity, newest
    first, in one statement. `before`: the (pinned, last_position) of the previous page's
    last row. `requests_since`: requests from before it (ms) have expired.

    Each row carries the membership, the id of the last message the user can see (not
    hidden or private to someone else, not before they joined) and their unread count.
    With `only_pid`, that one conversation whatever its folder; with `only_pids`, those of
    them the user is a member of (up to `limit`).
    """
    hidden = deleted_for(user_id)
    last_message_id = (
        select(messages.c.id)
        .where(
            messages.c.conversation_id == conversations.c.id,
            messages.c.position >= members.c.joined_position,
            visible_to(user_id),
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
            messages.c.private_to.is_(None),  # private to me: I sent it
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
    pinned = _pinned()
    query = (
        select(
            *CONVERSATION_COLUMNS,
            *MEMBERSHIP_COLUMNS,
            last_message_id.label("last_message_id"),
            unread.label("unread_count"),
            count.label("member_count"),
            pinned.label("pinned"),
        )
        .join(members, members.c.conversation_id == conversations.c.id)
        .where(members.c.user_id == user_id)
        .order_by(pinned.desc(), conversations.c.last_position.desc())
        .limit(limit)
    )
    if only_pid is not None:
        return list(conn.execute(query.where(conversations.c.pid == only_pid)).mappings())
    if only_pids is not None:
        return list(conn.execute(query.where(conversations.c.pid.in_(only_pids))).mappings())
    query = query.where(*_folder_filter(folder, requests_since=requests_since))
    if folder in ("requests", "hidden"):
        query = query.where(last_message_id.is_not(None))
    if before is not None:
        was_pinned, position = before
        query = query.where(
            or_(
                pinned < was_pinned,
                and_(pinned == was_pinned, conversations.c.last_position < position),
            )
        )
    return list(conn.execute(query).mappings())
