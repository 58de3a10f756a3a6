"""Rate limits: one interface, an in-process and a Redis implementation.

The algorithm is GCRA, the generic cell rate algorithm (as in ATM networks, Stripe,
redis-cell, `throttled`): per key one stored number, the *theoretical arrival time*
(TAT). A limit of `limit` units per `window_seconds` means one unit is "emitted" every
`interval = window_seconds / limit`; a hit of `cost` units pushes the TAT `cost *
interval` further, and is allowed when the pushed TAT lies at most `window_seconds`
ahead of now. That is exactly a token bucket holding `limit` units that refills
continuously at `limit / window_seconds` units per second:

- from idle, `limit` units pass at once (the burst), then one per `interval`;
- over any span of `t` seconds at most `limit + t * limit / window_seconds` units pass
  (so a full burst followed by steady use can reach twice `limit` in one window; over
  long spans the rate is `limit / window_seconds`);
- a key idle for `window_seconds` is back to a full allowance, and its stored state may
  be dropped (that is the expiry).

Why GCRA rather than a sliding-window counter: O(1) state and work per key (one float,
no per-hit log), no boundary artefacts between fixed windows, refill is smooth (a
client that waits `retry_after` gets through, exactly), and the all-or-nothing rule
for `cost > 1` and the `retry_after` are one subtraction each. The same arithmetic runs
in Python (`gcra`, used by `LocalLimiter`) and in Lua inside Redis (`RedisLimiter`),
where it is atomic and reads the Redis server's clock, so every node shares one budget
and one time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from backchannel.errors import BackchannelError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from backchannel.config import Settings

# Float slack when comparing times (seconds): TATs are sums of rounded intervals, and a
# burst of exactly `limit` must not be refused for a rounding error.
TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int  # units that could still be hit right now, after this decision
    retry_after: float  # seconds until `cost` more would be allowed (0 when allowed;
    # math.inf when `cost` exceeds `limit`, which is never allowed)


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window_seconds: float, cost: int = 1) -> Decision:
        """Consume `cost` units of `key`'s allowance of `limit` per `window_seconds`, or
        none at all: a refused hit changes nothing. Never raises for an outage of a
        backing store: it fails open (RedisLimiter: to this node's own limits)."""
        ...

    async def peek(self, key: str, *, limit: int, window_seconds: float) -> Decision:
        """Whether one unit would be allowed now, consuming nothing; `remaining` is the
        allowance left now, `retry_after` the wait for one unit."""
        ...

    async def close(self) -> None:
        """Release connections; the limiter is not used afterwards."""
        ...


def check_arguments(limit: int, window_seconds: float, cost: int) -> None:
    if limit < 1 or cost < 1 or not window_seconds > 0:
        raise ValueError(
            f"rate limit needs limit >= 1, cost >= 1 and window_seconds > 0; got "
            f"limit={limit}, cost={cost}, window_seconds={window_seconds}"
        )


def gcra(
    tat: float | None,
    now: float,
    *,
    limit: int,
    window_seconds: float,
    cost: int,
    consume: bool = True,
) -> tuple[Decision, float | None]:
    """One GCRA step. `tat`: the key's stored theoretical arrival time (None: none stored),
    in the same clock as `now` (seconds). Returns the decision and the TAT to store
    (None: store nothing: the hit was refused, or `consume` is false, a peek, whose
    `remaining` is then what is left before it)."""
    check_arguments(limit, window_seconds, cost)
    interval = window_seconds / limit
    base = now if tat is None or tat < now else tat
    new_tat = base + cost * interval
    allow_at = new_tat - window_seconds
    if allow_at - now > TOLERANCE:
        remaining = _units(now - (base - window_seconds), interval, limit)
        retry_after = math.inf if cost > limit else allow_at - now
        return Decision(False, remaining, retry_after), None
    if not consume:
        return Decision(True, _units(now - (base - window_seconds), interval, limit), 0.0), None
    return Decision(True, _units(now - allow_at, interval, limit), 0.0), new_tat


def _units(slack: float, interval: float, limit: int) -> int:
    return max(0, min(limit, math.floor((slack + TOLERANCE) / interval)))


async def enforce(
    limiter: RateLimiter,
    key: str,
    *,
    limit: int,
    window_seconds: float,
    cost: int = 1,
    what: str,
) -> None:
    """Hit `key`, or raise `rate_limited` (HTTP 429) naming `what` (a plural noun
    phrase: "login attempts for this handle"), with `details.retry_after` in whole
    seconds, rounded up (absent when `cost > limit`: that never passes)."""
    decision = await limiter.hit(key, limit=limit, window_seconds=window_seconds, cost=cost)
    if decision.allowed:
        return
    if math.isinf(decision.retry_after):
        raise BackchannelError(
            "rate_limited", f"Too many {what}: {cost} at once is more than the {limit} allowed."
        )
    seconds = max(1, math.ceil(decision.retry_after))
    raise BackchannelError(
        "rate_limited",
        f"Too many {what}; retry in {seconds} s.",
        retry_after=seconds,
    )


def build_limiter(settings: Settings, *, registry: CollectorRegistry | None = None) -> RateLimiter:
    """The limiter for `settings`: shared through Redis when `redis_url` is set (one
    budget across all nodes), in-process otherwise. `registry`: where the Redis limiter
    registers its fallback counter."""
    if settings.redis_url is not None:
        from backchannel.ratelimit.redis import RedisLimiter

        return RedisLimiter(settings.redis_url.get_secret_value(), registry=registry)
    from backchannel.ratelimit.local import LocalLimiter

    return LocalLimiter()
