"""Trust tiers, the rate limiters (one contract, local and Redis), the client IP behind
trusted proxies, and the per-IP limits on account creation and login."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from backchannel.api.client_ip import client_ip, limit_key, parse_networks
from backchannel.app import create_app
from backchannel.config import Settings, load_settings
from backchannel.domain.limits import DAY_SECONDS, TIERS, TierLimits, limits_for, trust_tier
from backchannel.errors import BackchannelError
from backchannel.ratelimit import RateLimiter, enforce
from backchannel.ratelimit.local import LocalLimiter
from backchannel.ratelimit.redis import RedisLimiter
from tests.conftest import PASSWORD, REQUIRE_SERVICES, ValidatingApp, make_settings
from tests.servers import free_port

REDIS_URL = os.environ.get("BACKCHANNEL_TEST_REDIS_URL")


def require_redis() -> str:
    if not REDIS_URL:
        if REQUIRE_SERVICES:
            pytest.fail("BACKCHANNEL_TEST_REDIS_URL must be set in CI")
        pytest.skip("Redis tests need BACKCHANNEL_TEST_REDIS_URL")
    return REDIS_URL


# --- trust tiers ----------------------------------------------------------------------

CLEAN = {"requests_sent": 0, "requests_declined": 0, "reports_received": 0, "warnings": 0}


def tier(days: float, **record: int) -> str:
    return trust_tier(age_seconds=days * DAY_SECONDS, **{**CLEAN, **record})


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0, "new"),
        (6.999, "new"),
        (7, "regular"),
        (89.999, "regular"),
        (90, "trusted"),
        (3650, "trusted"),
    ],
)
def test_tier_by_age_with_a_clean_record(days: float, expected: str) -> None:
    assert tier(days) == expected


def test_tier_age_bounds_are_parameters() -> None:
    age = 2 * DAY_SECONDS
    assert trust_tier(age_seconds=age, **CLEAN, new_days=1, trusted_days=3) == "regular"
    assert trust_tier(age_seconds=age, **CLEAN, new_days=1, trusted_days=2) == "trusted"
    assert trust_tier(age_seconds=age, **CLEAN, new_days=3, trusted_days=30) == "new"


@pytest.mark.parametrize(
    ("record", "poor"),
    [
        ({"requests_sent": 5, "requests_declined": 2}, False),  # 40 % declined
        ({"requests_sent": 5, "requests_declined": 3}, True),  # 60 %
        ({"requests_sent": 10, "requests_declined": 5}, True),  # exactly 50 %
        ({"requests_sent": 4, "requests_declined": 4}, False),  # too few to judge
        ({"reports_received": 1}, False),
        ({"reports_received": 2, "requests_sent": 20}, True),  # one report per 10 requests
        ({"reports_received": 2, "requests_sent": 21}, False),
        ({"reports_received": 3, "requests_sent": 1000}, True),  # three reports, always
        ({"warnings": 1}, True),
    ],
)
def test_a_poor_record_drops_one_tier(record: dict[str, int], poor: bool) -> None:
    assert tier(120, **record) == ("regular" if poor else "trusted")
    assert tier(30, **record) == ("new" if poor else "regular")
    assert tier(1, **record) == "new"  # new stays new


def test_a_poor_record_drops_only_one_tier() -> None:
    assert tier(120, warnings=2, reports_received=5, requests_sent=9, requests_declined=9) == (
        "regular"
    )


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        tier(10, warnings=-1)


def test_limits_for_uses_the_platform_defaults(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert [limits_for(name, settings) for name in TIERS] == [
        TierLimits(20, 30, 5, 32, 5),
        TierLimits(50, 60, 5, 128, 20),
        TierLimits(100, 120, 5, 250, 50),
    ]


def test_limits_for_reads_the_settings_and_keeps_the_global_bounds(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        limit_messages_per_minute={"new": 1, "regular": 2, "trusted": 3},
        limit_group_size={"new": 10, "regular": 20, "trusted": 500},
        limit_forwards_per_action={"new": 1, "regular": 9, "trusted": 9},
        max_group_size=100,
        max_forward_targets=4,
    )
    assert limits_for("regular", settings).messages_per_minute == 2
    assert limits_for("trusted", settings).max_group_size == 100
    assert limits_for("new", settings).max_group_size == 10
    assert limits_for("new", settings).forwards_per_action == 1
    assert limits_for("trusted", settings).forwards_per_action == 4
    with pytest.raises(ValueError, match="unknown trust tier"):
        limits_for("vip", settings)


# --- the settings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"limit_messages_per_minute": {"new": 1, "regular": 2}}, "exactly the keys"),
        ({"limit_group_size": {"new": 0, "regular": 1, "trusted": 1}}, "must be ≥ 1; got new=0"),
        ({"trusted_proxies": ["10.0.0.1/8"]}, "'10.0.0.1/8' is not a network in CIDR"),
        ({"trusted_proxies": ["proxy.internal"]}, "'proxy.internal' is not a network"),
        ({"trust_new_days": 30, "trust_trusted_days": 10}, "at least trust_new_days"),
        ({"limit_accounts_per_ip_per_hour": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_limit_settings_are_refused_clearly(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(data_dir=tmp_path, **overrides)


def test_per_tier_limits_and_proxies_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "BACKCHANNEL_LIMIT_MESSAGES_PER_MINUTE", '{"new": 3, "regular": 6, "trusted": 9}'
    )
    monkeypatch.setenv("BACKCHANNEL_TRUSTED_PROXIES", '["10.0.0.0/8", "2001:db8::/32"]')
    monkeypatch.setenv("BACKCHANNEL_RATE_LIMITS", "false")
    settings = Settings(data_dir=tmp_path)
    assert settings.limit_messages_per_minute == {"new": 3, "regular": 6, "trusted": 9}
    assert parse_networks(settings.trusted_proxies) == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::/32"),
    )
    assert settings.rate_limits is False


# --- GCRA, deterministically (a fake clock) -------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_gcra_bursts_to_the_limit_then_refills_evenly() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock=clock)
    hits = [await limiter.hit("k", limit=3, window_seconds=3) for _ in range(4)]
    assert [d.allowed for d in hits] == [True, True, True, False]
    assert [d.remaining for d in hits] == [2, 1, 0, 0]
    assert hits[3].retry_after == pytest.approx(1.0)
    clock.now += 0.999
    assert not (await limiter.hit("k", limit=3, window_seconds=3)).allowed
    clock.now += 0.001
    assert (await limiter.hit("k", limit=3, window_seconds=3)).allowed
    clock.now += 3
    assert (await limiter.peek("k", limit=3, window_seconds=3)).remaining == 3


async def test_gcra_all_or_nothing_and_impossible_costs() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock=clock)
    assert (await limiter.hit("k", limit=4, window_seconds=4, cost=3)).remaining == 1
    refused = await limiter.hit("k", limit=4, window_seconds=4, cost=2)
    assert (refused.allowed, refused.remaining) == (False, 1)
    assert refused.retry_after == pytest.approx(1.0)  # one more unit must come back
    assert (await limiter.hit("k", limit=4, window_seconds=4, cost=1)).allowed
    never = await limiter.hit("k", limit=4, window_seconds=4, cost=5)
    assert not never.allowed and math.isinf(never.retry_after)
    with pytest.raises(ValueError, match="limit >= 1"):
        await limiter.hit("k", limit=0, window_seconds=1)


async def test_local_limiter_stays_bounded_dropping_idle_keys_first() -> None:
    clock = Clock()
    limiter = LocalLimiter(max_keys=10, clock=clock)
    for n in range(5):
        await limiter.hit(f"idle{n}", limit=1, window_seconds=1)
    clock.now += 2  # the idle keys are back to a full allowance: nothing to remember
    for n in range(8):
        await limiter.hit(f"live{n}", limit=1, window_seconds=60)
    assert len(limiter) == 8
    for n in range(100):
        await limiter.hit(f"flood{n}", limit=1, window_seconds=60)
        assert len(limiter) <= 10
    assert not (await limiter.hit("flood99", limit=1, window_seconds=60)).allowed


async def test_enforce_raises_rate_limited_with_whole_seconds() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock=clock)
    await enforce(limiter, "k", limit=1, window_seconds=2.5, what="tries")
    with pytest.raises(BackchannelError) as raised:
        await enforce(limiter, "k", limit=1, window_seconds=2.5, what="tries")
    assert raised.value.code == "rate_limited" and raised.value.status == 429
    assert raised.value.details == {"retry_after": 3}
    assert "Too many tries" in raised.value.message
    with pytest.raises(BackchannelError) as never:
        await enforce(limiter, "other", limit=2, window_seconds=1, cost=3, what="forwards")
    assert never.value.details == {}


# --- the limiter contract: local and Redis --------------------------------------------


@pytest.fixture(params=["local", "redis"])
async def make_limiter(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[[], RateLimiter]]:
    """Builds limiters of one kind (Redis ones share one server: "nodes"); all closed at
    the end. Keys are made unique per test with `fresh_key`."""
    made: list[RateLimiter] = []

    def make() -> RateLimiter:
        limiter: RateLimiter
        if request.param == "redis":
            limiter = RedisLimiter(require_redis(), prefix="bc:rl:test:")
        else:
            limiter = LocalLimiter()
        made.append(limiter)
        return limiter

    if request.param == "redis":
        require_redis()
    yield make
    for limiter in made:
        await limiter.close()


def fresh_key() -> str:
    return f"t{secrets.token_hex(8)}"


async def test_allows_exactly_the_limit(make_limiter: Callable[[], RateLimiter]) -> None:
    limiter, key = make_limiter(), fresh_key()
    hits = [await limiter.hit(key, limit=5, window_seconds=60) for _ in range(7)]
    assert [d.allowed for d in hits] == [True] * 5 + [False] * 2
    assert [d.remaining for d in hits] == [4, 3, 2, 1, 0, 0, 0]
    assert all(d.retry_after == 0 for d in hits[:5])
    assert hits[5].retry_after == pytest.approx(12, abs=0.1)  # one unit: 60 s / 5


async def test_a_costly_hit_is_all_or_nothing(make_limiter: Callable[[], RateLimiter]) -> None:
    limiter, key = make_limiter(), fresh_key()
    assert (await limiter.hit(key, limit=3, window_seconds=60, cost=2)).remaining == 1
    refused = await limiter.hit(key, limit=3, window_seconds=60, cost=2)
    assert (refused.allowed, refused.remaining) == (False, 1)
    assert refused.retry_after == pytest.approx(20, abs=0.1)
    assert (await limiter.hit(key, limit=3, window_seconds=60, cost=1)).allowed  # untouched
    assert not (await limiter.hit(key, limit=3, window_seconds=60)).allowed
    never = await limiter.hit(fresh_key(), limit=3, window_seconds=60, cost=4)
    assert not never.allowed and math.isinf(never.retry_after)


async def test_retry_after_is_when_it_passes(make_limiter: Callable[[], RateLimiter]) -> None:
    limiter, key = make_limiter(), fresh_key()
    for _ in range(2):
        assert (await limiter.hit(key, limit=2, window_seconds=0.5)).allowed
    refused = await limiter.hit(key, limit=2, window_seconds=0.5)
    assert not refused.allowed
    assert 0.15 < refused.retry_after <= 0.25
    await asyncio.sleep(refused.retry_after / 3)
    early = await limiter.hit(key, limit=2, window_seconds=0.5)
    assert not early.allowed and early.retry_after < refused.retry_after
    await asyncio.sleep(early.retry_after + 0.01)
    assert (await limiter.hit(key, limit=2, window_seconds=0.5)).allowed


async def test_peek_consumes_nothing(make_limiter: Callable[[], RateLimiter]) -> None:
    limiter, key = make_limiter(), fresh_key()
    for _ in range(3):
        peeked = await limiter.peek(key, limit=2, window_seconds=60)
        assert (peeked.allowed, peeked.remaining) == (True, 2)
    await limiter.hit(key, limit=2, window_seconds=60, cost=2)
    peeked = await limiter.peek(key, limit=2, window_seconds=60)
    assert (peeked.allowed, peeked.remaining) == (False, 0)
    assert peeked.retry_after == pytest.approx(30, abs=0.1)


async def test_keys_are_independent(make_limiter: Callable[[], RateLimiter]) -> None:
    limiter, a, b = make_limiter(), fresh_key(), fresh_key()
    assert (await limiter.hit(a, limit=1, window_seconds=60)).allowed
    assert not (await limiter.hit(a, limit=1, window_seconds=60)).allowed
    assert (await limiter.hit(b, limit=1, window_seconds=60)).allowed


async def test_a_parallel_burst_gets_exactly_the_limit(
    make_limiter: Callable[[], RateLimiter],
) -> None:
    limiter, key = make_limiter(), fresh_key()
    decisions = await asyncio.gather(
        *(limiter.hit(key, limit=50, window_seconds=600) for _ in range(200))
    )
    assert sum(d.allowed for d in decisions) == 50
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(50))
    assert getattr(limiter, "fallbacks", 0) == 0  # Redis answered every one


async def test_two_nodes_share_one_budget() -> None:
    url = require_redis()
    nodes = [RedisLimiter(url, prefix="bc:rl:test:") for _ in range(2)]
    key = fresh_key()
    try:
        decisions = await asyncio.gather(
            *(nodes[n % 2].hit(key, limit=50, window_seconds=600) for n in range(200))
        )
        assert sum(d.allowed for d in decisions) == 50
        assert {d.allowed for d in decisions[0::2]} == {d.allowed for d in decisions[1::2]}
        assert [node.fallbacks for node in nodes] == [0, 0]
    finally:
        for node in nodes:
            await node.close()


async def test_redis_keys_are_prefixed_and_expire_when_idle() -> None:
    url = require_redis()
    limiter = RedisLimiter(url)  # the production prefix
    key = fresh_key()
    client = redis.Redis.from_url(url)
    try:
        await limiter.hit(key, limit=10, window_seconds=60, cost=3)
        ttl_ms = await client.pttl(f"bc:rl:{key}")
        assert 17_000 < ttl_ms <= 18_001  # back to a full allowance after 3 * 6 s
        await limiter.peek(fresh_key(), limit=10, window_seconds=60)
        assert await client.exists(f"bc:rl:{key}") == 1
    finally:
        await client.delete(f"bc:rl:{key}")
        await client.aclose()
        await limiter.close()


async def test_redis_down_fails_open_to_per_node_limits(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0")  # nobody listens there
    try:
        with caplog.at_level(logging.WARNING, logger="backchannel.ratelimit.redis"):
            first = await limiter.hit("k", limit=2, window_seconds=60)
            limiter._down_until = 0  # try Redis again at once: a second failure
            second = await limiter.hit("k", limit=2, window_seconds=60)
            third = await limiter.hit("k", limit=2, window_seconds=60)
        assert (first.allowed, second.allowed, third.allowed) == (True, True, False)
        assert limiter.fallbacks == 3
        warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(warnings) == 1  # at most one per 30 s
        assert "127.0.0.1" not in warnings[0].getMessage()  # no URL (it may hold a password)
    finally:
        await limiter.close()


# --- the client IP --------------------------------------------------------------------

TRUSTED = parse_networks(["10.0.0.0/8", "::1/128", "fd00::/8"])


def scope(peer: str | None, *forwarded_for: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    return {"client": (peer, 4321) if peer else None, "headers": headers}


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # Direct: the header is whatever the client wants it to be, so it is ignored.
        ("203.0.113.5", ["198.51.100.7"], "203.0.113.5"),
        ("203.0.113.5", [], "203.0.113.5"),
        # Behind one trusted proxy: only the entry it appended counts.
        ("10.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        ("10.0.0.1", ["6.6.6.6, 198.51.100.7"], "198.51.100.7"),
        ("10.0.0.1", [], "10.0.0.1"),
        # A chain of trusted proxies is skipped; all trusted: the leftmost.
        ("10.0.0.1", ["6.6.6.6, 198.51.100.7, 10.0.0.2, 10.1.2.3"], "198.51.100.7"),
        ("10.0.0.1", ["10.0.0.9, 10.0.0.2"], "10.0.0.9"),
        # Several headers read as one list, in order.
        ("10.0.0.1", ["6.6.6.6", "198.51.100.7, 10.0.0.2"], "198.51.100.7"),
        # Malformed entries end the walk at the last good address.
        ("10.0.0.1", ["198.51.100.7, garbage, 10.0.0.2"], "10.0.0.2"),
        ("10.0.0.1", ["198.51.100.7, unknown"], "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.7,"], "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.7:"], "10.0.0.1"),
        # Ports are dropped.
        ("10.0.0.1", ["198.51.100.7:51000"], "198.51.100.7"),
        ("10.0.0.1", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("10.0.0.1", ["[2001:db8::1]x"], "10.0.0.1"),
        # IPv6 proxies and clients, and IPv4-mapped addresses.
        ("::1", ["2001:db8::1, fd00::2"], "2001:db8::1"),
        ("2001:db8::5", ["198.51.100.7"], "2001:db8::5"),
        ("::ffff:203.0.113.5", ["198.51.100.7"], "203.0.113.5"),
        ("::ffff:10.0.0.1", ["::ffff:198.51.100.7"], "198.51.100.7"),
        # Not an IP at all, or no peer.
        ("testclient", ["198.51.100.7"], "testclient"),
        (None, ["198.51.100.7"], "unknown"),
    ],
)
def test_client_ip(peer: str | None, headers: list[str], expected: str) -> None:
    assert client_ip(scope(peer, *headers), TRUSTED) == expected


def test_no_trusted_proxies_means_the_peer_always() -> None:
    assert client_ip(scope("127.0.0.1", "198.51.100.7"), ()) == "127.0.0.1"


def test_ipv6_clients_are_limited_by_their_64() -> None:
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::9")
    assert limit_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("198.51.100.7") == "198.51.100.7"
    assert limit_key("testclient") == "testclient"


# --- through the API ------------------------------------------------------------------


@asynccontextmanager
async def limited_app(
    tmp_path: Path,
    database_url: str,
    *,
    peer: str = "127.0.0.1",
    **overrides: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """An app with the rate limits on (the suite's settings turn them off), and a client
    whose TCP peer address is `peer`."""
    settings = make_settings(tmp_path, database_url, **{"rate_limits": True, **overrides})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=ValidatingApp(app), client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, app


async def register(
    http: httpx.AsyncClient, handle: str, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await http.post(
        "/api/v1/accounts", json={"handle": handle, "password": PASSWORD}, headers=headers
    )


async def login(
    http: httpx.AsyncClient, handle: str, password: str = PASSWORD, forwarded_for: str = ""
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await http.post(
        "/api/v1/sessions", json={"handle": handle, "password": password}, headers=headers
    )


def assert_rate_limited(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1 and error["details"] == {"retry_after": retry_after}
    return retry_after


async def test_account_creation_is_limited_per_ip_and_writes_nothing_past_it(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with limited_app(tmp_path, sqlite_url, limit_accounts_per_ip_per_hour=3) as (http, _):
        first = await register(http, "first")
        assert first.status_code == 201
        for handle in ("second", "third"):
            assert (await register(http, handle)).status_code == 201
        retry_after = assert_rate_limited(await register(http, "fourth"))
        assert 1000 < retry_after <= 1200  # one account back every 20 minutes
        token = first.json()["token"]
        missing = await http.get(
            "/api/v1/users/fourth", headers={"Authorization": f"Bearer {token}"}
        )
        assert missing.json()["error"]["code"] == "user_not_found"


async def test_rotating_x_forwarded_for_from_an_untrusted_peer_changes_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with limited_app(
        tmp_path, sqlite_url, trusted_proxies=[], limit_accounts_per_ip_per_hour=3
    ) as (http, _):
        for n in range(3):
            assert (await register(http, f"rotor{n}", f"198.51.100.{n}")).status_code == 201
        assert_rate_limited(await register(http, "rotor3", "198.51.100.3"))
        assert_rate_limited(await register(http, "rotor4", "198.51.100.4, 203.0.113.9"))


async def test_behind_a_trusted_proxy_x_forwarded_for_tells_clients_apart(
    tmp_path: Path, sqlite_url: str
) -> None:
    # httpx's ASGI transport connects from 127.0.0.1, trusted by default: the proxy.
    async with limited_app(tmp_path, sqlite_url, limit_accounts_per_ip_per_hour=2) as (http, _):
        assert (await register(http, "alice1", "198.51.100.1")).status_code == 201
        # What the client wrote left of the proxy's entry is not believed.
        assert (await register(http, "alice2", "6.6.6.6, 198.51.100.1")).status_code == 201
        assert_rate_limited(await register(http, "alice3", "7.7.7.7, 198.51.100.1"))
        assert (await register(http, "bob1", "198.51.100.2")).status_code == 201
        # One IPv6 client: its whole /64.
        assert (await register(http, "carol1", "2001:db8:0:1::1")).status_code == 201
        assert (await register(http, "carol2", "2001:db8:0:1::2")).status_code == 201
        assert_rate_limited(await register(http, "carol3", "2001:db8:0:1:ffff::3"))


async def test_logins_are_limited_per_handle_before_the_password_is_checked(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with limited_app(tmp_path, sqlite_url, limit_logins_per_handle_per_minute=3) as (
        http,
        app,
    ):
        for handle in ("victim", "other"):
            assert (await register(http, handle)).status_code == 201
        core = app.state.core
        checked: list[str] = []
        verify = core.verify_password

        async def counting_verify(password_hash: str | None, password: str) -> bool:
            checked.append(password)
            return bool(await verify(password_hash, password))

        core.verify_password = counting_verify
        for n in range(3):  # from three addresses: the handle's budget is shared
            response = await login(http, "Victim", "wrong password", f"198.51.100.{n}")
            assert response.status_code == 401
        assert_rate_limited(await login(http, "victim", forwarded_for="198.51.100.9"))
        assert len(checked) == 3  # the refused attempt never reached the password hash
        assert (await login(http, "other")).status_code == 201


async def test_logins_are_limited_per_ip(tmp_path: Path, sqlite_url: str) -> None:
    async with limited_app(tmp_path, sqlite_url, limit_logins_per_ip_per_minute=2) as (http, _):
        assert (await register(http, "dora")).status_code == 201
        assert (await login(http, "nobody1", forwarded_for="198.51.100.1")).status_code == 401
        assert (await login(http, "dora", forwarded_for="198.51.100.1")).status_code == 201
        assert_rate_limited(await login(http, "dora", forwarded_for="198.51.100.1"))
        assert (await login(http, "dora", forwarded_for="198.51.100.2")).status_code == 201


async def test_limits_off_limit_nothing(tmp_path: Path, sqlite_url: str) -> None:
    async with limited_app(
        tmp_path, sqlite_url, rate_limits=False, limit_accounts_per_ip_per_hour=1
    ) as (http, _):
        for n in range(3):
            assert (await register(http, f"free{n}")).status_code == 201
        for _ in range(3):
            assert (await login(http, "free0", "wrong password")).status_code == 401


@pytest.fixture
def other_sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A second migrated SQLite database: another node's, sharing nothing but Redis."""
    target = tmp_path / "other" / "backchannel.db"
    target.parent.mkdir()
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


async def test_nodes_on_one_redis_share_the_per_ip_budget(
    tmp_path: Path, sqlite_url: str, other_sqlite_url: str
) -> None:
    url = require_redis()
    # A random IPv6 /64 of the documentation range: no collision with other test runs
    # on the same Redis within the hour the budget lasts.
    client = f"2001:db8:{secrets.randbits(16):x}:{secrets.randbits(16):x}::1"
    async with (
        limited_app(
            tmp_path / "a", sqlite_url, redis_url=url, limit_accounts_per_ip_per_hour=2
        ) as (node_a, app_a),
        limited_app(
            tmp_path / "b",
            other_sqlite_url,
            redis_url=url,
            limit_accounts_per_ip_per_hour=2,
        ) as (node_b, _),
    ):
        assert isinstance(app_a.state.core.limiter, RedisLimiter)
        assert (await register(node_a, "shared1", client)).status_code == 201
        assert (await register(node_b, "shared2", client)).status_code == 201
        assert_rate_limited(await register(node_a, "shared3", client))
        assert_rate_limited(await register(node_b, "shared4", client))
