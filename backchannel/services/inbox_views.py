"""Saved views of a business's inbox: a name for a set of filters, one's own or shared
with the team ("Unassigned VIP", "Waiting over an hour"). `GET …/conversations?view=` lists
with a view's filters; filters given beside it override the view's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from backchannel.domain import business as rules
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.services.business import Team, audit_in_txn, gate
from backchannel.services.core import Core, Requester
from backchannel.services.views import iso
from backchannel.store import business as db
from backchannel.store import views as views_db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]
MAX_VIEWS = 100  # per business: shared and everyone's own together


def check_filters(t: WriteTxn, team: Team, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The filters of a view, checked as the inbox checks them: `status`, `assignee` (a
    handle, `me` or `none`), `label` (a label id of the business), `priority`,
    `waiting_minutes`, `unread`. Unknown names and bad values are refused."""
    unknown = sorted(set(raw) - set(rules.VIEW_FILTERS))
    if unknown:
        raise BackchannelError(
            "invalid_request",
            f"Unknown filter {unknown[0]!r}; filters are {', '.join(rules.VIEW_FILTERS)}.",
        )
    filters = {k: v for k, v in raw.items() if v is not None}
    if "status" in filters and filters["status"] not in rules.STATUSES:
        raise BackchannelError("invalid_request", f"status is one of {', '.join(rules.STATUSES)}.")
    if "priority" in filters:
        rules.check_priority(filters["priority"])
    assignee = filters.get("assignee")
    if assignee is not None and (not isinstance(assignee, str) or not 0 < len(assignee) <= 40):
        raise BackchannelError("invalid_request", "assignee is a handle, `me` or `none`.")
    waiting = filters.get("waiting_minutes")
    if waiting is not None and (
        isinstance(waiting, bool) or not isinstance(waiting, int) or not 0 <= waiting <= 525_600
    ):
        raise BackchannelError("invalid_request", "waiting_minutes is 0 to 525600.")
    if not isinstance(filters.get("unread", False), bool):
        raise BackchannelError("invalid_request", "unread is true or false.")
    label = filters.get("label")
    if label is not None and (
        not isinstance(label, str) or db.label_by_pid(t.conn, team.business["id"], label) is None
    ):
        raise BackchannelError("label_not_found", "No such label in this business.")
    return filters


def _name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 0 < len(name) <= 60:
        raise BackchannelError("invalid_request", "A view's name has 1 to 60 characters.")
    return name


def _view(row: Row) -> dict[str, Any]:
    return {
        "id": row["pid"],
        "name": row["name"],
        "shared": row["owner_id"] is None,
        "filters": orjson.loads(row["filters"]),
        "updated_at": iso(row["updated_at"]),
    }


def _own(t: WriteTxn, team: Team, requester: Requester, pid: str) -> Row:
    """A view the requester may change: their own, or a shared one if their role shares."""
    row = views_db.view_by_pid(t.conn, team.business["id"], requester.user_id, pid)
    if row is None:
        raise BackchannelError("view_not_found", "No such view.")
    if row["owner_id"] is None:
        rules.require(team.role, "share_views")
    return row


async def list_views(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "read")
        rows = views_db.views_for(t.conn, team.business["id"], requester.user_id)
        return {"items": [_view(row) for row in rows]}

    return await core.store.write("business_views", txn)


async def create_view(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    name: str,
    filters: Mapping[str, Any],
    shared: bool,
) -> dict[str, Any]:
    """A new view: the requester's own, or (owners, admins) shared with the team."""
    shown = _name(name)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "read")
        if shared:
            rules.require(team.role, "share_views")
        checked = check_filters(t, team, filters)
        business_id = int(team.business["id"])
        if len(views_db.views_for(t.conn, business_id, requester.user_id)) >= MAX_VIEWS:
            raise BackchannelError("invalid_request", f"At most {MAX_VIEWS} views.")
        row = views_db.insert_view(
            t.conn,
            pid=new_id("v"),
            business_id=business_id,
            owner_id=None if shared else requester.user_id,
            name=shown,
            filters=checked,
            created_by=requester.user_id,
            now=t.now_ms,
        )
        audit_in_txn(t, team, requester, "view.created", view=row["pid"], shared=shared)
        return _view(row)

    return await core.store.write("business_create_view", txn)


async def update_view(
    core: Core, requester: Requester, handle: str, pid: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Rename a view or change its filters (the filters replace the old ones)."""
    values: dict[str, Any] = {}
    if changes.get("name") is not None:
        values["name"] = _name(changes["name"])

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = gate(t, requester, handle, "read")
        row = _own(t, team, requester, pid)
        if changes.get("filters") is not None:
            values["filters"] = check_filters(t, team, changes["filters"])
        if not values:
            raise BackchannelError("invalid_request", "Nothing to change.")
        views_db.update_view(t.conn, int(row["id"]), updated_at=t.now_ms, **values)
        audit_in_txn(t, team, requester, "view.updated", view=pid)
        fresh = views_db.view_by_pid(t.conn, team.business["id"], requester.user_id, pid)
        assert fresh is not None
        return _view(fresh)

    return await core.store.write("business_update_view", txn)


async def delete_view(core: Core, requester: Requester, handle: str, pid: str) -> None:
    def txn(t: WriteTxn) -> None:
        team = gate(t, requester, handle, "read")
        row = _own(t, team, requester, pid)
        views_db.delete_view(t.conn, int(row["id"]))
        audit_in_txn(t, team, requester, "view.deleted", view=pid)

    await core.store.write("business_delete_view", txn)


def filters_in_txn(t: WriteTxn, team: Team, requester: Requester, pid: str) -> dict[str, Any]:
    """The filters of a view the requester can see (for the inbox listing)."""
    row = views_db.view_by_pid(t.conn, team.business["id"], requester.user_id, pid)
    if row is None:
        raise BackchannelError("view_not_found", "No such view.")
    filters: dict[str, Any] = orjson.loads(row["filters"])
    return filters
