"""Redis broker: positions committed on any node wake waiters on every node.

Each node publishes the position of every batch it commits on one channel and
subscribes to it. Redis carries only wake-ups: the database stays the record,
so a lost message costs latency, never an event (readers also re-read the log
every `sync_poll_seconds`). If Redis goes away, the node keeps serving its own
users and reconnects with backoff; when it is back, readers catch up from the
database.

Presence: each user with a socket on some node has a hash
`backchannel:presence:{user_id}`, one field per node, valued with the time (ms) at
which that node's claim expires. A node renews its claims for all its connected users
every `presence_refresh_seconds` (one pipeline) and deletes its field when a user's
last local socket closes; a crashed node's claims simply expire. Nodes' clocks must
agree to well within `presence_ttl_seconds`. Redis away: a node answers from what it
knows locally, and re-asserts its claims when Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Iterable

import orjson
import redis.asyncio as redis

from backchannel.broker.local import LocalBroker

log = logging.getLogger(__name__)
CHANNEL = "backchannel:positions"
EPHEMERAL = "backchannel:ephemeral"
PRESENCE_KEY = "backchannel:presence:{}"
PRESENCE_CHUNK = 1000  # users per pipeline
REDIS_PRESENCE_TIMEOUT = 1.0  # seconds a presence call waits for Redis before giving up


class RedisBroker(LocalBroker):
    def __init__(
        self,
        url: str,
        *,
        presence_refresh_seconds: float = 30.0,
        presence_ttl_seconds: float = 90.0,
    ) -> None:
        super().__init__()
        self.url = url
        self.connected = False
        self._client: redis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._publishes: set[asyncio.Task[None]] = set()
        self.node = secrets.token_hex(8)  # our own ephemeral frames come back: skip them
        self.presence_refresh_seconds = presence_refresh_seconds
        self.presence_ttl_ms = int(presence_ttl_seconds * 1000)
        self._presence_dirty: set[int] = set()  # users whose claim changed since written
        self._presence_wake = asyncio.Event()
        self._presence_full = False  # renew every claim at the next write (Redis came back)
        self._presence_lock = asyncio.Lock()
        self._presence_writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
        self._listener = asyncio.create_task(self._listen(), name="redis-broker")
        self._presence_writer = asyncio.create_task(self._write_presence_loop(), name="presence")

    async def close(self) -> None:
        if self._presence_writer is not None:
            self._presence_writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._presence_writer
            # Our users are leaving with us: withdraw our claims rather than let them expire.
            self._presence_dirty |= set(self._present)
            self._present.clear()
            await self._write_presence(renew_all=False)
        await super().close()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._publishes:
            await asyncio.gather(*self._publishes, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def publish_position(self, position: int) -> None:
        """A local commit: wake local waiters now, and tell the other nodes."""
        super().publish_position(position)
        if self._client is not None and self.connected:
            task = asyncio.get_running_loop().create_task(self._publish(position))
            self._publishes.add(task)
            task.add_done_callback(self._publishes.discard)

    def publish_ephemeral(self, user_ids: Iterable[int], frame: bytes) -> None:
        users = list(user_ids)
        super().publish_ephemeral(users, frame)
        if self._client is not None and self.connected:
            body = orjson.dumps({"node": self.node, "users": users, "frame": frame.decode()})
            task = asyncio.get_running_loop().create_task(self._publish_to(EPHEMERAL, body))
            self._publishes.add(task)
            task.add_done_callback(self._publishes.discard)

    # --- presence -------------------------------------------------------------

    def presence_up(self, user_id: int) -> bool:
        first = super().presence_up(user_id)
        if first:
            self._presence_dirty.add(user_id)
            self._presence_wake.set()
        return first

    def presence_down(self, user_id: int) -> bool:
        last = super().presence_down(user_id)
        if last:
            self._presence_dirty.add(user_id)
            self._presence_wake.set()
        return last

    async def presence_flush(self) -> None:
        await self._write_presence(renew_all=False)

    async def active_users(self, user_ids: Iterable[int]) -> set[int]:
        """Local knowledge, plus every unexpired claim in Redis (when it answers in time)."""
        ids = list(user_ids)
        found = await super().active_users(ids)
        rest = [user_id for user_id in ids if user_id not in found]
        if not rest or self._client is None or not self.connected:
            return found
        try:
            pipe = self._client.pipeline(transaction=False)
            for user_id in rest:
                pipe.hvals(PRESENCE_KEY.format(user_id))
            claims = await asyncio.wait_for(pipe.execute(), REDIS_PRESENCE_TIMEOUT)
            now = _now_ms()
            found.update(
                user_id
                for user_id, expiries in zip(rest, claims, strict=True)
                if any(int(expiry) > now for expiry in expiries)
            )
        except (redis.RedisError, OSError, TimeoutError, ValueError) as exc:
            log.warning("redis presence read failed: %s", type(exc).__name__)
        return found

    async def _write_presence_loop(self) -> None:
        """Write changed claims as they happen; renew all of ours every refresh."""
        next_renewal = time.monotonic() + self.presence_refresh_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._presence_wake.wait(), max(0.0, next_renewal - time.monotonic())
                )
            self._presence_wake.clear()
            renew = self._presence_full or time.monotonic() >= next_renewal
            if renew:
                self._presence_full = False
                next_renewal = time.monotonic() + self.presence_refresh_seconds
            await self._write_presence(renew_all=renew)

    async def _write_presence(self, *, renew_all: bool) -> None:
        """Bring our claims in Redis up to date with `_present`. Never raises; what could
        not be written is written next time."""
        if self._client is None or not self.connected:
            return
        async with self._presence_lock:  # one writer at a time: writes land in order
            dirty, self._presence_dirty = self._presence_dirty, set()
            users = sorted(dirty | set(self._present) if renew_all else dirty)
            expiry = _now_ms() + self.presence_ttl_ms
            try:
                for start in range(0, len(users), PRESENCE_CHUNK):
                    pipe = self._client.pipeline(transaction=False)
                    for user_id in users[start : start + PRESENCE_CHUNK]:
                        key = PRESENCE_KEY.format(user_id)
                        if user_id in self._present:
                            pipe.hset(key, self.node, expiry)
                            pipe.pexpire(key, self.presence_ttl_ms)
                        else:
                            pipe.hdel(key, self.node)
                    await asyncio.wait_for(pipe.execute(), REDIS_PRESENCE_TIMEOUT)
            except (redis.RedisError, OSError, TimeoutError) as exc:
                log.warning("redis presence write failed: %s", type(exc).__name__)
                self._presence_dirty |= dirty
                self._presence_full = True
            except BaseException:  # cancelled (closing): close() writes what is left
                self._presence_dirty |= dirty
                raise

    async def _publish(self, position: int) -> None:
        await self._publish_to(CHANNEL, str(position).encode())

    async def _publish_to(self, channel: str, body: bytes) -> None:
        assert self._client is not None
        try:
            await self._client.publish(channel, body)
        except (redis.RedisError, OSError) as exc:
            log.warning("redis publish failed: %s", type(exc).__name__)

    async def _listen(self) -> None:
        failures = 0
        while True:
            assert self._client is not None
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL, EPHEMERAL)
                self.connected = True
                failures = 0
                log.info("redis broker connected")
                # Redis may have restarted empty: re-assert our presence claims.
                self._presence_full = True
                self._presence_wake.set()
                # Anything committed while we were away: readers look at the database.
                self.wake_all()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    if message["channel"] == CHANNEL.encode():
                        super().publish_position(int(message["data"]))
                        continue
                    ephemeral = orjson.loads(message["data"])
                    if ephemeral["node"] != self.node:
                        self._deliver_locally(ephemeral["users"], ephemeral["frame"].encode())
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError, ValueError) as exc:
                if self.connected:
                    log.warning("redis broker lost: %s", type(exc).__name__)
                self.connected = False
                failures += 1
                await asyncio.sleep(min(10.0, 0.1 * 2**failures) * (0.5 + random.random()))
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()


def _now_ms() -> int:
    return int(time.time() * 1000)
