"""SQL for messages, edits, reactions and per-user hides."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Exists,
    RowMapping,
    Select,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from backchannel.store.prepared import Prepared
from backchannel.store.safety import blocked_between
from backchannel.store.tables import (
    conversations,
    members,
    message_edits,
    message_hides,
    messages,
    reactions,
    users,
)

_reply = messages.alias("reply")
_reply_sender = users.alias("reply_sender")
_sender = users.alias("sender")

MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.pid,
    messages.c.conversation_id,
    messages.c.sender_id,
    messages.c.position,
    messages.c.txn_id,
    messages.c.text,
    messages.c.reply_to_id,
    messages.c.forwarded,
    messages.c.created_at,
    messages.c.edited_at,
    messages.c.unsent_at,
    messages.c.private_to,
    messages.c.kind,
    messages.c.extra,
    messages.c.preview,
    messages.c.media_count,
)
# Everything a message's JSON needs, in one row.
FULL_COLUMNS = (
    *MESSAGE_COLUMNS,
    conversations.c.pid.label("conversation_pid"),
    _sender.c.pid.label("sender_pid"),
    _sender.c.handle.label("sender_handle"),
    _sender.c.display_name.label("sender_display_name"),
    _reply.c.pid.label("reply_pid"),
    messages.c.reply_text.label("reply_text"),
    _reply_sender.c.handle.label("reply_sender_handle"),
)


def visible_to(user_id: int) -> ColumnElement[bool]:
    """A message the user may see at all: not private to someone else (see
    `messages.private_to`)."""
    return or_(messages.c.private_to.is_(None), messages.c.private_to == user_id)


def _full_select() -> Select[Any]:
    return (
        select(*FULL_COLUMNS)
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .join(_sender, _sender.c.id == messages.c.sender_id)
        .outerjoin(_reply, _reply.c.id == messages.c.reply_to_id)
        .outerjoin(_reply_sender, _reply_sender.c.id == _reply.c.sender_id)
    )


_INSERT_MESSAGE = Prepared(
    "insert_message",
    """
    INSERT INTO messages (pid, conversation_id, sender_id, position, txn_id, text,
                          reply_to_id, reply_text, forwarded, created_at, private_to,
                          kind, extra, media_count, disappear_seconds, expires_at)
    VALUES (:pid, :conversation_id, :sender_id, :position, :txn_id, :text,
            :reply_to_id, :reply_text, :forwarded, :created_at, :private_to,
            :kind, :extra, :media_count, :disappear_seconds, :expires_at)
    """,
    deferrable=True,
)
_TXN_USED = Prepared(
    "txn_used", "SELECT 1 FROM messages WHERE sender_id = :sender_id AND txn_id = :txn_id"
)


def insert_message(
    conn: Connection,
    *,
    pid: str,
    conversation_id: int,
    sender_id: int,
    position: int,
    txn_id: str | None,
    text: str,
    reply_to_id: int | None,
    reply_text: str | None,
    forwarded: bool,
    now: int,
    private_to: int | None = None,
    kind: str = "text",
    extra: str | None = None,
    media_count: int = 0,
    disappear_seconds: int | None = None,
    expires_at: int | None = None,
) -> None:
    """Insert a message (hot path: prepared SQL, no RETURNING round trip). `private_to`:
    only that user sees it (see `messages.private_to`). `disappear_seconds`: its timer;
    `expires_at`: when it disappears, when known at once (counted from sending)."""
    _INSERT_MESSAGE(
        conn,
        pid=pid,
        conversation_id=conversation_id,
        sender_id=sender_id,
        position=position,
        txn_id=txn_id,
        text=text,
        reply_to_id=reply_to_id,
        reply_text=reply_text,
        forwarded=int(forwarded),
        created_at=now,
        private_to=private_to,
        kind=kind,
        extra=extra,
        media_count=media_count,
        disappear_seconds=disappear_seconds,
        expires_at=expires_at,
    )


def txn_used(conn: Connection, sender_id: int, txn_id: str) -> bool:
    """Whether the sender already used this txn_id (cheap check before the full lookup)."""
    return _TXN_USED(conn, sender_id=sender_id, txn_id=txn_id).first() is not None


def message_by_txn(conn: Connection, sender_id: int, txn_id: str) -> RowMapping | None:
    return (
        conn.execute(
            _full_select().where(messages.c.sender_id == sender_id, messages.c.txn_id == txn_id)
        )
        .mappings()
        .first()
    )


def deleted_for(user_id: int) -> Exists:
    """The row of `messages` in the query was deleted for `user_id` ("delete for me")."""
    return (
        select(literal(1))
        .select_from(message_hides)
        .where(message_hides.c.user_id == user_id, message_hides.c.message_id == messages.c.id)
        .exists()
    )


def visible_message(
    conn: Connection, *, conversation_id: int, pid: str, from_position: int, user_id: int
) -> RowMapping | None:
    """A message of a conversation the user can see: not before they joined, not hidden."""
    hidden = deleted_for(user_id)
    return (
        conn.execute(
            _full_select().where(
                messages.c.pid == pid,
                messages.c.conversation_id == conversation_id,
                messages.c.position >= from_position,
                visible_to(user_id),
                ~hidden,
            )
        )
        .mappings()
        .first()
    )


def messages_by_ids(conn: Connection, ids: list[int]) -> dict[int, RowMapping]:
    if not ids:
        return {}
    rows = conn.execute(_full_select().where(messages.c.id.in_(ids))).mappings()
    return {row["id"]: row for row in rows}


def history_page(
    conn: Connection,
    *,
    conversation_id: int,
    user_id: int,
    from_position: int,
    before: int | None,
    after: int | None,
    limit: int,
) -> list[RowMapping]:
    """A page of history in position order. Newest page first when paging back."""
    hidden = deleted_for(user_id)
    query = _full_select().where(
        messages.c.conversation_id == conversation_id,
        messages.c.position >= from_position,
        visible_to(user_id),
        ~hidden,
    )
    if after is not None:
        query = query.where(messages.c.position > after).order_by(messages.c.position.asc())
    else:
        if before is not None:
            query = query.where(messages.c.position < before)
        query = query.order_by(messages.c.position.desc())
    rows = list(conn.execute(query.limit(limit)).mappings())
    if after is None:
        rows.reverse()
    return rows


def reactions_for(
    conn: Connection, message_ids: list[int], *, viewer_id: int | None = None
) -> dict[int, list[tuple[str, str]]]:
    """(emoji, handle) pairs per message, in the order they were added. With `viewer_id`:
    without the reactions of people in a block with the viewer."""
    if not message_ids:
        return {}
    query = (
        select(reactions.c.message_id, reactions.c.emoji, users.c.handle)
        .join(users, users.c.id == reactions.c.user_id)
        .where(reactions.c.message_id.in_(message_ids))
        .order_by(reactions.c.created_at, reactions.c.emoji, users.c.id)
    )
    if viewer_id is not None:
        query = query.where(~blocked_between(viewer_id, reactions.c.user_id))
    rows = conn.execute(query)
    result: dict[int, list[tuple[str, str]]] = {}
    for message_id, emoji, handle in rows:
        result.setdefault(message_id, []).append((emoji, handle))
    return result


def set_text(conn: Connection, message_id: int, *, old_text: str, text: str, now: int) -> None:
    conn.execute(
        insert(message_edits).values(message_id=message_id, previous_text=old_text, edited_at=now)
    )
    conn.execute(
        update(messages).where(messages.c.id == message_id).values(text=text, edited_at=now)
    )


def unsend(conn: Connection, message_ids: list[int], *, now: int) -> None:
    """Erase the messages' content for everyone: text, edit history, reactions, preview,
    the quotes of them in replies. A tombstone stays (`services/erase.py` does the rest).
    A statement each for the whole batch (the quotes' update has no index to use)."""
    if not message_ids:
        return
    conn.execute(delete(message_edits).where(message_edits.c.message_id.in_(message_ids)))
    conn.execute(delete(reactions).where(reactions.c.message_id.in_(message_ids)))
    conn.execute(
        update(messages).where(messages.c.reply_to_id.in_(message_ids)).values(reply_text=None)
    )
    conn.execute(
        update(messages)
        .where(messages.c.id.in_(message_ids))
        .values(text=None, unsent_at=now, extra=None, preview=None)
    )


def hide(conn: Connection, *, user_id: int, message_id: int) -> bool:
    exists = conn.execute(
        select(message_hides.c.user_id).where(
            message_hides.c.user_id == user_id, message_hides.c.message_id == message_id
        )
    ).first()
    if exists:
        return False
    conn.execute(insert(message_hides).values(user_id=user_id, message_id=message_id))
    return True


def user_reactions(conn: Connection, *, message_id: int, user_id: int) -> list[str]:
    return list(
        conn.execute(
            select(reactions.c.emoji).where(
                reactions.c.message_id == message_id, reactions.c.user_id == user_id
            )
        ).scalars()
    )


def add_reaction(conn: Connection, *, message_id: int, user_id: int, emoji: str, now: int) -> None:
    conn.execute(
        insert(reactions).values(
            message_id=message_id, user_id=user_id, emoji=emoji, created_at=now
        )
    )


def remove_reaction(conn: Connection, *, message_id: int, user_id: int, emoji: str) -> bool:
    result = conn.execute(
        delete(reactions).where(
            reactions.c.message_id == message_id,
            reactions.c.user_id == user_id,
            reactions.c.emoji == emoji,
        )
    )
    return bool(result.rowcount)


def count_messages(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(messages)).scalar_one())


def message_id(conn: Connection, pid: str) -> int:
    """The internal id of a message by its public id (which must exist)."""
    return int(conn.execute(select(messages.c.id).where(messages.c.pid == pid)).scalar_one())


def release(conn: Connection, message_id: int) -> None:
    """Make a message private to its sender visible to every member."""
    conn.execute(update(messages).where(messages.c.id == message_id).values(private_to=None))


def message_by_pid(conn: Connection, pid: str) -> RowMapping | None:
    return conn.execute(_full_select().where(messages.c.pid == pid)).mappings().first()


def set_preview(conn: Connection, message_id: int, preview: str) -> None:
    conn.execute(update(messages).where(messages.c.id == message_id).values(preview=preview))


def count_from_others(conn: Connection, conversation_id: int, user_id: int, *, limit: int) -> int:
    """How many messages (up to `limit`) others than `user_id` sent in a conversation,
    their held ones included (a first message is first even if the filters held it)."""
    rows = conn.execute(
        select(messages.c.id)
        .where(messages.c.conversation_id == conversation_id, messages.c.sender_id != user_id)
        .limit(limit)
    ).all()
    return len(rows)


# --- disappearing messages ------------------------------------------------------------------


def start_seen_timers(conn: Connection, conversation_id: int, *, now: int) -> None:
    """Start the timers of `seen` messages everyone but their sender has now read."""
    others_behind = (
        select(literal(1))
        .select_from(members)
        .where(
            members.c.conversation_id == conversation_id,
            members.c.user_id != messages.c.sender_id,
            members.c.read_position < messages.c.position,
        )
        .exists()
    )
    conn.execute(
        update(messages)
        .where(
            messages.c.conversation_id == conversation_id,
            messages.c.disappear_seconds.is_not(None),
            messages.c.expires_at.is_(None),
            messages.c.unsent_at.is_(None),
            ~others_behind,
        )
        .values(expires_at=now + cast(messages.c.disappear_seconds, BigInteger) * 1000)
    )


def next_expiry(conn: Connection, conversation_id: int) -> int | None:
    """When the conversation's next message disappears (one not gone yet), or None."""
    value = conn.execute(
        select(func.min(messages.c.expires_at)).where(
            messages.c.conversation_id == conversation_id,
            messages.c.expires_at.is_not(None),
            messages.c.expired_at.is_(None),
        )
    ).scalar()
    return None if value is None else int(value)


def expired_due(
    conn: Connection, conversation_id: int, *, now: int, limit: int
) -> list[RowMapping]:
    """Messages of the conversation whose time is up and that are not gone yet, oldest first."""
    return list(
        conn.execute(
            select(messages.c.id, messages.c.pid, messages.c.private_to)
            .where(
                messages.c.conversation_id == conversation_id,
                messages.c.expires_at <= now,
                messages.c.expired_at.is_(None),
            )
            .order_by(messages.c.expires_at, messages.c.id)
            .limit(limit)
        ).mappings()
    )


def mark_expired(conn: Connection, message_id: int, *, now: int) -> None:
    conn.execute(update(messages).where(messages.c.id == message_id).values(expired_at=now))
