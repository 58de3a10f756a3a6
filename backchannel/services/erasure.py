"""Account erasure ("Delete my account") and the operator's retention policy.

Deleting an account, confirmed with its password, does at once, in one transaction: the
profile erased (name, bio, birth date, settings), every session revoked (live sockets
closed after the commit), follows dropped, groups left, business teams left, the handle
replaced — and held back: nobody may register it for `erased_handle_hold_days` (only its
SHA-256 is kept), so nobody passes as the person who just left. The rest runs in the
background, as the job `accounts.erase` (keyed by the account), one batch per transaction,
each batch recording where it got to in the job's payload:

1. `messages` (`account_erasure_messages = "erase"`): each of their messages becomes a
   tombstone for everyone exactly as an unsend does (`store.messages.unsend`: text, edits,
   reactions, quotes of it, preview; its attachments), announced as `message.unsent`, and
   the log's copies of its content are rewritten (`scrub_events`). With `keep`, they stay,
   shown as from a "Deleted user" (the profile is already gone).
2. `reactions`: the reactions they made (hidden from everyone since the request).
3. `media`: every upload of theirs, bytes deleted from the media store, then the rows.

A business account with a team is refused (`business_has_team`): its team would lose the
inbox; the owners remove the team first. Anyone else's memberships of business teams end
(`business.team_updated`, as a removal); a business account always stays its own owner, so
no business is left without one.

Retention (`message_retention_days` > 0): the job `messages.retention` erases messages older
than that, oldest first, in batches, as a disappearing message expires (`message.expired`),
keeping how far it got in `retention_state`, and comes back every `retention_check_seconds`.
`backchannel purge` runs both now (`purge_*`), from where they got to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from backchannel import jobs
from backchannel.domain import accounts as rules
from backchannel.domain.ids import token_hash
from backchannel.errors import BackchannelError
from backchannel.services import accounts, media
from backchannel.services.core import Core, Requester
from backchannel.services.erase import erase_messages_in_txn
from backchannel.services.events import emit
from backchannel.services.views import iso, user_view
from backchannel.store import accounts as user_db
from backchannel.store import business as business_db
from backchannel.store import erasure as db
from backchannel.store import workspace as workspace_db
from backchannel.store.database import ReadTxn, WriteTxn

ERASE_JOB = "accounts.erase"
RETENTION_JOB = "messages.retention"
RETENTION_KEY = "retention"
PHASES = ("messages", "reactions", "media")
DAY_MS = 86_400_000

Row = Mapping[Any, Any]


def _key(user_id: int) -> str:
    return f"erase:{user_id}"


def deletion_terms(core: Core) -> dict[str, Any]:
    """What `delete_account` would do here: to messages, and how long the handle is held."""
    settings = core.settings
    return {
        "messages": settings.account_erasure_messages,
        "handle_hold_days": settings.erased_handle_hold_days,
    }


async def delete_account(core: Core, requester: Requester, *, password: str) -> dict[str, Any]:
    """The requester's own "Delete my account". Returns what happens to their messages
    (`erase` or `keep`, the operator's setting) and when their handle is free again."""
    current_hash = await core.store.read(
        "password_lookup", lambda t: user_db.password_hash_by_id(t.conn, requester.user_id)
    )
    if not await core.verify_password(current_hash, password[: rules.PASSWORD_MAX]):
        raise BackchannelError("wrong_password", "The password is wrong.")
    settings = core.settings
    user_id = requester.user_id

    def txn(t: WriteTxn) -> dict[str, Any]:
        _refuse_a_business_with_a_team(t, user_id)
        user = user_db.user_by_id(t.conn, user_id)
        assert user is not None
        free_at = t.now_ms + settings.erased_handle_hold_days * DAY_MS
        db.insert_erasure(
            t.conn,
            user_id=user_id,
            handle_hash=token_hash(user["handle"]),
            handle_free_at=free_at,
            messages_rule=settings.account_erasure_messages,
            now=t.now_ms,
        )
        accounts.deactivate_in_txn(t, user_id)
        user_db.update_user(
            t.conn,
            user_id,
            birth_date=None,
            dm_inbox=None,
            dm_requests=None,
            last_active_at=None,
            read_receipts=1,
            activity_status=1,
        )
        _leave_business_teams(t, user_id)
        first = "messages" if settings.account_erasure_messages == "erase" else "reactions"
        jobs.enqueue(t, ERASE_JOB, _payload(user_id, first, 0), key=_key(user_id))
        return {"messages": settings.account_erasure_messages, "handle_free_at": iso(free_at)}

    result = await core.store.write("delete_account", txn)
    core.forget_user_tokens(user_id)  # closes their live sockets, on every node
    return result


def _refuse_a_business_with_a_team(t: WriteTxn, user_id: int) -> None:
    if business_db.business(t.conn, user_id) is None:
        return
    if any(row["user_id"] != user_id for row in business_db.members_of(t.conn, user_id)):
        raise BackchannelError(
            "business_has_team",
            "This business account has a team: remove its members before deleting it.",
        )


def _leave_business_teams(t: WriteTxn, user_id: int) -> None:
    """End the user's memberships of other businesses' teams; each team is told."""
    for membership in business_db.memberships_of(t.conn, user_id, now=t.now_ms):
        business_id = int(membership["business_id"])
        if business_id == user_id:
            continue
        current = business_db.open_member(t.conn, business_id, user_id)
        if current is None:
            continue
        member = {"user": user_view(current), "role": current["role"]}
        position = t.next_position()
        emit(
            t,
            "business.team_updated",
            {"business": membership["handle"], "member": member, "removed": True},
            business_id=business_id,
            position=position,
        )
        business_db.close_member(t.conn, int(current["member_id"]), position=position, now=t.now_ms)
        workspace_db.leave_teams_of(t.conn, business_id, user_id)


def _payload(user_id: int, phase: str, after: int) -> dict[str, Any]:
    return {"user_id": user_id, "phase": phase, "after": after}


# --- the background erasure ----------------------------------------------------------------


async def erase(core: Core, job: jobs.Job) -> None:
    """The job `accounts.erase`: one batch of an account's erasure, then itself again for
    the next (due at once) until the account is done."""
    payload = job.payload
    await erase_step(
        core, int(payload["user_id"]), str(payload["phase"]), int(payload["after"]), job=job
    )


async def erase_step(
    core: Core, user_id: int, phase: str, after: int, *, job: jobs.Job | None = None
) -> tuple[str, int] | None:
    """One batch of `phase` (from message id `after`); records the next step as the queued
    job (`job`: the one running it, ended in the same transaction). Returns the next step,
    or None once the account is done. Idempotent: a batch run twice erases nothing twice."""
    batch = core.settings.erasure_batch_size
    erased: list[str] = []

    def advance(t: WriteTxn, step: tuple[str, int] | None) -> tuple[str, int] | None:
        if job is not None:
            jobs.done_in_txn(t, job)
        if step is None:
            jobs.cancel(t, _key(user_id))
            db.finish(t.conn, user_id, now=t.now_ms)
        else:
            jobs.enqueue(t, ERASE_JOB, _payload(user_id, *step), key=_key(user_id))
        return step

    if phase == "messages":

        def messages_txn(t: WriteTxn) -> tuple[str, int] | None:
            rows = db.sent_after(t.conn, user_id, after=after, limit=batch)
            due = [row for row in rows if row["unsent_at"] is None]
            erased.extend(erase_messages_in_txn(t, [int(r["id"]) for r in due], expired=False))
            more = len(rows) == batch
            return advance(t, ("messages", int(rows[-1]["id"])) if more else ("reactions", 0))

        step = await core.store.write("erase_account_messages", messages_txn)
        await media.forget_bytes(core, erased)
        return step
    if phase == "reactions":

        def reactions_txn(t: WriteTxn) -> tuple[str, int] | None:
            db.delete_reactions_of(t.conn, user_id)
            return advance(t, ("media", 0))

        return await core.store.write("erase_account_reactions", reactions_txn)
    # media: bytes first, rows after, so a crash in between leaves rows to find again
    uploads = await core.store.read(
        "erasure_uploads", lambda t: db.uploads_of(t.conn, user_id, limit=batch)
    )
    ids = [int(row["id"]) for row in uploads]
    if ids:
        await core.store.write(
            "erase_account_media", lambda t: db.mark_erased(t.conn, ids, now=t.now_ms)
        )
        keys = [row[k] for row in uploads for k in ("storage_key", "thumbnail_key", "poster_key")]
        await media.forget_bytes(core, [key for key in keys if key is not None])

    def media_txn(t: WriteTxn) -> tuple[str, int] | None:
        if ids:
            db.delete_uploads(t.conn, ids)
        return advance(t, ("media", 0) if len(ids) == batch else None)

    return await core.store.write("erase_account_uploads", media_txn)


# --- retention ---------------------------------------------------------------------------


async def schedule_retention(core: Core) -> None:
    """At start: queue the retention job (at once) when a retention period is set, unless
    it is queued already (nodes starting together queue one)."""
    if core.settings.message_retention_days <= 0:
        return

    def txn(t: WriteTxn) -> None:
        jobs.enqueue_earliest(t, RETENTION_JOB, {}, run_at=t.now_ms, key=RETENTION_KEY)

    await core.store.write("schedule_retention", txn)


async def retain(core: Core, job: jobs.Job) -> None:
    """The job `messages.retention`: one batch, then itself again — at once while there is
    more, else after `retention_check_seconds`. With retention turned off, it ends."""
    settings = core.settings
    erased: list[str] = []

    def txn(t: WriteTxn) -> None:
        jobs.done_in_txn(t, job)
        if settings.message_retention_days <= 0:
            return
        _count, more = _retention_batch(t, core, erased)
        later = 0 if more else int(settings.retention_check_seconds * 1000)
        jobs.enqueue(t, RETENTION_JOB, {}, run_at=t.now_ms + later, key=RETENTION_KEY)

    await core.store.write("retention_purge", txn)
    await media.forget_bytes(core, erased)


def _retention_batch(t: WriteTxn, core: Core, erased: list[str]) -> tuple[int, bool]:
    """Erase the next batch of messages past the retention period, by position from where
    the purge got to; (how many were erased, whether there may be more)."""
    cutoff = t.now_ms - core.settings.message_retention_days * DAY_MS
    after = db.retention_position(t.conn)
    rows = db.messages_after(t.conn, after=after, limit=core.settings.erasure_batch_size)
    # Positions grow with time: the first message young enough ends the round.
    old = []
    for row in rows:
        if row["created_at"] >= cutoff:
            break
        old.append(row)
    if old:
        due = [row for row in old if row["unsent_at"] is None]
        erased.extend(erase_messages_in_txn(t, [int(r["id"]) for r in due], expired=True))
        db.set_retention_position(t.conn, int(old[-1]["position"]))
    return len(old), bool(rows) and len(old) == len(rows)


# --- backchannel purge ------------------------------------------------------------------


async def purge_retention_batch(core: Core) -> tuple[int, bool]:
    """One batch of the retention purge now (the CLI); (messages looked at, more to do)."""
    if core.settings.message_retention_days <= 0:
        return 0, False
    erased: list[str] = []
    result = await core.store.write("retention_purge", lambda t: _retention_batch(t, core, erased))
    await media.forget_bytes(core, erased)
    return result


async def pending_erasures(core: Core) -> list[tuple[int, str, int]]:
    """The unfinished account erasures and where each got to: (user id, phase, after)."""

    def txn(t: ReadTxn) -> list[tuple[int, str, int]]:
        pending = []
        for user_id in db.unfinished(t.conn):
            raw = db.queued_payload(t.conn, _key(user_id))
            erasure = db.erasure_of(t.conn, user_id)
            assert erasure is not None
            first = "messages" if erasure["messages"] == "erase" else "reactions"
            payload = orjson.loads(raw) if raw else _payload(user_id, first, 0)
            pending.append((user_id, str(payload["phase"]), int(payload["after"])))
        return pending

    return await core.store.read("pending_erasures", txn)


async def erasure_progress(core: Core, user_id: int) -> tuple[int, int]:
    """(messages of theirs still to erase, uploads of theirs left) — for a progress bar."""

    def txn(t: ReadTxn) -> tuple[int, int]:
        return db.counts_left(t.conn, user_id)

    return await core.store.read("erasure_progress", txn)
