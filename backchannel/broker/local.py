"""In-process broker: wakes local waiters when the committed stream position moves.

It carries positions, never records: a woken reader fetches `(since, current]`
from the store. It also carries ephemeral frames (typing, presence), which are never
stored: delivered to the sockets of the users named, on this node, or lost. And it
holds presence: how many authenticated sockets each user has open on this node. The
Redis broker (several nodes) implements the same methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

Deliver = Callable[[bytes], None]
# Called with the ids of the users connected to this node, every tick (see presence_ticker).
PresenceTick = Callable[[list[int]], None]

log = logging.getLogger(__name__)


class LocalBroker:
    def __init__(self) -> None:
        self.position = 0
        self._changed = asyncio.Event()
        self.waiters = 0
        self._sockets: dict[int, set[Deliver]] = {}
        self._present: dict[int, int] = {}  # user id -> authenticated sockets on this node
        self._ticker: asyncio.Task[None] | None = None

    def subscribe(self, user_id: int, deliver: Deliver) -> None:
        """Receive the ephemeral frames addressed to `user_id` (one call per socket)."""
        self._sockets.setdefault(user_id, set()).add(deliver)

    def unsubscribe(self, user_id: int, deliver: Deliver) -> None:
        sockets = self._sockets.get(user_id)
        if sockets is not None:
            sockets.discard(deliver)
            if not sockets:
                del self._sockets[user_id]

    def publish_ephemeral(self, user_ids: Iterable[int], frame: bytes) -> None:
        """Deliver a frame to every socket of these users (best effort, never stored)."""
        self._deliver_locally(user_ids, frame)

    def _deliver_locally(self, user_ids: Iterable[int], frame: bytes) -> None:
        for user_id in user_ids:
            for deliver in tuple(self._sockets.get(user_id, ())):
                deliver(frame)

    # --- presence -------------------------------------------------------------

    def presence_up(self, user_id: int) -> bool:
        """A socket of the user's authenticated here. True when it is their first here."""
        count = self._present.get(user_id, 0)
        self._present[user_id] = count + 1
        return count == 0

    def presence_down(self, user_id: int) -> bool:
        """A socket of the user's closed here. True when it was their last here."""
        count = self._present.get(user_id, 0)
        if count <= 1:
            self._present.pop(user_id, None)
            return count == 1
        self._present[user_id] = count - 1
        return False

    def local_users(self) -> list[int]:
        """The users with at least one socket on this node."""
        return list(self._present)

    async def active_users(self, user_ids: Iterable[int]) -> set[int]:
        """Which of these users have a socket open (here: on this node). Never raises."""
        return {user_id for user_id in user_ids if user_id in self._present}

    async def presence_flush(self) -> None:
        """Wait until other nodes can see this node's presence changes (nothing to do here)."""

    def presence_ticker(self, interval: float, tick: PresenceTick) -> None:
        """Call `tick(local users)` every `interval` seconds until `close`. The first call
        starts it; later calls change nothing. `tick` must not block (spawn the work)."""
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(
                self._tick(interval, tick), name="presence-ticker"
            )

    async def _tick(self, interval: float, tick: PresenceTick) -> None:
        while True:
            await asyncio.sleep(interval)
            users = self.local_users()
            if users:
                try:
                    tick(users)
                except Exception:
                    log.warning("presence tick failed", exc_info=True)

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Nothing to connect to in-process."""

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self.wake_all()

    def publish_position(self, position: int) -> None:
        """Record that everything up to `position` is committed, and wake waiters."""
        if position <= self.position:
            return
        self.position = position
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def wake_all(self) -> None:
        """Wake every waiter (shutdown): they return what they have."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_beyond(self, since: int, timeout: float) -> bool:
        """Wait until the position passes `since` or `timeout` seconds pass.

        Returns True if it moved. A caller must still read the store: the
        position says that something committed, not what, or for whom.
        """
        if self.position > since:
            return True
        changed = self._changed
        self.waiters += 1
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            self.waiters -= 1
        return self.position > since
