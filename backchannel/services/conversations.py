"""Use cases for conversations: direct and group, members, inbox, read markers."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, RowMapping

from backchannel.config import Settings
from backchannel.domain import accounts as account_rules
from backchannel.domain import conversations as rules
from backchannel.domain import policy
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.services import (
    access,
    disappearing,
    inbox_state,
    limits,
    pagination,
    safety,
    screening,
)
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.media import attachments
from backchannel.services.membership import emit_membership, membership_view, request_sent
from backchannel.services.views import conversation_view, iso, message_view, user_view
from backchannel.store import accounts as user_db
from backchannel.store import conversations as db
from backchannel.store import messages as msg_db
from backchannel.store.database import ReadTxn, WriteTxn


def _handles(raw: list[str]) -> list[str]:
    try:
        return [account_rules.normalize_handle(h) for h in raw]
    except BackchannelError:
        raise BackchannelError("user_not_found", "No such user.") from None


def _users(conn: Connection, handles: list[str]) -> list[RowMapping]:
    found = user_db.users_by_handles(conn, handles)
    missing = [h for h in handles if h not in found]
    if missing:
        raise BackchannelError("user_not_found", f"No such user: {missing[0]}.")
    return [found[h] for h in handles]


async def open_direct(
    core: Core, requester: Requester, handles: list[str]
) -> tuple[dict[str, Any], bool]:
    """The one direct conversation between the requester and `handle`.

    Creates it the first time. Returns (conversation, created).
    """
    (other_handle,) = rules.check_new_members(_handles(handles), me=requester.handle, kind="direct")
    existing = await core.store.read(
        "direct_lookup", lambda t: _existing_direct(t, core.settings, requester, other_handle)
    )
    if existing is not None:
        return existing, False
    await limits.starting_conversation(core, requester)
    await screening.started_conversation(core, requester)

    def txn(t: WriteTxn) -> tuple[dict[str, Any], bool]:
        (other,) = _users(t.conn, [other_handle])
        key = rules.direct_key(requester.user_id, other["id"])
        existing = db.direct_by_key(t.conn, key)
        if existing is not None:
            return detail(t.conn, core.settings, requester, existing["pid"]), False
        how = safety.reach_in_txn(t.conn, core.settings, requester.user_id, other["id"])
        if how == "none":
            raise BackchannelError(
                "cannot_message", "That person does not accept messages from you."
            )
        pid = _create(
            t,
            requester,
            "direct",
            key,
            None,
            [(requester.user_id, "member"), (other["id"], "member")],
            settings=core.settings,
            requests_from={other["id"]: requester.user_id} if how == "request" else None,
        )
        return detail(t.conn, core.settings, requester, pid), True

    return await core.store.write("open_direct", txn)


def _existing_direct(
    t: ReadTxn, settings: Settings, requester: Requester, handle: str
) -> dict[str, Any] | None:
    """The requester's direct conversation with `handle`, if it exists (no limit to pass)."""
    other = user_db.user_by_handle(t.conn, handle)
    if other is None:
        return None
    existing = db.direct_by_key(t.conn, rules.direct_key(requester.user_id, other["id"]))
    if existing is None:
        return None
    return detail(t.conn, settings, requester, existing["pid"])


async def create_group(
    core: Core, requester: Requester, handles: list[str], title: str | None
) -> dict[str, Any]:
    others = rules.check_new_members(_handles(handles), me=requester.handle, kind="group")
    limits.check_group_size(core, requester, len(others) + 1)
    clean_title = rules.check_title(title)
    await limits.creating_group(core, requester)
    await screening.started_conversation(core, requester)

    def txn(t: WriteTxn) -> dict[str, Any]:
        users = _users(t.conn, others)
        asked = _invitations(t, core, requester, users)
        roles = [(requester.user_id, "admin")] + [(u["id"], "member") for u in users]
        pid = _create(
            t,
            requester,
            "group",
            None,
            clean_title,
            roles,
            settings=core.settings,
            requests_from=asked,
        )
        return detail(t.conn, core.settings, requester, pid)

    return await core.store.write("create_group", txn)


def _invitations(
    t: WriteTxn, core: Core, requester: Requester, users: list[RowMapping]
) -> dict[int, int]:
    """Who among `users` joins a group by request (user id -> the requester): those the
    requester may only request. Someone they may not reach at all cannot be added."""
    asked: dict[int, int] = {}
    for user in users:
        if _shares_accepted_direct(t.conn, requester, user["id"]):
            continue
        how = safety.reach_in_txn(t.conn, core.settings, requester.user_id, user["id"])
        if how == "none":
            raise BackchannelError(
                "cannot_add_member", f"{user['handle']} does not accept group invitations from you."
            )
        if how == "request":
            asked[user["id"]] = requester.user_id
    return asked


def _shares_accepted_direct(conn: Connection, requester: Requester, other_id: int) -> bool:
    """Whether the two already talk in an accepted direct conversation (its peer may add
    them to groups whatever their settings, unless a block stands; a request they
    sent that is still unanswered does not count)."""
    existing = db.direct_by_key(conn, rules.direct_key(requester.user_id, other_id))
    if existing is None:
        return False
    row = db.conversation_for_member(conn, existing["pid"], requester.user_id)
    return (
        row is not None
        and row["request_state"] is None
        and row["other_request_state"] is None
        and not row["blocked_by_other"]
        and not row["blocking_other"]
    )


def _create(
    t: WriteTxn,
    requester: Requester,
    kind: str,
    direct_key: str | None,
    title: str | None,
    roles: list[tuple[int, str]],
    *,
    settings: Settings,
    requests_from: dict[int, int] | None = None,
) -> str:
    """Insert a conversation and its members, and announce it. Returns its public id.
    `requests_from`: members who join by request (user id -> who asked)."""
    position = t.next_position()
    conversation = db.insert_conversation(
        t.conn,
        pid=new_id("c"),
        kind=kind,
        direct_key=direct_key,
        title=title,
        created_by=requester.user_id,
        position=position,
        now=t.now_ms,
    )
    db.add_members(
        t.conn,
        conversation["id"],
        roles,
        position=position,
        now=t.now_ms,
        requests_from=requests_from,
    )
    _emit_created(t, conversation, position)
    if kind == "direct":
        inbox_state.direct_created(t, conversation["id"], [uid for uid, _ in roles], position)
    for user_id in requests_from or {}:
        emit_membership(t, settings, conversation["id"], str(conversation["pid"]), user_id)
    return str(conversation["pid"])


def _emit_created(t: WriteTxn, conversation: RowMapping, position: int) -> None:
    view = conversation_view(conversation, db.member_rows(t.conn, [conversation["id"]]))
    emit(
        t,
        "conversation.created",
        {"conversation": view},
        conversation_id=conversation["id"],
        position=position,
    )


FOLDER_QUERY = ("primary", "general", "requests", "hidden", "archived")


async def inbox(
    core: Core,
    requester: Requester,
    *,
    cursor: str | None,
    limit: int | None,
    folder: str | None = None,
) -> dict[str, Any]:
    """A folder of the requester's conversations, pinned first, then by last activity.

    No folder: the inbox (primary and general, not archived or hidden). `requests` and
    `hidden` list unanswered, unexpired requests with something in them to read.
    """
    if folder is not None:
        policy.check_choice(folder, FOLDER_QUERY, field="folder")
    before = pagination.decode(cursor, 2)
    size = pagination.clamp(limit, default=20)
    now = _now_ms()

    def txn(t: ReadTxn) -> dict[str, Any]:
        rows = db.inbox_page(
            t.conn,
            requester.user_id,
            before=(before[0], before[1]) if before else None,
            limit=size + 1,
            folder=folder,
            requests_since=now - int(core.settings.request_ttl_seconds * 1000),
        )
        more = len(rows) > size
        rows = rows[:size]
        last = rows[-1] if rows else None
        return {
            "items": _inbox_items(t.conn, core.settings, rows, requester.user_id),
            "next_cursor": pagination.encode(last["pinned"], last["last_position"])
            if more and last is not None
            else None,
        }

    return await core.store.read("inbox", txn)


async def get_conversation(core: Core, requester: Requester, pid: str) -> dict[str, Any]:
    return await core.store.read(
        "get_conversation", lambda t: detail(t.conn, core.settings, requester, pid)
    )


def detail(conn: Connection, settings: Settings, requester: Requester, pid: str) -> dict[str, Any]:
    access.conversation(conn, requester, pid)
    rows = db.inbox_page(conn, requester.user_id, before=None, limit=1, only_pid=pid)
    return _inbox_items(conn, settings, rows, requester.user_id)[0]


def details(
    conn: Connection, settings: Settings, requester: Requester, pids: list[str]
) -> dict[str, tuple[dict[str, Any], int | None]]:
    """`detail` for many conversations at once, in a fixed number of queries: by pid, the
    view and the internal id of its last message. Only those the requester is a member of
    are there (the membership is the check)."""
    if not pids:
        return {}
    rows = db.inbox_page(conn, requester.user_id, before=None, limit=len(pids), only_pids=pids)
    items = _inbox_items(conn, settings, rows, requester.user_id)
    return {
        str(row["pid"]): (item, row["last_message_id"])
        for row, item in zip(rows, items, strict=True)
    }


def _inbox_items(
    conn: Connection, settings: Settings, rows: list[RowMapping], viewer_id: int
) -> list[dict[str, Any]]:
    """Conversations with the viewer's fields, in a fixed number of queries."""
    members_by_conv: dict[int, list[RowMapping]] = {}
    for member in db.member_rows(conn, [row["id"] for row in rows], viewer_id=viewer_id):
        members_by_conv.setdefault(member["conversation_id"], []).append(member)
    last_ids = [row["last_message_id"] for row in rows if row["last_message_id"] is not None]
    last = msg_db.messages_by_ids(conn, last_ids)
    reactions = msg_db.reactions_for(conn, last_ids, viewer_id=viewer_id)
    attached = attachments(conn, list(last.values()))
    now = _now_ms()
    items = []
    for row in rows:
        members = members_by_conv.get(row["id"], [])
        view = conversation_view(row, members)
        last_row = last.get(row["last_message_id"])
        view.update(
            role=row["role"],
            unread_count=row["unread_count"],
            read_position=row["read_position"],
            last_activity_position=row["last_position"],
            last_message=message_view(
                last_row, reactions.get(last_row["id"]), attached.get(last_row["id"])
            )
            if last_row is not None
            else None,
            last_message_at=iso(row["last_message_at"]),
            read_positions=_read_positions(members, viewer_id),
            **membership_view(settings, row, members, now_ms=now),
            **request_sent(settings, row, members, viewer_id, now_ms=now),
        )
        items.append(view)
    return items


def _read_positions(members: list[RowMapping], viewer_id: int) -> dict[str, int]:
    """How far the other members have read ("Seen"), as far as the viewer may know.

    Receipts are reciprocal: nothing if the viewer turned them off, and nothing from
    members who did. Only reads since both joined count, which is exactly what the
    `receipt.updated` events after joining convey.
    """
    viewer = next((m for m in members if m["id"] == viewer_id), None)
    if viewer is None or not viewer["read_receipts"]:
        return {}
    return {
        m["handle"]: int(m["read_position"])
        for m in members
        if m["id"] != viewer_id
        and m["read_receipts"]
        and m["deactivated_at"] is None
        and m["request_state"] is None  # a request is read without its sender knowing
        and not m["blocked_with_viewer"]
        and m["read_position"] > max(m["joined_position"], viewer["joined_position"])
    }


async def add_members(
    core: Core, requester: Requester, pid: str, handles: list[str]
) -> dict[str, Any]:
    wanted = _handles(handles)
    if not wanted or len(set(wanted)) != len(wanted):
        raise BackchannelError("invalid_members", "Name each new member once.")

    def txn(t: WriteTxn) -> dict[str, Any]:
        conversation = access.conversation(t.conn, requester, pid)
        access.require_admin(conversation)
        users = _users(t.conn, wanted)
        current = set(db.member_ids(t.conn, conversation["id"]))
        new = [u for u in users if u["id"] not in current]
        if not new:
            raise BackchannelError("invalid_members", "Everyone named is already a member.")
        limits.check_group_size(core, requester, len(current) + len(new))
        asked = _invitations(t, core, requester, new)
        position = t.next_position()
        db.add_members(
            t.conn,
            conversation["id"],
            [(u["id"], "member") for u in new],
            position=position,
            now=t.now_ms,
            requests_from=asked,
        )
        for user_id in asked:
            emit_membership(t, core.settings, conversation["id"], pid, user_id)
        view = conversation_view(conversation, db.member_rows(t.conn, [conversation["id"]]))
        emit(
            t,
            "member.joined",
            {
                "conversation": view,
                "users": [user_view(u) for u in new],
                "by": requester.handle,
            },
            conversation_id=conversation["id"],
            position=position,
        )
        db.update_conversation(t.conn, conversation["id"], last_position=position)
        return detail(t.conn, core.settings, requester, pid)

    return await core.store.write("add_members", txn)


async def remove_member(core: Core, requester: Requester, pid: str, handle: str) -> None:
    """Remove someone from a group (admins), or leave it (anyone, naming themselves)."""
    (target_handle,) = _handles([handle])

    def txn(t: WriteTxn) -> None:
        conversation = access.conversation(t.conn, requester, pid)
        if conversation["kind"] != "group":
            raise BackchannelError("forbidden", "Nobody can leave a direct conversation.")
        if target_handle == requester.handle:
            leave_in_txn(t, conversation["id"], requester.user_id, by_id=requester.user_id)
            return
        access.require_admin(conversation)
        target = user_db.user_by_handle(t.conn, target_handle)
        if target is None or target["id"] not in db.member_ids(t.conn, conversation["id"]):
            raise BackchannelError("user_not_found", "That user is not a member.")
        leave_in_txn(t, conversation["id"], target["id"], by_id=requester.user_id)

    await core.store.write("remove_member", txn)


def leave_in_txn(t: WriteTxn, conversation_id: int, user_id: int, *, by_id: int) -> None:
    """End a group membership inside the caller's transaction.

    When the last admin goes, the longest-standing remaining member becomes admin.
    """
    rows = db.member_rows(t.conn, [conversation_id])
    leaving = next(r for r in rows if r["id"] == user_id)
    by = next((r for r in rows if r["id"] == by_id), leaving)
    position = t.next_position()
    pid = db.conversation_pid(t.conn, conversation_id)
    emit(
        t,
        "member.left",
        {
            "conversation_id": pid,
            "user": user_view(leaving),
            "by": by["handle"] if by["deactivated_at"] is None else None,
            "removed": by_id != user_id,
        },
        conversation_id=conversation_id,
        position=position,
    )
    db.remove_member(t.conn, conversation_id, user_id, position=position)
    remaining = [r for r in rows if r["id"] != user_id]
    if remaining and not any(r["role"] == "admin" for r in remaining):
        heir = remaining[0]
        db.set_role(t.conn, conversation_id, heir["id"], "admin")
        emit(
            t,
            "member.role_changed",
            {"conversation_id": pid, "user": user_view(heir), "role": "admin"},
            conversation_id=conversation_id,
        )
    db.update_conversation(t.conn, conversation_id, last_position=t.last_allocated)


async def rename(core: Core, requester: Requester, pid: str, title: str | None) -> dict[str, Any]:
    clean_title = rules.check_title(title)

    def txn(t: WriteTxn) -> dict[str, Any]:
        conversation = access.conversation(t.conn, requester, pid)
        access.require_admin(conversation)
        db.update_conversation(t.conn, conversation["id"], title=clean_title)
        emit(
            t,
            "conversation.updated",
            {"conversation_id": pid, "title": clean_title, "by": requester.handle},
            conversation_id=conversation["id"],
        )
        return detail(t.conn, core.settings, requester, pid)

    return await core.store.write("rename", txn)


async def mark_read(core: Core, requester: Requester, pid: str, message_pid: str) -> int:
    """Move the requester's read marker up to a message. Never backwards; not onto a
    message private to its sender (their own: nothing to read, and others would learn
    of it from the marker).

    Returns the read position now in force.
    """

    def txn(t: WriteTxn) -> int:
        return mark_read_in_txn(t, requester, pid, message_pid)[0]

    return await core.store.write("mark_read", txn)


def mark_read_in_txn(
    t: WriteTxn, requester: Requester, pid: str, message_pid: str
) -> tuple[int, bool]:
    """`mark_read` inside the caller's transaction: (the read position now, whether it moved)."""
    conversation = access.conversation(t.conn, requester, pid)
    message = access.message(t.conn, requester, conversation, message_pid)
    if message["private_to"] is not None:
        # Only its sender sees it: a marker moved onto it would tell others it exists.
        return int(conversation["read_position"]), False
    position = message["position"]
    if not db.set_read_position(t.conn, conversation["id"], requester.user_id, position):
        return max(position, int(conversation["read_position"])), False
    emit(
        t,
        "read.updated",
        {"conversation_id": pid, "read_position": position, "message_id": message_pid},
        conversation_id=conversation["id"],
        user_id=requester.user_id,
    )
    disappearing.after_read_in_txn(t, conversation)
    # A request is read without its sender knowing; receipts start once accepted.
    if conversation["request_state"] is None and user_db.read_receipts_on(
        t.conn, requester.user_id
    ):
        emit(
            t,
            "receipt.updated",
            {
                "conversation_id": pid,
                "user": requester.handle,
                "read_position": position,
                "message_id": message_pid,
            },
            conversation_id=conversation["id"],
            message_position=position,  # not to members who joined after that message
            actor_id=requester.user_id,  # not across a block
        )
    return position, True


def _now_ms() -> int:
    return int(time.time() * 1000)
