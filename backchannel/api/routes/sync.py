"""Sync: the event log over long-polling."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.services import sync

router = APIRouter(prefix="/api/v1", tags=["sync"])


@router.get("/sync", response_model=s.SyncOut)
async def sync_events(
    core: CoreDep,
    me: RequesterDep,
    since: str | None = Query(None, description="The `next` of your previous sync."),
    timeout: int = Query(0, ge=0, le=300000, description="Long-poll for up to this many ms."),
    limit: int | None = Query(None, ge=1, le=1000),
) -> Response:
    """Events after `since` (without it: no events, and a token for now)."""
    if since is None:
        position = await sync.current_token(core)
        body = {"events": [], "next": str(position), "limited": False}
        return Response(orjson.dumps(body), media_type="application/json")
    since_position = sync.parse_token(since)
    batch_limit = min(limit or core.settings.sync_batch_limit, core.settings.sync_batch_limit)
    core.metrics.connected_clients.inc()
    try:
        batch = await sync.long_poll(
            core, me, since_position, timeout_ms=timeout, limit=batch_limit
        )
    finally:
        core.metrics.connected_clients.dec()
    body = {"events": batch.events, "next": str(batch.next_position), "limited": batch.limited}
    return Response(orjson.dumps(body), media_type="application/json")
