"""SQL for the event log: append, and read a user's slice of it.

All these statements are on hot paths (every send, every sync, every fan-out), so they are
prepared SQL (see store/prepared.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from backchannel.store.prepared import Prepared
from backchannel.store.tables import events, messages

_APPEND = Prepared(
    "append_event",
    """
    INSERT INTO events (position, conversation_id, user_id, message_position, type, payload,
                        created_at, actor_id, business_id)
    VALUES (:position, :conversation_id, :user_id, :message_position, :type, :payload,
            :created_at, :actor_id, :business_id)
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
# A business team member `bm` (store/tables.py business_members) sees events while their
# span covers them and their access has not expired; an agent with a narrower scope only
# of the conversations `bc` assigned to them or to a team of theirs.
_IN_TEAM_SPAN = """
    e.position >= bm.start_position
    AND (bm.end_position IS NULL OR e.position <= bm.end_position)
    AND (bm.expires_at IS NULL OR bm.expires_at > :now)
"""
_IN_TEAM_SCOPE = """
    (bm.scope = 'all' OR bc.assignee_id = bm.user_id
     OR (bm.scope = 'team' AND bc.team_id IN (SELECT tm.team_id FROM business_team_members tm
                                              WHERE tm.user_id = bm.user_id)))
"""
# The team sees its business's conversations as the business does (its member span `s`),
# from when each became a business conversation; not the business account itself nor the
# customer (members already), and DISTINCT for whoever is on two businesses' teams that
# talk to each other. `{own}`: the test that the event is no one's own and no team's; for
# one user's sync it is written with unary `+` so SQLite does not walk the whole range of
# the log by those columns' indexes but starts from the user's teams (same meaning).
_TEAM_CONVERSATION_EVENTS = f"""
    FROM business_members bm
    JOIN business_conversations bc ON bc.business_id = bm.business_id
    JOIN events e ON e.conversation_id = bc.conversation_id
    JOIN member_spans s ON s.conversation_id = bc.conversation_id AND s.user_id = bc.business_id
    WHERE {{own}}
      AND e.position > :since AND e.position <= :upto
      AND bm.user_id <> bm.business_id AND bc.customer_id <> bm.user_id
      AND e.position >= bc.start_position
      AND {_IN_TEAM_SPAN}
      AND {_IN_TEAM_SCOPE}
      AND {_VISIBLE_IN_SPAN}
"""
# The team's own events (notes, assignments, the team changing): never a member's. Found
# from the team rows by `ix_events_business_position` (hence `+` on `user_id`).
_TEAM_EVENTS = f"""
    FROM business_members bm
    JOIN events e ON e.business_id = bm.business_id
    LEFT JOIN business_conversations bc
        ON bc.business_id = e.business_id AND bc.conversation_id = e.conversation_id
    WHERE +e.user_id IS NULL
      AND e.position > :since AND e.position <= :upto
      AND {_IN_TEAM_SPAN}
      AND (e.conversation_id IS NULL OR ({_IN_TEAM_SCOPE} AND bc.customer_id <> bm.user_id))
"""
# The user's conversation events, then the events addressed to them, then their teams'.
_FOR_USER = Prepared(
    "events_for_user",
    f"""
    SELECT position, type, payload, created_at FROM (
        SELECT e.position, e.type, e.payload, e.created_at
        FROM member_spans s
        JOIN events e ON e.conversation_id = s.conversation_id
        WHERE s.user_id = :user_id
          AND e.user_id IS NULL AND e.business_id IS NULL
          AND e.position > :since AND e.position <= :upto
          AND {_VISIBLE_IN_SPAN}
        UNION ALL
        SELECT e.position, e.type, e.payload, e.created_at
        FROM events e
        WHERE e.user_id = :user_id AND e.position > :since AND e.position <= :upto
        UNION ALL
        SELECT DISTINCT e.position, e.type, e.payload, e.created_at
        {_TEAM_CONVERSATION_EVENTS.format(own="+e.user_id IS NULL AND +e.business_id IS NULL")}
          AND bm.user_id = :user_id
        UNION ALL
        SELECT e.position, e.type, e.payload, e.created_at
        {_TEAM_EVENTS} AND bm.user_id = :user_id
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
    WHERE e.user_id IS NULL AND e.business_id IS NULL
      AND e.position > :since AND e.position <= :upto
      AND {_VISIBLE_IN_SPAN}
    UNION ALL
    SELECT e.position, e.user_id
    FROM events e
    WHERE e.user_id IS NOT NULL AND e.position > :since AND e.position <= :upto
    UNION ALL
    SELECT DISTINCT e.position, bm.user_id
    {_TEAM_CONVERSATION_EVENTS.format(own="e.user_id IS NULL AND e.business_id IS NULL")}
    UNION ALL
    SELECT e.position, bm.user_id
    {_TEAM_EVENTS}
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
    business_id: int | None = None,
) -> None:
    """Append one event. `user_id` set: only that user ever sees it. `message_position`:
    the event is about that message, and only members who can see it get the event.
    `actor_id`: who caused it; nobody in a block with them gets it. `business_id`: the
    business team's event (about `conversation_id`, if set), never its members'."""
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
        business_id=business_id,
    )


def current_position(conn: Connection) -> int:
    """The highest position committed: every event at or below it is visible."""
    return int(_CURRENT(conn).scalar_one())


def events_for_user(
    conn: Connection, user_id: int, *, since: int, upto: int, limit: int, now: int
) -> list[tuple[int, str, str, int]]:
    """(position, type, payload, created_at) of the events in (since, upto] the user may see
    (`now`, in ms: a team member's access may have expired)."""
    rows: Sequence[Any] = _FOR_USER(
        conn, user_id=user_id, since=since, upto=upto, limit=limit, now=now
    ).all()
    return [(int(row[0]), row[1], row[2], int(row[3])) for row in rows]


def events_in_range(conn: Connection, *, since: int, upto: int) -> list[tuple[int, str, str, int]]:
    """(position, type, payload, created_at) of every event in (since, upto], in order."""
    rows: Sequence[Any] = _RANGE(conn, since=since, upto=upto).all()
    return [(int(row[0]), row[1], row[2], int(row[3])) for row in rows]


def audience(conn: Connection, *, since: int, upto: int, now: int) -> list[tuple[int, int]]:
    """(position, user_id) for every user who may see each event in (since, upto]."""
    rows: Sequence[Any] = _AUDIENCE(conn, since=since, upto=upto, now=now).all()
    return [(int(row[0]), int(row[1])) for row in rows]


def set_payload(conn: Connection, position: int, payload: str) -> None:
    """Rewrite one event's payload: only to erase content (`services/erase.py`)."""
    conn.execute(update(events).where(events.c.position == position).values(payload=payload))


def content_events_of(
    conn: Connection, conversation_id: int, positions: list[int]
) -> list[tuple[int, int, str]]:
    """The edits and previews (position, message position, type) of the messages at
    `positions` in one conversation: one range scan of its log from the first of them."""
    rows = conn.execute(
        select(events.c.position, events.c.message_position, events.c.type).where(
            events.c.conversation_id == conversation_id,
            events.c.position > min(positions),
            events.c.message_position.in_(positions),
            events.c.type.in_(("message.edited", "message.preview")),
        )
    )
    return [(int(p), int(m), str(k)) for p, m, k in rows]


def replies_created(conn: Connection, message_ids: list[int]) -> list[tuple[int, str]]:
    """The `message.created` events (position, payload) of the replies to those messages:
    their payloads hold a quote of them."""
    replies = select(messages.c.position).where(messages.c.reply_to_id.in_(message_ids))
    rows = conn.execute(
        select(events.c.position, events.c.payload).where(
            events.c.position.in_(replies), events.c.type == "message.created"
        )
    )
    return [(int(position), str(payload)) for position, payload in rows]
