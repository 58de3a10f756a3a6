"""Profiles and the follow graph."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json, no_content
from backchannel.services import safety, social

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("", response_model=s.UserSearchOut)
async def search(
    core: CoreDep,
    me: RequesterDep,
    q: str = Query(min_length=1, max_length=64, description="Part of a handle or a name."),
    limit: int | None = Query(None, ge=1, le=20),
) -> Response:
    """Find people to message by the start of their handle or of a word of their name."""
    return json(await social.search_users(core, me, q, limit=limit))


@router.get("/{handle}", response_model=s.ProfileOut)
async def get_user(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await social.get_user(core, me, handle))


@router.get("/{handle}/can-message", response_model=s.CanMessageOut)
async def can_message(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    """Whether and how you can message someone (direct, request, none), before composing."""
    return json(await safety.can_message(core, me, handle))


@router.put("/{handle}/block", status_code=204)
async def block(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    """Block someone (idempotent). Nothing of theirs reaches you; they are not told."""
    await safety.block(core, me, handle)
    return no_content()


@router.delete("/{handle}/block", status_code=204)
async def unblock(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    """Unblock someone (idempotent)."""
    await safety.unblock(core, me, handle)
    return no_content()


@router.put("/{handle}/follow", status_code=204)
async def follow(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    """Follow someone (idempotent)."""
    await social.set_follow(core, me, handle, follow=True)
    return no_content()


@router.delete("/{handle}/follow", status_code=204)
async def unfollow(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    """Stop following someone (idempotent)."""
    await social.set_follow(core, me, handle, follow=False)
    return no_content()


@router.get("/{handle}/followers", response_model=s.UserPage)
async def followers(
    handle: str,
    core: CoreDep,
    me: RequesterDep,
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """Who follows this user, newest first."""
    return json(
        await social.follow_list(
            core, me, handle, direction="followers", cursor=cursor, limit=limit
        )
    )


@router.get("/{handle}/following", response_model=s.UserPage)
async def following(
    handle: str,
    core: CoreDep,
    me: RequesterDep,
    cursor: str | None = None,
    limit: int | None = Query(None, ge=1, le=100),
) -> Response:
    """Whom this user follows, newest first."""
    return json(
        await social.follow_list(
            core, me, handle, direction="following", cursor=cursor, limit=limit
        )
    )
