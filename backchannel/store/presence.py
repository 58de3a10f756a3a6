"""SQL for presence: who may see whose activity, and "last active".

Who may see a user's presence is decided here, in one place: people who are
currently members of a conversation with them (rows in `members`; leaving
deletes the row) that neither of them holds as an unanswered message request, both
having `activity_status` on, neither deactivated, no block between them either way.
"""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, exists, select, update

from backchannel.store.safety import blocked_between
from backchannel.store.tables import members, users

# Ids per UPDATE ... WHERE id IN (...): well under every engine's bound-parameter limit.
ID_CHUNK = 500


def audience(conn: Connection, user_id: int) -> tuple[RowMapping | None, list[int]]:
    """The user (`handle`, `last_active_at`) and the ids of everyone who may see their
    presence. Empty when the user has activity status off or is deactivated."""
    user = (
        conn.execute(
            select(users.c.handle, users.c.last_active_at, users.c.activity_status).where(
                users.c.id == user_id, users.c.deactivated_at.is_(None)
            )
        )
        .mappings()
        .first()
    )
    if user is None or not user["activity_status"]:
        return user, []
    mine, theirs = members.alias("mine"), members.alias("theirs")
    viewers = conn.execute(
        select(theirs.c.user_id)
        .distinct()
        .join(mine, mine.c.conversation_id == theirs.c.conversation_id)
        .join(users, users.c.id == theirs.c.user_id)
        .where(
            mine.c.user_id == user_id,
            theirs.c.user_id != user_id,
            mine.c.request_state.is_(None),
            theirs.c.request_state.is_(None),
            users.c.activity_status == 1,
            users.c.deactivated_at.is_(None),
            ~blocked_between(user_id, theirs.c.user_id),
        )
    ).scalars()
    return user, list(viewers)


def visible_to(conn: Connection, viewer_id: int, handles: list[str]) -> dict[str, RowMapping]:
    """handle -> (`id`, `last_active_at`) of the users among `handles` whose presence the
    viewer may see. The viewer's own row is included (it is theirs to see)."""
    viewer_on = conn.execute(
        select(users.c.activity_status).where(users.c.id == viewer_id)
    ).scalar()
    mine, theirs = members.alias("mine"), members.alias("theirs")
    shares_a_conversation = exists(
        select(1)
        .select_from(mine)
        .join(theirs, theirs.c.conversation_id == mine.c.conversation_id)
        .where(
            mine.c.user_id == viewer_id,
            theirs.c.user_id == users.c.id,
            mine.c.request_state.is_(None),
            theirs.c.request_state.is_(None),
        )
    )
    query = select(users.c.id, users.c.handle, users.c.last_active_at).where(
        users.c.handle.in_(handles), users.c.deactivated_at.is_(None)
    )
    if viewer_on:
        query = query.where(
            (users.c.id == viewer_id)
            | (
                (users.c.activity_status == 1)
                & shares_a_conversation
                & ~blocked_between(viewer_id, users.c.id)
            )
        )
    else:
        query = query.where(users.c.id == viewer_id)
    return {row["handle"]: row for row in conn.execute(query).mappings()}


def set_last_active(conn: Connection, user_ids: list[int], at: int) -> None:
    """Record that these users were active at `at` (ms); never moves a time back."""
    for start in range(0, len(user_ids), ID_CHUNK):
        chunk = user_ids[start : start + ID_CHUNK]
        conn.execute(
            update(users)
            .where(
                users.c.id.in_(chunk),
                (users.c.last_active_at.is_(None)) | (users.c.last_active_at < at),
            )
            .values(last_active_at=at)
        )
