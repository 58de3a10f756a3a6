"""Link previews of sent messages: built after the send commits, in the background, for
the first link of a message everyone can see (not a request's, not one private to its
sender), then announced with `message.preview`. The preview image is re-hosted as media
of the message, so it is fetched from Backchannel, under the same access rules, never
from the linked site by the members' devices.

Best effort: a crash before it is done leaves the message without a preview.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.media.inspect import Inspected, inspect
from backchannel.previews import Preview, first_previewable_link
from backchannel.services import access, media
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.views import media_view
from backchannel.store import media as media_db
from backchannel.store import messages as msg_db
from backchannel.store.database import WriteTxn

log = logging.getLogger(__name__)

PREVIEW_POSITION = -1  # the preview image among a message's media rows: not an attachment
REMOVED = "false"  # `messages.preview` once the sender removed it: never built again


def wanted(core: Core, text: str) -> str | None:
    """The link to preview in a message's text, if previews are on and there is one."""
    if not core.settings.link_previews or core.previews is None or "." not in text:
        return None
    return first_previewable_link(text)


def after_send(t: WriteTxn, core: Core, requester: Requester, view: dict[str, Any]) -> None:
    """Inside a send's transaction: build the preview once it commits."""
    url = wanted(core, view["text"] or "")
    if url is None:
        return
    pid, conversation_pid = view["id"], view["conversation_id"]
    t.after_commit.append(
        lambda: core.spawn(build(core, requester.user_id, conversation_pid, pid, url))
    )


async def build(
    core: Core, sender_id: int, conversation_pid: str, message_pid: str, url: str
) -> None:
    assert core.previews is not None
    preview = await core.previews.preview(url)
    if preview is None:
        return
    image = await _rehost_image(core, sender_id, preview)

    def txn(t: WriteTxn) -> None:
        row = msg_db.message_by_pid(t.conn, message_pid)
        if row is None or row["unsent_at"] is not None or row["preview"] is not None:
            return  # unsent, removed, or done already: nothing to show
        image_view = None
        if image is not None:
            image_row = media_db.insert_media(
                t.conn, **image, message_id=row["id"], position=PREVIEW_POSITION
            )
            image_view = media_view(image_row)
        data = {
            "url": preview.url,
            "title": preview.title,
            "description": preview.description,
            "site_name": preview.site_name,
            "image": image_view,
        }
        msg_db.set_preview(t.conn, row["id"], orjson.dumps(data).decode())
        emit(
            t,
            "message.preview",
            {"conversation_id": conversation_pid, "message_id": message_pid, "preview": data},
            conversation_id=row["conversation_id"],
            message_position=row["position"],
        )

    try:
        await core.store.write("link_preview", txn)
    except Exception:
        log.warning("could not record a link preview", exc_info=True)


async def _rehost_image(core: Core, sender_id: int, preview: Preview) -> dict[str, Any] | None:
    """The preview's image, sniffed, cleaned and stored like an upload (the row's values,
    to insert with the preview), or None when there is none or it does not pass."""
    if preview.image_url is None or core.previews is None:
        return None
    fetched = await core.previews.fetch_image(
        preview.image_url, max_bytes=core.settings.media_max_image_bytes
    )
    if fetched is None:
        return None
    data, content_type = fetched
    try:
        found, path = await asyncio.to_thread(_inspect_bytes, core, data, content_type)
    except BackchannelError:
        return None
    try:
        if found.kind not in ("image", "gif"):
            return None
        stored = await media.store_inspected(core, found, path)
    except BackchannelError:
        return None
    finally:
        await asyncio.to_thread(_discard, found, path)
    return {
        "pid": new_id("md"),
        "uploader_id": sender_id,
        "kind": found.kind,
        "mime": found.mime,
        "size": stored.main.size,
        "storage_key": stored.main.key,
        "width": found.width,
        "height": found.height,
        "blurhash": found.blurhash,
        "thumbnail_key": stored.thumbnail.key if stored.thumbnail else None,
        "created_at": int(time.time() * 1000),
    }


def _inspect_bytes(core: Core, data: bytes, content_type: str) -> tuple[Inspected, Path]:
    """Write fetched bytes to a temp file and inspect them (in a thread)."""
    directory = core.settings.data_dir / "tmp"
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="preview-", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        found = inspect(
            path,
            declared_type=content_type,
            declared_kind=None,
            filename=None,
            settings=core.settings,
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return found, path


def _discard(found: Inspected, path: Path) -> None:
    media.discard_derived(found, path)
    path.unlink(missing_ok=True)


async def remove(core: Core, requester: Requester, conversation_pid: str, message_pid: str) -> None:
    """The sender removes their message's preview (now, or before it is built)."""

    def txn(t: WriteTxn) -> None:
        conversation = access.conversation(t.conn, requester, conversation_pid)
        message = access.message(t.conn, requester, conversation, message_pid)
        access.require_sender(message, requester)
        if message["preview"] == REMOVED:
            return
        msg_db.set_preview(t.conn, message["id"], REMOVED)
        emit(
            t,
            "message.preview",
            {"conversation_id": conversation_pid, "message_id": message_pid, "preview": None},
            conversation_id=conversation["id"],
            message_position=message["position"],
        )

    await core.store.write("remove_preview", txn)
