"""In-process broker: wakes local waiters when the committed stream position moves.

It carries positions, never records: a woken reader fetches `(since, current]`
from the store. It also carries ephemeral frames (typing), which are never stored:
delivered to the sockets of the users named, on this node, or lost. The Redis broker
(several nodes) implements the same methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

Deliver = Callable[[bytes], None]


class LocalBroker:
    def __init__(self) -> None:
        self.position = 0
        self._changed = asyncio.Event()
        self.waiters = 0
        self._sockets: dict[int, set[Deliver]] = {}

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

    async def start(self) -> None:
        """Nothing to connect to in-process."""

    async def close(self) -> None:
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
