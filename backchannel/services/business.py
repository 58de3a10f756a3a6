"""Use cases of the business inbox: becoming a business, its team, working its
conversations as the business (reading, replying, triage, labels, notes), and the audit log.

Every delegated call passes `gate` (the team member and their role, the same 404 as for a
business that does not exist) and, for a conversation, `conversation_gate` (an agent's
scope). Team members act *as the business*: `acting` gives the business's own Requester,
marked with the agent, so the DM engine's rules (blocks, limits, screening) apply to the
business exactly as when it writes itself. Every delegated read and write is written to the
audit log in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from backchannel.domain import accounts as account_rules
from backchannel.domain import business as rules
from backchannel.domain import hours
from backchannel.domain import webhooks as webhook_rules
from backchannel.errors import BackchannelError
from backchannel.services import inbox_state, limits, pagination
from backchannel.services.core import Core, Requester
from backchannel.services.events import emit
from backchannel.services.views import iso, user_view
from backchannel.store import accounts as user_db
from backchannel.store import business as db
from backchannel.store import webhooks as token_db
from backchannel.store import workspace as workspace_db
from backchannel.store.database import ReadTxn, WriteTxn

Row = Mapping[Any, Any]


@dataclass(frozen=True, slots=True)
class Team:
    """The requester's place on a business's team, as `gate` found it."""

    business: Row  # the business's user row
    member_id: int
    role: str
    scope: str
    teams: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TokenRequester(Requester):
    """A business API token (services/business_tokens.py): it acts for the business `user_id`
    with the token's role, on that business's routes only (api/deps.py)."""

    token_id: int = 0
    token_name: str = ""


def _handle(raw: str) -> str:
    try:
        return account_rules.normalize_handle(raw)
    except BackchannelError:
        raise BackchannelError("business_not_found", "No such business.") from None


def gate(t: WriteTxn, requester: Requester, handle: str, action: str) -> Team:
    """The requester's role on the business `handle`, allowed to do `action`.

    `business_not_found` when there is no such business and, identically, when the
    requester is not on its team now (removed, or access expired); `business_forbidden`
    when they are but their role may not do `action`.
    """
    business = user_db.user_by_handle(t.conn, _handle(handle))
    if business is None or db.business(t.conn, business["id"]) is None:
        raise BackchannelError("business_not_found", "No such business.")
    if isinstance(requester, TokenRequester):
        return _token_team(t, requester, business, action)
    member = db.open_member(t.conn, business["id"], requester.user_id)
    if member is None:
        raise BackchannelError("business_not_found", "No such business.")
    if member["expires_at"] is not None and member["expires_at"] <= t.now_ms:
        raise BackchannelError("business_not_found", "No such business.")
    rules.require(member["role"], action)
    teams = (
        db.team_ids_of(t.conn, requester.user_id, business["id"])
        if member["scope"] == "team"
        else []
    )
    return Team(business, int(member["member_id"]), member["role"], member["scope"], tuple(teams))


def _token_team(t: WriteTxn, requester: TokenRequester, business: Row, action: str) -> Team:
    """`gate` for an API token: its own business only, while it stands, with its role."""
    if business["id"] != requester.user_id:
        raise BackchannelError("business_not_found", "No such business.")
    role = token_db.token_role(t.conn, requester.token_id)
    if role is None:
        raise BackchannelError("unauthenticated", "The API token was revoked.")
    if action in webhook_rules.TOKEN_DENIED_ACTIONS:
        raise BackchannelError("business_forbidden", f"An API token may not do that ({action}).")
    rules.require(role, action)
    member = db.open_member(t.conn, business["id"], business["id"])
    member_id = int(member["member_id"]) if member is not None else 0
    return Team(business, member_id, role, "all", ())


def conversation_gate(t: WriteTxn, team: Team, requester: Requester, conversation_pid: str) -> Row:
    """The working state of one of the business's conversations the requester may see:
    `conversation_not_found` for others, and for those outside a narrowed agent's scope."""
    state = db.conversation_state(t.conn, team.business["id"], conversation_pid)
    if state is None or not in_scope(team, state, requester.user_id):
        raise BackchannelError("conversation_not_found", "No such conversation.")
    return state


def in_scope(team: Team, state: Row, user_id: int) -> bool:
    if team.scope == "all":
        return True
    if state["assignee_id"] == user_id:
        return True
    return team.scope == "team" and state["team_id"] in team.teams


def acting(t: WriteTxn, core: Core, team: Team, requester: Requester) -> Requester:
    """The business's own Requester, for the DM engine, marked with the agent acting."""
    row = user_db.trust_counters(t.conn, team.business["id"])
    tier = limits.tier_of(core.settings, row, t.now_ms)
    business = team.business
    return Requester(
        int(business["id"]),
        str(business["pid"]),
        str(business["handle"]),
        None,
        str(business["display_name"]),
        tier,
        int(row["created_at"]),
        agent_id=None if requester.user_id == business["id"] else requester.user_id,
    )


def audit_in_txn(
    t: WriteTxn,
    team: Team,
    requester: Requester,
    action: str,
    /,
    *,
    conversation_id: int | None = None,
    **detail: Any,
) -> None:
    """Record a delegated read or write (`detail`: what it named, as JSON; an API
    token's name is added as `token`)."""
    if isinstance(requester, TokenRequester):
        detail["token"] = requester.token_name
    db.audit(
        t.conn,
        business_id=team.business["id"],
        actor_id=requester.user_id,
        action=action,
        now=t.now_ms,
        conversation_id=conversation_id,
        detail={k: v for k, v in detail.items() if v is not None} or None,
    )


# --- becoming a business ------------------------------------------------------------------


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BackchannelError("invalid_request", f"Unknown time zone {name!r}.") from None
    return name


async def become_business(core: Core, requester: Requester, *, timezone: str) -> dict[str, Any]:
    """Make the requester's account a business; they are its first owner. Conversations
    from before stay personal: the team sees only those started from now on."""
    zone = _check_timezone(timezone)

    def txn(t: WriteTxn) -> dict[str, Any]:
        if db.business(t.conn, requester.user_id) is not None:
            raise BackchannelError("already_business", "This account is a business already.")
        db.insert_business(t.conn, requester.user_id, timezone=zone, now=t.now_ms)
        db.add_member(
            t.conn,
            business_id=requester.user_id,
            user_id=requester.user_id,
            role="owner",
            scope="all",
            expires_at=None,
            added_by=None,
            position=t.next_position(),
            now=t.now_ms,
        )
        user = user_db.user_by_id(t.conn, requester.user_id)
        return _business_view(t, user, "owner")

    return await core.store.write("become_business", txn)


def _business_view(t: WriteTxn, user: Row | None, role: str) -> dict[str, Any]:
    assert user is not None
    row = db.business(t.conn, user["id"])
    return {
        "business": user_view(user),
        "timezone": row["timezone"] if row else "UTC",
        "role": role,
        "since": iso(row["created_at"]) if row else None,
    }


async def get_business(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "read")
        return _business_view(t, team.business, team.role)

    return await core.store.write("get_business", txn)


async def my_businesses(core: Core, requester: Requester) -> dict[str, Any]:
    def txn(t: ReadTxn) -> dict[str, Any]:
        rows = db.memberships_of(t.conn, requester.user_id, now=t.now_ms)
        return {
            "items": [
                {
                    "business": user_view(row),
                    "role": row["role"],
                    "scope": row["scope"],
                    "expires_at": iso(row["expires_at"]),
                }
                for row in rows
            ]
        }

    return await core.store.read("my_businesses", txn)


# --- the team -----------------------------------------------------------------------------


def _member_view(row: Row, now: int) -> dict[str, Any]:
    expires = row["expires_at"]
    return {
        "user": user_view(row),
        "role": row["role"],
        "scope": row["scope"],
        "expires_at": iso(expires),
        "expired": expires is not None and expires <= now,
        "since": iso(row["member_since"]),
    }


async def team_members(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "read")
        rows = db.members_of(t.conn, team.business["id"])
        return {"items": [_member_view(row, t.now_ms) for row in rows]}

    return await core.store.write("business_members", txn)


async def put_member(
    core: Core,
    requester: Requester,
    handle: str,
    member_handle: str,
    *,
    role: str,
    scope: str,
    expires_at_ms: int | None,
) -> tuple[dict[str, Any], bool]:
    """Add someone (an existing account) to the team, or change their role, scope or
    expiry. Returns (member, added). Admins manage all but owners; only owners make owners."""
    new_role = rules.check_role(role)
    new_scope = rules.check_scope(scope, new_role)

    def txn(t: WriteTxn) -> tuple[dict[str, Any], bool]:
        team = gate(t, requester, handle, "manage_team")
        if expires_at_ms is not None and expires_at_ms <= t.now_ms:
            raise BackchannelError("invalid_request", "expires_at must be in the future.")
        user = user_db.user_by_handle(t.conn, handle_of(member_handle))
        if user is None:
            raise BackchannelError("user_not_found", "No such user.")
        if user["id"] == team.business["id"]:
            raise BackchannelError("invalid_request", "The business account is always its owner.")
        current = db.open_member(t.conn, team.business["id"], user["id"])
        if not rules.may_manage(team.role, current["role"] if current else None, new_role):
            raise BackchannelError("business_forbidden", "Only owners manage owners.")
        business_id = team.business["id"]
        if current is None:
            db.add_member(
                t.conn,
                business_id=business_id,
                user_id=user["id"],
                role=new_role,
                scope=new_scope,
                expires_at=expires_at_ms,
                added_by=requester.user_id,
                position=t.next_position(),
                now=t.now_ms,
            )
        else:
            if current["role"] == "owner" and new_role != "owner":
                _keep_an_owner(t, business_id, int(current["member_id"]))
            db.update_member(
                t.conn,
                int(current["member_id"]),
                role=new_role,
                scope=new_scope,
                expires_at=expires_at_ms,
            )
        row = db.open_member(t.conn, business_id, user["id"])
        assert row is not None
        view = _member_view(row, t.now_ms)
        audit_in_txn(
            t,
            team,
            requester,
            "member.added" if current is None else "member.changed",
            member=user["handle"],
            role=new_role,
            scope=new_scope,
            expires_at=iso(expires_at_ms),
        )
        emit(
            t,
            "business.team_updated",
            {"business": team.business["handle"], "member": view, "removed": False},
            business_id=team.business["id"],
        )
        return view, current is None

    return await core.store.write("business_put_member", txn)


def handle_of(raw: str) -> str:
    try:
        return account_rules.normalize_handle(raw)
    except BackchannelError:
        raise BackchannelError("user_not_found", "No such user.") from None


def _keep_an_owner(t: WriteTxn, business_id: int, member_id: int) -> None:
    if db.owners_left(t.conn, business_id, now=t.now_ms, without=member_id) == 0:
        raise BackchannelError("last_owner", "A business keeps at least one owner.")


async def remove_member(core: Core, requester: Requester, handle: str, member_handle: str) -> None:
    """Take someone off the team (or leave it yourself: anyone may)."""

    def txn(t: WriteTxn) -> None:
        leaving = handle_of(member_handle) == requester.handle
        team = gate(t, requester, handle, "read" if leaving else "manage_team")
        user = user_db.user_by_handle(t.conn, handle_of(member_handle))
        current = None if user is None else db.open_member(t.conn, team.business["id"], user["id"])
        if user is None or current is None:
            raise BackchannelError("member_not_found", "That person is not on the team.")
        if user["id"] == team.business["id"]:
            raise BackchannelError("invalid_request", "The business account is always its owner.")
        if not leaving and not rules.may_manage(team.role, current["role"], None):
            raise BackchannelError("business_forbidden", "Only owners manage owners.")
        if current["role"] == "owner":
            _keep_an_owner(t, team.business["id"], int(current["member_id"]))
        view = _member_view(current, t.now_ms)
        audit_in_txn(t, team, requester, "member.removed", member=user["handle"])
        # They see their own removal (their span ends at it), then nothing more.
        position = t.next_position()
        emit(
            t,
            "business.team_updated",
            {"business": team.business["handle"], "member": view, "removed": True},
            business_id=team.business["id"],
            position=position,
        )
        db.close_member(t.conn, int(current["member_id"]), position=position, now=t.now_ms)
        workspace_db.leave_teams_of(t.conn, int(team.business["id"]), int(user["id"]))

    await core.store.write("business_remove_member", txn)


# --- the audit log ------------------------------------------------------------------------


async def audit_log(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    actor: str | None,
    cursor: str | None,
    limit: int | None,
) -> dict[str, Any]:
    before = pagination.decode(cursor, 1)
    size = pagination.clamp(limit)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "audit")
        actor_id = None
        if actor is not None:
            user = user_db.user_by_handle(t.conn, handle_of(actor))
            actor_id = -1 if user is None else int(user["id"])
        rows = db.audit_page(
            t.conn,
            team.business["id"],
            before=before[0] if before else None,
            limit=size + 1,
            actor_id=actor_id,
        )
        return pagination.page(rows, size, _audit_view, lambda r: (r["id"],))

    return await core.store.write("business_audit", txn)


def _audit_view(row: Row) -> dict[str, Any]:
    return {
        "actor": user_view(row),
        "action": row["action"],
        "conversation_id": row["conversation_pid"],
        "detail": orjson.loads(row["detail"]) if row["detail"] else {},
        "at": iso(row["at"]),
    }


# --- settings: business hours, welcome and away messages ----------------------------------

AUTO_TEXT_MAX = 1000


def _settings_view(t: ReadTxn | WriteTxn, business_id: int) -> dict[str, Any]:
    row = db.business(t.conn, business_id)
    assert row is not None
    schedule = inbox_state.schedule_of(row)
    now = datetime.fromtimestamp(t.now_ms / 1000, UTC)
    opening = hours.next_open(schedule, now)
    view = None
    if schedule is not None:
        full = schedule.view()
        view = {"week": full["week"], "holidays": full["holidays"]}
    return {
        "timezone": row["timezone"],
        "hours": view,
        "welcome_message": row["welcome_text"],
        "away_message": row["away_text"],
        "open_now": hours.is_open(schedule, now),
        "next_open": None if opening is None else iso(int(opening.timestamp() * 1000)),
    }


async def get_settings(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "read")
        return _settings_view(t, int(team.business["id"]))

    return await core.store.write("business_settings", txn)


def _auto_text(raw: str | None) -> str | None:
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > AUTO_TEXT_MAX:
        raise BackchannelError("invalid_request", f"At most {AUTO_TEXT_MAX} characters.")
    return text


async def update_settings(
    core: Core, requester: Requester, handle: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change the time zone, the weekly hours and holidays (null: always open), the welcome
    message (a customer's first message) and the away message (outside hours)."""
    values: dict[str, Any] = {}
    if "timezone" in changes:
        values["timezone"] = _check_timezone(changes["timezone"] or "UTC")
    if "welcome_message" in changes:
        values["welcome_text"] = _auto_text(changes["welcome_message"])
    if "away_message" in changes:
        values["away_text"] = _auto_text(changes["away_message"])

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "manage_settings")
        business_id = int(team.business["id"])
        if "hours" in changes:
            raw = changes["hours"]
            if raw is None:
                values["hours"] = None
            else:
                zone = values.get("timezone") or db.business(t.conn, business_id)["timezone"]  # type: ignore[index]
                parsed = hours.parse({**raw, "timezone": zone}).view()
                values["hours"] = orjson.dumps(
                    {"week": parsed["week"], "holidays": parsed["holidays"]}
                ).decode()
        if not values:
            raise BackchannelError("invalid_request", "Nothing to change.")
        db.update_business(t.conn, business_id, **values)
        audit_in_txn(t, team, requester, "settings.updated", changed=sorted(changes))
        return _settings_view(t, business_id)

    return await core.store.write("business_update_settings", txn)
