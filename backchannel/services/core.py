"""What every use case receives: the settings and the adapters, built once per app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher

from backchannel.broker.local import LocalBroker
from backchannel.config import Settings
from backchannel.observability import Metrics
from backchannel.store.database import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Requester:
    """The authenticated caller: a user on one of their devices (sessions)."""

    user_id: int
    user_pid: str
    handle: str
    session_id: int | None = None
    display_name: str = ""


@dataclass
class Core:
    settings: Settings
    store: Store
    broker: LocalBroker
    metrics: Metrics
    hasher: PasswordHasher = field(init=False)
    background: set[asyncio.Task[object]] = field(default_factory=set)
    shutting_down: bool = False

    def __post_init__(self) -> None:
        self.hasher = PasswordHasher(
            time_cost=self.settings.argon2_time_cost,
            memory_cost=self.settings.argon2_memory_kib,
            parallelism=self.settings.argon2_parallelism,
        )
        self.store.on_commit = self.broker.publish_position
        self._dummy_hash: str | None = None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a best-effort coroutine in the background, keeping a reference to it."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background task failed", exc_info=task.exception())

    async def hash_password(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify_password(self, password_hash: str | None, password: str) -> bool:
        """Constant work whether or not the account exists (no user enumeration by timing)."""
        if password_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash_password("not-a-real-password")
            password_hash = self._dummy_hash
            real = False
        else:
            real = True
        try:
            await asyncio.to_thread(self.hasher.verify, password_hash, password)
        except Exception:
            return False
        return real
