"""Use cases for reports and moderation: filing reports (people and filters), the
moderators' queue, their actions on reports and on users, and the audit log.

Moderators are accounts with `users.role == 'admin'`: the first account ever created, and
whoever `backchannel user set-role` makes one. The API passes a `Requester`, whose role is
checked inside each transaction; the CLI passes a `Moderator`, an operator identity. Both
run the same functions. Every action appends one `moderation_log` row in the transaction
that makes its change, so an action and its audit entry commit together or not at all.

Reports are invisible to the person reported: filing one emits no event and changes
nothing they can read. Evidence is copied into the report when it is filed, so it
outlives an unsend, an edit or a deactivation (services/evidence.py says what is kept).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from backchannel.domain import accounts as account_rules
from backchannel.domain.ids import is_public_id, new_id
from backchannel.errors import BackchannelError
from backchannel.services import access, pagination
from backchannel.services.core import Core, Requester
from backchannel.services.erase import erase_messages_in_txn
from backchannel.services.events import emit
from backchannel.services.evidence import (
    conversation_evidence,
    evidence_by_ids,
    evidence_message,
    message_evidence,
    preview,
    shown_handle,
    user_evidence,
)
from backchannel.services.views import iso
from backchannel.store import accounts as user_db
from backchannel.store import conversations as conv_db
from backchannel.store import messages as msg_db
from backchannel.store import moderation as db
from backchannel.store.database import ReadTxn, WriteTxn

REASONS = (
    "spam",
    "scam",
    "harassment",
    "hate",
    "nudity",
    "violence",
    "self_harm",
    "impersonation",
    "underage",
    "other",
)
KINDS = ("user", "message", "conversation")
REPORT_ACTIONS = ("dismiss", "remove_message", "warn", "suspend", "unsuspend")
USER_ACTIONS = ("warn", "suspend", "unsuspend")
ROLES = ("user", "admin")
# action -> the resolution of the report it closes
RESOLUTIONS = {
    "dismiss": "dismissed",
    "remove_message": "message_removed",
    "warn": "warned",
    "suspend": "suspended",
    "unsuspend": "unsuspended",
}
COMMENT_MAX = 1000
NOTE_MAX = 1000
FILTER_REASON_MAX = 32  # reports.reason


@dataclass(frozen=True, slots=True)
class Moderator:
    """Who performs a moderation action: an admin's account (`actor_id`, and `actor` their
    handle) or an operator at the command line (`actor_id=None`, `actor="cli:<os user>"`)."""

    actor_id: int | None
    actor: str


def operator(os_user: str | None) -> Moderator:
    """The identity of an operator at the command line, for the audit log."""
    return Moderator(None, f"cli:{os_user}"[:64] if os_user else "cli")


Acting = Requester | Moderator


def require_moderator(conn: Connection, who: Acting) -> Moderator:
    """The moderator acting, or `not_moderator` for an account without the admin role."""
    if isinstance(who, Moderator):
        return who
    if db.user_role(conn, who.user_id) != "admin":
        raise BackchannelError("not_moderator", "Only moderators may do that.")
    return Moderator(who.user_id, who.handle)


# --- filing reports ------------------------------------------------------------------


async def file_report(
    core: Core,
    requester: Requester,
    *,
    kind: str,
    reason: str,
    user: str | None = None,
    conversation_id: str | None = None,
    message_id: str | None = None,
    comment: str = "",
) -> tuple[dict[str, Any], bool]:
    """Report a user, a message or a conversation. Returns ({id, status}, created).

    A message or conversation is reportable only by those who can read it (others get
    the 404 of a missing one); a user by anyone, by handle. The same reporter reporting
    the same thing again while the first report is open gets that report back
    (`created=False`)."""
    _check_fields(kind, user=user, conversation_id=conversation_id, message_id=message_id)
    reason = _check_reason(reason)
    comment = _clean(comment, field="comment", max_length=COMMENT_MAX)
    handle = _handle(user) if kind == "user" else ""

    def txn(t: WriteTxn) -> tuple[str, bool]:
        evidence: Callable[[], dict[str, Any]]
        conv_id: int | None = None
        msg_id: int | None = None
        if kind == "user":
            target = user_db.user_by_handle(t.conn, handle) if handle else None
            if target is None:
                raise BackchannelError("user_not_found", "No such user.")
            target_id: int | None = target["id"]
            evidence = lambda: user_evidence(t.conn, target, viewer_id=requester.user_id)  # noqa: E731
        else:
            assert conversation_id is not None
            conversation = access.conversation(t.conn, requester, conversation_id)
            conv_id = conversation["id"]
            joined = conversation["joined_position"]
            if kind == "message":
                assert message_id is not None
                message = access.message(t.conn, requester, conversation, message_id)
                target_id, msg_id = message["sender_id"], message["id"]
                evidence = lambda: message_evidence(  # noqa: E731
                    t.conn, conversation, message, viewer_id=requester.user_id, from_position=joined
                )
            else:
                target_id = _other_member(t.conn, conversation, requester.user_id)
                evidence = lambda: conversation_evidence(  # noqa: E731
                    t.conn, conversation, viewer_id=requester.user_id, from_position=joined
                )
        if target_id == requester.user_id:
            raise BackchannelError("cannot_report_self", "You cannot report yourself.")
        return _file(
            t,
            source="report",
            reporter_id=requester.user_id,
            target_user_id=target_id,
            conversation_id=conv_id,
            message_id=msg_id,
            reason=reason,
            comment=comment,
            score=None,
            evidence=evidence,
        )

    pid, created = await core.store.write("file_report", txn)
    return {"id": pid, "status": "open"}, created


def file_report_in_txn(
    t: WriteTxn,
    *,
    reporter_id: int,
    target_user_id: int,
    conversation_id: int | None,
    message_id: int | None,
    reason: str,
    comment: str,
    evidence: dict[str, Any] | None = None,
) -> str:
    """File a person's report inside the caller's write transaction (say, "block and
    report" on a message request); returns the report's public id. The caller has
    already checked that the reporter may see what they report. Without `evidence`, it
    is captured here as the reporter sees it (as `file_report` does). Idempotent like
    `file_report`: an open report of the same thing by the same reporter is returned."""
    reason = _check_reason(reason)
    comment = _clean(comment, field="comment", max_length=COMMENT_MAX)

    def capture() -> dict[str, Any]:
        if evidence is not None:
            return evidence
        return evidence_by_ids(
            t.conn,
            viewer_id=reporter_id,
            target_user_id=target_user_id,
            conversation_id=conversation_id,
            message_id=message_id,
        )

    pid, _created = _file(
        t,
        source="report",
        reporter_id=reporter_id,
        target_user_id=target_user_id,
        conversation_id=conversation_id,
        message_id=message_id,
        reason=reason,
        comment=comment,
        score=None,
        evidence=capture,
    )
    return pid


def file_flag_in_txn(
    t: WriteTxn,
    *,
    target_user_id: int,
    conversation_id: int | None,
    message_id: int | None,
    reason: str,
    score: int,
    evidence: dict[str, Any],
) -> str:
    """File a filter's flag (source `filter`, no reporter) inside the caller's write
    transaction (the send path); returns the report's public id.

    `reason` is a short code of the filter's choosing (at most 32 characters; the
    reasons people use are a good start); `evidence` is stored as given (JSON-able),
    with `message` added — the flagged message as it is now — when `message_id` is set
    and `evidence` has no `message`. A flag does not count in `reports_received` (the
    filters read that counter; they must not feed it themselves). Idempotent: an open
    flag of the same message (or conversation, or user) is returned."""
    if not 0 < len(reason) <= FILTER_REASON_MAX:
        raise BackchannelError(
            "invalid_report", f"A flag's reason has 1-{FILTER_REASON_MAX} characters."
        )

    def capture() -> dict[str, Any]:
        stored = dict(evidence)
        if message_id is not None and "message" not in stored:
            row = msg_db.messages_by_ids(t.conn, [message_id]).get(message_id)
            if row is not None:
                stored["message"] = evidence_message(row, full=True)
        return stored

    pid, _created = _file(
        t,
        source="filter",
        reporter_id=None,
        target_user_id=target_user_id,
        conversation_id=conversation_id,
        message_id=message_id,
        reason=reason,
        comment="",
        score=score,
        evidence=capture,
    )
    return pid


def _file(
    t: WriteTxn,
    *,
    source: str,
    reporter_id: int | None,
    target_user_id: int | None,
    conversation_id: int | None,
    message_id: int | None,
    reason: str,
    comment: str,
    score: int | None,
    evidence: Callable[[], dict[str, Any]],
) -> tuple[str, bool]:
    """Insert a report unless the same one is open. Returns (pid, created)."""
    existing = db.open_report_pid(
        t.conn,
        source=source,
        reporter_id=reporter_id,
        target_user_id=target_user_id,
        conversation_id=conversation_id,
        message_id=message_id,
    )
    if existing is not None:
        return existing, False
    pid = new_id("r")
    db.insert_report(
        t.conn,
        pid=pid,
        source=source,
        reporter_id=reporter_id,
        target_user_id=target_user_id,
        conversation_id=conversation_id,
        message_id=message_id,
        reason=reason,
        comment=comment,
        score=score,
        evidence=orjson.dumps(evidence()).decode(),
        now=t.now_ms,
    )
    if source == "report" and target_user_id is not None:
        db.count_report_received(t.conn, target_user_id)
    return pid, True


def _check_fields(
    kind: str, *, user: str | None, conversation_id: str | None, message_id: str | None
) -> None:
    wanted = {
        "user": (True, False, False),
        "conversation": (False, True, False),
        "message": (False, True, True),
    }.get(kind)
    if wanted is None:
        raise BackchannelError("invalid_report", f"kind is one of {', '.join(KINDS)}.")
    given = (user is not None, conversation_id is not None, message_id is not None)
    if given != wanted:
        names = [
            n for n, w in zip(("user", "conversation_id", "message_id"), wanted, strict=True) if w
        ]
        raise BackchannelError(
            "invalid_report", f"A {kind} report names exactly: {', '.join(names)}."
        )


def _check_reason(reason: str) -> str:
    if reason not in REASONS:
        raise BackchannelError(
            "invalid_report", f"reason is one of {', '.join(REASONS)}; got {reason[:40]!r}."
        )
    return reason


def _clean(value: str, *, field: str, max_length: int) -> str:
    return account_rules.clean_text_field(
        value, field=field, max_length=max_length, allow_empty=True
    )


def _handle(raw: str | None) -> str:
    """The canonical handle, or "" for one that cannot exist (then: user_not_found)."""
    try:
        return account_rules.normalize_handle(raw or "")
    except BackchannelError:
        return ""


def _other_member(conn: Connection, conversation: Mapping[Any, Any], me: int) -> int | None:
    """Whom a conversation report is about: the other person of a direct conversation;
    nobody in particular for a group (the moderator sees its members in the evidence)."""
    if conversation["kind"] != "direct":
        return None
    others = [uid for uid in conv_db.member_ids(conn, conversation["id"]) if uid != me]
    return others[0] if others else None


# --- the queue -----------------------------------------------------------------------


def _kind(row: Mapping[Any, Any]) -> str:
    if row["message_id"] is not None:
        return "message"
    if row["conversation_id"] is not None:
        return "conversation"
    return "user"


def _report_view(row: Mapping[Any, Any], *, full: bool = False) -> dict[str, Any]:
    evidence = orjson.loads(row["evidence"])
    target = None
    if row["target_user_id"] is not None:
        deleted = row["target_deactivated_at"] is not None
        target = {
            "id": row["target_pid"],
            "handle": None if deleted else row["target_handle"],
            "display_name": row["target_display_name"],
            "deleted": deleted,
            "suspended": row["target_suspended_at"] is not None,
            "warnings": int(row["target_warnings"]),
            "reports_received": int(row["target_reports_received"]),
        }
    view: dict[str, Any] = {
        "id": row["pid"],
        "source": row["source"],
        "kind": _kind(row),
        "reason": row["reason"],
        "comment": row["comment"],
        "score": row["score"],
        "status": row["status"],
        "resolution": row["resolution"],
        "created_at": iso(row["created_at"]),
        "resolved_at": iso(row["resolved_at"]),
        "reporter": shown_handle(row["reporter_handle"]),
        "target": target,
        "conversation_id": row["conversation_pid"],
        "message_id": row["message_pid"],
        "preview": preview(evidence) if isinstance(evidence, dict) else "",
    }
    if full:
        view["evidence"] = evidence
    return view


async def queue(
    core: Core,
    who: Acting,
    *,
    status: str = "open",
    source: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Reports by status: open ones oldest first (the queue), closed ones newest first."""
    if status not in ("open", "closed") or source not in (None, "report", "filter"):
        raise BackchannelError(
            "invalid_request", "status is open or closed; source report or filter."
        )
    after = pagination.decode(cursor, 1)
    size = pagination.clamp(limit, default=20)

    def txn(t: ReadTxn) -> dict[str, Any]:
        require_moderator(t.conn, who)
        rows = db.report_page(
            t.conn,
            status=status,
            source=source,
            after_id=after[0] if after else None,
            oldest_first=status == "open",
            limit=size + 1,
        )
        return pagination.page(rows, size, _report_view, lambda row: (row["id"],))

    return await core.store.read("moderation_queue", txn)


async def get_report(core: Core, who: Acting, report_pid: str) -> dict[str, Any]:
    """A report with its evidence and the log entries about it."""

    def txn(t: ReadTxn) -> dict[str, Any]:
        require_moderator(t.conn, who)
        return _report_detail(t.conn, _report(t.conn, report_pid))

    return await core.store.read("moderation_report", txn)


def _report(conn: Connection, report_pid: str) -> Mapping[Any, Any]:
    row = db.report_by_pid(conn, report_pid) if is_public_id(report_pid) else None
    if row is None:
        raise BackchannelError("report_not_found", "No such report.")
    return row


def _report_detail(conn: Connection, row: Mapping[Any, Any]) -> dict[str, Any]:
    view = _report_view(row, full=True)
    entries = db.log_page(conn, report_id=row["id"], newest_first=False, limit=pagination.MAX_LIMIT)
    view["log"] = [_log_view(entry) for entry in entries]
    return view


# --- actions -------------------------------------------------------------------------


async def act_on_report(
    core: Core, who: Acting, report_pid: str, action: str, *, note: str = ""
) -> dict[str, Any]:
    """Resolve an open report: dismiss it, remove its message (like an unsend, for
    everyone), or warn, suspend or unsuspend the person reported. One transaction: the
    change, the report closed, one log entry. Returns the report as it now stands."""
    _check_action(action, REPORT_ACTIONS)
    note = _clean(note, field="note", max_length=NOTE_MAX)

    def txn(t: WriteTxn) -> tuple[dict[str, Any], int | None]:
        moderator = require_moderator(t.conn, who)
        report = _report(t.conn, report_pid)
        if report["status"] != "open":
            raise BackchannelError("report_closed", "That report is already closed.")
        if moderator.actor_id is not None and moderator.actor_id == report["target_user_id"]:
            raise BackchannelError("forbidden", "Another moderator must handle reports about you.")
        signed_out = _act(
            t,
            moderator,
            action,
            target_id=report["target_user_id"],
            report=report,
            note=note,
            reason=report["reason"],
        )
        db.close_report(t.conn, report["id"], resolution=RESOLUTIONS[action], now=t.now_ms)
        return _report_detail(t.conn, _report(t.conn, report_pid)), signed_out

    view, signed_out = await core.store.write("moderate_report", txn)
    if signed_out is not None:
        core.forget_user_tokens(signed_out)  # their live sockets close now
    return view


async def act_on_user(
    core: Core,
    who: Acting,
    handle: str,
    action: str,
    *,
    note: str = "",
    reason: str | None = None,
) -> dict[str, Any]:
    """Warn, suspend (a note is required) or unsuspend someone without a report.
    Returns what a moderator sees of them now."""
    _check_action(action, USER_ACTIONS)
    note = _clean(note, field="note", max_length=NOTE_MAX)
    if action == "suspend" and not note:
        raise BackchannelError("invalid_action", "A suspension without a report needs a note.")
    if reason is not None:
        reason = _check_reason(reason)
    canonical = _handle(handle)

    def txn(t: WriteTxn) -> tuple[dict[str, Any], int | None]:
        moderator = require_moderator(t.conn, who)
        user = db.moderated_user(t.conn, handle=canonical) if canonical else None
        if user is None:
            raise BackchannelError("user_not_found", "No such user.")
        signed_out = _act(
            t, moderator, action, target_id=user["id"], report=None, note=note, reason=reason
        )
        return _user_view(db.moderated_user(t.conn, user_id=user["id"])), signed_out

    view, signed_out = await core.store.write("moderate_user", txn)
    if signed_out is not None:
        core.forget_user_tokens(signed_out)
    return view


def _check_action(action: str, allowed: tuple[str, ...]) -> None:
    if action not in allowed:
        raise BackchannelError(
            "invalid_action", f"action is one of {', '.join(allowed)}; got {action[:40]!r}."
        )


def _act(
    t: WriteTxn,
    moderator: Moderator,
    action: str,
    *,
    target_id: int | None,
    report: Mapping[Any, Any] | None,
    note: str,
    reason: str | None,
) -> int | None:
    """Apply one action and log it. Returns the user whose tokens to forget after commit."""
    signed_out = None
    if _held_message(action, report):
        # a false alarm: a message the filters held goes out after all
        from backchannel.services.messages import release_held_in_txn

        assert report is not None
        release_held_in_txn(t, report["message_id"])
    if action == "remove_message":
        if report is None or report["message_id"] is None:
            raise BackchannelError("invalid_action", "That report is not about a message.")
        remove_message_in_txn(t, report["message_id"])
    elif action in USER_ACTIONS:
        if target_id is None:
            raise BackchannelError("invalid_action", "That report is not about one person.")
        if target_id == moderator.actor_id:
            raise BackchannelError("invalid_action", "Moderators cannot act on their own account.")
        if action == "warn":
            warnings = db.add_warning(t.conn, target_id)
            emit(t, "account.warned", {"reason": reason, "warnings": warnings}, user_id=target_id)
        elif action == "suspend":
            if not user_db.is_suspended(t.conn, target_id):  # keep the first suspension's time
                db.set_suspended(t.conn, target_id, t.now_ms)
            user_db.delete_sessions_except(t.conn, user_id=target_id, keep_id=None)
            signed_out = target_id
        else:
            db.set_suspended(t.conn, target_id, None)
    db.append_log(
        t.conn,
        actor_id=moderator.actor_id,
        actor=moderator.actor,
        action=action,
        target_user_id=target_id,
        report_id=report["id"] if report is not None else None,
        message_id=report["message_id"] if report is not None else None,
        note=note,
        now=t.now_ms,
    )
    return signed_out


def _held_message(action: str, report: Mapping[Any, Any] | None) -> bool:
    """Dismissing a filter's hold on a message releases the message."""
    return (
        action == "dismiss"
        and report is not None
        and report["source"] == "filter"
        and report["reason"] == "held"
        and report["message_id"] is not None
    )


def remove_message_in_txn(t: WriteTxn, message_id: int) -> bool:
    """Erase a message's content for everyone exactly as its sender's unsend does (text,
    edits, reactions and the quotes of it gone; a tombstone stays), with the same
    `message.unsent` event. Returns False when it was already unsent."""
    row = msg_db.messages_by_ids(t.conn, [message_id]).get(message_id)
    if row is None or row["unsent_at"] is not None:
        return False
    # its attachments' bytes go with the next media sweep (services/media.py `sweep`)
    erase_messages_in_txn(t, [message_id], expired=False)
    return True


async def set_role(
    core: Core, who: Acting, handle: str, role: str, *, note: str = ""
) -> dict[str, Any]:
    """Make someone a moderator (`admin`) or take it back (`user`); logged like an action."""
    if role not in ROLES:
        raise BackchannelError("invalid_action", f"role is one of {', '.join(ROLES)}.")
    note = _clean(note, field="note", max_length=NOTE_MAX)
    canonical = _handle(handle)

    def txn(t: WriteTxn) -> dict[str, Any]:
        moderator = require_moderator(t.conn, who)
        user = db.moderated_user(t.conn, handle=canonical) if canonical else None
        if user is None:
            raise BackchannelError("user_not_found", f"No active user {handle[:40]!r}.")
        db.set_role(t.conn, user["id"], role)
        db.append_log(
            t.conn,
            actor_id=moderator.actor_id,
            actor=moderator.actor,
            action=f"set_role:{role}",
            target_user_id=user["id"],
            report_id=None,
            message_id=None,
            note=note,
            now=t.now_ms,
        )
        return _user_view(db.moderated_user(t.conn, user_id=user["id"]))

    return await core.store.write("set_role", txn)


def _user_view(row: Mapping[Any, Any] | None) -> dict[str, Any]:
    assert row is not None
    deleted = row["deactivated_at"] is not None
    return {
        "id": row["pid"],
        "handle": None if deleted else row["handle"],
        "display_name": row["display_name"],
        "deleted": deleted,
        "role": row["role"],
        "suspended": row["suspended_at"] is not None,
        "suspended_at": iso(row["suspended_at"]),
        "warnings": int(row["warnings"]),
        "reports_received": int(row["reports_received"]),
    }


# --- the audit log -------------------------------------------------------------------


async def audit_log(
    core: Core,
    who: Acting,
    *,
    user: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """The moderation log, newest first; with `user`, only the entries about them."""
    before = pagination.decode(cursor, 1)
    size = pagination.clamp(limit, default=50)
    canonical = _handle(user) if user is not None else None

    def txn(t: ReadTxn) -> dict[str, Any]:
        require_moderator(t.conn, who)
        target_id = None
        if canonical is not None:
            found = db.moderated_user(t.conn, handle=canonical) if canonical else None
            if found is None:
                raise BackchannelError("user_not_found", "No such user.")
            target_id = found["id"]
        rows = db.log_page(
            t.conn,
            target_user_id=target_id,
            before_id=before[0] if before else None,
            limit=size + 1,
        )
        return pagination.page(rows, size, _log_view, lambda row: (row["id"],))

    return await core.store.read("moderation_log", txn)


def _log_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    target = None
    if row["target_user_id"] is not None:
        deleted = row["target_deactivated_at"] is not None
        target = {
            "id": row["target_pid"],
            "handle": None if deleted else row["target_handle"],
            "display_name": row["target_display_name"],
            "deleted": deleted,
        }
    return {
        "actor": row["actor"],
        "action": row["action"],
        "target": target,
        "report_id": row["report_pid"],
        "message_id": row["message_pid"],
        "note": row["note"],
        "created_at": iso(row["created_at"]),
    }
