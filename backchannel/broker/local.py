"""In-process broker: wakes local waiters when the committed stream position moves.

It carries positions, never records: a woken reader fetches `(since, current]`
from the store. The Redis broker (several nodes) implements the same methods.
"""

from __future__ import annotations

import asyncio


class LocalBroker:
    def __init__(self) -> None:
        self.position = 0
        self._changed = asyncio.Event()
        self.waiters = 0

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
