"""Presence: who is active now, and when they were last active."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json
from backchannel.errors import BackchannelError
from backchannel.services import presence

router = APIRouter(prefix="/api/v1", tags=["presence"])

MAX_HANDLES = 100


@router.get("/presence", response_model=s.PresenceList)
async def get_presence(
    core: CoreDep,
    me: RequesterDep,
    users: str = Query(max_length=MAX_HANDLES * 41, description="Handles, comma-separated."),
) -> Response:
    """The presence of up to 100 users, in the order asked. Anyone you may not see (or
    who does not exist) is `{active: false, last_active_at: null}`."""
    handles = [handle.strip() for handle in users.split(",")]
    if len(handles) > MAX_HANDLES or not all(handles):
        raise BackchannelError(
            "invalid_request",
            f"`users`: 1 to {MAX_HANDLES} comma-separated handles; got {len(handles)} "
            f"({sum(not h for h in handles)} empty).",
        )
    return json({"items": await presence.query(core, me, handles)})
