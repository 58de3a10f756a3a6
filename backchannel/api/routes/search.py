"""Search: messages by their words, conversations by a name."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import search_schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import epoch_ms, json
from backchannel.services import search

router = APIRouter(prefix="/api/v1/search", tags=["search"])


@router.get("/messages", response_model=s.MessageHitPage)
async def messages(
    core: CoreDep,
    me: RequesterDep,
    q: str = Query(max_length=1000, description='Words, "a phrase", prefix*.'),
    conversation_id: str | None = Query(None, max_length=64),
    sender: str | None = Query(None, max_length=64, description="The author's handle."),
    since: datetime | None = Query(None, description="Sent at or after this instant."),
    until: datetime | None = Query(None, description="Sent before this instant."),
    has_media: bool = False,
    has_link: bool = Query(False, description="Only messages with an http(s) link."),
    sort: Literal["relevance", "recent"] = "relevance",
    cursor: str | None = Query(None, max_length=200),
    limit: int | None = Query(None, ge=1, le=50),
) -> Response:
    """Messages you can see whose text matches, best first (or newest first)."""
    query = search.MessageSearch(
        query=q,
        conversation_id=conversation_id,
        sender=sender.lstrip("@") if sender else None,
        since=epoch_ms(since),
        until=epoch_ms(until),
        has_media=has_media,
        has_link=has_link,
        sort=sort,
    )
    return json(await search.search_messages(core, me, query, cursor=cursor, limit=limit))


@router.get("/conversations", response_model=s.ConversationHits)
async def conversations(
    core: CoreDep,
    me: RequesterDep,
    q: str = Query(max_length=1000, description="The start of a name, handle or title."),
    limit: int | None = Query(None, ge=1, le=50),
) -> Response:
    """Your conversations with someone of that name or handle, or of that title."""
    return json(await search.find_conversations(core, me, q, limit=limit))
