"""What a business sets up for its team: teams within it (for assignment and an agent's
`team` scope), saved replies with variables, and contacts — what it knows of a customer.
Every call passes services/business.py's gate and is audit-logged like the inbox's."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from backchannel.domain import templates
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.services import business, inbox_state
from backchannel.services.core import Core, Requester
from backchannel.services.views import iso, user_view
from backchannel.store import accounts as user_db
from backchannel.store import business as bdb
from backchannel.store import workspace as db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]
ATTRIBUTE_KEY = re.compile(r"^[a-z0-9_]{1,40}$")
ATTRIBUTES_MAX = 50
ATTRIBUTE_VALUE_MAX = 500
CONTACT_NOTES_MAX = 10_000

# --- teams --------------------------------------------------------------------------------


def _team_view(row: Row, members: Sequence[Row]) -> dict[str, Any]:
    return {"id": row["pid"], "name": row["name"], "members": [user_view(m) for m in members]}


async def teams(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        rows = db.teams_of(t.conn, team.business["id"])
        members = db.team_members(t.conn, [int(r["id"]) for r in rows])
        return {"items": [_team_view(r, members.get(int(r["id"]), [])) for r in rows]}

    return await core.store.write("business_teams", txn)


async def create_team(core: Core, requester: Requester, handle: str, name: str) -> dict[str, Any]:
    from backchannel.domain import business as rules

    shown = rules.check_team_name(name)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_team")
        if db.team_name_taken(t.conn, team.business["id"], shown):
            raise BackchannelError("team_exists", "There is a team of that name already.")
        row = db.insert_team(
            t.conn, pid=new_id("t"), business_id=team.business["id"], name=shown, now=t.now_ms
        )
        business.audit_in_txn(t, team, requester, "team.created", team=shown)
        return _team_view(row, [])

    return await core.store.write("business_create_team", txn)


async def set_team_member(
    core: Core, requester: Requester, handle: str, team_pid: str, member: str, *, on: bool
) -> dict[str, Any]:
    """Put a teammate in a team, or take them out (idempotent); returns the team."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_team")
        row = _team(t, team, team_pid)
        user = user_db.user_by_handle(t.conn, business.handle_of(member))
        if user is None or bdb.open_member(t.conn, team.business["id"], user["id"]) is None:
            raise BackchannelError("member_not_found", "That person is not on the team.")
        change = db.join_team if on else db.leave_team
        change(t.conn, int(row["id"]), int(user["id"]))
        business.audit_in_txn(
            t,
            team,
            requester,
            "team.joined" if on else "team.left",
            team=row["name"],
            member=user["handle"],
        )
        return _team_view(row, db.team_members(t.conn, [int(row["id"])]).get(int(row["id"]), []))

    return await core.store.write("business_team_member", txn)


async def delete_team(core: Core, requester: Requester, handle: str, team_pid: str) -> None:
    def txn(t: WriteTxn) -> None:
        team = business.gate(t, requester, handle, "manage_team")
        row = _team(t, team, team_pid)
        db.delete_team(t.conn, int(row["id"]))
        business.audit_in_txn(t, team, requester, "team.deleted", team=row["name"])

    await core.store.write("business_delete_team", txn)


def _team(t: WriteTxn, team: business.Team, pid: str) -> Row:
    row = db.team_by_pid(t.conn, team.business["id"], pid)
    if row is None:
        raise BackchannelError("team_not_found", "No such team.")
    return row


# --- saved replies ------------------------------------------------------------------------


def _reply_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["pid"],
        "shortcut": row["shortcut"],
        "title": row["title"],
        "text": row["text"],
        "variables": templates.variables(row["text"]),
        "updated_at": iso(row["updated_at"]),
    }


def _title(raw: str) -> str:
    title = " ".join(raw.split())
    if not title or len(title) > 100:
        raise BackchannelError("invalid_request", "A title has 1 to 100 characters.")
    return title


async def saved_replies(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        return {"items": [_reply_view(r) for r in db.saved_replies_of(t.conn, team.business["id"])]}

    return await core.store.write("business_saved_replies", txn)


async def save_reply(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    reply_pid: str | None,
    shortcut: str | None,
    title: str | None,
    text: str | None,
) -> dict[str, Any]:
    """Create a saved reply (`reply_pid` None: all three fields needed) or change one.
    The text is checked: an unknown variable is refused now, not sent to a customer."""
    key = None if shortcut is None else templates.check_shortcut(shortcut)
    shown = None if title is None else _title(title)
    body = None if text is None else templates.check(text)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_replies")
        business_id = int(team.business["id"])
        existing = None if reply_pid is None else _saved(t, team, reply_pid)
        if key is not None and db.shortcut_taken(
            t.conn, business_id, key, other_than=int(existing["id"]) if existing else 0
        ):
            raise BackchannelError("shortcut_taken", f"/{key} is taken already.")
        if existing is None:
            if key is None or shown is None or body is None:
                raise BackchannelError("invalid_request", "shortcut, title and text are needed.")
            row = db.insert_saved_reply(
                t.conn,
                pid=new_id("r"),
                business_id=business_id,
                shortcut=key,
                title=shown,
                text=body,
                created_by=requester.user_id,
                created_at=t.now_ms,
                updated_at=t.now_ms,
            )
        else:
            changes = {k: v for k, v in (("shortcut", key), ("title", shown), ("text", body)) if v}
            row = db.update_saved_reply(t.conn, int(existing["id"]), updated_at=t.now_ms, **changes)
        business.audit_in_txn(
            t,
            team,
            requester,
            "saved_reply.created" if existing is None else "saved_reply.updated",
            shortcut=row["shortcut"],
        )
        return _reply_view(row)

    return await core.store.write("business_save_reply", txn)


async def delete_saved_reply(core: Core, requester: Requester, handle: str, reply_pid: str) -> None:
    def txn(t: WriteTxn) -> None:
        team = business.gate(t, requester, handle, "manage_replies")
        row = _saved(t, team, reply_pid)
        db.delete_saved_reply(t.conn, int(row["id"]))
        business.audit_in_txn(t, team, requester, "saved_reply.deleted", shortcut=row["shortcut"])

    await core.store.write("business_delete_saved_reply", txn)


def _saved(t: WriteTxn, team: business.Team, pid: str) -> Row:
    row = db.saved_reply_by_pid(t.conn, team.business["id"], pid)
    if row is None:
        raise BackchannelError("saved_reply_not_found", "No such saved reply.")
    return row


async def render_reply(
    core: Core, requester: Requester, handle: str, reply_pid: str, conversation_pid: str
) -> dict[str, Any]:
    """A saved reply filled in for one conversation: the customer (the business's name for
    them first), the agent asking, the business, the contact's attributes."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "reply")
        state = business.conversation_gate(t, team, requester, conversation_pid)
        row = _saved(t, team, reply_pid)
        customer = user_db.user_by_id(t.conn, state["customer_id"])
        agent = user_db.user_by_id(t.conn, requester.user_id)
        found = db.contact(t.conn, team.business["id"], state["customer_id"])
        customer_name = (found["name"] if found else None) or (
            customer["display_name"] if customer and customer["deactivated_at"] is None else ""
        )
        agent_name = agent["display_name"] if agent else ""
        values: dict[str, str | None] = {
            "customer.name": customer_name,
            "customer.first_name": templates.first_name(customer_name),
            "customer.handle": customer["handle"] if customer else None,
            "agent.name": agent_name,
            "agent.first_name": templates.first_name(agent_name),
            "business.name": team.business["display_name"],
        }
        for name, value in _attributes(found).items():
            values[f"customer.attributes.{name}"] = value
        return {"text": templates.render(row["text"], values)}

    return await core.store.write("business_render_reply", txn)


# --- contacts -----------------------------------------------------------------------------


def _attributes(row: Row | None) -> dict[str, str]:
    return orjson.loads(row["attributes"]) if row and row["attributes"] else {}


def _check_attributes(raw: dict[str, Any]) -> dict[str, str]:
    if len(raw) > ATTRIBUTES_MAX:
        raise BackchannelError("invalid_attributes", f"At most {ATTRIBUTES_MAX} attributes.")
    for key, value in raw.items():
        if (
            not ATTRIBUTE_KEY.match(key)
            or not isinstance(value, str)
            or len(value) > ATTRIBUTE_VALUE_MAX
        ):
            raise BackchannelError(
                "invalid_attributes",
                f"Attribute {key!r}: keys are a-z, 0-9 and `_`; values strings of at most "
                f"{ATTRIBUTE_VALUE_MAX} characters.",
            )
    return raw


def _contact_view(
    t: WriteTxn, team: business.Team, requester: Requester, customer: Row
) -> dict[str, Any]:
    business_id = int(team.business["id"])
    found = db.contact(t.conn, business_id, customer["id"])
    states = _visible_states(t, team, requester, customer)
    labels = bdb.labels_for(t.conn, business_id, [int(s["conversation_id"]) for s in states])
    return {
        "customer": user_view(customer),
        "name": found["name"] if found else None,
        "notes": found["notes"] if found else None,
        "attributes": _attributes(found),
        "conversations": [
            inbox_state.state_view(t, s, labels.get(int(s["conversation_id"]), [])) for s in states
        ],
    }


def _visible_states(
    t: WriteTxn, team: business.Team, requester: Requester, customer: Row
) -> list[Row]:
    """The customer's conversations with the business that the requester may see (all, for
    an agent whose scope is not narrowed)."""
    states = bdb.states_of_customer(t.conn, int(team.business["id"]), int(customer["id"]))
    return [s for s in states if business.in_scope(team, s, requester.user_id)]


def _customer(t: WriteTxn, team: business.Team, requester: Requester, handle: str) -> Row:
    """A customer of the business the requester may see: one with a conversation within
    their scope (to a narrowed agent, another customer does not exist)."""
    user = user_db.user_by_handle(t.conn, business.handle_of(handle))
    if user is None or not db.is_customer(t.conn, team.business["id"], user["id"]):
        raise BackchannelError("user_not_found", "No such customer of this business.")
    if team.scope != "all" and not _visible_states(t, team, requester, user):
        raise BackchannelError("user_not_found", "No such customer of this business.")
    return user


async def get_contact(
    core: Core, requester: Requester, handle: str, customer: str
) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        user = _customer(t, team, requester, customer)
        business.audit_in_txn(t, team, requester, "contact.read", customer=user["handle"])
        return _contact_view(t, team, requester, user)

    return await core.store.write("business_contact", txn)


async def update_contact(
    core: Core, requester: Requester, handle: str, customer: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change what the business keeps of a customer: `name`, `notes`, `attributes` (the
    whole object; null values remove a key)."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "triage")
        user = _customer(t, team, requester, customer)
        business_id = int(team.business["id"])
        current = db.contact(t.conn, business_id, user["id"])
        values: dict[str, Any] = {"updated_at": t.now_ms}
        if "name" in changes:
            name = " ".join((changes["name"] or "").split()) or None
            if name is not None and len(name) > 100:
                raise BackchannelError("invalid_request", "A name has at most 100 characters.")
            values["name"] = name
        if "notes" in changes:
            notes = (changes["notes"] or "").strip() or None
            if notes is not None and len(notes) > CONTACT_NOTES_MAX:
                raise BackchannelError("invalid_request", "Notes are too long.")
            values["notes"] = notes
        if "attributes" in changes:
            merged = {**_attributes(current), **(changes["attributes"] or {})}
            kept = {k: v for k, v in merged.items() if v is not None}
            values["attributes"] = orjson.dumps(_check_attributes(kept)).decode() if kept else None
        db.put_contact(t.conn, business_id, int(user["id"]), **values)
        business.audit_in_txn(t, team, requester, "contact.updated", customer=user["handle"])
        return _contact_view(t, team, requester, user)

    return await core.store.write("business_update_contact", txn)
