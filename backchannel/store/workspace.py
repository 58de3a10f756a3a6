"""SQL for what a business sets up for its team: teams within it, saved replies, and its
contacts (what it knows of each customer). Functions take a Connection and run inside the
caller's named transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from backchannel.store.tables import (
    business_contacts,
    business_conversations,
    business_saved_replies,
    business_team_members,
    business_teams,
    users,
)

# --- teams --------------------------------------------------------------------------------


def insert_team(conn: Connection, *, pid: str, business_id: int, name: str, now: int) -> RowMapping:
    return (
        conn.execute(
            insert(business_teams)
            .values(pid=pid, business_id=business_id, name=name, created_at=now)
            .returning(*business_teams.c)
        )
        .mappings()
        .one()
    )


def team_name_taken(conn: Connection, business_id: int, name: str) -> bool:
    row = conn.execute(
        select(business_teams.c.id).where(
            business_teams.c.business_id == business_id, business_teams.c.name == name
        )
    ).first()
    return row is not None


def teams_of(conn: Connection, business_id: int) -> list[RowMapping]:
    return list(
        conn.execute(
            select(business_teams)
            .where(business_teams.c.business_id == business_id)
            .order_by(business_teams.c.name)
        ).mappings()
    )


def team_by_pid(conn: Connection, business_id: int, pid: str) -> RowMapping | None:
    return (
        conn.execute(
            select(business_teams).where(
                business_teams.c.business_id == business_id, business_teams.c.pid == pid
            )
        )
        .mappings()
        .first()
    )


def team_by_id(conn: Connection, team_id: int) -> RowMapping | None:
    return (
        conn.execute(select(business_teams).where(business_teams.c.id == team_id))
        .mappings()
        .first()
    )


def team_members(conn: Connection, team_ids: list[int]) -> dict[int, list[RowMapping]]:
    if not team_ids:
        return {}
    rows = conn.execute(
        select(
            business_team_members.c.team_id,
            users.c.pid,
            users.c.handle,
            users.c.display_name,
            users.c.deactivated_at,
        )
        .join(users, users.c.id == business_team_members.c.user_id)
        .where(business_team_members.c.team_id.in_(team_ids))
        .order_by(users.c.handle)
    ).mappings()
    found: dict[int, list[RowMapping]] = {}
    for row in rows:
        found.setdefault(int(row["team_id"]), []).append(row)
    return found


def join_team(conn: Connection, team_id: int, user_id: int) -> None:
    present = conn.execute(
        select(business_team_members.c.team_id).where(
            business_team_members.c.team_id == team_id, business_team_members.c.user_id == user_id
        )
    ).first()
    if present is None:
        conn.execute(insert(business_team_members).values(team_id=team_id, user_id=user_id))


def leave_team(conn: Connection, team_id: int, user_id: int) -> None:
    conn.execute(
        delete(business_team_members).where(
            business_team_members.c.team_id == team_id, business_team_members.c.user_id == user_id
        )
    )


def leave_teams_of(conn: Connection, business_id: int, user_id: int) -> None:
    """Someone left the business: out of its teams too."""
    ids = select(business_teams.c.id).where(business_teams.c.business_id == business_id)
    conn.execute(
        delete(business_team_members).where(
            business_team_members.c.user_id == user_id, business_team_members.c.team_id.in_(ids)
        )
    )


def delete_team(conn: Connection, team_id: int) -> None:
    conn.execute(
        update(business_conversations)
        .where(business_conversations.c.team_id == team_id)
        .values(team_id=None)
    )
    conn.execute(delete(business_team_members).where(business_team_members.c.team_id == team_id))
    conn.execute(delete(business_teams).where(business_teams.c.id == team_id))


# --- saved replies ------------------------------------------------------------------------


def insert_saved_reply(conn: Connection, **values: Any) -> RowMapping:
    return (
        conn.execute(
            insert(business_saved_replies).values(**values).returning(*business_saved_replies.c)
        )
        .mappings()
        .one()
    )


def update_saved_reply(conn: Connection, reply_id: int, **values: Any) -> RowMapping:
    return (
        conn.execute(
            update(business_saved_replies)
            .where(business_saved_replies.c.id == reply_id)
            .values(**values)
            .returning(*business_saved_replies.c)
        )
        .mappings()
        .one()
    )


def delete_saved_reply(conn: Connection, reply_id: int) -> None:
    conn.execute(delete(business_saved_replies).where(business_saved_replies.c.id == reply_id))


def shortcut_taken(
    conn: Connection, business_id: int, shortcut: str, *, other_than: int = 0
) -> bool:
    row = conn.execute(
        select(business_saved_replies.c.id).where(
            business_saved_replies.c.business_id == business_id,
            business_saved_replies.c.shortcut == shortcut,
            business_saved_replies.c.id != other_than,
        )
    ).first()
    return row is not None


def saved_replies_of(conn: Connection, business_id: int) -> list[RowMapping]:
    return list(
        conn.execute(
            select(business_saved_replies)
            .where(business_saved_replies.c.business_id == business_id)
            .order_by(business_saved_replies.c.shortcut)
        ).mappings()
    )


def saved_reply_by_pid(conn: Connection, business_id: int, pid: str) -> RowMapping | None:
    return (
        conn.execute(
            select(business_saved_replies).where(
                business_saved_replies.c.business_id == business_id,
                business_saved_replies.c.pid == pid,
            )
        )
        .mappings()
        .first()
    )


# --- contacts -----------------------------------------------------------------------------


def contact(conn: Connection, business_id: int, customer_id: int) -> RowMapping | None:
    return (
        conn.execute(
            select(business_contacts).where(
                business_contacts.c.business_id == business_id,
                business_contacts.c.customer_id == customer_id,
            )
        )
        .mappings()
        .first()
    )


def put_contact(conn: Connection, business_id: int, customer_id: int, **values: Any) -> None:
    if contact(conn, business_id, customer_id) is None:
        conn.execute(
            insert(business_contacts).values(
                business_id=business_id, customer_id=customer_id, **values
            )
        )
    else:
        conn.execute(
            update(business_contacts)
            .where(
                business_contacts.c.business_id == business_id,
                business_contacts.c.customer_id == customer_id,
            )
            .values(**values)
        )


def is_customer(conn: Connection, business_id: int, customer_id: int) -> bool:
    """Whether the user has a conversation in the business's inbox."""
    row = conn.execute(
        select(business_conversations.c.conversation_id).where(
            business_conversations.c.business_id == business_id,
            business_conversations.c.customer_id == customer_id,
        )
    ).first()
    return row is not None
