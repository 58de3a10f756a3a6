"""A person's scheduled messages ("send later")."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import epoch_ms, json
from backchannel.services import scheduled

router = APIRouter(prefix="/api/v1", tags=["messages"])


@router.post(
    "/conversations/{conversation_id}/scheduled",
    status_code=201,
    response_model=s.ScheduledMessageOut,
)
async def schedule(
    conversation_id: str, body: s.ScheduleMessageIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Send a message later (at most 90 days ahead); everything is checked again then."""
    send_at = epoch_ms(body.send_at)
    assert send_at is not None
    item = await scheduled.schedule(
        core, me, conversation_id, text=body.text, send_at_ms=send_at, reply_to=body.reply_to
    )
    return json(item, 201)


@router.get("/me/scheduled", response_model=s.ScheduledMessageList)
async def mine(
    core: CoreDep,
    me: RequesterDep,
    conversation_id: str | None = Query(None, max_length=64),
    status: Literal["pending", "sent", "cancelled", "failed"] | None = None,
) -> Response:
    """Your scheduled messages, soonest first (in one conversation, or of one status)."""
    return json(
        await scheduled.list_mine(core, me, conversation_pid=conversation_id, status=status)
    )


@router.patch("/me/scheduled/{scheduled_id}", response_model=s.ScheduledMessageOut)
async def update(
    scheduled_id: str, body: s.ScheduledMessagePatch, core: CoreDep, me: RequesterDep
) -> Response:
    return json(
        await scheduled.update(
            core, me, scheduled_id, text=body.text, send_at_ms=epoch_ms(body.send_at)
        )
    )


@router.delete("/me/scheduled/{scheduled_id}", response_model=s.ScheduledMessageOut)
async def cancel(scheduled_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """Cancel it while it waits (it is kept, `cancelled`)."""
    return json(await scheduled.cancel(core, me, scheduled_id))
