"""Erasing messages' content for everyone: the one path behind an unsend, a moderator's
removal, a disappearing message's expiry, the retention purge and an account's erasure.

Erased means gone from everywhere a member (or a later reader of the database) could find
it: the message row keeps a content-free tombstone (text, edits, reactions, preview and the
quotes of it in replies gone; the search index follows the row), its attachments are erased
(bytes deleted after the commit), and the event log's copies of the content — its own
`message.created`, its edits and preview, the quotes of it in replies' `message.created` —
are rewritten, so that a client syncing from an old token receives the tombstone, never the
words. The SQLite search index drops its entries at once and what FTS5 keeps of them in
older segments at the next compaction (`search_index.compact`, within about 10 minutes). Members are told with `message.unsent` (or `message.expired` for time running out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from backchannel.services import media, search_index
from backchannel.services.events import emit
from backchannel.services.views import message_view
from backchannel.store import events as events_db
from backchannel.store import messages as msg_db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]


def erase_messages_in_txn(t: WriteTxn, message_ids: Sequence[int], *, expired: bool) -> list[str]:
    """Erase the messages `message_ids` for everyone and announce it (`message.expired` when
    `expired`, which also marks them expired; else `message.unsent`). Messages unsent
    already are skipped, unless they expire (an unsent message's timer still marks it).
    Returns the storage keys whose bytes to forget once committed (`media.forget_bytes`)."""
    rows = msg_db.messages_by_ids(t.conn, list(message_ids))
    due = [rows[i] for i in message_ids if i in rows and (expired or rows[i]["unsent_at"] is None)]
    if not due:
        return []
    ids = [int(row["id"]) for row in due]
    msg_db.unsend(t.conn, ids, now=t.now_ms)
    keys: list[str] = []
    for row in due:
        message_id = int(row["id"])
        keys.extend(media.erase_message_media_in_txn(t, message_id))
        data = {"conversation_id": row["conversation_pid"], "message_id": row["pid"]}
        # to every member, even those who joined later: they may hold a quote of it (one
        # private to its sender, held or across a block: to the sender alone)
        conversation_id, to = int(row["conversation_id"]), row["private_to"]
        if expired:
            msg_db.mark_expired(t.conn, message_id, now=t.now_ms)
            emit(t, "message.expired", data, conversation_id=conversation_id, user_id=to)
        else:
            emit(t, "message.unsent", data, conversation_id=conversation_id, user_id=to)
    _scrub_log(t, ids)
    search_index.compact_later_in_txn(t)  # what the index keeps of deleted entries
    return keys


def _scrub_log(t: WriteTxn, ids: list[int]) -> None:
    """Rewrite the log's copies of the erased messages' content: each one's
    `message.created` (at its own position) as the tombstone, its edits and preview empty,
    and the quote of it in every reply's `message.created`."""
    by_conversation: dict[int, dict[int, Row]] = {}
    for row in msg_db.messages_by_ids(t.conn, ids).values():
        position = int(row["position"])
        by_conversation.setdefault(int(row["conversation_id"]), {})[position] = row
        events_db.set_payload(t.conn, position, _json({"message": message_view(row)}))
    for conversation_id, rows in by_conversation.items():
        later = events_db.content_events_of(t.conn, conversation_id, list(rows))
        for position, about, kind in later:
            ids_of = {
                "conversation_id": rows[about]["conversation_pid"],
                "message_id": rows[about]["pid"],
            }
            empty = (
                {"text": None, "edited_at": None} if kind == "message.edited" else {"preview": None}
            )
            events_db.set_payload(t.conn, position, _json(ids_of | empty))
    for position, payload in events_db.replies_created(t.conn, ids):
        reply = orjson.loads(payload)
        quote = reply["message"].get("reply_to")
        if quote is not None and quote.get("text") is not None:
            quote["text"] = None
            events_db.set_payload(t.conn, position, _json(reply))


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()
