"""SQL for users, sessions and follows. Functions take a Connection and run inside
the caller's named transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from backchannel.store.prepared import Prepared
from backchannel.store.tables import blocks, follows, sessions, users

USER_COLUMNS = (
    users.c.id,
    users.c.pid,
    users.c.handle,
    users.c.display_name,
    users.c.bio,
    users.c.created_at,
    users.c.deactivated_at,
    users.c.read_receipts,
    users.c.activity_status,
    users.c.role,
)


def insert_user(
    conn: Connection,
    *,
    pid: str,
    handle: str,
    display_name: str,
    password_hash: str,
    now: int,
    role: str = "user",
) -> RowMapping:
    row = conn.execute(
        insert(users)
        .values(
            pid=pid,
            handle=handle,
            display_name=display_name,
            password_hash=password_hash,
            created_at=now,
            role=role,
        )
        .returning(*USER_COLUMNS)
    ).mappings()
    return row.one()


def any_user_exists(conn: Connection) -> bool:
    """Whether any account was ever created (deactivated ones count)."""
    return conn.execute(select(users.c.id).limit(1)).first() is not None


def is_suspended(conn: Connection, user_id: int) -> bool:
    at = conn.execute(select(users.c.suspended_at).where(users.c.id == user_id)).scalar()
    return at is not None


def handle_exists(conn: Connection, handle: str) -> bool:
    return conn.execute(select(users.c.id).where(users.c.handle == handle)).first() is not None


def user_by_handle(conn: Connection, handle: str) -> RowMapping | None:
    """An active user by canonical handle."""
    return (
        conn.execute(
            select(*USER_COLUMNS).where(users.c.handle == handle, users.c.deactivated_at.is_(None))
        )
        .mappings()
        .first()
    )


def user_by_id(conn: Connection, user_id: int) -> RowMapping | None:
    return conn.execute(select(*USER_COLUMNS).where(users.c.id == user_id)).mappings().first()


def users_by_ids(conn: Connection, user_ids: Iterable[int]) -> dict[int, RowMapping]:
    """Users by id, deactivated ones too (their views say so)."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    rows = conn.execute(select(*USER_COLUMNS).where(users.c.id.in_(wanted))).mappings()
    return {int(row["id"]): row for row in rows}


def users_by_handles(conn: Connection, handles: list[str]) -> dict[str, RowMapping]:
    rows = conn.execute(
        select(*USER_COLUMNS).where(users.c.handle.in_(handles), users.c.deactivated_at.is_(None))
    ).mappings()
    return {row["handle"]: row for row in rows}


def password_hash_for(conn: Connection, handle: str) -> tuple[int, str] | None:
    row = conn.execute(
        select(users.c.id, users.c.password_hash).where(
            users.c.handle == handle, users.c.deactivated_at.is_(None)
        )
    ).first()
    if row is None or row.password_hash is None:
        return None
    return int(row.id), str(row.password_hash)


def password_hash_by_id(conn: Connection, user_id: int) -> str | None:
    return conn.execute(
        select(users.c.password_hash).where(users.c.id == user_id)
    ).scalar_one_or_none()


def trust_counters(conn: Connection, user_id: int) -> RowMapping:
    """What the trust tier is computed from (domain/limits.py `trust_tier`)."""
    return (
        conn.execute(
            select(
                users.c.created_at,
                users.c.requests_sent,
                users.c.requests_declined,
                users.c.reports_received,
                users.c.warnings,
            ).where(users.c.id == user_id)
        )
        .mappings()
        .one()
    )


def read_receipts_on(conn: Connection, user_id: int) -> bool:
    value = conn.execute(select(users.c.read_receipts).where(users.c.id == user_id)).scalar()
    return bool(value)


def update_user(conn: Connection, user_id: int, **values: Any) -> RowMapping:
    return (
        conn.execute(
            update(users).where(users.c.id == user_id).values(**values).returning(*USER_COLUMNS)
        )
        .mappings()
        .one()
    )


def list_users(conn: Connection, *, include_deactivated: bool) -> list[RowMapping]:
    query = select(*USER_COLUMNS).order_by(users.c.id)
    if not include_deactivated:
        query = query.where(users.c.deactivated_at.is_(None))
    return list(conn.execute(query).mappings())


# --- sessions ------------------------------------------------------------------


def insert_session(
    conn: Connection, *, pid: str, user_id: int, token_hash: str, device_name: str, now: int
) -> RowMapping:
    return (
        conn.execute(
            insert(sessions)
            .values(
                pid=pid,
                user_id=user_id,
                token_hash=token_hash,
                device_name=device_name,
                created_at=now,
                last_used_at=now,
            )
            .returning(sessions)
        )
        .mappings()
        .one()
    )


_SESSION_WITH_USER = Prepared(
    "session_with_user",
    """
    SELECT s.id AS session_id, s.pid AS session_pid, s.last_used_at,
           u.id, u.pid, u.handle, u.display_name, u.bio, u.created_at, u.deactivated_at,
           u.requests_sent, u.requests_declined, u.reports_received, u.warnings
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = :token_hash AND u.deactivated_at IS NULL AND u.suspended_at IS NULL
    """,
)


def session_with_user(conn: Connection, token_hash: str) -> Mapping[Any, Any] | None:
    """The session and its (active, not suspended) user for a token hash, in one query
    (every request). A suspension deletes the sessions too: this is belt and braces."""
    return _SESSION_WITH_USER(conn, token_hash=token_hash).mapping()


def session_active(conn: Connection, session_id: int) -> bool:
    """Whether the session exists and belongs to an active, unsuspended account."""
    row = conn.execute(
        select(sessions.c.id)
        .join(users, users.c.id == sessions.c.user_id)
        .where(
            sessions.c.id == session_id,
            users.c.deactivated_at.is_(None),
            users.c.suspended_at.is_(None),
        )
    ).first()
    return row is not None


def touch_session(conn: Connection, session_id: int, now: int) -> None:
    conn.execute(update(sessions).where(sessions.c.id == session_id).values(last_used_at=now))


def list_sessions(conn: Connection, user_id: int) -> list[RowMapping]:
    return list(
        conn.execute(
            select(sessions)
            .where(sessions.c.user_id == user_id)
            .order_by(sessions.c.last_used_at.desc(), sessions.c.id.desc())
        ).mappings()
    )


def delete_session(conn: Connection, *, user_id: int, session_pid: str) -> bool:
    result = conn.execute(
        delete(sessions).where(sessions.c.user_id == user_id, sessions.c.pid == session_pid)
    )
    return bool(result.rowcount)


def delete_session_by_id(conn: Connection, session_id: int) -> None:
    conn.execute(delete(sessions).where(sessions.c.id == session_id))


def delete_sessions_except(conn: Connection, *, user_id: int, keep_id: int | None) -> int:
    query = delete(sessions).where(sessions.c.user_id == user_id)
    if keep_id is not None:
        query = query.where(sessions.c.id != keep_id)
    return int(conn.execute(query).rowcount)


# --- follows -------------------------------------------------------------------


def follow(conn: Connection, *, follower_id: int, followee_id: int, now: int) -> bool:
    exists = conn.execute(
        select(follows.c.created_at).where(
            follows.c.follower_id == follower_id, follows.c.followee_id == followee_id
        )
    ).first()
    if exists:
        return False
    conn.execute(
        insert(follows).values(follower_id=follower_id, followee_id=followee_id, created_at=now)
    )
    return True


def unfollow(conn: Connection, *, follower_id: int, followee_id: int) -> bool:
    result = conn.execute(
        delete(follows).where(
            follows.c.follower_id == follower_id, follows.c.followee_id == followee_id
        )
    )
    return bool(result.rowcount)


def is_following(conn: Connection, *, follower_id: int, followee_id: int) -> bool:
    return (
        conn.execute(
            select(follows.c.created_at).where(
                follows.c.follower_id == follower_id, follows.c.followee_id == followee_id
            )
        ).first()
        is not None
    )


def follow_counts(conn: Connection, user_id: int) -> tuple[int, int]:
    followers = conn.execute(
        select(func.count()).select_from(follows).where(follows.c.followee_id == user_id)
    ).scalar_one()
    following = conn.execute(
        select(func.count()).select_from(follows).where(follows.c.follower_id == user_id)
    ).scalar_one()
    return int(followers), int(following)


def follow_page(
    conn: Connection,
    *,
    user_id: int,
    direction: str,
    before: tuple[int, int] | None,
    limit: int,
) -> list[RowMapping]:
    """Followers (`direction="followers"`) or followees of a user, newest first.

    `before` is the (created_at, user id) of the last row of the previous page.
    """
    if direction == "followers":
        mine, theirs = follows.c.followee_id, follows.c.follower_id
    else:
        mine, theirs = follows.c.follower_id, follows.c.followee_id
    query = (
        select(*USER_COLUMNS, follows.c.created_at.label("followed_at"))
        .join(users, users.c.id == theirs)
        .where(mine == user_id, users.c.deactivated_at.is_(None))
        .order_by(follows.c.created_at.desc(), users.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        at, uid = before
        query = query.where(
            or_(follows.c.created_at < at, and_(follows.c.created_at == at, users.c.id < uid))
        )
    return list(conn.execute(query).mappings())


def _like_prefix(text: str) -> str:
    """`text` as a LIKE prefix pattern, its wildcards escaped (escape character `\\`)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def search_users(conn: Connection, *, viewer_id: int, query: str, limit: int) -> list[RowMapping]:
    """People whose handle, display name or a word of it starts with `query` (lower-case),
    for `viewer_id` to start a conversation with: active, not suspended, not the viewer, and
    with no block between them either way (a blocked person cannot find their blocker).

    Ranked: the exact handle, then people the viewer follows, then handle prefixes, then
    names; ties by handle. `followed_by_me` comes with each row.
    """
    prefix = _like_prefix(query)
    name = func.lower(users.c.display_name)
    followed = exists().where(
        follows.c.follower_id == viewer_id, follows.c.followee_id == users.c.id
    )
    blocked = exists().where(
        or_(
            and_(blocks.c.blocker_id == viewer_id, blocks.c.blocked_id == users.c.id),
            and_(blocks.c.blocker_id == users.c.id, blocks.c.blocked_id == viewer_id),
        )
    )
    rank = case(
        (users.c.handle == query, 0),
        (followed, 1),
        (users.c.handle.like(prefix, escape="\\"), 2),
        else_=3,
    )
    rows = conn.execute(
        select(*USER_COLUMNS, followed.label("followed_by_me"))
        .where(
            users.c.id != viewer_id,
            users.c.deactivated_at.is_(None),
            users.c.suspended_at.is_(None),
            ~blocked,
            or_(
                users.c.handle.like(prefix, escape="\\"),
                name.like(prefix, escape="\\"),
                name.like(f"% {prefix}", escape="\\"),
            ),
        )
        .order_by(rank, users.c.handle)
        .limit(limit)
    )
    return list(rows.mappings())


def delete_follows_of(conn: Connection, user_id: int) -> None:
    conn.execute(
        delete(follows).where(
            or_(follows.c.follower_id == user_id, follows.c.followee_id == user_id)
        )
    )


def count_request_sent(conn: Connection, user_id: int) -> None:
    """One more message request started by the user (feeds the trust tier)."""
    conn.execute(
        update(users).where(users.c.id == user_id).values(requests_sent=users.c.requests_sent + 1)
    )


def count_declined_request(conn: Connection, user_id: int) -> None:
    """One more of the user's requests declined by its recipient (feeds the trust tier)."""
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(requests_declined=users.c.requests_declined + 1)
    )


def settings_of(conn: Connection, user_id: int) -> RowMapping | None:
    """A user's own settings (not part of any profile others see)."""
    return (
        conn.execute(
            select(
                users.c.read_receipts,
                users.c.activity_status,
                users.c.dm_inbox,
                users.c.dm_requests,
                users.c.birth_date,
            ).where(users.c.id == user_id)
        )
        .mappings()
        .first()
    )
