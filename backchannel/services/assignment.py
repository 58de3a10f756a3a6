"""Round-robin assignment (domain/assignment.py): with it on, a conversation that enters
the inbox or reopens unassigned goes to the next available teammate in turn, within each
one's capacity; and its settings and teammates' availability as use cases."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backchannel.domain import assignment as assigning
from backchannel.services import business, inbox_state
from backchannel.services.core import Core, Requester
from backchannel.services.views import iso, user_view
from backchannel.store import automation as store
from backchannel.store import business as db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]


# --- round-robin --------------------------------------------------------------------------


def _settings(t: WriteTxn, business_id: int) -> tuple[str, int, tuple[str, ...]]:
    row = store.assignment(t.conn, business_id)
    if row is None:
        return "manual", assigning.DEFAULT_CAPACITY, assigning.DEFAULT_ROLES
    return str(row["mode"]), int(row["capacity"]), tuple(str(row["roles"]).split(","))


def _candidates(t: WriteTxn, business_id: int) -> list[tuple[Row, assigning.Candidate]]:
    """The team but the business account itself and deactivated accounts."""
    return [
        (
            row,
            assigning.Candidate(
                user_id=int(row["user_id"]),
                role=str(row["role"]),
                available=bool(row["available"]),
                expired=row["expires_at"] is not None and row["expires_at"] <= t.now_ms,
                open_count=int(row["open_count"]),
                last_assigned_at=row["last_assigned_at"],
                member_since=int(row["member_since"]),
            ),
        )
        for row in store.candidates(t.conn, business_id)
        if row["user_id"] != business_id and row["deactivated_at"] is None
    ]


def pick(t: WriteTxn, business_id: int) -> int | None:
    """Who round-robin gives the next conversation (and mark their turn), or None."""
    _, capacity, allowed = _settings(t, business_id)
    candidates = [c for _, c in _candidates(t, business_id)]
    chosen = assigning.choose(candidates, roles=allowed, capacity=capacity)
    if chosen is not None:
        # Strictly later than every turn before, even within one millisecond.
        latest = max((c.last_assigned_at or 0 for c in candidates), default=0)
        store.put_availability(
            t.conn,
            business_id,
            chosen,
            last_assigned_at=max(t.now_ms, latest + 1),
            updated_at=t.now_ms,
        )
    return chosen


def assign_round_robin(t: WriteTxn, business_id: int, conversation_id: int) -> None:
    """With round-robin on, give an unassigned conversation to the next teammate in turn
    (nobody eligible: it stays unassigned)."""
    mode, _, _ = _settings(t, business_id)
    state = db.state_by_ids(t.conn, business_id, conversation_id)
    if mode != "round_robin" or state is None or state["assignee_id"] is not None:
        return
    chosen = pick(t, business_id)
    if chosen is not None:
        inbox_state.change_state(
            t, business_id, conversation_id, by=None, reason="round_robin", assignee_id=chosen
        )


# --- assignment: the use cases ------------------------------------------------------------


def _assignment_view(t: WriteTxn, business_id: int) -> dict[str, Any]:
    mode, capacity, allowed = _settings(t, business_id)
    agents = []
    for row, candidate in _candidates(t, business_id):
        if candidate.role not in assigning.ASSIGNABLE_ROLES:
            continue
        agents.append(
            {
                "user": user_view(row),
                "role": candidate.role,
                "available": candidate.available,
                "open_conversations": candidate.open_count,
                "last_assigned_at": iso(candidate.last_assigned_at),
                "eligible": assigning.eligible(candidate, roles=allowed, capacity=capacity),
            }
        )
    return {"mode": mode, "capacity": capacity, "roles": list(allowed), "agents": agents}


async def get_assignment(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        return _assignment_view(t, int(team.business["id"]))

    return await core.store.write("business_assignment", txn)


async def update_assignment(
    core: Core, requester: Requester, handle: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change the mode (`manual`, `round_robin`), the capacity per teammate, or the roles
    round-robin assigns to."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_automation")
        business_id = int(team.business["id"])
        mode, capacity, allowed = _settings(t, business_id)
        mode, capacity, allowed = assigning.check_settings(
            changes.get("mode") or mode,
            capacity if changes.get("capacity") is None else int(changes["capacity"]),
            allowed if changes.get("roles") is None else tuple(changes["roles"]),
        )
        store.put_assignment(
            t.conn,
            business_id,
            mode=mode,
            capacity=capacity,
            roles=",".join(allowed),
            updated_at=t.now_ms,
        )
        business.audit_in_txn(
            t, team, requester, "assignment.updated", mode=mode, capacity=capacity, roles=allowed
        )
        return _assignment_view(t, business_id)

    return await core.store.write("business_update_assignment", txn)


async def set_availability(
    core: Core, requester: Requester, handle: str, *, available: bool
) -> dict[str, Any]:
    """Say whether you take conversations from round-robin now (teammates who may reply)."""

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "reply")
        business_id = int(team.business["id"])
        store.put_availability(
            t.conn,
            business_id,
            requester.user_id,
            available=1 if available else 0,
            updated_at=t.now_ms,
        )
        business.audit_in_txn(t, team, requester, "availability.changed", available=available)
        return _assignment_view(t, business_id)

    return await core.store.write("business_set_availability", txn)
