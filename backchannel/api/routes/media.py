"""Media: upload, describe, download (bearer token or a short-lived signed link), with
range requests for audio and video."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep, Credentials, RequesterDep, bearer_or_signed
from backchannel.api.responses import json
from backchannel.api.uploads import receive
from backchannel.domain import media as media_rules
from backchannel.errors import BackchannelError
from backchannel.services import limits
from backchannel.services import media as media_service
from backchannel.services.core import Core

router = APIRouter(prefix="/api/v1/media", tags=["media"])

UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "voice": {"type": "boolean", "description": "A voice note."},
                        "view_once": {"type": "boolean"},
                        "waveform": {
                            "type": "string",
                            "description": "JSON list of 1-256 levels 0-255 (voice notes).",
                        },
                    },
                }
            }
        },
    }
}
# Media is shown in a sandbox: no scripts, no plugins, no same-origin powers.
MEDIA_HEADERS = {
    "content-security-policy": "default-src 'none'; sandbox",
    "accept-ranges": "bytes",
    "cache-control": "private, max-age=600",
}
INLINE_KINDS = {"image", "gif", "video", "audio", "voice"}
BYTES = {
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


@router.post("", status_code=201, response_model=s.MediaOut, openapi_extra=UPLOAD_FORM)
async def upload(request: Request, core: CoreDep, me: RequesterDep) -> Response:
    """Upload a file (multipart form, field `file`) → its media id, to attach to a message."""
    await limits.uploading(core, me)  # before a byte is read
    form = await receive(
        request,
        max_bytes=media_rules.max_upload_bytes(core.settings),
        directory=core.settings.data_dir / "tmp",
    )
    assert form.path is not None
    try:
        view = await media_service.upload(
            core,
            me,
            form.path,
            declared_type=form.content_type,
            filename=form.filename,
            voice=_flag(form.fields.get("voice")),
            view_once=_flag(form.fields.get("view_once")),
            waveform=_waveform(form.fields.get("waveform")),
        )
    finally:
        form.path.unlink(missing_ok=True)
    return json(view, 201)


@router.get("/{media_id}/links", response_model=s.MediaLinksOut)
async def links(media_id: str, core: CoreDep, me: RequesterDep) -> Response:
    """Short-lived signed links to the media and its thumbnail (for `<img>` and players)."""
    view = await media_service.get_media(core, me, media_id)
    base = f"/api/v1/media/{media_id}"
    query = media_service.signed_query(core, media_id, me.user_id, "original")
    thumb = media_service.signed_query(core, media_id, me.user_id, "thumbnail")
    return json(
        {
            "url": f"{base}?{urlencode(query)}",
            "thumbnail_url": f"{base}/thumbnail?{urlencode(thumb)}"
            if view["has_thumbnail"]
            else None,
            "expires_in": media_service.SIGNED_URL_SECONDS,
        }
    )


async def _viewer(
    request: Request,
    media_id: str,
    variant: str,
    credentials: HTTPAuthorizationCredentials | None,
) -> int:
    """Who is asking: the bearer token's user, or the one a signed link was made for."""
    core: Core = request.app.state.core

    def check(user: int, expires: int, signature: str) -> int:
        return media_service.check_signature(
            core, media_id, variant, user=user, expires=expires, signature=signature
        )

    return await bearer_or_signed(request, credentials, check, "media_not_found")


@router.get(
    "/{media_id}",
    response_class=Response,
    responses={
        200: {"description": "The bytes, typed as the media.", **BYTES},
        206: {"description": "A range of them.", **BYTES},
    },
)
async def download(
    media_id: str, request: Request, core: CoreDep, credentials: Credentials
) -> Response:
    """The media's bytes (range requests welcome); documents as attachments."""
    user = await _viewer(request, media_id, "original", credentials)
    return await _send(core, request, user, media_id, "original")


@router.get(
    "/{media_id}/thumbnail",
    response_class=Response,
    responses={200: {"description": "A JPEG.", **BYTES}},
)
async def thumbnail(
    media_id: str, request: Request, core: CoreDep, credentials: Credentials
) -> Response:
    """A small JPEG of an image, GIF or video."""
    user = await _viewer(request, media_id, "thumbnail", credentials)
    return await _send(core, request, user, media_id, "thumbnail")


async def _send(core: Core, request: Request, user: int, media_id: str, variant: str) -> Response:
    download = await media_service.open_download(core, user, media_id, variant=variant)
    size = download.size
    if size is None:
        size = await core.media_store().size(download.key)
    start, end, status = _range(request.headers.get("range"), size)
    headers = dict(MEDIA_HEADERS)
    headers["content-length"] = str(end - start)
    if status == 206:
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
    disposition = "inline" if download.kind in INLINE_KINDS else "attachment"
    if download.filename and variant == "original":
        disposition += f"; filename*=UTF-8''{quote(download.filename)}"
    headers["content-disposition"] = disposition
    body = media_service.stream(core, download, start, end)
    after = None
    if download.erase_after:
        after = BackgroundTask(media_service.forget_bytes, core, list(download.erase_after))
    return StreamingResponse(
        body, status_code=status, media_type=download.mime, headers=headers, background=after
    )


def _range(header: str | None, size: int) -> tuple[int, int, int]:
    """(start, end exclusive, status) for a `Range` header: one range of bytes, else the
    whole (200). An unsatisfiable range is `range_not_satisfiable` (416)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return 0, size, 200
    first, _, last = header[6:].strip().partition("-")
    try:
        if first == "":
            length = int(last)
            start, end = max(size - length, 0), size
        else:
            start = int(first)
            end = min(int(last) + 1, size) if last else size
    except ValueError:
        return 0, size, 200
    if start >= size or start >= end or start < 0:
        raise BackchannelError("range_not_satisfiable", f"The media has {size} bytes.", size=size)
    return start, end, 206


def _flag(raw: str | None) -> bool:
    return raw is not None and raw.strip().lower() in ("1", "true", "yes", "on")


def _waveform(raw: str | None) -> list[int] | None:
    if raw is None or raw == "":
        return None
    with contextlib.suppress(orjson.JSONDecodeError):
        values: Any = orjson.loads(raw)
        if isinstance(values, list):
            return values
    raise BackchannelError("invalid_request", "waveform: a JSON list of levels 0-255.")
