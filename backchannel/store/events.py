"""SQL for the event log: append, and read a user's slice of it."""

from __future__ import annotations

from sqlalchemy import Connection, and_, insert, or_, select, union_all

from backchannel.store.tables import events, member_spans, stream_state


def append(
    conn: Connection,
    *,
    position: int,
    type: str,
    payload: str,
    now: int,
    conversation_id: int | None = None,
    user_id: int | None = None,
) -> None:
    """Append one event. `user_id` set: only that user ever sees it."""
    conn.execute(
        insert(events).values(
            position=position,
            conversation_id=conversation_id,
            user_id=user_id,
            type=type,
            payload=payload,
            created_at=now,
        )
    )


def current_position(conn: Connection) -> int:
    """The highest position committed: every event at or below it is visible."""
    return int(conn.execute(select(stream_state.c.position)).scalar_one())


def events_for_user(
    conn: Connection, user_id: int, *, since: int, upto: int, limit: int
) -> list[tuple[int, str, str, int]]:
    """(position, type, payload, created_at) of the events in (since, upto] the user may see.

    Conversation events are visible while the user's membership span covers
    their position (joining and leaving events included); events addressed to
    a user are visible to that user only.
    """
    shared = (
        select(events.c.position, events.c.type, events.c.payload, events.c.created_at)
        .join(member_spans, member_spans.c.conversation_id == events.c.conversation_id)
        .where(
            member_spans.c.user_id == user_id,
            events.c.user_id.is_(None),
            events.c.position > since,
            events.c.position <= upto,
            events.c.position >= member_spans.c.start_position,
            or_(
                member_spans.c.end_position.is_(None),
                events.c.position <= member_spans.c.end_position,
            ),
        )
    )
    personal = select(
        events.c.position, events.c.type, events.c.payload, events.c.created_at
    ).where(and_(events.c.user_id == user_id, events.c.position > since, events.c.position <= upto))
    query = union_all(shared, personal).order_by("position").limit(limit)
    return [(int(p), t, d, int(c)) for p, t, d, c in conn.execute(query)]
