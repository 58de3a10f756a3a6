"""Deleting your own account (services/erasure.py)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, RequesterDep
from backchannel.api.responses import json
from backchannel.services import erasure

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.get("/me/delete", response_model=s.AccountDeletionTerms)
async def deletion_terms(core: CoreDep, me: RequesterDep) -> Response:
    """What deleting your account does on this server, to tell you before you do it."""
    return json(erasure.deletion_terms(core))


@router.post("/me/delete", status_code=202, response_model=s.AccountDeletedOut)
async def delete_account(body: s.DeactivateIn, core: CoreDep, me: RequesterDep) -> Response:
    """Delete your account, confirmed with your password: profile, devices, follows, groups
    and uploads go; your messages are erased or kept as from a deleted user (the reply says
    which). The erasure finishes in the background."""
    return json(await erasure.delete_account(core, me, password=body.password), 202)
