"""Your safety controls: blocked accounts and hidden words."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json
from backchannel.services import safety

router = APIRouter(prefix="/api/v1/me", tags=["safety"])


@router.get("/blocks", response_model=s.BlockedPage)
async def blocked(
    core: CoreDep,
    me: RequesterDep,
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """Whom you blocked, most recent first."""
    return json(await safety.blocked_list(core, me, cursor=cursor, limit=limit))


@router.get("/hidden-words", response_model=s.HiddenWordsOut)
async def hidden_words(core: CoreDep, me: RequesterDep) -> Response:
    """Your hidden words: requests containing one go to Hidden Requests."""
    return json({"words": await safety.get_hidden_words(core, me)})


@router.put("/hidden-words", response_model=s.HiddenWordsOut)
async def set_hidden_words(body: s.HiddenWordsIn, core: CoreDep, me: RequesterDep) -> Response:
    """Replace your hidden words."""
    return json({"words": await safety.set_hidden_words(core, me, body.words)})
