"""Redis broker: positions committed on any node wake waiters on every node.

Each node publishes the position of every batch it commits on one channel and
subscribes to it. Redis carries only wake-ups: the database stays the record,
so a lost message costs latency, never an event (readers also re-read the log
every `sync_poll_seconds`). If Redis goes away, the node keeps serving its own
users and reconnects with backoff; when it is back, readers catch up from the
database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Iterable

import orjson
import redis.asyncio as redis

from backchannel.broker.local import LocalBroker

log = logging.getLogger(__name__)
CHANNEL = "backchannel:positions"
EPHEMERAL = "backchannel:ephemeral"


class RedisBroker(LocalBroker):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.connected = False
        self._client: redis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._publishes: set[asyncio.Task[None]] = set()
        self.node = secrets.token_hex(8)  # our own ephemeral frames come back: skip them

    async def start(self) -> None:
        self._client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)
        self._listener = asyncio.create_task(self._listen(), name="redis-broker")

    async def close(self) -> None:
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
