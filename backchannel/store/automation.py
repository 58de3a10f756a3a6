"""SQL for a business's automation: rules and their run log, assignment settings and the
team's availability for round-robin. Functions take a Connection and run inside the
caller's named transaction."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, and_, delete, func, insert, select, update

from backchannel.store.tables import (
    business_assignment,
    business_availability,
    business_conversations,
    business_members,
    business_rule_runs,
    business_rules,
    conversations,
    users,
)

# --- rules --------------------------------------------------------------------------------


def insert_rule(conn: Connection, **values: Any) -> RowMapping:
    key = conn.execute(insert(business_rules).values(**values)).inserted_primary_key
    assert key is not None
    row = rule_by_id(conn, int(key[0]))
    assert row is not None
    return row


def next_position(conn: Connection, business_id: int) -> int:
    last = conn.execute(
        select(func.max(business_rules.c.position)).where(
            business_rules.c.business_id == business_id
        )
    ).scalar()
    return 0 if last is None else int(last) + 1


def rule_by_id(conn: Connection, rule_id: int) -> RowMapping | None:
    return (
        conn.execute(select(business_rules).where(business_rules.c.id == rule_id))
        .mappings()
        .first()
    )


def rule_by_pid(conn: Connection, business_id: int, pid: str) -> RowMapping | None:
    return (
        conn.execute(
            select(business_rules).where(
                business_rules.c.business_id == business_id, business_rules.c.pid == pid
            )
        )
        .mappings()
        .first()
    )


def rules_of(conn: Connection, business_id: int, *, trigger: str | None = None) -> list[RowMapping]:
    """The business's rules in running order; with `trigger`, only its enabled ones of
    that trigger type."""
    query = select(business_rules).where(business_rules.c.business_id == business_id)
    if trigger is not None:
        query = query.where(business_rules.c.trigger == trigger, business_rules.c.enabled == 1)
    query = query.order_by(business_rules.c.position, business_rules.c.id)
    return list(conn.execute(query).mappings())


def update_rule(conn: Connection, rule_id: int, **values: Any) -> RowMapping:
    conn.execute(update(business_rules).where(business_rules.c.id == rule_id).values(**values))
    row = rule_by_id(conn, rule_id)
    assert row is not None
    return row


def delete_rule(conn: Connection, rule_id: int) -> None:
    conn.execute(delete(business_rule_runs).where(business_rule_runs.c.rule_id == rule_id))
    conn.execute(delete(business_rules).where(business_rules.c.id == rule_id))


def insert_run(
    conn: Connection,
    *,
    business_id: int,
    rule_id: int,
    conversation_id: int,
    trigger: str,
    outcome: list[dict[str, Any]],
    now: int,
) -> None:
    conn.execute(
        insert(business_rule_runs).values(
            business_id=business_id,
            rule_id=rule_id,
            conversation_id=conversation_id,
            trigger=trigger,
            outcome=orjson.dumps(outcome).decode(),
            at=now,
        )
    )


def runs_page(
    conn: Connection, rule_id: int, *, before: int | None, limit: int
) -> list[RowMapping]:
    """A rule's runs, newest first, with the conversation's public id."""
    query = (
        select(business_rule_runs, conversations.c.pid.label("conversation_pid"))
        .join(conversations, conversations.c.id == business_rule_runs.c.conversation_id)
        .where(business_rule_runs.c.rule_id == rule_id)
        .order_by(business_rule_runs.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(business_rule_runs.c.id < before)
    return list(conn.execute(query).mappings())


# --- assignment ---------------------------------------------------------------------------


def assignment(conn: Connection, business_id: int) -> RowMapping | None:
    return (
        conn.execute(
            select(business_assignment).where(business_assignment.c.business_id == business_id)
        )
        .mappings()
        .first()
    )


def put_assignment(conn: Connection, business_id: int, **values: Any) -> None:
    if assignment(conn, business_id) is None:
        conn.execute(insert(business_assignment).values(business_id=business_id, **values))
    else:
        conn.execute(
            update(business_assignment)
            .where(business_assignment.c.business_id == business_id)
            .values(**values)
        )


def put_availability(conn: Connection, business_id: int, user_id: int, **values: Any) -> None:
    where = and_(
        business_availability.c.business_id == business_id,
        business_availability.c.user_id == user_id,
    )
    found = conn.execute(select(business_availability.c.user_id).where(where)).first()
    if found is None:
        conn.execute(
            insert(business_availability).values(business_id=business_id, user_id=user_id, **values)
        )
    else:
        conn.execute(update(business_availability).where(where).values(**values))


def candidates(conn: Connection, business_id: int) -> list[RowMapping]:
    """Everyone on the team now, with their availability, their open or pending
    conversations (`open_count`) and when round-robin last gave them one."""
    load = (
        select(
            business_conversations.c.assignee_id,
            func.count().label("open_count"),
        )
        .where(
            business_conversations.c.business_id == business_id,
            business_conversations.c.status.in_(("open", "pending")),
            business_conversations.c.assignee_id.is_not(None),
        )
        .group_by(business_conversations.c.assignee_id)
        .subquery()
    )
    query = (
        select(
            business_members.c.user_id,
            business_members.c.role,
            business_members.c.expires_at,
            business_members.c.created_at.label("member_since"),
            users.c.pid,
            users.c.handle,
            users.c.display_name,
            users.c.deactivated_at,
            func.coalesce(business_availability.c.available, 0).label("available"),
            business_availability.c.last_assigned_at,
            func.coalesce(load.c.open_count, 0).label("open_count"),
        )
        .join(users, users.c.id == business_members.c.user_id)
        .outerjoin(
            business_availability,
            and_(
                business_availability.c.business_id == business_id,
                business_availability.c.user_id == business_members.c.user_id,
            ),
        )
        .outerjoin(load, load.c.assignee_id == business_members.c.user_id)
        .where(
            business_members.c.business_id == business_id,
            business_members.c.end_position.is_(None),
        )
        .order_by(business_members.c.created_at, business_members.c.user_id)
    )
    return list(conn.execute(query).mappings())
