"""Profiles and the follow graph."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json, no_content
from backchannel.services import social

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("/{handle}", response_model=s.ProfileOut)
async def get_user(handle: str, core: CoreDep, me: RequesterDep) -> Response:
    return json(await social.get_user(core, me, handle))


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
