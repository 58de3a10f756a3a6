"""Reading the event log: tokens, long-poll, and the batches the gateway will push.

A token is the stream position up to which a client has everything it may
see. Tokens handed out never exceed the highest committed position, and every
position at or below that is committed (see store/database.py), so resuming
from any token is gap-free.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection

from backchannel.errors import BackchannelError
from backchannel.services.core import Core, Requester
from backchannel.services.views import iso
from backchannel.store import events as db
from backchannel.store.database import ReadTxn


@dataclass(slots=True)
class EventBatch:
    """Events in (since, next_position], already serialized for the wire."""

    raw: list[bytes]  # each event's JSON object
    next_position: int
    limited: bool

    @property
    def events(self) -> list[orjson.Fragment]:
        """The events, ready to embed in an orjson document without re-encoding."""
        return [orjson.Fragment(event) for event in self.raw]


def parse_token(token: str) -> int:
    if not (token.isascii() and token.isdigit()) or len(token) > 18:
        raise BackchannelError("invalid_token", "Sync tokens are the `next` of a sync reply.")
    return int(token)


async def current_token(core: Core) -> int:
    return await core.store.read("current_position", lambda t: db.current_position(t.conn))


async def read_batch(core: Core, requester: Requester, since: int, limit: int) -> EventBatch:
    """The requester's events after `since`, at most `limit` of them."""

    def txn(t: ReadTxn) -> EventBatch:
        upto = db.current_position(t.conn)
        if since > upto:
            raise BackchannelError(
                "invalid_token", "That sync token is from the future; start again without one."
            )
        rows = db.events_for_user(
            t.conn, requester.user_id, since=since, upto=upto, limit=limit, now=t.now_ms
        )
        limited = len(rows) == limit
        events = [
            b'{"position":%d,"type":"%s","at":"%s","data":%s}'
            % (position, type_.encode(), (iso(created) or "").encode(), payload.encode())
            for position, type_, payload, created in rows
        ]
        return EventBatch(events, rows[-1][0] if limited else upto, limited)

    return await core.store.read("sync", txn)


@dataclass(slots=True)
class FanoutBatch:
    """Every event in (since, next_position], each with the users who may see it."""

    events: list[tuple[int, bytes]]  # (position, the event's JSON object)
    audience: dict[int, list[int]]  # position -> user ids allowed to see it
    next_position: int
    limited: bool
    since: int


async def read_for_fanout(core: Core, since: int, max_positions: int) -> FanoutBatch:
    """The log after `since` for all users at once (one node's gateway reads it once and
    hands each event to the sockets of its audience). At most `max_positions` positions
    are covered; `limited` says that more are committed."""

    def txn(t: ReadTxn) -> FanoutBatch:
        current = db.current_position(t.conn)
        upto = min(current, since + max_positions)
        if upto <= since:
            return FanoutBatch([], {}, max(since, upto), False, since)
        batch = fanout_slice(t.conn, since, upto)
        batch.limited = upto < current
        return batch

    return await core.store.read("fanout", txn)


def fanout_slice(conn: Connection, since: int, upto: int) -> FanoutBatch:
    """`read_for_fanout` of (since, upto], all committed, on a connection of the caller's
    (the store's writer runs it right after a commit: see `Store.prefetch`)."""
    events = [
        (
            position,
            b'{"position":%d,"type":"%s","at":"%s","data":%s}'
            % (position, type_.encode(), (iso(created) or "").encode(), payload.encode()),
        )
        for position, type_, payload, created in db.events_in_range(conn, since=since, upto=upto)
    ]
    audience: dict[int, list[int]] = {}
    now = int(time.time() * 1000)
    for position, user_id in db.audience(conn, since=since, upto=upto, now=now):
        audience.setdefault(position, []).append(user_id)
    return FanoutBatch(events, audience, upto, False, since)


async def long_poll(
    core: Core, requester: Requester, since: int, *, timeout_ms: int, limit: int
) -> EventBatch:
    """`read_batch`, waiting up to `timeout_ms` for something to arrive when empty."""
    deadline = time.monotonic() + min(timeout_ms, core.settings.sync_max_timeout_ms) / 1000
    while True:
        batch = await read_batch(core, requester, since, limit)
        remaining = deadline - time.monotonic()
        if batch.raw or remaining <= 0 or core.shutting_down:
            return batch
        # On a shared database other nodes commit too: the Redis broker wakes us for
        # those, and this re-read is the safety net when it cannot.
        poll = core.settings.sync_poll_seconds
        wait = remaining if core.store.is_sqlite else min(remaining, poll)
        await core.broker.wait_beyond(batch.next_position, wait)
