"""Redis rate limiter: one budget per key shared by every node of a deployment.

The GCRA step of backchannel.ratelimit runs as one Lua script (EVALSHA, loaded again
if Redis forgot it), so concurrent hits from any number of nodes are serialized by
Redis and never overspend. Time is the Redis server's (`TIME`, microseconds), not the
nodes' clocks. Keys are `bc:rl:<key>`, holding the TAT in microseconds, with an expiry
at the TAT: an idle key vanishes once it is back to a full allowance.

Redis unreachable (refused, timing out, erroring): the limiter fails open to an
in-process `LocalLimiter`, so each node still enforces the limits on its own (a
deployment of N nodes then allows up to N times as much) and messaging never waits on
Redis. After a failure Redis is tried again at most every `RETRY_SECONDS`; a warning is
logged at most every `WARN_EVERY_SECONDS`, and each decision taken without Redis counts
in `backchannel_ratelimit_fallback_total`.
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

import redis.asyncio as redis
from prometheus_client import Counter

from backchannel.ratelimit import Decision, check_arguments
from backchannel.ratelimit.local import LocalLimiter

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger(__name__)

PREFIX = "bc:rl:"
TIMEOUT_SECONDS = 0.5  # a limiter slower than this costs more than it protects
RETRY_SECONDS = 1.0
MAX_CONNECTIONS = 32  # a script runs in microseconds: a few connections carry a node
WARN_EVERY_SECONDS = 30.0

# KEYS[1]: the key. ARGV: limit, window (µs), cost, consume ("1" or "0").
# Returns {allowed (0/1), remaining, retry_after (µs, rounded up)}; "0" (a peek) writes
# nothing and counts `remaining` before the hit. The same arithmetic as
# backchannel.ratelimit.gcra; 1 µs of slack absorbs float rounding. The TAT is
# written with %.17g: Lua's default number formatting keeps 14 digits, too few for
# microseconds since 1970.
GCRA_LUA = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = window / limit
local stored = redis.call('GET', KEYS[1])
local base = now
if stored then
  local tat = tonumber(stored)
  if tat and tat > now then base = tat end
end
local new_tat = base + cost * interval
local allow_at = new_tat - window
local function units(slack)
  local n = math.floor((slack + 1) / interval)
  if n < 0 then return 0 end
  if n > limit then return limit end
  return n
end
if allow_at - now > 1 then
  return {0, units(now - (base - window)), math.ceil(allow_at - now)}
end
if ARGV[4] ~= '1' then
  return {1, units(now - (base - window)), 0}
end
local ttl = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', ttl)
return {1, units(now - allow_at), 0}
"""


class RedisLimiter:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = PREFIX,
        registry: CollectorRegistry | None = None,
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self.prefix = prefix
        # A bounded pool that makes a burst queue for a connection (up to the timeout)
        # rather than fail: a failure would split the budget between Redis and the node.
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=timeout_seconds,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
        )
        self._client = redis.Redis(connection_pool=pool)
        self._script = self._client.register_script(GCRA_LUA)
        self._fallback = LocalLimiter()
        self._down_until = 0.0  # monotonic: before it, don't try Redis
        self._warned_at = -math.inf
        self.fallbacks = 0  # decisions taken without Redis since start
        self._counter: Counter | None = None
        if registry is not None:
            self._counter = Counter(
                "backchannel_ratelimit_fallback_total",
                "Rate-limit decisions taken by one node alone because Redis was unreachable.",
                registry=registry,
            )

    async def hit(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> Decision:
        check_arguments(limit, window_seconds, cost)
        if cost > limit:  # never allowed: no need to ask
            return Decision(False, await self._remaining(key, limit, window_seconds), math.inf)
        return await self._run(key, limit, window_seconds, cost, consume=True)

    async def peek(self, key: str, *, limit: int, window_seconds: float) -> Decision:
        check_arguments(limit, window_seconds, 1)
        return await self._run(key, limit, window_seconds, 1, consume=False)

    async def close(self) -> None:
        await self._client.aclose(close_connection_pool=True)

    async def _remaining(self, key: str, limit: int, window_seconds: float) -> int:
        return (await self.peek(key, limit=limit, window_seconds=window_seconds)).remaining

    async def _run(
        self, key: str, limit: int, window_seconds: float, cost: int, *, consume: bool
    ) -> Decision:
        if time.monotonic() >= self._down_until:
            try:
                allowed, remaining, retry_us = await self._script(
                    keys=[self.prefix + key],
                    args=[limit, repr(window_seconds * 1e6), cost, "1" if consume else "0"],
                )
            except (redis.RedisError, OSError, TimeoutError) as exc:
                self._went_down(exc)
            else:
                return Decision(bool(allowed), int(remaining), int(retry_us) / 1e6)
        self.fallbacks += 1
        if self._counter is not None:
            self._counter.inc()
        if consume:
            return self._fallback.hit_now(
                key, limit=limit, window_seconds=window_seconds, cost=cost
            )
        return await self._fallback.peek(key, limit=limit, window_seconds=window_seconds)

    def _went_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._down_until = now + RETRY_SECONDS
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning(
                "rate limiter: Redis unreachable (%s); limits are per node until it is back",
                type(exc).__name__,
            )
