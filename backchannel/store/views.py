"""SQL of saved inbox views (services/inbox_views.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, or_, select, update

from backchannel.store.tables import business_views

Row = Mapping[Any, Any]


def insert_view(
    conn: Connection,
    *,
    pid: str,
    business_id: int,
    owner_id: int | None,
    name: str,
    filters: dict[str, Any],
    created_by: int,
    now: int,
) -> Row:
    return (
        conn.execute(
            insert(business_views)
            .values(
                pid=pid,
                business_id=business_id,
                owner_id=owner_id,
                name=name,
                filters=orjson.dumps(filters).decode(),
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
            .returning(*business_views.c)
        )
        .mappings()
        .one()
    )


def views_for(conn: Connection, business_id: int, user_id: int) -> list[Row]:
    """The team's shared views and the user's own, shared first, each by name."""
    return list(
        conn.execute(
            select(business_views)
            .where(
                business_views.c.business_id == business_id,
                or_(business_views.c.owner_id.is_(None), business_views.c.owner_id == user_id),
            )
            .order_by(business_views.c.owner_id.is_not(None), business_views.c.name)
        ).mappings()
    )


def view_by_pid(conn: Connection, business_id: int, user_id: int, pid: str) -> Row | None:
    """A view the user can see (shared, or their own), or None."""
    return (
        conn.execute(
            select(business_views).where(
                business_views.c.business_id == business_id,
                business_views.c.pid == pid,
                or_(business_views.c.owner_id.is_(None), business_views.c.owner_id == user_id),
            )
        )
        .mappings()
        .first()
    )


def update_view(conn: Connection, view_id: int, **values: Any) -> None:
    if "filters" in values:
        values["filters"] = orjson.dumps(values["filters"]).decode()
    conn.execute(update(business_views).where(business_views.c.id == view_id).values(**values))


def delete_view(conn: Connection, view_id: int) -> None:
    conn.execute(delete(business_views).where(business_views.c.id == view_id))


def delete_owned_by(conn: Connection, business_id: int, user_id: int) -> None:
    """A teammate left: their own views go with them."""
    conn.execute(
        delete(business_views).where(
            business_views.c.business_id == business_id, business_views.c.owner_id == user_id
        )
    )
