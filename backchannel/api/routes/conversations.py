"""Conversations: the inbox, direct and group conversations, members, read markers."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json, no_content
from backchannel.services import conversations, disappearing, requests

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.post(
    "",
    status_code=201,
    response_model=s.ConversationOut,
    responses={200: {"model": s.ConversationOut, "description": "The existing direct one."}},
)
async def create(body: s.ConversationIn, core: CoreDep, me: RequesterDep) -> Response:
    """Open the direct conversation with one person (200 if it exists, 201 if new),
    or create a group."""
    if body.kind == "direct":
        view, created = await conversations.open_direct(core, me, body.members)
        return json(view, 201 if created else 200)
    return json(await conversations.create_group(core, me, body.members, body.title), 201)


@router.get("", response_model=s.ConversationPage)
async def inbox(
    core: CoreDep,
    me: RequesterDep,
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
    folder: Literal["primary", "general", "requests", "hidden", "archived"] | None = None,
) -> Response:
    """A folder of your conversations, pinned first, then by last activity, with the last
    message and unread count. No folder: primary and general together."""
    return json(await conversations.inbox(core, me, cursor=cursor, limit=limit, folder=folder))


@router.get("/{conversation_id}", response_model=s.ConversationOut)
async def get(conversation_id: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await conversations.get_conversation(core, me, conversation_id))


@router.patch("/{conversation_id}", response_model=s.ConversationOut)
async def rename(
    conversation_id: str, body: s.ConversationPatch, core: CoreDep, me: RequesterDep
) -> Response:
    """Rename a group (admins)."""
    return json(await conversations.rename(core, me, conversation_id, body.title))


@router.put("/{conversation_id}/disappearing", response_model=s.ConversationOut)
async def set_disappearing(
    conversation_id: str, body: s.DisappearingIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Set the disappearing-messages timer for messages sent from now on (any member of a
    direct conversation, a group's admins); `seconds: null` turns it off."""
    return json(
        await disappearing.set_timer(
            core, me, conversation_id, seconds=body.seconds, counted_from=body.from_
        )
    )


@router.post("/{conversation_id}/members", response_model=s.ConversationOut)
async def add_members(
    conversation_id: str, body: s.MembersIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Add people to a group (admins). They see history from now on."""
    return json(await conversations.add_members(core, me, conversation_id, body.members))


@router.delete("/{conversation_id}/members/{handle}", status_code=204)
async def remove_member(
    conversation_id: str, handle: str, core: CoreDep, me: RequesterDep
) -> Response:
    """Remove someone from a group (admins), or leave it (name yourself)."""
    await conversations.remove_member(core, me, conversation_id, handle)
    return no_content()


@router.post("/{conversation_id}/read", response_model=s.ReadOut)
async def mark_read(
    conversation_id: str, body: s.ReadIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Move your read marker up to a message; it never moves back."""
    position = await conversations.mark_read(core, me, conversation_id, body.up_to)
    return json({"read_position": position})


@router.patch("/{conversation_id}/membership", response_model=s.ConversationOut)
async def update_membership(
    conversation_id: str, body: s.MembershipPatch, core: CoreDep, me: RequesterDep
) -> Response:
    """Your own view of it: move between Primary and General, archive, hide (groups), pin,
    mute. Nobody else learns of it."""
    until = None if body.muted_until is None else int(body.muted_until.timestamp() * 1000)
    view = await requests.update_membership(
        core,
        me,
        conversation_id,
        folder=body.folder,
        archived=body.archived,
        hidden=body.hidden,
        pinned=body.pinned,
        muted=body.muted,
        muted_until_ms=until,
    )
    return json(view)


@router.post("/{conversation_id}/accept", response_model=s.ConversationOut)
async def accept(conversation_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """Accept a message request: it moves to Primary. Idempotent."""
    return json(await requests.accept_request(core, me, conversation_id))


@router.post("/{conversation_id}/decline", status_code=204)
async def decline(
    conversation_id: str, body: s.DeclineIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Delete a message request, optionally blocking and reporting the sender at once.
    The sender is not told."""
    report = None if body.report is None else body.report.model_dump()
    await requests.decline_request(core, me, conversation_id, block=body.block, report=report)
    return no_content()
