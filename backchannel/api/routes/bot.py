"""The business inbox's FAQ bot (settings, knowledge list, a dry run) and approvals (held
replies of restricted members, and who is restricted)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json, no_content
from backchannel.services import approvals, bot

router = APIRouter(prefix="/api/v1", tags=["business"])
B = "/businesses/{handle}"


@router.get(B + "/bot", response_model=s.BotSettingsOut)
async def settings(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    """The bot's settings (off, with default texts, until changed)."""
    return json(await bot.get_settings(core, me, handle))


@router.patch(B + "/bot", response_model=s.BotSettingsOut)
async def update_settings(
    handle: str, body: s.BotSettingsPatch, core: CoreDep, me: RequesterDep
) -> Response:
    """Turn the bot on or off; change its greeting, texts, hand-off label, threshold."""
    changes = body.model_dump(include=body.model_fields_set)
    return json(await bot.update_settings(core, me, handle, changes))


@router.get(B + "/bot/entries", response_model=s.BotEntryList)
async def entries(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await bot.entries(core, me, handle))


@router.post(B + "/bot/entries", status_code=201, response_model=s.BotEntryOut)
async def create_entry(
    handle: str, body: s.BotEntryIn, core: CoreDep, me: RequesterDep
) -> Response:
    """A knowledge entry: a question, other ways to ask it, keywords, the answer."""
    return json(await bot.create_entry(core, me, handle, body.model_dump()), 201)


@router.patch(B + "/bot/entries/{entry_id}", response_model=s.BotEntryOut)
async def update_entry(
    handle: str, entry_id: str, body: s.BotEntryPatch, core: CoreDep, me: RequesterDep
) -> Response:
    changes = body.model_dump(include=body.model_fields_set)
    return json(await bot.update_entry(core, me, handle, entry_id, changes))


@router.delete(B + "/bot/entries/{entry_id}", status_code=204)
async def delete_entry(handle: str, entry_id: str, core: CoreDep, me: RequesterDep) -> Response:
    await bot.delete_entry(core, me, handle, entry_id)
    return no_content()


@router.post(B + "/bot/try", response_model=s.BotTryOut)
async def try_bot(handle: str, body: s.BotTryIn, core: CoreDep, me: RequesterDep) -> Response:
    """What the bot would answer to a text (writes nothing)."""
    return json(await bot.try_bot(core, me, handle, body.text))


@router.get(B + "/approvals", response_model=s.ApprovalPage)
async def held(
    handle: str,
    core: CoreDep,
    me: RequesterDep,
    state: Literal["pending", "approved", "rejected"] | None = None,
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """Held replies, newest first: all (owners, admins) or your own (anyone else)."""
    return json(
        await approvals.approvals(core, me, handle, state=state, cursor=cursor, limit=limit)
    )


@router.post(B + "/approvals/{approval_id}/approve", response_model=s.ApprovalOut)
async def approve(
    handle: str, approval_id: str, body: s.ApproveIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Send it as the business, attributed to its author (`text`: edited first)."""
    return json(await approvals.approve(core, me, handle, approval_id, text=body.text))


@router.post(B + "/approvals/{approval_id}/reject", response_model=s.ApprovalOut)
async def reject(
    handle: str, approval_id: str, body: s.RejectIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Refuse it with a comment for its author; nothing is sent."""
    return json(await approvals.reject(core, me, handle, approval_id, comment=body.comment))


@router.get(B + "/approvals/restricted", response_model=s.RestrictedList)
async def restricted(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    """The members whose replies wait for approval."""
    return json(await approvals.restricted(core, me, handle))


@router.put(B + "/approvals/restricted/{member}", response_model=s.RestrictedOut)
async def restrict(handle: str, member: str, core: CoreDep, me: RequesterDep) -> Response:
    """Make an agent's replies wait for approval (idempotent)."""
    return json(await approvals.set_restricted(core, me, handle, member, on=True))


@router.delete(B + "/approvals/restricted/{member}", response_model=s.RestrictedOut)
async def unrestrict(handle: str, member: str, core: CoreDep, me: RequesterDep) -> Response:
    """Their replies go out directly again (idempotent)."""
    return json(await approvals.set_restricted(core, me, handle, member, on=False))
