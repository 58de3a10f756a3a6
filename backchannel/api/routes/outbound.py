"""The business inbox's outbound routes: scheduled messages, opt-in keywords, subscribers
and broadcasts (services/outbound.py)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import epoch_ms, json
from backchannel.services import broadcasts, outbound

router = APIRouter(prefix="/api/v1", tags=["business"])
B = "/businesses/{handle}"
Limit = Query(None, ge=1, le=100)


@router.post(B + "/scheduled", status_code=201, response_model=s.ScheduledOut)
async def schedule(handle: str, body: s.ScheduledIn, core: CoreDep, me: RequesterDep) -> Response:
    """Schedule a reply in a conversation, sent as the business (attributed to you) then."""
    view = await outbound.schedule(
        core,
        me,
        handle,
        body.conversation_id,
        text=body.text,
        send_at_ms=int(body.send_at.timestamp() * 1000),
        cancel_if_reply=body.cancel_if_customer_replies,
    )
    return json(view, 201)


@router.get(B + "/scheduled", response_model=s.ScheduledPage)
async def scheduled(
    handle: str,
    core: CoreDep,
    me: RequesterDep,
    conversation_id: str | None = Query(None, max_length=64),
    status: Literal["pending", "sent", "cancelled", "failed"] | None = None,
    cursor: str | None = None,
    limit: int | None = Limit,
) -> Response:
    """Scheduled messages you may see, soonest first (of one conversation, if named)."""
    page = await outbound.list_scheduled(
        core,
        me,
        handle,
        conversation_pid=conversation_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return json(page)


@router.get(B + "/scheduled/{scheduled_id}", response_model=s.ScheduledOut)
async def get_scheduled(
    handle: str, scheduled_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    return json(await outbound.get_scheduled(core, me, handle, scheduled_id))


@router.patch(B + "/scheduled/{scheduled_id}", response_model=s.ScheduledOut)
async def update_scheduled(
    handle: str, scheduled_id: str, body: s.ScheduledPatch, core: CoreDep, me: RequesterDep
) -> Response:
    """Change a pending message's text, time or cancel-if-the-customer-replies."""
    changes = {
        "text": body.text,
        "send_at_ms": epoch_ms(body.send_at),
        "cancel_if_customer_replies": body.cancel_if_customer_replies,
    }
    return json(await outbound.update_scheduled(core, me, handle, scheduled_id, changes))


@router.delete(B + "/scheduled/{scheduled_id}", response_model=s.ScheduledOut)
async def cancel_scheduled(
    handle: str, scheduled_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    """Cancel a pending message → it, `cancelled`."""
    return json(await outbound.cancel_scheduled(core, me, handle, scheduled_id))


@router.get(B + "/broadcasts/keywords", response_model=s.KeywordsOut)
async def keywords(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await broadcasts.get_keywords(core, me, handle))


@router.put(B + "/broadcasts/keywords", response_model=s.KeywordsOut)
async def set_keywords(
    handle: str, body: s.KeywordsIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Set the keywords that opt contacts in and out."""
    return json(
        await broadcasts.set_keywords(core, me, handle, opt_in=body.opt_in, opt_out=body.opt_out)
    )


@router.get(B + "/broadcasts/subscribers", response_model=s.SubscriberPage)
async def list_subscribers(
    handle: str,
    core: CoreDep,
    me: RequesterDep,
    status: Literal["opted_in", "opted_out"] | None = None,
    cursor: str | None = None,
    limit: int | None = Limit,
) -> Response:
    """Contacts who opted in to broadcasts, or out."""
    page = await broadcasts.subscribers(core, me, handle, status=status, cursor=cursor, limit=limit)
    return json(page)


@router.post(B + "/broadcasts", status_code=201, response_model=s.BroadcastOut)
async def broadcast(handle: str, body: s.BroadcastIn, core: CoreDep, me: RequesterDep) -> Response:
    """Send a message to every opted-in contact (of a label), now or at `send_at`."""
    view = await broadcasts.create_broadcast(
        core,
        me,
        handle,
        text=body.text,
        label_pid=body.audience.label if body.audience else None,
        send_at_ms=epoch_ms(body.send_at),
    )
    return json(view, 201)


@router.get(B + "/broadcasts", response_model=s.BroadcastPage)
async def list_broadcasts(
    handle: str,
    core: CoreDep,
    me: RequesterDep,
    cursor: str | None = None,
    limit: int | None = Limit,
) -> Response:
    """The business's broadcasts, newest first, with their counts."""
    return json(await broadcasts.list_broadcasts(core, me, handle, cursor=cursor, limit=limit))


@router.get(B + "/broadcasts/{broadcast_id}", response_model=s.BroadcastOut)
async def get_broadcast(
    handle: str, broadcast_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    return json(await broadcasts.get_broadcast(core, me, handle, broadcast_id))


@router.get(B + "/broadcasts/{broadcast_id}/recipients", response_model=s.RecipientPage)
async def list_recipients(
    handle: str,
    broadcast_id: str,
    core: CoreDep,
    me: RequesterDep,
    status: Literal["queued", "sent", "skipped", "failed", "cancelled"] | None = None,
    cursor: str | None = None,
    limit: int | None = Limit,
) -> Response:
    """Each recipient and what became of their message."""
    page = await broadcasts.recipients(
        core, me, handle, broadcast_id, status=status, cursor=cursor, limit=limit
    )
    return json(page)


@router.post(B + "/broadcasts/{broadcast_id}/cancel", response_model=s.BroadcastOut)
async def cancel_broadcast(
    handle: str, broadcast_id: str, core: CoreDep, me: RequesterDep
) -> Response:
    """Stop it: recipients not reached yet are `cancelled`."""
    return json(await broadcasts.cancel_broadcast(core, me, handle, broadcast_id))
