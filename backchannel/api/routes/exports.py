"""Data exports: a person's own (`/me/exports`) and a moderator's on a legal request
(`/moderation/…/exports`). Downloads stream the ZIP as an attachment."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from starlette.responses import Response, StreamingResponse

from backchannel.api.deps import CoreDep, Credentials, RequesterDep, bearer_or_signed
from backchannel.api.responses import json
from backchannel.api.schemas import In
from backchannel.services import exports as service
from backchannel.services.core import Core

router = APIRouter(prefix="/api/v1", tags=["exports"])

ZIP = {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}
DOWNLOAD_HEADERS = {
    "content-security-policy": "default-src 'none'; sandbox",
    "cache-control": "private, no-store",
    "x-content-type-options": "nosniff",
}


class ProgressOut(BaseModel):
    done: int
    total: int = Field(description="The account, one per conversation, and packing.")


class ExportOut(BaseModel):
    id: str
    state: str = Field(description="queued | running | ready | failed | expired")
    progress: ProgressOut
    size: int | None = Field(description="The ZIP's bytes, once ready.")
    created_at: str
    expires_at: str | None = Field(description="When the ZIP is deleted, once ready.")
    download_url: str | None = Field(
        description="Once ready: a signed link (yours) or the bearer-only route (a legal one)."
    )
    error: str | None


class ExportList(BaseModel):
    items: list[ExportOut]


class LegalExportIn(In):
    reason: str = Field(max_length=2000, description="The legal request; goes to the log.")


@router.post("/me/exports", status_code=202, response_model=ExportOut)
async def request_export(core: CoreDep, me: RequesterDep) -> Response:
    """Ask for a ZIP of all your data; it is made in the background (`state` queued)."""
    return json(await service.request_export(core, me), 202)


@router.get("/me/exports", response_model=ExportList)
async def list_exports(core: CoreDep, me: RequesterDep) -> Response:
    """Your exports, newest first, with their progress and download links."""
    return json(await service.list_exports(core, me))


@router.get("/me/exports/{export_id}", response_model=ExportOut)
async def get_export(export_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """One of your exports."""
    return json(await service.get_export(core, me, export_id))


@router.get(
    "/me/exports/{export_id}/download",
    response_class=Response,
    responses={200: {"description": "The ZIP.", **ZIP}},
)
async def download(
    export_id: str, request: Request, core: CoreDep, credentials: Credentials
) -> Response:
    """Your export's ZIP: with your bearer token, or by its signed `download_url`."""
    user = await _owner(request, core, export_id, credentials)
    return _send(core, await service.open_download(core, user, export_id))


@router.post("/moderation/users/{handle}/exports", status_code=202, response_model=ExportOut)
async def request_legal_export(
    handle: str, body: LegalExportIn, core: CoreDep, me: RequesterDep
) -> Response:
    """Export someone's data on a legal request (moderators; logged with the reason)."""
    return json(await service.request_legal_export(core, me, handle, body.reason), 202)


@router.get("/moderation/exports/{export_id}", response_model=ExportOut)
async def get_legal_export(export_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """A legal export's progress (moderators)."""
    return json(await service.get_legal_export(core, me, export_id))


@router.get(
    "/moderation/exports/{export_id}/download",
    response_class=Response,
    responses={200: {"description": "The ZIP.", **ZIP}},
)
async def download_legal(export_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """A legal export's ZIP (moderators; each download is logged)."""
    return _send(core, await service.open_legal_download(core, me, export_id))


async def _owner(
    request: Request, core: Core, export_id: str, credentials: HTTPAuthorizationCredentials | None
) -> int:
    """Who is asking: the bearer token's user, or the one a signed link was made for."""

    def check(user: int, expires: int, signature: str) -> int:
        return service.check_signature(
            core, export_id, user=user, expires=expires, signature=signature
        )

    return await bearer_or_signed(request, credentials, check, "export_not_found")


def _send(core: Core, download: service.Download) -> Response:
    headers = dict(DOWNLOAD_HEADERS)
    headers["content-length"] = str(download.size)
    headers["content-disposition"] = f"attachment; filename*=UTF-8''{quote(download.filename)}"
    return StreamingResponse(
        service.stream(core, download), media_type="application/zip", headers=headers
    )
