"""SQL for account erasure and retention: the erasure requests, the handles held back, an
erased account's messages and uploads in batches, and the retention purge's progress."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from backchannel.store.tables import (
    account_erasures,
    jobs,
    media,
    media_opens,
    messages,
    reactions,
    retention_state,
)

RETENTION_ROW = 1


def insert_erasure(
    conn: Connection,
    *,
    user_id: int,
    handle_hash: str,
    handle_free_at: int,
    messages_rule: str,
    now: int,
) -> None:
    conn.execute(
        insert(account_erasures).values(
            user_id=user_id,
            handle_hash=handle_hash,
            handle_free_at=handle_free_at,
            messages=messages_rule,
            requested_at=now,
        )
    )


def erasure_of(conn: Connection, user_id: int) -> RowMapping | None:
    return (
        conn.execute(select(account_erasures).where(account_erasures.c.user_id == user_id))
        .mappings()
        .first()
    )


def unfinished(conn: Connection) -> list[int]:
    """The accounts whose erasure is not finished, oldest request first."""
    return list(
        conn.execute(
            select(account_erasures.c.user_id)
            .where(account_erasures.c.finished_at.is_(None))
            .order_by(account_erasures.c.requested_at)
        ).scalars()
    )


def finish(conn: Connection, user_id: int, *, now: int) -> None:
    conn.execute(
        update(account_erasures)
        .where(account_erasures.c.user_id == user_id, account_erasures.c.finished_at.is_(None))
        .values(finished_at=now)
    )


def handle_held(conn: Connection, handle_hash: str, *, now: int) -> bool:
    """Whether an erased account's handle (by its hash) may not be registered yet."""
    row = conn.execute(
        select(account_erasures.c.user_id).where(
            account_erasures.c.handle_hash == handle_hash,
            account_erasures.c.handle_free_at > now,
        )
    ).first()
    return row is not None


MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.pid,
    messages.c.position,
    messages.c.conversation_id,
    messages.c.private_to,
    messages.c.created_at,
    messages.c.unsent_at,
)


def sent_after(conn: Connection, sender_id: int, *, after: int, limit: int) -> list[RowMapping]:
    """The sender's messages with id above `after`, by id (index `ix_messages_sender`)."""
    return list(
        conn.execute(
            select(*MESSAGE_COLUMNS)
            .where(messages.c.sender_id == sender_id, messages.c.id > after)
            .order_by(messages.c.id)
            .limit(limit)
        ).mappings()
    )


def delete_reactions_of(conn: Connection, user_id: int) -> int:
    """Every reaction the user made (already hidden from others since the request)."""
    return int(conn.execute(delete(reactions).where(reactions.c.user_id == user_id)).rowcount)


def uploads_of(conn: Connection, uploader_id: int, *, limit: int) -> list[RowMapping]:
    """Up to `limit` of the uploader's uploads, erased or not (index `ix_media_uploader`)."""
    return list(
        conn.execute(
            select(media.c.id, media.c.storage_key, media.c.thumbnail_key, media.c.poster_key)
            .where(media.c.uploader_id == uploader_id)
            .order_by(media.c.id)
            .limit(limit)
        ).mappings()
    )


def mark_erased(conn: Connection, media_ids: list[int], *, now: int) -> None:
    conn.execute(
        update(media)
        .where(media.c.id.in_(media_ids), media.c.erased_at.is_(None))
        .values(erased_at=now)
    )


def delete_uploads(conn: Connection, media_ids: list[int]) -> None:
    conn.execute(delete(media_opens).where(media_opens.c.media_id.in_(media_ids)))
    conn.execute(delete(media).where(media.c.id.in_(media_ids)))


def retention_position(conn: Connection) -> int:
    """The position up to which the retention purge looked at messages (0: never ran)."""
    value = conn.execute(
        select(retention_state.c.position).where(retention_state.c.id == RETENTION_ROW)
    ).scalar_one_or_none()
    return int(value or 0)


def set_retention_position(conn: Connection, position: int) -> None:
    done = conn.execute(
        update(retention_state)
        .where(retention_state.c.id == RETENTION_ROW)
        .values(position=position)
    )
    if not done.rowcount:
        conn.execute(insert(retention_state).values(id=RETENTION_ROW, position=position))


def messages_after(conn: Connection, *, after: int, limit: int) -> list[RowMapping]:
    """Messages with positions above `after`, by position (oldest first)."""
    return list(
        conn.execute(
            select(*MESSAGE_COLUMNS)
            .where(messages.c.position > after)
            .order_by(messages.c.position)
            .limit(limit)
        ).mappings()
    )


def queued_payload(conn: Connection, key: str) -> str | None:
    """The payload (JSON) of the job named `key`, whatever its state: where a background
    erasure got to, for `backchannel purge` to go on from."""
    value = conn.execute(select(jobs.c.payload).where(jobs.c.key == key)).scalar()
    return None if value is None else str(value)


def counts_left(conn: Connection, user_id: int) -> tuple[int, int]:
    """(the user's messages not erased yet, their uploads not deleted yet)."""
    left = conn.execute(
        select(func.count()).where(messages.c.sender_id == user_id, messages.c.unsent_at.is_(None))
    ).scalar_one()
    uploads = conn.execute(
        select(func.count()).select_from(media).where(media.c.uploader_id == user_id)
    ).scalar_one()
    return int(left), int(uploads)
