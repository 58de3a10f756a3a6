"""Who else on the team is looking at, or answering, a business conversation — so that two
agents do not answer the same customer at once (Chatwoot's and Zendesk's "collision
detection"). Ephemeral like typing: relayed through the broker to the teammates' sockets,
never stored, never shown to the customer.

A teammate's client says `viewing` while the conversation is open in front of them
(refreshed every ~VIEWING_TTL_MS / 2), `typing` while they write a reply, and `left` when
they close it; an announcement not refreshed in time ends by itself (`left`), as does every
announcement of a socket that closes. A client that hears a teammate start viewing answers
with its own `viewing` (at most once per refresh period), so a newcomer learns at once who
is there already — across nodes, with no registry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from backchannel.errors import BackchannelError
from backchannel.services.business import Team, conversation_gate, gate, in_scope
from backchannel.services.core import Core, Requester
from backchannel.store import business as db
from backchannel.store.database import WriteTxn

STATES = ("viewing", "typing", "left")
VIEWING_TTL_MS = 30_000
TYPING_TTL_MS = 6_000

# (user id, business id, conversation pid) -> (the timer ending it, who was told, frame base)
Key = tuple[int, int, str]


async def announce(
    core: Core, requester: Requester, handle: str, conversation_pid: str, state: str
) -> dict[str, Any]:
    """Tell the teammates who may see the conversation (not the announcer, not the
    customer) that the requester is viewing it, typing in it, or left it. Returns
    `{"told": N}`, how many teammates were told (for the announcer's own display)."""
    if state not in STATES:
        raise BackchannelError("invalid_request", f"state is one of {', '.join(STATES)}.")

    def txn(t: WriteTxn) -> tuple[int, str, list[int]]:
        team = gate(t, requester, handle, "read")
        conversation = conversation_gate(t, team, requester, conversation_pid)
        return (
            int(team.business["id"]),
            str(team.business["handle"]),
            _audience(t, team, conversation, requester.user_id),
        )

    # A read: nothing is written for an ephemeral signal (the gate only reads).
    business_id, business_handle, recipients = await core.store.read(
        "team_presence",
        txn,  # type: ignore[arg-type]
    )
    key = (requester.user_id, business_id, conversation_pid)
    previous = core.team_presence.pop(key, None)
    if previous is not None:
        previous[0].cancel()
    frame = {
        "op": "team_presence",
        "business": business_handle,
        "conversation_id": conversation_pid,
        "user": {"handle": requester.handle, "display_name": requester.display_name},
    }
    if state != "left":
        ttl = VIEWING_TTL_MS if state == "viewing" else TYPING_TTL_MS
        timer = asyncio.get_running_loop().call_later(ttl / 1000, _expire, core, key)
        core.team_presence[key] = (timer, recipients, frame)
        core.broker.publish_ephemeral(recipients, _frame(frame, state, ttl))
    else:
        core.broker.publish_ephemeral(recipients, _frame(frame, "left", 0))
    return {"told": len(recipients)}


def _audience(t: WriteTxn, team: Team, conversation: Any, announcer: int) -> list[int]:
    """Teammates with access now whose scope covers the conversation."""
    business_id = int(team.business["id"])
    audience = []
    for member in db.members_of(t.conn, business_id):
        user_id = int(member["user_id"])
        if user_id == announcer:
            continue
        if member["expires_at"] is not None and member["expires_at"] <= t.now_ms:
            continue
        scope = str(member["scope"])
        teams = tuple(db.team_ids_of(t.conn, user_id, business_id)) if scope == "team" else ()
        other = Team(team.business, int(member["member_id"]), str(member["role"]), scope, teams)
        if in_scope(other, conversation, user_id):
            audience.append(user_id)
    return audience


def leave_all(core: Core, requester: Requester) -> None:
    """The requester's socket closed: end every announcement of theirs still showing."""
    for key in [k for k in core.team_presence if k[0] == requester.user_id]:
        timer, recipients, frame = core.team_presence.pop(key)
        timer.cancel()
        core.broker.publish_ephemeral(recipients, _frame(frame, "left", 0))


def _expire(core: Core, key: Key) -> None:
    entry = core.team_presence.pop(key, None)
    if entry is not None and not core.shutting_down:
        core.broker.publish_ephemeral(entry[1], _frame(entry[2], "left", 0))


def _frame(base: dict[str, Any], state: str, ttl_ms: int) -> bytes:
    return orjson.dumps({**base, "state": state, "expires_in_ms": ttl_ms})
