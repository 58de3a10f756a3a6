"""SQL for the business inbox: businesses, their team, their conversations' working state,
labels, notes, agent attribution and the audit log. Functions take a Connection and run
inside the caller's named transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from backchannel.store.tables import (
    business_audit,
    business_conversation_labels,
    business_conversations,
    business_labels,
    business_members,
    business_message_agents,
    business_notes,
    business_team_members,
    business_teams,
    businesses,
    conversations,
    members,
    users,
)

MEMBER_COLUMNS = (
    business_members.c.id.label("member_id"),
    business_members.c.business_id,
    business_members.c.user_id,
    business_members.c.role,
    business_members.c.scope,
    business_members.c.expires_at,
    business_members.c.created_at.label("member_since"),
    users.c.pid,
    users.c.handle,
    users.c.display_name,
    users.c.deactivated_at,
)
STATE_COLUMNS = (
    business_conversations.c.business_id,
    business_conversations.c.conversation_id,
    business_conversations.c.customer_id,
    business_conversations.c.start_position,
    business_conversations.c.status,
    business_conversations.c.snoozed_until,
    business_conversations.c.assignee_id,
    business_conversations.c.team_id,
    business_conversations.c.priority,
    business_conversations.c.created_at,
    business_conversations.c.updated_at,
    business_conversations.c.waiting_since,
    business_conversations.c.last_message_at,
    business_conversations.c.away_sent_at,
    conversations.c.pid.label("conversation_pid"),
)


# --- businesses ---------------------------------------------------------------------------


def insert_business(conn: Connection, user_id: int, *, timezone: str, now: int) -> None:
    conn.execute(insert(businesses).values(user_id=user_id, created_at=now, timezone=timezone))


def business(conn: Connection, user_id: int) -> RowMapping | None:
    return (
        conn.execute(select(businesses).where(businesses.c.user_id == user_id)).mappings().first()
    )


def update_business(conn: Connection, user_id: int, **values: Any) -> None:
    conn.execute(update(businesses).where(businesses.c.user_id == user_id).values(**values))


def business_ids(conn: Connection, user_ids: Iterable[int]) -> set[int]:
    """Which of these users are businesses."""
    ids = list(user_ids)
    if not ids:
        return set()
    rows = conn.execute(select(businesses.c.user_id).where(businesses.c.user_id.in_(ids)))
    return {int(row[0]) for row in rows}


# --- the team -----------------------------------------------------------------------------


def open_member(conn: Connection, business_id: int, user_id: int) -> RowMapping | None:
    """The user's open team row (not removed; perhaps expired), or None."""
    return (
        conn.execute(
            select(*MEMBER_COLUMNS)
            .join(users, users.c.id == business_members.c.user_id)
            .where(
                business_members.c.business_id == business_id,
                business_members.c.user_id == user_id,
                business_members.c.end_position.is_(None),
            )
        )
        .mappings()
        .first()
    )


def add_member(
    conn: Connection,
    *,
    business_id: int,
    user_id: int,
    role: str,
    scope: str,
    expires_at: int | None,
    added_by: int | None,
    position: int,
    now: int,
) -> None:
    conn.execute(
        insert(business_members).values(
            business_id=business_id,
            user_id=user_id,
            role=role,
            scope=scope,
            expires_at=expires_at,
            added_by=added_by,
            start_position=position,
            created_at=now,
        )
    )


def update_member(conn: Connection, member_id: int, **values: Any) -> None:
    conn.execute(
        update(business_members).where(business_members.c.id == member_id).values(**values)
    )


def close_member(conn: Connection, member_id: int, *, position: int, now: int) -> None:
    """End a membership: the span stops at `position` (inclusive: they see their removal)."""
    update_member(conn, member_id, end_position=position, removed_at=now)


def members_of(conn: Connection, business_id: int) -> list[RowMapping]:
    """The open team rows (expired ones included: their access shows as expired)."""
    return list(
        conn.execute(
            select(*MEMBER_COLUMNS)
            .join(users, users.c.id == business_members.c.user_id)
            .where(
                business_members.c.business_id == business_id,
                business_members.c.end_position.is_(None),
            )
            .order_by(business_members.c.created_at, business_members.c.id)
        ).mappings()
    )


def owners_left(conn: Connection, business_id: int, *, now: int, without: int) -> int:
    """Owners with access now, other than member row `without`."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(business_members)
            .where(
                business_members.c.business_id == business_id,
                business_members.c.end_position.is_(None),
                business_members.c.role == "owner",
                business_members.c.id != without,
                or_(business_members.c.expires_at.is_(None), business_members.c.expires_at > now),
            )
        ).scalar_one()
    )


def memberships_of(conn: Connection, user_id: int, *, now: int) -> list[RowMapping]:
    """The businesses the user works for now (open, unexpired rows), with the business."""
    return list(
        conn.execute(
            select(
                business_members.c.role,
                business_members.c.scope,
                business_members.c.expires_at,
                users.c.id.label("business_id"),
                users.c.pid,
                users.c.handle,
                users.c.display_name,
                users.c.deactivated_at,
            )
            .join(users, users.c.id == business_members.c.business_id)
            .where(
                business_members.c.user_id == user_id,
                business_members.c.end_position.is_(None),
                or_(business_members.c.expires_at.is_(None), business_members.c.expires_at > now),
                users.c.deactivated_at.is_(None),
            )
            .order_by(users.c.handle)
        ).mappings()
    )


def team_ids_of(conn: Connection, user_id: int, business_id: int) -> list[int]:
    rows = conn.execute(
        select(business_team_members.c.team_id)
        .join(business_teams, business_teams.c.id == business_team_members.c.team_id)
        .where(
            business_team_members.c.user_id == user_id, business_teams.c.business_id == business_id
        )
    )
    return [int(row[0]) for row in rows]


# --- conversations ------------------------------------------------------------------------


def insert_conversation_state(
    conn: Connection,
    *,
    business_id: int,
    conversation_id: int,
    customer_id: int,
    position: int,
    now: int,
) -> None:
    conn.execute(
        insert(business_conversations).values(
            business_id=business_id,
            conversation_id=conversation_id,
            customer_id=customer_id,
            start_position=position,
            created_at=now,
            updated_at=now,
        )
    )
    conn.execute(
        update(conversations).where(conversations.c.id == conversation_id).values(business=1)
    )


def _states(*where: ColumnElement[bool]) -> Select[Any]:
    """Working states (with the conversation's pid) matching `where`."""
    return (
        select(*STATE_COLUMNS)
        .join(conversations, conversations.c.id == business_conversations.c.conversation_id)
        .where(*where)
    )


def states_of_conversation(conn: Connection, conversation_id: int) -> list[RowMapping]:
    """The business rows of a conversation (two when two businesses talk)."""
    query = _states(business_conversations.c.conversation_id == conversation_id)
    return list(conn.execute(query).mappings())


def states_of_customer(conn: Connection, business_id: int, customer_id: int) -> list[RowMapping]:
    query = _states(
        business_conversations.c.business_id == business_id,
        business_conversations.c.customer_id == customer_id,
    ).order_by(business_conversations.c.created_at)
    return list(conn.execute(query).mappings())


def state_by_ids(conn: Connection, business_id: int, conversation_id: int) -> RowMapping | None:
    query = _states(
        business_conversations.c.business_id == business_id,
        business_conversations.c.conversation_id == conversation_id,
    )
    return conn.execute(query).mappings().first()


def conversation_state(
    conn: Connection, business_id: int, conversation_pid: str
) -> RowMapping | None:
    query = _states(
        business_conversations.c.business_id == business_id,
        conversations.c.pid == conversation_pid,
    )
    return conn.execute(query).mappings().first()


def update_state(conn: Connection, business_id: int, conversation_id: int, **values: Any) -> None:
    conn.execute(
        update(business_conversations)
        .where(
            business_conversations.c.business_id == business_id,
            business_conversations.c.conversation_id == conversation_id,
        )
        .values(**values)
    )


def inbox_page(
    conn: Connection,
    *,
    business_id: int,
    status: str | None,
    assignee: int | str | None,
    label_id: int | None,
    priority: str | None,
    waiting_since_before: int | None,
    unread: bool,
    visible_to: tuple[int, str, list[int]] | None,
    before: tuple[int, int] | None,
    limit: int,
) -> list[RowMapping]:
    """A page of a business's conversations, most recent activity first. `assignee`: a
    user id, "none" (unassigned) or None (anyone). `visible_to`: (user id, scope, team
    ids) of a narrowed agent. `unread`: the business has not read the newest message."""
    bc = business_conversations
    last = func.coalesce(bc.c.last_message_at, bc.c.created_at)
    query = (
        select(
            *STATE_COLUMNS,
            last.label("sort_at"),
            members.c.read_position,
            conversations.c.last_position,
        )
        .join(conversations, conversations.c.id == bc.c.conversation_id)
        .join(
            members,
            and_(
                members.c.conversation_id == bc.c.conversation_id,
                members.c.user_id == bc.c.business_id,
            ),
        )
        .where(bc.c.business_id == business_id)
    )
    if status is not None:
        query = query.where(bc.c.status == status)
    if assignee == "none":
        query = query.where(bc.c.assignee_id.is_(None))
    elif isinstance(assignee, int):
        query = query.where(bc.c.assignee_id == assignee)
    if priority is not None:
        query = query.where(bc.c.priority == priority)
    if waiting_since_before is not None:
        query = query.where(bc.c.waiting_since <= waiting_since_before)
    if unread:
        query = query.where(members.c.read_position < conversations.c.last_position)
    if label_id is not None:
        query = query.where(
            select(business_conversation_labels.c.label_id)
            .where(
                business_conversation_labels.c.business_id == business_id,
                business_conversation_labels.c.conversation_id == bc.c.conversation_id,
                business_conversation_labels.c.label_id == label_id,
            )
            .exists()
        )
    if visible_to is not None:
        user_id, scope, teams = visible_to
        if scope == "assigned":
            query = query.where(bc.c.assignee_id == user_id)
        elif scope == "team":
            query = query.where(or_(bc.c.assignee_id == user_id, bc.c.team_id.in_(teams or [-1])))
    if before is not None:
        at, cid = before
        query = query.where(or_(last < at, and_(last == at, bc.c.conversation_id < cid)))
    query = query.order_by(last.desc(), bc.c.conversation_id.desc()).limit(limit)
    return list(conn.execute(query).mappings())


# --- labels -------------------------------------------------------------------------------


def insert_label(
    conn: Connection, *, pid: str, business_id: int, name: str, key: str, color: str, now: int
) -> RowMapping:
    return (
        conn.execute(
            insert(business_labels)
            .values(
                pid=pid, business_id=business_id, name=name, key=key, color=color, created_at=now
            )
            .returning(*business_labels.c)
        )
        .mappings()
        .one()
    )


def label_key_taken(conn: Connection, business_id: int, key: str, *, other_than: int = 0) -> bool:
    return (
        conn.execute(
            select(business_labels.c.id).where(
                business_labels.c.business_id == business_id,
                business_labels.c.key == key,
                business_labels.c.id != other_than,
            )
        ).first()
        is not None
    )


def labels_of(conn: Connection, business_id: int) -> list[RowMapping]:
    return list(
        conn.execute(
            select(business_labels)
            .where(business_labels.c.business_id == business_id)
            .order_by(business_labels.c.key)
        ).mappings()
    )


def label_by_pid(conn: Connection, business_id: int, pid: str) -> RowMapping | None:
    return (
        conn.execute(
            select(business_labels).where(
                business_labels.c.business_id == business_id, business_labels.c.pid == pid
            )
        )
        .mappings()
        .first()
    )


def update_label(conn: Connection, label_id: int, **values: Any) -> RowMapping:
    return (
        conn.execute(
            update(business_labels)
            .where(business_labels.c.id == label_id)
            .values(**values)
            .returning(*business_labels.c)
        )
        .mappings()
        .one()
    )


def delete_label(conn: Connection, label_id: int) -> None:
    conn.execute(
        delete(business_conversation_labels).where(
            business_conversation_labels.c.label_id == label_id
        )
    )
    conn.execute(delete(business_labels).where(business_labels.c.id == label_id))


def tag(conn: Connection, business_id: int, conversation_id: int, label_id: int) -> bool:
    """Put a label on a conversation; False when it was there already."""
    exists = conn.execute(
        select(business_conversation_labels.c.label_id).where(
            business_conversation_labels.c.business_id == business_id,
            business_conversation_labels.c.conversation_id == conversation_id,
            business_conversation_labels.c.label_id == label_id,
        )
    ).first()
    if exists is not None:
        return False
    conn.execute(
        insert(business_conversation_labels).values(
            business_id=business_id, conversation_id=conversation_id, label_id=label_id
        )
    )
    return True


def untag(conn: Connection, business_id: int, conversation_id: int, label_id: int) -> bool:
    result = conn.execute(
        delete(business_conversation_labels).where(
            business_conversation_labels.c.business_id == business_id,
            business_conversation_labels.c.conversation_id == conversation_id,
            business_conversation_labels.c.label_id == label_id,
        )
    )
    return bool(result.rowcount)


def labels_for(
    conn: Connection, business_id: int, conversation_ids: list[int]
) -> dict[int, list[RowMapping]]:
    if not conversation_ids:
        return {}
    rows = conn.execute(
        select(business_conversation_labels.c.conversation_id, business_labels)
        .join(business_labels, business_labels.c.id == business_conversation_labels.c.label_id)
        .where(
            business_conversation_labels.c.business_id == business_id,
            business_conversation_labels.c.conversation_id.in_(conversation_ids),
        )
        .order_by(business_labels.c.key)
    ).mappings()
    found: dict[int, list[RowMapping]] = {}
    for row in rows:
        found.setdefault(int(row["conversation_id"]), []).append(row)
    return found


# --- notes, agents, audit -----------------------------------------------------------------


def insert_note(
    conn: Connection,
    *,
    pid: str,
    business_id: int,
    conversation_id: int,
    author_id: int,
    text: str,
    mentions: list[str],
    now: int,
) -> None:
    conn.execute(
        insert(business_notes).values(
            pid=pid,
            business_id=business_id,
            conversation_id=conversation_id,
            author_id=author_id,
            text=text,
            mentions=orjson.dumps(mentions).decode() if mentions else None,
            created_at=now,
        )
    )


def notes_for(conn: Connection, business_id: int, conversation_id: int) -> list[RowMapping]:
    return list(
        conn.execute(
            select(
                business_notes.c.pid,
                business_notes.c.text,
                business_notes.c.mentions,
                business_notes.c.created_at,
                users.c.pid.label("author_pid"),
                users.c.handle.label("author_handle"),
                users.c.display_name.label("author_name"),
                users.c.deactivated_at.label("author_deactivated_at"),
            )
            .join(users, users.c.id == business_notes.c.author_id)
            .where(
                business_notes.c.business_id == business_id,
                business_notes.c.conversation_id == conversation_id,
            )
            .order_by(business_notes.c.created_at, business_notes.c.id)
        ).mappings()
    )


def record_agent(
    conn: Connection,
    *,
    message_id: int,
    business_id: int,
    agent_id: int | None,
    automation: str | None = None,
) -> None:
    conn.execute(
        insert(business_message_agents).values(
            message_id=message_id,
            business_id=business_id,
            agent_id=agent_id,
            automation=automation,
        )
    )


def agents_for(conn: Connection, message_ids: list[int]) -> dict[int, RowMapping]:
    """message id -> the agent (a user row's public fields; `pid` NULL for an automation,
    named in `automation`) who wrote it as the business."""
    if not message_ids:
        return {}
    rows = conn.execute(
        select(
            business_message_agents.c.message_id,
            business_message_agents.c.automation,
            users.c.pid,
            users.c.handle,
            users.c.display_name,
            users.c.deactivated_at,
        )
        .outerjoin(users, users.c.id == business_message_agents.c.agent_id)
        .where(business_message_agents.c.message_id.in_(message_ids))
    ).mappings()
    return {int(row["message_id"]): row for row in rows}


def audit(
    conn: Connection,
    *,
    business_id: int,
    actor_id: int,
    action: str,
    now: int,
    conversation_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        insert(business_audit).values(
            business_id=business_id,
            actor_id=actor_id,
            action=action,
            conversation_id=conversation_id,
            detail=orjson.dumps(detail).decode() if detail else None,
            at=now,
        )
    )


def audit_page(
    conn: Connection, business_id: int, *, before: int | None, limit: int, actor_id: int | None
) -> list[RowMapping]:
    query = (
        select(
            business_audit.c.id,
            business_audit.c.action,
            business_audit.c.detail,
            business_audit.c.at,
            users.c.pid,
            users.c.handle,
            users.c.display_name,
            users.c.deactivated_at,
            conversations.c.pid.label("conversation_pid"),
        )
        .join(users, users.c.id == business_audit.c.actor_id)
        .outerjoin(conversations, conversations.c.id == business_audit.c.conversation_id)
        .where(business_audit.c.business_id == business_id)
        .order_by(business_audit.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(business_audit.c.id < before)
    if actor_id is not None:
        query = query.where(business_audit.c.actor_id == actor_id)
    return list(conn.execute(query).mappings())
