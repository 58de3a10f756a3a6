"""SQL for the event log: append, and read a user's slice of it.

All these statements are on hot paths (every send, every sync, every fan-out), so they are
prepared SQL (see store/prepared.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from backchannel.store.prepared import Prepared

_APPEND = Prepared(
    "append_event",
    """
    INSERT INTO events (position, conversation_id, user_id, message_position, type, payload,
                        created_at, actor_id)
    VALUES (:position, :conversation_id, :user_id, :message_position, :type, :payload,
            :created_at, :actor_id)
    """,
    deferrable=True,
)
_CURRENT = Prepared("current_position", "SELECT position FROM stream_state WHERE id = 1")
# Who may see a conversation event `e`, as member span `s` of user `s.user_id`: while the
# span covers the event's position (joining and leaving events included) and, for events
# about a message, the message's too; receipts only for users who share them; events with
# an actor (reactions, receipts) not across a block, either way. One text for
# a user's sync (_FOR_USER) and the node's fan-out (_AUDIENCE), so the two cannot drift.
_VISIBLE_IN_SPAN = """
    e.position >= s.start_position
    AND (e.message_position IS NULL OR e.message_position >= s.start_position)
    AND (s.end_position IS NULL OR e.position <= s.end_position)
    AND (e.type <> 'receipt.updated'
         OR (SELECT u.read_receipts FROM users u WHERE u.id = s.user_id) = 1)
    AND (e.actor_id IS NULL
         OR NOT EXISTS (SELECT 1 FROM blocks b
                        WHERE (b.blocker_id = s.user_id AND b.blocked_id = e.actor_id)
                           OR (b.blocker_id = e.actor_id AND b.blocked_id = s.user_id)))
"""
# The user's conversation events, then the events addressed to them.
_FOR_USER = Prepared(
    "events_for_user",
    f"""
    SELECT position, type, payload, created_at FROM (
        SELECT e.position, e.type, e.payload, e.created_at
        FROM member_spans s
        JOIN events e ON e.conversation_id = s.conversation_id
        WHERE s.user_id = :user_id
          AND e.user_id IS NULL
          AND e.position > :since AND e.position <= :upto
          AND {_VISIBLE_IN_SPAN}
        UNION ALL
        SELECT e.position, e.type, e.payload, e.created_at
        FROM events e
        WHERE e.user_id = :user_id AND e.position > :since AND e.position <= :upto
    ) AS visible
    ORDER BY position
    LIMIT :limit
    """,
)
# For every user at once: who may see each event in (since, upto].
# tests/test_sync_properties.py proves it gives each user what _FOR_USER gives them.
_AUDIENCE = Prepared(
    "event_audience",
    f"""
    SELECT e.position, s.user_id
    FROM events e
    JOIN member_spans s ON s.conversation_id = e.conversation_id
    WHERE e.user_id IS NULL
      AND e.position > :since AND e.position <= :upto
      AND {_VISIBLE_IN_SPAN}
    UNION ALL
    SELECT e.position, e.user_id
    FROM events e
    WHERE e.user_id IS NOT NULL AND e.position > :since AND e.position <= :upto
    """,
)
_RANGE = Prepared(
    "events_range",
    """
    SELECT position, type, payload, created_at FROM events
    WHERE position > :since AND position <= :upto
    ORDER BY position
    """,
)


def append(
    conn: Connection,
    *,
    position: int,
    type: str,
    payload: str,
    now: int,
    conversation_id: int | None = None,
    user_id: int | None = None,
    message_position: int | None = None,
    actor_id: int | None = None,
) -> None:
    """Append one event. `user_id` set: only that user ever sees it. `message_position`:
    the event is about that message, and only members who can see it get the event.
    `actor_id`: who caused it; nobody in a block with them gets it."""
    _APPEND(
        conn,
        position=position,
        conversation_id=conversation_id,
        user_id=user_id,
        message_position=message_position,
        type=type,
        payload=payload,
        created_at=now,
        actor_id=actor_id,
    )


def current_position(conn: Connection) -> int:
    """The highest position committed: every event at or below it is visible."""
    return int(_CURRENT(conn).scalar_one())


def events_for_user(
    conn: Connection, user_id: int, *, since: int, upto: int, limit: int
) -> list[tuple[int, str, str, int]]:
    """(position, type, payload, created_at) of the events in (since, upto] the user may see."""
    rows: Sequence[Any] = _FOR_USER(
        conn, user_id=user_id, since=since, upto=upto, limit=limit
    ).all()
    return [(int(row[0]), row[1], row[2], int(row[3])) for row in rows]


def events_in_range(conn: Connection, *, since: int, upto: int) -> list[tuple[int, str, str, int]]:
    """(position, type, payload, created_at) of every event in (since, upto], in order."""
    rows: Sequence[Any] = _RANGE(conn, since=since, upto=upto).all()
    return [(int(row[0]), row[1], row[2], int(row[3])) for row in rows]


def audience(conn: Connection, *, since: int, upto: int) -> list[tuple[int, int]]:
    """(position, user_id) for every user who may see each event in (since, upto]."""
    rows: Sequence[Any] = _AUDIENCE(conn, since=since, upto=upto).all()
    return [(int(row[0]), int(row[1])) for row in rows]
