"""Search: the messages a person can see, by their words; their conversations, by name.

What a search may return is what the history shows (store/search.py says how); a
conversation filter passes the one gate (`access.conversation`), so another's
conversation is the same 404 as a missing one.

Pages: `relevance` (the default) is ranked, best first, and pages by offset: a rank is
a float that moves as the index grows (bm25 and ts_rank weigh a word by how rare it is
in the whole index), so a keyset over it would be no steadier than an offset, and
people read the first pages of a search, not the hundredth. The order is total (rank,
then newest), so a page neither repeats nor skips a row while nothing changes, and
offsets stop at MAX_OFFSET. `recent` is newest first and pages by keyset on the stream
position: steady however much arrives meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backchannel.domain import search as rules
from backchannel.errors import BackchannelError
from backchannel.services import access, media, pagination
from backchannel.services import conversations as conversation_service
from backchannel.services.core import Core, Requester
from backchannel.services.views import message_view
from backchannel.store import messages as msg_db
from backchannel.store import search as db
from backchannel.store.database import ReadTxn

MAX_OFFSET = 500  # ranked results past this many are not paged to
SORTS = ("relevance", "recent")
_CURSOR_KIND = {"relevance": 0, "recent": 1}


@dataclass(frozen=True, slots=True)
class MessageSearch:
    """A search as the route parsed it. Times: ms, `[since, until)`."""

    query: str
    conversation_id: str | None = None
    sender: str | None = None
    since: int | None = None
    until: int | None = None
    has_media: bool = False
    has_link: bool = False
    sort: str = "relevance"


async def search_messages(
    core: Core,
    requester: Requester,
    search: MessageSearch,
    *,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """A page of `{message, conversation, snippet}` matching `search`, and `next_cursor`.

    Raises `invalid_query` for a query it cannot read (domain/search.py), `invalid_token`
    for a cursor of another sort, `conversation_not_found` for a conversation filter the
    requester cannot read."""
    query = rules.parse_query(search.query)
    if search.sort not in SORTS:
        raise BackchannelError("invalid_request", f"`sort` is one of {', '.join(SORTS)}.")
    position = _decode(cursor, search.sort)
    size = pagination.clamp(limit, default=20)

    def txn(t: ReadTxn) -> dict[str, Any]:
        conversation_id = None
        if search.conversation_id is not None:
            conversation_id = int(
                access.conversation(t.conn, requester, search.conversation_id)["id"]
            )
        recent = search.sort == "recent"
        hits = db.search_page(
            t.conn,
            user_id=requester.user_id,
            query=query,
            filters=db.Filters(
                conversation_id=conversation_id,
                sender_handle=None if search.sender is None else search.sender.lower(),
                since=search.since,
                until=search.until,
                has_media=search.has_media,
                has_link=search.has_link,
            ),
            now=t.now_ms,
            recent=recent,
            offset=0 if recent else position,
            before_position=position if recent and cursor else None,
            limit=size + 1,
        )
        more = len(hits) > size and (recent or position + size < MAX_OFFSET)
        hits = hits[:size]
        items = _items(t, requester, hits, query)
        next_cursor = None
        if more and hits:
            value = hits[-1]["position"] if recent else position + size
            next_cursor = pagination.encode(_CURSOR_KIND[search.sort], value)
        return {"items": items, "next_cursor": next_cursor}

    return await core.store.read("search_messages", txn)


def _decode(cursor: str | None, sort: str) -> int:
    """The offset (relevance) or position (recent) a cursor carries; 0 without one."""
    parts = pagination.decode(cursor, 2)
    if parts is None:
        return 0
    kind, value = parts
    if kind != _CURSOR_KIND[sort] or (sort == "relevance" and value >= MAX_OFFSET):
        raise BackchannelError("invalid_token", "The cursor is not one of this search's.")
    return value


def _items(
    t: ReadTxn, requester: Requester, hits: Sequence[Mapping[Any, Any]], query: rules.Query
) -> list[dict[str, Any]]:
    """The hits in their order, as full messages with their conversation and snippet."""
    ids = [int(hit["id"]) for hit in hits]
    rows = msg_db.messages_by_ids(t.conn, ids)
    ordered = [rows[i] for i in ids]
    reactions = msg_db.reactions_for(t.conn, ids, viewer_id=requester.user_id)
    attached = media.attachments(t.conn, ordered)
    views = [message_view(r, reactions.get(r["id"]), attached.get(r["id"])) for r in ordered]
    media.show_opens(t.conn, requester.user_id, ordered, attached, views)
    return [
        {
            "message": view,
            "conversation": {
                "id": hit["conversation_pid"],
                "kind": hit["conversation_kind"],
                "title": hit["conversation_title"],
            },
            "snippet": [
                {"text": s.text, "match": s.match}
                for s in rules.highlight(row["text"] or "", query)
            ],
        }
        for hit, row, view in zip(hits, ordered, views, strict=True)
    ]


async def find_conversations(
    core: Core, requester: Requester, query: str, *, limit: int | None
) -> dict[str, Any]:
    """The requester's conversations whose title or another member's handle or name
    starts (or has a word starting) with `query`, most recently active first, as the
    inbox shows them. Raises `invalid_query` for a blank query."""
    needle = query.strip().lstrip("@").lower()
    if not needle:
        raise BackchannelError("invalid_query", "Search for a name, a handle or a title.")
    if len(needle) > rules.MAX_QUERY_CHARS:
        raise BackchannelError(
            "invalid_query", f"A search is at most {rules.MAX_QUERY_CHARS} characters."
        )
    size = pagination.clamp(limit, default=20)

    def txn(t: ReadTxn) -> dict[str, Any]:
        pids = db.find_conversations(t.conn, user_id=requester.user_id, query=needle, limit=size)
        found = conversation_service.details(t.conn, core.settings, requester, pids)
        return {"items": [found[pid][0] for pid in pids if pid in found]}

    return await core.store.read("find_conversations", txn)
