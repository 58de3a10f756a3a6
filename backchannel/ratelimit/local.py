"""In-process rate limiter: one node's budget, in a dict.

Each key maps to its GCRA theoretical arrival time (see backchannel.ratelimit). An entry
whose TAT has passed means a full allowance, exactly like no entry, so expiry is lazy:
such entries are dropped when the dict is full. The dict is bounded (`max_keys`): when
it is full of live entries, the oldest-written tenth is forgotten (those keys get their
full allowance back early: a memory bound beats an exact limit under a flood of keys).

Safe for any number of tasks on one event loop: `hit` never awaits between reading and
writing a key. Not for use from several threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from backchannel.ratelimit import Decision, check_arguments, gcra

DEFAULT_MAX_KEYS = 100_000


class LocalLimiter:
    def __init__(
        self,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self._tats: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._tats)

    async def hit(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> Decision:
        return self.hit_now(key, limit=limit, window_seconds=window_seconds, cost=cost)

    def hit_now(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> Decision:
        """`hit`, synchronously (for the Redis limiter's fallback and for callers that
        are not coroutines)."""
        now = self.clock()
        decision, new_tat = gcra(
            self._tats.get(key), now, limit=limit, window_seconds=window_seconds, cost=cost
        )
        if new_tat is not None:
            if key not in self._tats and len(self._tats) >= self.max_keys:
                self._make_room(now)
            # Re-inserted at the end: eviction order is the order of last writes.
            self._tats.pop(key, None)
            self._tats[key] = new_tat
        return decision

    async def peek(self, key: str, *, limit: int, window_seconds: float) -> Decision:
        check_arguments(limit, window_seconds, 1)
        decision, _ = gcra(
            self._tats.get(key),
            self.clock(),
            limit=limit,
            window_seconds=window_seconds,
            cost=1,
            consume=False,
        )
        return decision

    async def close(self) -> None:
        self._tats.clear()

    def _make_room(self, now: float) -> None:
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        excess = len(self._tats) - (self.max_keys - max(1, self.max_keys // 10))
        if excess > 0:
            for key in list(self._tats)[:excess]:
                del self._tats[key]
