"""What every use case receives: the settings and the adapters, built once per app."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher

from backchannel.broker.local import LocalBroker
from backchannel.config import Settings
from backchannel.domain import spam as spam_rules
from backchannel.domain.spam import SpamFilter
from backchannel.media.store import MediaStore
from backchannel.observability import Metrics
from backchannel.previews import PreviewFetcher
from backchannel.ratelimit import RateLimiter
from backchannel.ratelimit.local import LocalLimiter
from backchannel.store.database import Store

if TYPE_CHECKING:
    from backchannel.jobs.runner import JobRunner

log = logging.getLogger(__name__)

AUTH_CACHE_MAX = 100_000
# An ephemeral frame the gateway keeps for itself: "re-check your session".
SESSIONS_CHANGED = b'{"op":"sessions.changed"}'


@dataclass(frozen=True, slots=True)
class Requester:
    """The authenticated caller: a user on one of their devices (sessions)."""

    user_id: int
    user_pid: str
    handle: str
    session_id: int | None = None
    display_name: str = ""
    # The trust tier (domain/limits.py) as of authentication; limits scale with it.
    tier: str = "regular"
    created_at: int = 0  # the account's creation (ms), for the spam checks
    # Set when a business's team member acts as the business (services/business.py): who.
    agent_id: int | None = None


@dataclass
class Core:
    settings: Settings
    store: Store
    broker: LocalBroker
    metrics: Metrics
    hasher: PasswordHasher = field(init=False)
    background: set[asyncio.Task[object]] = field(default_factory=set)
    # token hash -> (requester, monotonic expiry); see `auth_cache_seconds`.
    auth_cache: dict[str, tuple[Requester, float]] = field(default_factory=dict)
    shutting_down: bool = False
    # (user id, conversation id) -> the timer that ends a typing indicator nobody refreshed,
    # and who was told (services/realtime.py).
    typing_timers: dict[tuple[int, str], tuple[asyncio.TimerHandle, list[int]]] = field(
        default_factory=dict
    )
    # (user id, business id, conversation id) -> the timer that ends a teammate's "viewing"
    # or "typing" nobody refreshed, who was told, and the frame (services/team_presence.py).
    team_presence: dict[
        tuple[int, int, str], tuple[asyncio.TimerHandle, list[int], dict[str, Any]]
    ] = field(default_factory=dict)
    # Per-sender and per-IP limits (backchannel/ratelimit); app.py passes the shared one.
    limiter: RateLimiter = field(default_factory=LocalLimiter)
    # Where uploads' bytes live (backchannel/media); app.py builds it.
    media: MediaStore | None = None
    # Fetches link previews (backchannel/previews); app.py builds it.
    previews: PreviewFetcher | None = None
    # Runs due jobs (backchannel/jobs/runner.py); app.py builds it.
    jobs: JobRunner | None = None
    # The spam and phishing checks (domain/spam.py); None when `spam_filter` is off.
    spam: SpamFilter | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.settings.spam_filter:
            self.spam = spam_rules.from_settings(self.settings)
        self.hasher = PasswordHasher(
            time_cost=self.settings.argon2_time_cost,
            memory_cost=self.settings.argon2_memory_kib,
            parallelism=self.settings.argon2_parallelism,
        )
        self.store.on_commit = self.broker.publish_position
        self._dummy_hash: str | None = None

    def media_store(self) -> MediaStore:
        if self.media is None:
            raise RuntimeError("no media store: Core was built without one")
        return self.media

    def remember_token(self, hashed: str, requester: Requester) -> None:
        ttl = self.settings.auth_cache_seconds
        if ttl <= 0:
            return
        if len(self.auth_cache) >= AUTH_CACHE_MAX:
            self.auth_cache.clear()  # crude but bounded; refills at one read per token
        self.auth_cache[hashed] = (requester, time.monotonic() + ttl)

    def cached_requester(self, hashed: str) -> Requester | None:
        entry = self.auth_cache.get(hashed)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            del self.auth_cache[hashed]
            return None
        return entry[0]

    def forget_user_tokens(self, user_id: int) -> None:
        """Drop a user's cached tokens (logout, revocation, password or profile change),
        and have every socket of theirs, on every node, check that its session still
        stands (a revoked device's live stream is closed at once, not at its next
        reconnect). Call after the change committed."""
        for hashed in [h for h, (r, _) in self.auth_cache.items() if r.user_id == user_id]:
            self.auth_cache.pop(hashed, None)
        self.broker.publish_ephemeral([user_id], SESSIONS_CHANGED)

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
