"""One node's fan-out: reads each new slice of the log once and hands every event to
the live sockets of the users allowed to see it.

Without it, every socket re-read the store on every wake-up: at 10,000 sockets one
commit cost 10,000 queries. With it, a wake-up costs two queries however many
sockets are connected, and an event is encoded once for all of its recipients.

Handover (gap-free): a socket first catches up on its own, reading the store from its
resume token (and again whenever its outbox is full: a slow client falls back to
reading at its own pace, and never holds up the others or grows memory). It goes live only when its position has reached the fan-out's
(`Fanout.position`, everything up to which was handed to the live sockets). From then
on the fan-out gives it each event above its position, so an event read by both the
catch-up and the fan-out is delivered once, and none falls between them: the check
and the registration happen in one step of the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from sqlalchemy import Connection

from backchannel.services import sync
from backchannel.services.core import Core

log = logging.getLogger(__name__)

# The stream's close codes (docs/api.md lists them for client developers).
CLOSE_AUTH_FAILED = 4001  # no valid auth frame in time: do not retry with the same token
CLOSE_BAD_ORIGIN = 4003
CLOSE_RESYNC = 4008  # fell behind: reconnect and resume from your last position
CLOSE_IDLE = 4009  # the client sent nothing for too long: reconnect and resume
CLOSE_PROTOCOL = 4400  # a frame that is not JSON or not an object
CLOSE_SERVICE_RESTART = 1012  # shutting down: reconnect (to another node) and resume

# Positions covered by one fan-out read; a longer backlog is read in several.
FANOUT_MAX_POSITIONS = 2000


class Listener(Protocol):
    """A live socket, as the fan-out sees it."""

    position: int  # the highest position the socket has been given (or skipped)
    last_seen: float  # loop time of the last frame from the client

    def deliver(self, frame: str) -> bool:
        """Queue an event frame without waiting; False when the outbox is full."""

    def catch_up(self) -> None:
        """Fell behind: read the store from `position` until level again, then go live."""

    def stop(self, code: int) -> None:
        """Close the socket with `code` (it ends on its own, soon)."""


class Fanout:
    def __init__(self, core: Core, position: int) -> None:
        self.core = core
        self.position = position
        self._live: dict[int, set[Listener]] = {}
        self._connected: set[Listener] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._reading = False
        # On a shared database other nodes commit too: re-read this often even unwoken.
        self._poll_seconds = 3600.0 if core.store.is_sqlite else core.settings.sync_poll_seconds

    # --- sockets ------------------------------------------------------------

    def connect(self, listener: Listener) -> None:
        """A socket authenticated (idle checks and shutdown apply to it from now)."""
        self._connected.add(listener)

    def disconnect(self, user_id: int, listener: Listener) -> None:
        self._connected.discard(listener)
        self._leave_live(user_id, listener)

    def _leave_live(self, user_id: int, listener: Listener) -> None:
        listeners = self._live.get(user_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._live[user_id]

    def _fall_behind(self, user_id: int, listener: Listener) -> None:
        self.core.metrics.stream_fell_behind.inc()
        self._leave_live(user_id, listener)
        listener.catch_up()

    def try_go_live(self, user_id: int, listener: Listener) -> bool:
        """Register a caught-up socket. False: the fan-out has moved past it, so it must
        read the store up to `position` first and ask again."""
        if listener.position < self.position:
            return False
        self._live.setdefault(user_id, set()).add(listener)
        return True

    @property
    def connections(self) -> int:
        return len(self._connected)

    # --- lifecycle ----------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="fanout"),
            asyncio.create_task(self._sweep_idle(), name="fanout-idle"),
        ]

    def stop_all(self, code: int) -> None:
        """Close every socket with `code` (shutdown: CLOSE_SERVICE_RESTART)."""
        for listener in tuple(self._connected):
            listener.stop(code)

    async def close(self, code: int) -> None:
        """Stop every socket with `code` and the fan-out itself."""
        self.stop_all(code)
        self._closing = True
        self.core.broker.wake_all()
        # The reader leaves its loop when woken; cancelling it inside the broker's wait
        # was seen to hang under uvloop at shutdown.
        _done, pending = await asyncio.wait(self._tasks[:1], timeout=5)
        for task in [*pending, *self._tasks[1:]]:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- the loops ----------------------------------------------------------

    def prefetch(self, conn: Connection, since: int, upto: int) -> sync.FanoutBatch | None:
        """`Store.prefetch`: the slice (since, upto] for `offer`, read on the store's writer
        thread right after its commit — or None when no socket is live here, so a server
        nobody streams from does no fan-out work per commit."""
        if not self._live:
            return None
        return sync.fanout_slice(conn, since, upto)

    def offer(self, batch: sync.FanoutBatch) -> None:
        """A slice of the log the store's writer read right after committing it (SQLite,
        see `Store.prefetch`): delivered now if it follows on from our position and we
        are not reading, else ignored (the loop reads it from the store instead)."""
        if self._reading or batch.since != self.position:
            return
        self._deliver(batch)
        self.position = batch.next_position

    async def _run(self) -> None:
        core = self.core
        broker = core.broker
        failures = 0
        more = True  # read at start: the broker may know nothing yet of other nodes
        while not self._closing:
            if not more and broker.position <= self.position:
                moved = await broker.wait_beyond(self.position, self._poll_seconds)
                if not moved and core.store.is_sqlite and not self._closing:
                    continue  # woken for what `offer` already delivered, or shutdown
            if not self._live:
                # Nobody to hand events to: sockets catching up read the store themselves
                # and go live only once level with this position, so it may just move on.
                self.position = max(self.position, broker.position)
                more = False
                continue
            self._reading = True
            try:
                batch = await sync.read_for_fanout(core, self.position, FANOUT_MAX_POSITIONS)
            except Exception:
                # The database is away: nothing is lost, the next read starts where
                # this one would have.
                failures += 1
                log.warning("fan-out read failed", exc_info=failures == 1)
                await asyncio.sleep(min(5.0, 0.05 * 2**failures))
                more = True
                continue
            finally:
                self._reading = False
            failures = 0
            self._deliver(batch)
            self.position = batch.next_position
            more = batch.limited

    def _deliver(self, batch: sync.FanoutBatch) -> None:
        live = self._live
        if not live:
            return
        for position, event in batch.events:
            users = batch.audience.get(position)
            if not users:
                continue
            frame: str | None = None
            for user_id in users:
                listeners = live.get(user_id)
                if not listeners:
                    continue
                if frame is None:
                    # {"position":…} -> {"op":"event","position":…}, built once for
                    # every recipient
                    frame = '{"op":"event",' + event[1:].decode()
                for listener in tuple(listeners):
                    if position <= listener.position:
                        continue
                    if listener.deliver(frame):
                        listener.position = position
                    else:
                        # Its outbox is full: it goes back to reading the store at its
                        # own pace from its position, and the others are not held up.
                        self._fall_behind(user_id, listener)

    async def _sweep_idle(self) -> None:
        """Close sockets whose clients sent nothing for `stream_idle_timeout_seconds`:
        one timer for the node instead of one per socket."""
        settings = self.core.settings
        timeout = settings.stream_idle_timeout_seconds
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(5.0, timeout / 4))
            cutoff = loop.time() - timeout
            for listener in tuple(self._connected):
                if listener.last_seen < cutoff:
                    listener.stop(CLOSE_IDLE)
