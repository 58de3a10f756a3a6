"""Data exports: a person downloads everything they may see; an operator exports one
person's data on a legal request.

An export is a row (`exports`) with its steps fixed when it is asked for: the account,
then one per conversation the person was ever in (store/exports.py). The job
`exports.build` runs the steps in order; each step's part (JSON, no HTML yet) goes to the
media store and is recorded with the step in one transaction, so a build that stops (a
crash, a lease running out, a killed CLI) goes on from the first step without a part. The
last step packs the parts and the media files into one ZIP (domain/exports.py draws its
pages), stores it in the media store (local or S3: an object like any upload) and makes the
export `ready` until `export_retention_seconds` later, when the job `exports.expire` deletes
it. A person sees the progress (`export.updated`, to their own devices) and downloads with
their token or a signed link valid `export_link_seconds`.

What goes in is what the person could see, as of the stream position when they asked: the
messages of the stretches they were a member for (never from before they joined or after
they left), not private to someone else (a blocked sender's), not deleted for them; unsent
and expired ones as content-free tombstones; others' reactions without those of people in a
block with them; the files of those messages, but not erased ones nor others' view-once
media. A legal export is the same data, asked for by a moderator with a reason that goes
into the moderation log; the person is not told.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import secrets
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from backchannel import jobs
from backchannel.domain import exports as pages
from backchannel.domain.ids import is_public_id, new_id
from backchannel.errors import BackchannelError
from backchannel.media.store import MediaNotFound
from backchannel.services import media
from backchannel.services.accounts import settings_view
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.moderation import Acting, require_moderator
from backchannel.services.views import iso, message_view, profile_view, user_view
from backchannel.store import accounts as user_db
from backchannel.store import exports as db
from backchannel.store import messages as msg_db
from backchannel.store import moderation as mod_db
from backchannel.store import safety as safety_db
from backchannel.store.database import ReadTxn, WriteTxn

BUILD_JOB = "exports.build"
EXPIRE_JOB = "exports.expire"
BUDGET_S = 20.0  # one run of the build job; then it queues itself again (the lease is 120 s)
PAGE = 500  # messages read per query
LIST_MAX = 20
REASON_MAX = 1000
CHUNK = 1024 * 1024
LINK_VARIANT = "export"  # signed links share media's key, in their own namespace


# --- asking, listing, downloading -----------------------------------------------------------


async def request_export(core: Core, requester: Requester) -> dict[str, Any]:
    """Queue an export of the requester's data (`export_in_progress` while one is being
    built; `export_too_soon` within `export_min_interval_seconds` of the last)."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        active = db.active_export(t.conn, requester.user_id, kind="self")
        if active is not None:
            raise BackchannelError(
                "export_in_progress", "Your last export is still being made.", id=active["pid"]
            )
        recent = db.exports_of(t.conn, requester.user_id, kind="self", limit=LIST_MAX)
        last = next((row for row in recent if row["state"] != "failed"), None)
        if last is not None:
            allowed_at = last["created_at"] + int(core.settings.export_min_interval_seconds * 1000)
            if allowed_at > t.now_ms:
                raise BackchannelError(
                    "export_too_soon",
                    "You asked for an export recently; try again later.",
                    retry_after=-(-(allowed_at - t.now_ms) // 1000),
                )
        export_id = _create(t, requester.user_id, kind="self", actor=None, reason=None)
        jobs.enqueue(t, BUILD_JOB, {"export_id": export_id}, key=f"export:{export_id}")
        return _announce(t, core, export_id)

    return await core.store.write("request_export", txn)


async def list_exports(core: Core, requester: Requester) -> dict[str, Any]:
    """The requester's own exports, newest first (an operator's never show here)."""

    def txn(t: ReadTxn) -> dict[str, Any]:
        rows = db.exports_of(t.conn, requester.user_id, kind="self", limit=LIST_MAX)
        return {"items": [export_view(core, row, now=t.now_ms) for row in rows]}

    return await core.store.read("list_exports", txn)


async def get_export(core: Core, requester: Requester, export_pid: str) -> dict[str, Any]:
    def txn(t: ReadTxn) -> dict[str, Any]:
        return export_view(core, _own(t, requester.user_id, export_pid), now=t.now_ms)

    return await core.store.read("get_export", txn)


@dataclass(frozen=True, slots=True)
class Download:
    key: str
    size: int
    filename: str


async def open_download(core: Core, user_id: int, export_pid: str) -> Download:
    """A ready export of the user's own (`export_not_found` for anyone else's)."""

    def txn(t: ReadTxn) -> Download:
        return _download(t, _own(t, user_id, export_pid))

    return await core.store.read("open_export", txn)


def signed_query(core: Core, row: Mapping[Any, Any], *, now: int) -> dict[str, Any]:
    """`?u=&exp=&sig=` for a ready export: valid `export_link_seconds`, at most until the
    export expires."""
    expires = min(
        now // 1000 + int(core.settings.export_link_seconds), int(row["expires_at"]) // 1000
    )
    user = int(row["user_id"])
    signature = media.sign(core, row["pid"], user, LINK_VARIANT, expires=expires)
    return {"u": user, "exp": expires, "sig": signature}


def check_signature(core: Core, export_pid: str, *, user: int, expires: int, signature: str) -> int:
    """The user a signed link was made for, or `export_not_found` (bad or expired: by the
    store's clock, the one exports expire by)."""
    good = media.sign(core, export_pid, user, LINK_VARIANT, expires=expires)
    if expires * 1000 < core.store.now_ms() or not hmac.compare_digest(good, signature):
        raise BackchannelError("export_not_found", "No such export, or the link expired.")
    return user


async def stream(core: Core, download: Download) -> AsyncIterator[bytes]:
    async for chunk in core.media_store().read(download.key, chunk_size=CHUNK):
        yield chunk


# --- an operator's export on a legal request --------------------------------------------------


async def request_legal_export(
    core: Core, who: Acting, handle: str, reason: str, *, background: bool = True
) -> dict[str, Any]:
    """Export someone's data for a moderator or operator, logged with `reason` (required:
    `reason_required`). `background`: built by the job queue; else the caller runs `build`
    (the CLI)."""
    reason = _check_reason(reason)

    def txn(t: WriteTxn) -> dict[str, Any]:
        moderator = require_moderator(t.conn, who)
        user = _user(t, handle)
        export_id = _create(t, user["id"], kind="legal", actor=moderator.actor, reason=reason)
        mod_db.append_log(
            t.conn,
            actor_id=moderator.actor_id,
            actor=moderator.actor,
            action="export",
            target_user_id=user["id"],
            report_id=None,
            message_id=None,
            note=reason,
            now=t.now_ms,
        )
        if background:
            jobs.enqueue(t, BUILD_JOB, {"export_id": export_id}, key=f"export:{export_id}")
        row = db.export_by_id(t.conn, export_id)
        assert row is not None
        return export_view(core, row, now=t.now_ms)

    return await core.store.write("request_legal_export", txn)


async def resumable_legal_export(core: Core, who: Acting, handle: str) -> dict[str, Any] | None:
    """The unfinished legal export of this person that `who` (an operator at the command
    line) started, to go on with, if any."""

    def txn(t: ReadTxn) -> dict[str, Any] | None:
        moderator = require_moderator(t.conn, who)
        user = _user(t, handle)
        row = db.active_export(t.conn, user["id"], kind="legal", actor_prefix=moderator.actor)
        return None if row is None else export_view(core, row, now=t.now_ms)

    return await core.store.read("resumable_export", txn)


async def get_legal_export(core: Core, who: Acting, export_pid: str) -> dict[str, Any]:
    def txn(t: ReadTxn) -> dict[str, Any]:
        require_moderator(t.conn, who)
        return export_view(core, _legal(t, export_pid), now=t.now_ms)

    return await core.store.read("get_legal_export", txn)


async def open_legal_download(core: Core, who: Acting, export_pid: str) -> Download:
    """A ready legal export for a moderator; each download is logged too."""

    def txn(t: WriteTxn) -> Download:
        moderator = require_moderator(t.conn, who)
        row = _legal(t, export_pid)
        download = _download(t, row)
        mod_db.append_log(
            t.conn,
            actor_id=moderator.actor_id,
            actor=moderator.actor,
            action="export_download",
            target_user_id=row["user_id"],
            report_id=None,
            message_id=None,
            note=row["pid"],
            now=t.now_ms,
        )
        return download

    return await core.store.write("open_legal_export", txn)


# --- building (the job, or the CLI) -----------------------------------------------------------


async def build_job(core: Core, job: jobs.Job) -> None:
    """The job `exports.build`: run steps for up to BUDGET_S, then queue itself again."""
    export_id = int(job.payload["export_id"])
    try:
        finished = await build(core, export_id, deadline=time.monotonic() + BUDGET_S)
    except Exception as exc:
        if job.attempt >= core.settings.jobs_max_attempts:
            await _fail(core, export_id, f"{type(exc).__name__}")
        raise
    if not finished:

        def txn(t: WriteTxn) -> None:
            jobs.done_in_txn(t, job)
            jobs.enqueue(t, BUILD_JOB, job.payload, key=f"export:{export_id}")

        await core.store.write("export_continue", txn)


async def build(
    core: Core,
    export_id: int,
    *,
    deadline: float | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> bool:
    """Run the export's steps not done yet, then pack it; whether it is finished (False:
    `deadline`, a `time.monotonic()`, came first). `on_step(done, total)` after each step.
    Safe to run again, and twice at once: a step's part is the same bytes each time."""
    row = await core.store.read("export_row", lambda t: db.export_by_id(t.conn, export_id))
    if row is None or row["state"] not in db.ACTIVE:
        return True
    if row["state"] == "queued":
        await core.store.write("export_running", lambda t: _set_state(t, core, row, "running"))
    steps = await core.store.read("export_steps", lambda t: db.steps_of(t.conn, export_id))
    for step in steps:
        if step["storage_key"] is not None:
            continue
        if deadline is not None and time.monotonic() > deadline:
            return False
        part = await core.store.read("export_part", functools.partial(_part, core, row, step))
        key = await _put(core, orjson.dumps(part), "application/json")
        done = await core.store.write(
            "export_step", functools.partial(_step_done, core, row, int(step["seq"]), key)
        )
        if on_step is not None:
            on_step(done, int(row["total_steps"]))
    await _package(core, row)
    if on_step is not None:
        on_step(int(row["total_steps"]), int(row["total_steps"]))
    return True


async def expire_job(core: Core, job: jobs.Job) -> None:
    """The job `exports.expire`: a ready export's time is up; delete its ZIP."""
    export_id = int(job.payload["export_id"])

    def txn(t: WriteTxn) -> str | None:
        jobs.done_in_txn(t, job)
        row = db.export_by_id(t.conn, export_id)
        if row is None or row["state"] != "ready" or row["expires_at"] > t.now_ms:
            return None
        db.update_export(t.conn, export_id, state="expired", storage_key=None, updated_at=t.now_ms)
        _announce(t, core, export_id)
        return str(row["storage_key"])

    key = await core.store.write("expire_export", txn)
    if key is not None:
        await core.media_store().delete(key)


async def copy_to(core: Core, export_pid: str, path: Path) -> int:
    """Write a ready export's ZIP to `path` (the CLI's `--out`); its size."""
    row = await core.store.read("export_row", lambda t: db.export_by_pid(t.conn, export_pid))
    assert row is not None and row["storage_key"] is not None
    size = 0
    with path.open("wb") as out:
        async for chunk in core.media_store().read(row["storage_key"], chunk_size=CHUNK):
            await asyncio.to_thread(out.write, chunk)
            size += len(chunk)
    return size


# --- views and gates ----------------------------------------------------------------------------


def export_view(
    core: Core, row: Mapping[Any, Any], *, now: int, link: bool = True
) -> dict[str, Any]:
    """An export as its owner (or a moderator, for a legal one) sees it. `download_url`
    once ready: a signed link for a person's own export; the bearer-only route for a legal one."""
    url = None
    if link and row["state"] == "ready" and row["expires_at"] > now:
        if row["kind"] == "self":
            query = signed_query(core, row, now=now)
            url = f"/api/v1/me/exports/{row['pid']}/download?u={query['u']}&exp={query['exp']}&sig={query['sig']}"
        else:
            url = f"/api/v1/moderation/exports/{row['pid']}/download"
    return {
        "id": row["pid"],
        "state": row["state"],
        "progress": {"done": int(row["done_steps"]), "total": int(row["total_steps"])},
        "size": row["size"],
        "created_at": iso(row["created_at"]),
        "expires_at": iso(row["expires_at"]),
        "download_url": url,
        "error": row["error"],
    }


def _own(t: ReadTxn | WriteTxn, user_id: int, export_pid: str) -> Mapping[Any, Any]:
    """The user's own export: the same `export_not_found` for none, another's, and an
    operator's export of them."""
    row = db.export_by_pid(t.conn, export_pid) if is_public_id(export_pid) else None
    if row is None or row["user_id"] != user_id or row["kind"] != "self":
        raise BackchannelError("export_not_found", "No such export.")
    return row


def _legal(t: ReadTxn | WriteTxn, export_pid: str) -> Mapping[Any, Any]:
    row = db.export_by_pid(t.conn, export_pid) if is_public_id(export_pid) else None
    if row is None or row["kind"] != "legal":
        raise BackchannelError("export_not_found", "No such export.")
    return row


def _download(t: ReadTxn | WriteTxn, row: Mapping[Any, Any]) -> Download:
    if row["state"] == "expired" or (row["state"] == "ready" and row["expires_at"] <= t.now_ms):
        raise BackchannelError("export_expired", "The export expired; ask for a new one.")
    if row["state"] != "ready":
        raise BackchannelError("export_not_ready", f"The export is {row['state']}.")
    day = datetime.fromtimestamp(row["created_at"] / 1000, UTC).strftime("%Y-%m-%d")
    return Download(row["storage_key"], int(row["size"]), f"backchannel-export-{day}.zip")


def _user(t: ReadTxn | WriteTxn, handle: str) -> Mapping[Any, Any]:
    canonical = handle.strip().lstrip("@").lower()
    user = mod_db.moderated_user(t.conn, handle=canonical) if canonical else None
    if user is None:
        raise BackchannelError("user_not_found", f"No active user {handle[:40]!r}.")
    return user


def _check_reason(reason: str | None) -> str:
    cleaned = (reason or "").strip()
    if not cleaned:
        raise BackchannelError("reason_required", "Say why (the legal request): `reason`.")
    if len(cleaned) > REASON_MAX:
        raise BackchannelError(
            "invalid_request", f"reason: at most {REASON_MAX} characters, got {len(cleaned)}."
        )
    return cleaned


# --- transactions ---------------------------------------------------------------------------


def _create(t: WriteTxn, user_id: int, *, kind: str, actor: str | None, reason: str | None) -> int:
    """A new export and its steps, as of the last committed position."""
    conversation_ids: list[int | None] = [None, *db.conversations_of(t.conn, user_id)]
    export_id = db.insert_export(
        t.conn,
        pid=new_id("x"),
        user_id=user_id,
        kind=kind,
        actor=actor,
        reason=reason,
        state="queued",
        position=t.last_allocated,
        done_steps=0,
        total_steps=len(conversation_ids) + 1,  # and packing
        created_at=t.now_ms,
        updated_at=t.now_ms,
    )
    db.insert_steps(t.conn, export_id, conversation_ids)
    return export_id


def _announce(t: WriteTxn, core: Core, export_id: int) -> dict[str, Any]:
    """The export's view; a person's own export's change reaches their devices."""
    row = db.export_by_id(t.conn, export_id)
    assert row is not None
    if row["kind"] == "self":
        emit(
            t,
            "export.updated",
            {"export": export_view(core, row, now=t.now_ms, link=False)},
            user_id=row["user_id"],
        )
    return export_view(core, row, now=t.now_ms)


def _set_state(t: WriteTxn, core: Core, row: Mapping[Any, Any], state: str) -> None:
    db.update_export(t.conn, row["id"], state=state, updated_at=t.now_ms)
    _announce(t, core, row["id"])


def _step_done(core: Core, row: Mapping[Any, Any], seq: int, key: str, t: WriteTxn) -> int:
    if db.finish_step(t.conn, row["id"], seq, key=key, now=t.now_ms):
        done = db.count_done(t.conn, row["id"])
        db.update_export(t.conn, row["id"], done_steps=done, updated_at=t.now_ms)
        _announce(t, core, row["id"])
    return db.count_done(t.conn, row["id"])


async def _fail(core: Core, export_id: int, error: str) -> None:
    def txn(t: WriteTxn) -> None:
        db.update_export(t.conn, export_id, state="failed", error=error[:200], updated_at=t.now_ms)
        _announce(t, core, export_id)

    await core.store.write("export_failed", txn)


# --- parts ------------------------------------------------------------------------------------


def _part(core: Core, export: Mapping[Any, Any], step: Mapping[Any, Any], t: ReadTxn) -> Any:
    if step["conversation_id"] is None:
        return {"export": export["pid"], "account": _account(t, core, export)}
    return {"export": export["pid"], **_conversation(t, export, int(step["conversation_id"]))}


def _account(t: ReadTxn, core: Core, export: Mapping[Any, Any]) -> dict[str, Any]:
    """Profile, settings, follows both ways, blocks, hidden words and devices."""
    user_id = int(export["user_id"])
    user = user_db.user_by_id(t.conn, user_id)
    settings = user_db.settings_of(t.conn, user_id)
    assert user is not None and settings is not None

    def people(rows: list[Any]) -> list[dict[str, Any]]:
        return [dict(user_view(row), since=iso(row["since"])) for row in rows]

    return {
        "profile": profile_view(user, role=user["role"]),
        "settings": settings_view(core.settings, settings),
        "hidden_words": safety_db.hidden_words_of(t.conn, user_id),
        "following": people(db.follows_of(t.conn, user_id, direction="following")),
        "followers": people(db.follows_of(t.conn, user_id, direction="followers")),
        "blocked": people(db.blocks_of(t.conn, user_id)),
        "sessions": [
            {
                "id": row["pid"],
                "device_name": row["device_name"],
                "created_at": iso(row["created_at"]),
                "last_used_at": iso(row["last_used_at"]),
            }
            for row in user_db.list_sessions(t.conn, user_id)
        ],
    }


def _conversation(t: ReadTxn, export: Mapping[Any, Any], conversation_id: int) -> dict[str, Any]:
    """One conversation as the person could see it (the module's docstring says what)."""
    user_id = int(export["user_id"])
    conversation = db.conversation_row(t.conn, conversation_id)
    assert conversation is not None
    spans = db.spans_of(t.conn, conversation_id, user_id)
    member = bool(spans) and spans[-1][1] is None
    # Who is in it now, and its title now, only while they are a member themselves.
    me = user_db.user_by_id(t.conn, user_id)
    assert me is not None
    others = [
        user_view(row)
        for row in (db.member_users(t.conn, conversation_id) if member else [])
        if row["pid"] != me["pid"]
    ]
    messages: list[dict[str, Any]] = []
    files: dict[str, dict[str, str]] = {}
    after = -1
    while True:
        ids = db.visible_message_ids(
            t.conn,
            conversation_id=conversation_id,
            user_id=user_id,
            spans=spans,
            up_to=int(export["position"]),
            after=after,
            limit=PAGE,
        )
        if not ids:
            break
        messages.extend(_messages(t, user_id, ids, files))
        after = int(messages[-1]["position"])
    return {
        "conversation": {
            "id": conversation["pid"],
            "kind": conversation["kind"],
            "title": conversation["title"] if member else None,
            "created_at": iso(conversation["created_at"]),
            "with": others,
            "member": member,
            "message_count": len(messages),
        },
        "messages": messages,
        "files": files,
    }


def _messages(
    t: ReadTxn, user_id: int, ids: list[int], files: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    """The views of these messages (in this order), their edit histories, and in `files`
    the attachments whose bytes go into the ZIP (media id -> key, path)."""
    rows = msg_db.messages_by_ids(t.conn, ids)
    ordered = [rows[i] for i in ids]
    reactions = msg_db.reactions_for(t.conn, ids, viewer_id=user_id)
    attached = media.attachments(t.conn, ordered)
    edits = db.edits_for(t.conn, ids)
    expiry = db.expiry_of(t.conn, ids)
    views = []
    for row in ordered:
        view = message_view(row, reactions.get(row["id"]), attached.get(row["id"]))
        due = expiry.get(row["id"])
        if due is not None and due <= t.now_ms and not view["unsent"]:
            # Its time is up though the job has not erased it yet: as good as gone.
            view.update(text=None, reactions=[], media=[], share=None, preview=None)
            view.update(edited_at=None, unsent=True)
        view["expired"] = due is not None and due <= t.now_ms
        view["edit_history"] = (
            []
            if view["unsent"]
            else [
                {"text": e["previous_text"], "edited_at": iso(e["edited_at"])}
                for e in edits.get(row["id"], [])
            ]
        )
        if not view["unsent"]:
            for item in attached.get(row["id"], []):
                if item["erased_at"] is None and (
                    not item["view_once"] or item["uploader_id"] == user_id
                ):
                    files[item["pid"]] = {
                        "key": item["storage_key"],
                        "path": pages.media_path(item["pid"], item["mime"]),
                    }
        views.append(view)
    return views


# --- packing --------------------------------------------------------------------------------


async def _package(core: Core, export: Mapping[Any, Any]) -> None:
    """Pack the parts and the files into the ZIP, store it, and make the export ready."""
    steps = await core.store.read("export_steps", lambda t: db.steps_of(t.conn, export["id"]))
    parts = [orjson.loads(await _get(core, str(step["storage_key"]))) for step in steps]
    path = core.settings.data_dir / "tmp" / f"export-{export['pid']}-{secrets.token_hex(4)}.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Entries dated by the export, not the clock: packing again gives the same bytes (and key).
    stamp = datetime.fromtimestamp(export["created_at"] / 1000, UTC).timetuple()[:6]
    try:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            await _write_parts(core, archive, stamp, export, parts)
        stored = await core.media_store().put_file(path, content_type="application/zip")
    finally:
        path.unlink(missing_ok=True)

    def txn(t: WriteTxn) -> None:
        expires_at = t.now_ms + int(core.settings.export_retention_seconds * 1000)
        db.update_export(
            t.conn,
            export["id"],
            state="ready",
            storage_key=stored.key,
            size=stored.size,
            done_steps=export["total_steps"],
            expires_at=expires_at,
            updated_at=t.now_ms,
        )
        jobs.enqueue(
            t,
            EXPIRE_JOB,
            {"export_id": export["id"]},
            run_at=expires_at,
            key=f"export-expire:{export['id']}",
        )
        _announce(t, core, export["id"])

    await core.store.write("export_ready", txn)
    for step in steps:  # the parts are the export's alone (their bytes name it)
        await core.media_store().delete(str(step["storage_key"]))


async def _write_parts(
    core: Core,
    archive: zipfile.ZipFile,
    stamp: tuple[int, ...],
    export: Mapping[Any, Any],
    parts: list[Any],
) -> None:
    def put(name: str, data: bytes, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=stamp)  # type: ignore[arg-type]
        info.compress_type = compress
        archive.writestr(info, data)
        return info

    account = dict(parts[0]["account"], exported_at=iso(export["created_at"]))
    conversations = parts[1:]
    await asyncio.to_thread(put, "README.txt", pages.README.encode())
    await asyncio.to_thread(put, "account.json", _json(account))
    for part in conversations:
        pid = part["conversation"]["id"]
        data = {"conversation": part["conversation"], "messages": part["messages"]}
        paths = {media_pid: f["path"] for media_pid, f in part["files"].items()}
        html = pages.conversation_page({**data, "files": paths})
        await asyncio.to_thread(put, pages.conversation_path(pid, "json"), _json(data))
        await asyncio.to_thread(put, pages.conversation_path(pid, "html"), html.encode())
    index = pages.index_page(account, [part["conversation"] for part in conversations])
    await asyncio.to_thread(put, "index.html", index.encode())
    written: set[str] = set()
    for part in conversations:
        for item in part["files"].values():
            if item["path"] not in written:
                written.add(item["path"])
                await _copy_media(core, archive, stamp, item)


async def _copy_media(
    core: Core, archive: zipfile.ZipFile, stamp: tuple[int, ...], item: Mapping[str, str]
) -> None:
    """Stream one file from the media store into the ZIP (stored: media is compressed)."""
    info = zipfile.ZipInfo(item["path"], date_time=stamp)  # type: ignore[arg-type]
    info.compress_type = zipfile.ZIP_STORED
    handle = await asyncio.to_thread(archive.open, info, "w", force_zip64=True)
    try:
        async for chunk in core.media_store().read(item["key"], chunk_size=CHUNK):
            await asyncio.to_thread(handle.write, chunk)
    except MediaNotFound:
        pass  # erased since the step read it: an empty entry says so
    finally:
        await asyncio.to_thread(handle.close)


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2)


async def _put(core: Core, data: bytes, content_type: str) -> str:
    directory = core.settings.data_dir / "tmp"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"export-part-{secrets.token_hex(8)}"
    try:
        await asyncio.to_thread(path.write_bytes, data)
        stored = await core.media_store().put_file(path, content_type=content_type)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    return stored.key


async def _get(core: Core, key: str) -> bytes:
    return b"".join([chunk async for chunk in core.media_store().read(key, chunk_size=CHUNK)])


async def legal_export_at_terminal(
    core: Core,
    who: Acting,
    handle: str,
    reason: str,
    *,
    on_start: Callable[[dict[str, Any], bool], None],
    on_step: Callable[[int, int], None],
) -> dict[str, Any]:
    """The CLI's export: go on with the unfinished one `who` started for this person (an
    interrupted run; `on_start(view, True)`), else start one (`on_start(view, False)`,
    logged with `reason`); build it here, in the foreground; its final view."""
    view = await resumable_legal_export(core, who, handle)
    resumed = view is not None
    if view is None:
        view = await request_legal_export(core, who, handle, reason, background=False)
    on_start(view, resumed)
    row = await core.store.read("export_row", lambda t: db.export_by_pid(t.conn, view["id"]))
    assert row is not None
    await build(core, int(row["id"]), on_step=on_step)
    return await get_legal_export(core, who, view["id"])
