"""SQL for uploads: insert, attach to a message once, read for a viewer, erase, sweep."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from backchannel.store.messages import visible_to
from backchannel.store.tables import media, media_opens, members, message_hides, messages, users

MEDIA_COLUMNS = (
    media.c.id,
    media.c.pid,
    media.c.uploader_id,
    media.c.kind,
    media.c.mime,
    media.c.size,
    media.c.storage_key,
    media.c.filename,
    media.c.width,
    media.c.height,
    media.c.duration_ms,
    media.c.waveform,
    media.c.blurhash,
    media.c.thumbnail_key,
    media.c.poster_key,
    media.c.view_once,
    media.c.message_id,
    media.c.position,
    media.c.created_at,
    media.c.erased_at,
)


def insert_media(conn: Connection, **values: Any) -> RowMapping:
    return conn.execute(insert(media).values(**values).returning(*MEDIA_COLUMNS)).mappings().one()


def attachable(conn: Connection, uploader_id: int, pids: list[str]) -> dict[str, RowMapping]:
    """The uploader's uploads among `pids` that are not attached (nor erased) yet."""
    rows = conn.execute(
        select(*MEDIA_COLUMNS).where(
            media.c.pid.in_(pids),
            media.c.uploader_id == uploader_id,
            media.c.message_id.is_(None),
            media.c.erased_at.is_(None),
        )
    ).mappings()
    return {row["pid"]: row for row in rows}


def attach(conn: Connection, media_id: int, *, message_id: int, position: int) -> bool:
    """Attach an upload to a message, once: False when someone got there first."""
    result = conn.execute(
        update(media)
        .where(media.c.id == media_id, media.c.message_id.is_(None))
        .values(message_id=message_id, position=position)
    )
    return bool(result.rowcount)


def media_for_messages(conn: Connection, message_ids: list[int]) -> dict[int, list[RowMapping]]:
    """Each message's attachments, in their order (hot path: one statement per page)."""
    if not message_ids:
        return {}
    rows = conn.execute(
        select(*MEDIA_COLUMNS)
        .where(media.c.message_id.in_(message_ids), media.c.position >= 0)  # not previews'
        .order_by(media.c.message_id, media.c.position)
    ).mappings()
    result: dict[int, list[RowMapping]] = {}
    for row in rows:
        result.setdefault(row["message_id"], []).append(row)
    return result


def media_by_pid(conn: Connection, pid: str) -> RowMapping | None:
    return conn.execute(select(*MEDIA_COLUMNS).where(media.c.pid == pid)).mappings().first()


def viewable(conn: Connection, media_row: Mapping[Any, Any], user_id: int) -> bool:
    """Whether the user may fetch an upload: its uploader, or a current member of the
    conversation it was sent in who can see that message (joined before it, not deleted
    for them, not private to someone else)."""
    if media_row["uploader_id"] == user_id:
        return True
    if media_row["message_id"] is None:
        return False
    hidden = (
        select(message_hides.c.user_id)
        .where(message_hides.c.user_id == user_id, message_hides.c.message_id == messages.c.id)
        .exists()
    )
    row = conn.execute(
        select(messages.c.id)
        .join(members, members.c.conversation_id == messages.c.conversation_id)
        .where(
            messages.c.id == media_row["message_id"],
            members.c.user_id == user_id,
            messages.c.position >= members.c.joined_position,
            messages.c.unsent_at.is_(None),
            visible_to(user_id),
            ~hidden,
        )
    ).first()
    return row is not None


def record_open(conn: Connection, media_id: int, user_id: int, *, now: int) -> bool:
    """A view-once upload opened by the user: False when they had opened it before."""
    seen = conn.execute(
        select(media_opens.c.opened_at).where(
            media_opens.c.media_id == media_id, media_opens.c.user_id == user_id
        )
    ).first()
    if seen is not None:
        return False
    conn.execute(insert(media_opens).values(media_id=media_id, user_id=user_id, opened_at=now))
    return True


def opened_by(conn: Connection, media_ids: list[int]) -> dict[int, list[int]]:
    if not media_ids:
        return {}
    rows = conn.execute(
        select(media_opens.c.media_id, media_opens.c.user_id).where(
            media_opens.c.media_id.in_(media_ids)
        )
    )
    result: dict[int, list[int]] = {}
    for media_id, user_id in rows:
        result.setdefault(media_id, []).append(user_id)
    return result


def erase_for_message(conn: Connection, message_id: int, *, now: int) -> list[str]:
    """Mark a message's uploads erased; returns the storage keys they used."""
    rows = conn.execute(
        select(media.c.storage_key, media.c.thumbnail_key, media.c.poster_key).where(
            media.c.message_id == message_id, media.c.erased_at.is_(None)
        )
    ).all()
    conn.execute(
        update(media)
        .where(media.c.message_id == message_id, media.c.erased_at.is_(None))
        .values(erased_at=now)
    )
    return [key for row in rows for key in row if key is not None]


def erase(conn: Connection, media_id: int, *, now: int) -> list[str]:
    row = conn.execute(
        select(media.c.storage_key, media.c.thumbnail_key, media.c.poster_key).where(
            media.c.id == media_id, media.c.erased_at.is_(None)
        )
    ).first()
    if row is None:
        return []
    conn.execute(update(media).where(media.c.id == media_id).values(erased_at=now))
    return [key for key in row if key is not None]


def sweep_unattached(conn: Connection, *, older_than: int, limit: int) -> list[str]:
    """Delete uploads never attached and created before `older_than` (ms); returns the
    storage keys they used."""
    rows = conn.execute(
        select(media.c.id, media.c.storage_key, media.c.thumbnail_key, media.c.poster_key)
        .where(media.c.message_id.is_(None), media.c.created_at < older_than)
        .limit(limit)
    ).all()
    ids = [row[0] for row in rows]
    if ids:
        conn.execute(delete(media_opens).where(media_opens.c.media_id.in_(ids)))
        conn.execute(delete(media).where(media.c.id.in_(ids)))
    return [key for row in rows for key in row[1:] if key is not None]


def still_used(conn: Connection, keys: list[str]) -> set[str]:
    """Those storage keys some live (not erased) upload still uses (content addressing
    shares bytes between uploads)."""
    if not keys:
        return set()
    used: set[str] = set()
    for column in (media.c.storage_key, media.c.thumbnail_key, media.c.poster_key):
        used.update(
            conn.execute(
                select(column).where(column.in_(keys), media.c.erased_at.is_(None))
            ).scalars()
        )
    return used


def count_media(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(media)).scalar_one())


def unopened_recipients(
    conn: Connection, media_id: int, message_id: int, uploader_id: int
) -> list[int]:
    """Members who may still open a view-once upload: current members of its conversation
    who joined before the message, other than its uploader, who have not opened it."""
    opened = (
        select(media_opens.c.user_id)
        .where(media_opens.c.media_id == media_id, media_opens.c.user_id == members.c.user_id)
        .exists()
    )
    return list(
        conn.execute(
            select(members.c.user_id)
            .join(messages, messages.c.conversation_id == members.c.conversation_id)
            .where(
                messages.c.id == message_id,
                members.c.user_id != uploader_id,
                members.c.joined_position <= messages.c.position,
                ~opened,
            )
        ).scalars()
    )


def erased_with_bytes(conn: Connection, *, limit: int) -> list[tuple[int, list[str]]]:
    """Erased uploads whose bytes may still be stored: (id, their keys)."""
    rows = conn.execute(
        select(media.c.id, media.c.storage_key, media.c.thumbnail_key, media.c.poster_key)
        .where(media.c.erased_at.is_not(None), media.c.storage_key != "")
        .limit(limit)
    ).all()
    return [(row[0], [k for k in row[1:] if k]) for row in rows]


def clear_keys(conn: Connection, media_ids: list[int]) -> None:
    """Their bytes are deleted: the rows no longer name any."""
    if media_ids:
        conn.execute(
            update(media)
            .where(media.c.id.in_(media_ids))
            .values(storage_key="", thumbnail_key=None, poster_key=None)
        )


def opened_handles(conn: Connection, media_ids: list[int]) -> dict[int, list[str]]:
    """media id -> the handles of who opened it, in the order they did."""
    rows = conn.execute(
        select(media_opens.c.media_id, users.c.handle)
        .join(users, users.c.id == media_opens.c.user_id)
        .where(media_opens.c.media_id.in_(media_ids))
        .order_by(media_opens.c.opened_at, users.c.id)
    )
    result: dict[int, list[str]] = {}
    for media_id, handle in rows:
        result.setdefault(media_id, []).append(handle)
    return result
