"""Presence: "active now" and last active. Ephemeral: broadcast, never part of the log.

The gateway calls `connected` once a socket has authenticated and `disconnected`
when it closes (one call each per socket).

- *Active* means: at least one authenticated WebSocket on any node (the broker
  counts them; with Redis, across nodes).
- *Last active* (`users.last_active_at`) is written when a user's last socket on a
  node closes, and every `presence_refresh_seconds` for the users connected to a node
  (one batched write), so it survives restarts and is the same on every node. While a
  user is active it is reported as now.
- Who may see it: `store.presence` (people sharing a conversation, both with activity
  status on). Everyone else gets the answer a user who hides presence gets
  (`hidden`), so hiding and not being allowed look the same.
- Transitions go out as `{"op": "presence", "user", "active", "last_active_at"}` to the
  sockets of those allowed to see them. Going inactive waits `presence_grace_seconds`
  first, so a client that reconnects at once does not flicker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from backchannel.domain import accounts as account_rules
from backchannel.errors import BackchannelError
from backchannel.services.core import Core, Requester
from backchannel.services.views import iso
from backchannel.store import presence as presence_db
from backchannel.store.database import StoreClosed

log = logging.getLogger(__name__)


async def connected(core: Core, requester: Requester) -> None:
    """A socket of the requester's opened on this node. Never raises, never waits on I/O."""
    if not core.broker.presence_up(requester.user_id):
        return
    core.broker.presence_ticker(
        core.settings.presence_refresh_seconds, lambda users: _refresh_due(core, users)
    )
    core.spawn(_announce_active(core, requester.user_id))


async def disconnected(core: Core, requester: Requester) -> None:
    """A socket of the requester's closed on this node. Never raises, never waits on I/O."""
    if core.broker.presence_down(requester.user_id):
        core.spawn(_went_away(core, requester.user_id))


def hidden(handle: str) -> dict[str, Any]:
    """What someone not allowed to see a user's presence gets: exactly what a user who
    has never been active, or hides their activity, looks like."""
    return {"user": handle, "active": False, "last_active_at": None}


async def query(core: Core, requester: Requester, handles: list[str]) -> list[dict[str, Any]]:
    """The presence of these users as the requester may see it, in the order asked.
    Unknown handles answer `hidden`, like users one may not see (no enumeration)."""
    canonical = [_canonical(handle) for handle in handles]
    wanted = sorted({handle for handle in canonical if handle is not None})
    rows: dict[str, Any] = {}
    if wanted:
        rows = await core.store.read(
            "presence_query", lambda t: presence_db.visible_to(t.conn, requester.user_id, wanted)
        )
    active = await core.broker.active_users(row["id"] for row in rows.values())
    now = _now_ms()
    items = []
    for asked, handle in zip(handles, canonical, strict=True):
        row = rows.get(handle) if handle is not None else None
        if row is None:
            items.append(hidden(handle or asked))
        elif row["id"] in active:
            items.append({"user": handle, "active": True, "last_active_at": iso(now)})
        else:
            items.append(
                {"user": handle, "active": False, "last_active_at": iso(row["last_active_at"])}
            )
    return items


async def visibility_changed(
    core: Core, requester: Requester, *, shown: bool, viewers: list[int], last_active_at: int | None
) -> None:
    """The requester turned their activity status on (`shown`) or off: tell `viewers`
    (those who may see them with it on) what they now see. Call after the commit."""
    if not viewers:
        return
    if not shown:
        frame = _frame(requester.handle, active=False, last_active_at=None)
    elif requester.user_id in await core.broker.active_users([requester.user_id]):
        frame = _frame(requester.handle, active=True, last_active_at=_now_ms())
    else:
        frame = _frame(requester.handle, active=False, last_active_at=last_active_at)
    core.broker.publish_ephemeral(viewers, frame)


# --- transitions -------------------------------------------------------------


async def _announce_active(core: Core, user_id: int) -> None:
    if core.shutting_down:
        return
    await core.broker.presence_flush()  # other nodes see the user active before the frame
    user, viewers = await core.store.read(
        "presence_audience", lambda t: presence_db.audience(t.conn, user_id)
    )
    if user is None or not viewers:
        return
    if user_id not in await core.broker.active_users([user_id]):
        return  # gone again already: the grace check after it speaks for it
    core.broker.publish_ephemeral(viewers, _frame(user["handle"], True, _now_ms()))


async def _went_away(core: Core, user_id: int) -> None:
    """The user's last socket here closed: record the time, then, after the grace,
    announce them inactive unless they came back (here or on another node)."""
    await _record_last_active(core, [user_id])
    await core.broker.presence_flush()
    if core.shutting_down:
        return  # the node is going: its clients reconnect elsewhere
    asyncio.get_running_loop().call_later(
        core.settings.presence_grace_seconds, _after_grace, core, user_id
    )


def _after_grace(core: Core, user_id: int) -> None:
    # A timer rather than a sleeping task: nothing for shutdown to wait for.
    if not core.shutting_down:
        core.spawn(_announce_inactive(core, user_id))


async def _announce_inactive(core: Core, user_id: int) -> None:
    if user_id in await core.broker.active_users([user_id]):
        return  # reconnected within the grace: no flicker
    user, viewers = await core.store.read(
        "presence_audience", lambda t: presence_db.audience(t.conn, user_id)
    )
    if user is None or not viewers:
        return
    frame = _frame(user["handle"], False, user["last_active_at"])
    core.broker.publish_ephemeral(viewers, frame)


def _refresh_due(core: Core, user_ids: list[int]) -> None:
    """The broker's presence tick: "last active" for everyone connected here."""
    if not core.shutting_down:
        core.spawn(_record_last_active(core, user_ids))


async def _record_last_active(core: Core, user_ids: list[int]) -> None:
    try:
        await core.store.write(
            "presence_last_active",
            lambda t: presence_db.set_last_active(t.conn, user_ids, t.now_ms),
        )
    except (BackchannelError, StoreClosed) as exc:  # shutting down: the next node records it
        log.info("last active not recorded: %s", type(exc).__name__)


def _frame(handle: str, active: bool, last_active_at: int | None) -> bytes:
    return orjson.dumps(
        {"op": "presence", "user": handle, "active": active, "last_active_at": iso(last_active_at)}
    )


def _canonical(handle: str) -> str | None:
    try:
        return account_rules.normalize_handle(handle)
    except BackchannelError:
        return None


def _now_ms() -> int:
    return int(time.time() * 1000)
