"""Use cases for who may reach whom: "can I message them?", blocks, hidden words.

The rules are in `domain/policy.py`; this module gathers the facts they weigh, inside the
caller's transaction, so REST, the WebSocket and the SDK all get the same answer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from backchannel.config import Settings
from backchannel.domain import accounts as account_rules
from backchannel.domain import policy
from backchannel.domain.conversations import direct_key
from backchannel.errors import BackchannelError
from backchannel.services import pagination, presence
from backchannel.services.core import Core, Requester
from backchannel.services.views import iso, user_view
from backchannel.store import accounts as user_db
from backchannel.store import conversations as conv_db
from backchannel.store import presence as presence_db
from backchannel.store import safety as db
from backchannel.store.database import ReadTxn, WriteTxn

HIDDEN_WORDS_MAX = 200
HIDDEN_WORD_LENGTH = 100


def today() -> datetime:
    return datetime.now(UTC)


def reach_in_txn(conn: Connection, settings: Settings, sender_id: int, recipient_id: int) -> str:
    """How the sender may reach the recipient when no conversation exists yet:
    direct, request or none (domain/policy.py)."""
    facts = db.relationship(conn, sender_id, recipient_id)
    rel = policy.Relationship(
        recipient_follows_sender=bool(facts["recipient_follows_sender"]),
        sender_follows_recipient=bool(facts["sender_follows_recipient"]),
        blocked=bool(facts["blocked"]),
        recipient_is_minor=policy.is_minor(
            facts["birth_date"], today=today().date(), min_age=settings.dm_min_age
        ),
        recipient_inbox=facts["dm_inbox"] or settings.dm_inbox_default,
        recipient_requests=facts["dm_requests"] or settings.dm_requests_default,
    )
    return policy.reach(rel)


def request_status(settings: Settings, row: Mapping[Any, Any], prefix: str, now_ms: int) -> str:
    """Where the request held in a membership row stands (`prefix` "" for the row's own
    member, "other_" for the other member of a direct conversation)."""
    return policy.request_status(
        policy.RequestState(
            state=row[f"{prefix}request_state"],
            requested_at=row[f"{prefix}request_at"],
            declined_at=row[f"{prefix}declined_at"],
            messages_sent=row[f"{prefix}request_messages"],
        ),
        now_ms=now_ms,
        ttl_seconds=settings.request_ttl_seconds,
        cooldown_seconds=settings.request_cooldown_seconds,
    )


async def can_message(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    """Whether and how the requester can message someone, before composing.

    `direct`: it lands in their inbox; `request`: in their Requests folder, with
    `remaining_messages` to send until they accept; `none`: not at all. An existing
    conversation answers from its state; a declined request still looks pending.
    """
    canonical = _handle(handle)
    settings = core.settings

    def txn(t: ReadTxn) -> dict[str, Any]:
        other = user_db.user_by_handle(t.conn, canonical)
        if other is None or other["id"] == requester.user_id:
            raise BackchannelError("user_not_found", "No such user.")
        existing = conv_db.direct_by_key(t.conn, direct_key(requester.user_id, other["id"]))
        if existing is not None:
            row = conv_db.conversation_for_member(t.conn, existing["pid"], requester.user_id)
            assert row is not None
            return {"can_message": "direct", "conversation_id": existing["pid"]} | _allowance(
                settings, row, now_ms=_now_ms()
            )
        how = reach_in_txn(t.conn, settings, requester.user_id, other["id"])
        remaining = settings.request_message_limit if how == "request" else None
        return {"can_message": how, "conversation_id": None, "remaining_messages": remaining}

    return await core.store.read("can_message", txn)


def _allowance(settings: Settings, row: Mapping[Any, Any], *, now_ms: int) -> dict[str, Any]:
    """For an existing direct conversation: a request still to be answered by the other
    member, and how many messages the requester may still send in it."""
    if row["other_request_state"] is None:
        return {"remaining_messages": None}
    status = request_status(settings, row, "other_", now_ms)
    remaining = policy.request_allowance(
        status, row["other_request_messages"], limit=settings.request_message_limit
    )
    return {"can_message": "request", "remaining_messages": remaining}


async def block(core: Core, requester: Requester, handle: str) -> None:
    """Block someone (idempotent). Nothing from them reaches the requester any more, and
    they see none of the requester's presence or read state. They are not told."""
    canonical = _handle(handle)

    def txn(t: WriteTxn) -> int | None:
        other = _other(t.conn, requester, canonical)
        if not db.add_block(t.conn, blocker_id=requester.user_id, blocked_id=other, now=t.now_ms):
            return None
        return other

    blocked = await core.store.write("block", txn)
    if blocked is not None:
        await after_block(core, requester, blocked)


async def unblock(core: Core, requester: Requester, handle: str) -> None:
    """Lift a block (idempotent). Messages sent while it stood stay undelivered."""
    canonical = _handle(handle)

    def txn(t: WriteTxn) -> int | None:
        other = _other(t.conn, requester, canonical)
        if not db.remove_block(t.conn, blocker_id=requester.user_id, blocked_id=other):
            return None
        return other

    unblocked = await core.store.write("unblock", txn)
    if unblocked is not None:
        await _after_unblock(core, requester, unblocked)


async def _after_unblock(core: Core, requester: Requester, other_id: int) -> None:
    """After an unblock: where the two may see each other's presence again (no block the
    other way, a shared accepted conversation, both showing activity), each is told."""

    def txn(t: ReadTxn) -> list[tuple[Requester, int, int | None]]:
        me = user_db.user_by_id(t.conn, requester.user_id)
        other = user_db.user_by_id(t.conn, other_id)
        if me is None or other is None:
            return []
        shown = []
        for subject, viewer in ((me, other), (other, me)):
            seen = presence_db.visible_to(t.conn, viewer["id"], [subject["handle"]])
            if subject["handle"] in seen:
                who = Requester(subject["id"], subject["pid"], subject["handle"])
                shown.append((who, int(viewer["id"]), seen[subject["handle"]]["last_active_at"]))
        return shown

    for subject, viewer, last_active_at in await core.store.read("unblock_presence", txn):
        await presence.visibility_changed(
            core, subject, shown=True, viewers=[viewer], last_active_at=last_active_at
        )


async def blocked_list(
    core: Core, requester: Requester, *, cursor: str | None, limit: int | None
) -> dict[str, Any]:
    before = pagination.decode(cursor, 2)
    size = pagination.clamp(limit)

    def txn(t: ReadTxn) -> dict[str, Any]:
        rows = db.blocked_page(
            t.conn,
            requester.user_id,
            before=(before[0], before[1]) if before else None,
            limit=size + 1,
        )
        return pagination.page(
            rows,
            size,
            lambda r: dict(user_view(r), blocked_at=iso(r["blocked_at"])),
            lambda r: (r["blocked_at"], r["id"]),
        )

    return await core.store.read("blocked_list", txn)


async def after_block(core: Core, requester: Requester, other_id: int) -> None:
    """After a block: each side is told the other went dark (the frame a hidden user
    gives), so a client showing "active now" stops at once."""

    def txn(t: ReadTxn) -> str | None:
        row = user_db.user_by_id(t.conn, other_id)
        return None if row is None else str(row["handle"])

    other_handle = await core.store.read("block_presence", txn)
    await presence.visibility_changed(
        core, requester, shown=False, viewers=[other_id], last_active_at=None
    )
    if other_handle is not None:
        other = Requester(other_id, "", other_handle)
        await presence.visibility_changed(
            core, other, shown=False, viewers=[requester.user_id], last_active_at=None
        )


def _other(conn: Connection, requester: Requester, handle: str) -> int:
    other = user_db.user_by_handle(conn, handle)
    if other is None:
        raise BackchannelError("user_not_found", "No such user.")
    if other["id"] == requester.user_id:
        raise BackchannelError("invalid_request", "You cannot block yourself.")
    return int(other["id"])


def clean_hidden_words(raw: list[str]) -> list[str]:
    """Hidden words as stored: NFKC, case-folded, trimmed, distinct, bounded."""
    if len(raw) > HIDDEN_WORDS_MAX:
        raise BackchannelError(
            "invalid_request", f"At most {HIDDEN_WORDS_MAX} hidden words; got {len(raw)}."
        )
    words: list[str] = []
    for item in raw:
        word = " ".join(unicodedata.normalize("NFKC", item).casefold().split())
        if not word or len(word) > HIDDEN_WORD_LENGTH:
            raise BackchannelError(
                "invalid_request",
                f"Hidden words are 1-{HIDDEN_WORD_LENGTH} characters; got {item[:20]!r}.",
            )
        if any(unicodedata.category(ch) == "Cc" for ch in word):
            raise BackchannelError("invalid_request", "Hidden words contain control characters.")
        if word not in words:
            words.append(word)
    return words


async def get_hidden_words(core: Core, requester: Requester) -> list[str]:
    return await core.store.read(
        "hidden_words", lambda t: db.hidden_words_of(t.conn, requester.user_id)
    )


async def set_hidden_words(core: Core, requester: Requester, words: list[str]) -> list[str]:
    """Replace the requester's hidden words; requests containing one go to Hidden Requests."""
    clean = clean_hidden_words(words)

    def txn(t: WriteTxn) -> list[str]:
        db.replace_hidden_words(t.conn, requester.user_id, clean, now=t.now_ms)
        return db.hidden_words_of(t.conn, requester.user_id)

    return await core.store.write("set_hidden_words", txn)


def _handle(raw: str) -> str:
    try:
        return account_rules.normalize_handle(raw)
    except BackchannelError:
        raise BackchannelError("user_not_found", "No such user.") from None


def _now_ms() -> int:
    return int(today().timestamp() * 1000)
