"""Use cases for media: upload, attach to a message, download, view once, erase, sweep.

An upload arrives as a finished temp file (the API streamed it to disk under the size
limit, never whole in memory). `inspect` (media/inspect.py) sniffs and cleans it in a
thread; the bytes go to the media store (content-addressed) *before* the row that points
at them is written, so no row ever names missing bytes; a row that fails to be written
leaves bytes nobody names, which the store deletes again at once. Erasing works the other
way round: the rows first (in the transaction), the bytes after the commit.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection

from backchannel.domain.ids import is_public_id, new_id
from backchannel.errors import BackchannelError
from backchannel.media.inspect import Inspected, check_waveform, inspect
from backchannel.media.store import StorageError, Stored
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.views import media_view
from backchannel.store import media as db
from backchannel.store.database import ReadTxn, WriteTxn

log = logging.getLogger(__name__)

SIGNED_URL_SECONDS = 600
SWEEP_BATCH = 500


# --- upload -----------------------------------------------------------------------------


async def upload(
    core: Core,
    requester: Requester,
    path: Path,
    *,
    declared_type: str | None,
    filename: str | None,
    voice: bool = False,
    view_once: bool = False,
    waveform: list[int] | None = None,
) -> dict[str, Any]:
    """Inspect, store and record an upload; returns its view. `path` is the caller's temp
    file (the caller deletes it). Refused files raise the media error codes."""
    clean_waveform = check_waveform(waveform) if waveform is not None else None
    found: Inspected = await asyncio.to_thread(
        inspect,
        path,
        declared_type=declared_type,
        declared_kind="voice" if voice else None,
        filename=filename,
        settings=core.settings,
    )
    try:
        return await _record(core, requester, found, path, clean_waveform, view_once)
    finally:
        await asyncio.to_thread(discard_derived, found, path)


def discard_derived(found: Inspected, original: Path | None = None) -> None:
    """Delete the files `inspect` made beside an upload (not the upload itself)."""
    for derived in (found.clean, *(d.path for d in (found.thumbnail, found.poster) if d)):
        if derived is not None and derived != original:
            derived.unlink(missing_ok=True)


async def _record(
    core: Core,
    requester: Requester,
    found: Inspected,
    path: Path,
    clean_waveform: list[int] | None,
    view_once: bool,
) -> dict[str, Any]:
    """Store the bytes, then the row that names them (see the module docstring)."""
    stored = await store_inspected(core, found, path)

    def txn(t: WriteTxn) -> dict[str, Any]:
        row = db.insert_media(
            t.conn,
            pid=new_id("md"),
            uploader_id=requester.user_id,
            kind=found.kind,
            mime=found.mime,
            size=stored.main.size,
            storage_key=stored.main.key,
            filename=found.filename,
            width=found.width,
            height=found.height,
            duration_ms=found.duration_ms,
            waveform=_json(found.waveform or clean_waveform),
            blurhash=found.blurhash,
            thumbnail_key=stored.thumbnail.key if stored.thumbnail else None,
            poster_key=stored.poster.key if stored.poster else None,
            view_once=int(view_once),
            created_at=t.now_ms,
        )
        return media_view(row)

    try:
        view = await core.store.write("upload_media", txn)
    except BaseException:
        await forget_bytes(core, stored.keys())
        raise
    await _restore_if_deleted(core, found, path, stored)
    return view


async def _restore_if_deleted(core: Core, found: Inspected, path: Path, stored: StoredSet) -> None:
    """Content addressing shares bytes between uploads: bytes this upload found already
    stored may have been deleted (their last other user erased) between the put and the
    row. Now that the row protects them, put back whatever is missing."""
    store = core.media_store()
    sources = [
        (stored.main, found.clean or path),
        (stored.thumbnail, found.thumbnail.path if found.thumbnail else None),
        (stored.poster, found.poster.path if found.poster else None),
    ]
    for item, source in sources:
        if item is not None and source is not None and not await store.exists(item.key):
            log.warning("media bytes vanished while being shared; stored again")
            await store.put_file(source, content_type=found.mime)


@dataclass(frozen=True, slots=True)
class StoredSet:
    main: Stored
    thumbnail: Stored | None
    poster: Stored | None

    def keys(self) -> list[str]:
        return [s.key for s in (self.main, self.thumbnail, self.poster) if s is not None]


async def store_inspected(core: Core, found: Inspected, original: Path) -> StoredSet:
    store = core.media_store()
    try:
        main = await store.put_file(found.clean or original, content_type=found.mime)
        thumbnail = poster = None
        if found.thumbnail is not None:
            thumbnail = await store.put_file(
                found.thumbnail.path, content_type=found.thumbnail.mime
            )
        if found.poster is not None:
            poster = await store.put_file(found.poster.path, content_type=found.poster.mime)
    except StorageError as exc:
        log.warning("media store refused an upload: %s", exc)
        raise BackchannelError(
            "storage_unavailable", "The file could not be stored; retry later."
        ) from None
    return StoredSet(main, thumbnail, poster)


def _json(values: list[int] | None) -> str | None:
    return None if values is None else orjson.dumps(values).decode()


# --- attach (inside the send's transaction) ---------------------------------------------------


def attach_in_txn(
    t: WriteTxn, requester: Requester, message_id: int, pids: list[str]
) -> list[dict[str, Any]]:
    """Attach the requester's own unattached uploads to a new message, in order; all or
    nothing (`media_not_found` for anyone else's, an attached one, or no such id)."""
    found = db.attachable(t.conn, requester.user_id, [p for p in pids if is_public_id(p)])
    views = []
    for position, pid in enumerate(pids):
        row = found.get(pid)
        if row is None or not db.attach(
            t.conn, row["id"], message_id=message_id, position=position
        ):
            raise BackchannelError("media_not_found", f"No upload of yours to attach: {pid[:40]}.")
        views.append(media_view(row))
    return views


def copies_for_forward_in_txn(
    t: WriteTxn, requester: Requester, message: Mapping[Any, Any]
) -> list[str]:
    """Unattached copies, owned by the forwarder, of a message's attachments (the same
    bytes), to attach to the forwarded message. View-once media cannot be forwarded."""
    rows = attachments(t.conn, [message]).get(message["id"], [])
    if any(row["view_once"] for row in rows):
        raise BackchannelError("forbidden", "View-once media cannot be forwarded.")
    pids = []
    for row in rows:
        if row["erased_at"] is not None:
            continue
        copy = {k: row[k] for k in COPIED}
        pid = new_id("md")
        db.insert_media(t.conn, **copy, pid=pid, uploader_id=requester.user_id, created_at=t.now_ms)
        pids.append(pid)
    return pids


COPIED = (
    "kind",
    "mime",
    "size",
    "storage_key",
    "filename",
    "width",
    "height",
    "duration_ms",
    "waveform",
    "blurhash",
    "thumbnail_key",
    "poster_key",
)


def show_opens(
    conn: Connection,
    viewer_id: int,
    rows: Sequence[Mapping[Any, Any]],
    attached: Mapping[int, list[Any]],
    views: list[dict[str, Any]],
) -> None:
    """In the viewer's own messages, who opened their view-once media (`opened_by`)."""
    once = {
        media_row["id"]: media_row["pid"]
        for row in rows
        if row["sender_id"] == viewer_id
        for media_row in attached.get(row["id"], [])
        if media_row["view_once"]
    }
    if not once:
        return
    opened = db.opened_handles(conn, list(once))
    for view in views:
        for item in view["media"]:
            if item["view_once"] and item["id"] in once.values():
                media_id = next(k for k, v in once.items() if v == item["id"])
                item["opened_by"] = opened.get(media_id, [])


def attachments(conn: Connection, rows: Sequence[Mapping[Any, Any]]) -> dict[int, list[Any]]:
    """The attachments of these messages, queried only when one of them has any."""
    with_media = [row["id"] for row in rows if row["media_count"]]
    return db.media_for_messages(conn, with_media) if with_media else {}


# --- download -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Download:
    """What to send: the bytes `[start, end)` of `key`, with its type and name."""

    key: str
    mime: str
    size: int | None  # None: ask the store (a thumbnail's size is not recorded)
    filename: str | None
    kind: str
    # bytes to erase once this download is sent (view-once media its last recipient opened)
    erase_after: tuple[str, ...] = ()


async def open_download(
    core: Core, user_id: int, media_pid: str, *, variant: str = "original"
) -> Download:
    """The bytes a user may fetch (`media_not_found` for anything they may not: the same
    404 as for no such id). A view-once upload opens once per recipient (`media_gone`
    after), and its sender is told (`media.opened`); once all have, the caller erases
    `erase_after` when the bytes are sent (`forget_bytes`)."""

    def check(t: ReadTxn | WriteTxn) -> tuple[Mapping[Any, Any], str]:
        row = db.media_by_pid(t.conn, media_pid) if is_public_id(media_pid) else None
        if row is None or not db.viewable(t.conn, row, user_id):
            raise BackchannelError("media_not_found", "No such media.")
        if row["erased_at"] is not None:
            raise BackchannelError("media_gone", "That media was erased.")
        key = {"original": row["storage_key"], "thumbnail": row["thumbnail_key"]}.get(variant)
        if key is None or (variant == "thumbnail" and row["view_once"]):
            raise BackchannelError("media_not_found", "No such media.")
        return row, key

    def download(row: Mapping[Any, Any], key: str, erase: list[str]) -> Download:
        mime = row["mime"] if variant == "original" else "image/jpeg"
        size = row["size"] if variant == "original" else None
        return Download(key, mime, size, row["filename"], row["kind"], tuple(erase))

    # Most downloads only read; a view-once opening writes, so only it takes the writer.
    row, key = await core.store.read("media_access", check)
    if not (row["view_once"] and row["uploader_id"] != user_id):
        return download(row, key, [])

    def txn(t: WriteTxn) -> Download:
        row, key = check(t)
        return download(row, key, _open_once(t, row, user_id))

    return await core.store.write("open_media", txn)


def _open_once(t: WriteTxn, row: Mapping[Any, Any], user_id: int) -> list[str]:
    """One recipient opens a view-once upload; once all have, its bytes go."""
    if not db.record_open(t.conn, row["id"], user_id, now=t.now_ms):
        raise BackchannelError("media_gone", "View-once media can be opened once.")
    emit(
        t,
        "media.opened",
        {"media_id": row["pid"], "user": _handle(t, user_id)},
        user_id=row["uploader_id"],
    )
    pending = db.unopened_recipients(t.conn, row["id"], row["message_id"], row["uploader_id"])
    return db.erase(t.conn, row["id"], now=t.now_ms) if not pending else []


def _handle(t: WriteTxn, user_id: int) -> str:
    from backchannel.store import accounts as user_db

    user = user_db.user_by_id(t.conn, user_id)
    return "" if user is None else str(user["handle"])


async def stream(core: Core, download: Download, start: int, end: int) -> AsyncIterator[bytes]:
    async for chunk in core.media_store().read(download.key, start=start, end=end):
        yield chunk


# --- signed links (for <img src> and players that cannot send a bearer token) ---------------


def sign(core: Core, media_pid: str, user_id: int, variant: str, *, expires: int) -> str:
    message = f"{media_pid}:{user_id}:{variant}:{expires}".encode()
    return hmac.new(_secret(core), message, hashlib.sha256).hexdigest()


def signed_query(core: Core, media_pid: str, user_id: int, variant: str) -> dict[str, Any]:
    expires = int(time.time()) + SIGNED_URL_SECONDS
    return {
        "u": user_id,
        "exp": expires,
        "sig": sign(core, media_pid, user_id, variant, expires=expires),
    }


def check_signature(
    core: Core, media_pid: str, variant: str, *, user: int, expires: int, signature: str
) -> int:
    """The user a signed link was made for, or `media_not_found` (bad or expired)."""
    good = sign(core, media_pid, user, variant, expires=expires)
    if expires < time.time() or not hmac.compare_digest(good, signature):
        raise BackchannelError("media_not_found", "No such media, or the link expired.")
    return user


def _secret(core: Core) -> bytes:
    """The key of signed links: `media_url_secret`, else one kept in the data directory
    (created once; every process sharing the directory shares it). Read once per path."""
    configured = core.settings.media_url_secret
    if configured is not None:
        return configured.get_secret_value().encode()
    return _kept_secret(core.settings.data_dir / "media-url.key")


@functools.cache
def _kept_secret(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        os.replace(path.with_suffix(".tmp"), path)
    return path.read_text().strip().encode()


# --- erase and sweep -------------------------------------------------------------------------


def erase_message_media_in_txn(t: WriteTxn, message_id: int) -> list[str]:
    """Erase a message's uploads (unsend, moderation, expiry); returns the keys whose
    bytes to delete after the commit (`forget_bytes`)."""
    return db.erase_for_message(t.conn, message_id, now=t.now_ms)


async def forget_bytes(core: Core, keys: list[str]) -> None:
    """Delete bytes no live upload uses any more (best effort: a failure leaves bytes
    that nothing names, logged)."""
    if not keys:
        return
    used = await core.store.read("media_in_use", lambda t: db.still_used(t.conn, keys))
    store = core.media_store()
    for key in dict.fromkeys(keys):
        if key in used:
            continue
        try:
            await store.delete(key)
        except StorageError as exc:
            log.warning("could not delete media bytes: %s", exc)


async def sweep(core: Core) -> int:
    """Delete uploads never attached within `media_unattached_ttl_seconds`, and the bytes
    of erased ones still stored (a moderator's removal, or a crash between an unsend's
    commit and its deletion); returns how many uploads. Safe on every node at once."""
    older_than = int((time.time() - core.settings.media_unattached_ttl_seconds) * 1000)
    total = 0
    while True:

        def txn(t: WriteTxn) -> list[str]:
            return db.sweep_unattached(t.conn, older_than=older_than, limit=SWEEP_BATCH)

        keys = await core.store.write("sweep_media", txn)
        await forget_bytes(core, keys)
        total += len(keys)
        if len(keys) < SWEEP_BATCH:
            break
    while True:
        erased = await core.store.read(
            "erased_media", lambda t: db.erased_with_bytes(t.conn, limit=SWEEP_BATCH)
        )
        await forget_bytes(core, [key for _, keys in erased for key in keys])
        ids = [media_id for media_id, _ in erased]
        await core.store.write("cleared_media", functools.partial(_clear, ids=ids))
        total += len(ids)
        if len(erased) < SWEEP_BATCH:
            return total


def _clear(t: WriteTxn, *, ids: list[int]) -> None:
    db.clear_keys(t.conn, ids)


async def get_media(core: Core, requester: Requester, media_pid: str) -> dict[str, Any]:
    """An upload's description (for its uploader and those who may fetch it)."""

    def txn(t: ReadTxn) -> dict[str, Any]:
        row = db.media_by_pid(t.conn, media_pid) if is_public_id(media_pid) else None
        if row is None or not db.viewable(t.conn, row, requester.user_id):
            raise BackchannelError("media_not_found", "No such media.")
        return media_view(row)

    return await core.store.read("get_media", txn)
