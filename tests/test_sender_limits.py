"""Per-sender limits by trust tier, through the API: 429 with Retry-After, nothing done,
exact under parallel bursts; across two nodes sharing Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from backchannel.store.tables import conversations, messages, users
from tests.conftest import Api, User
from tests.test_conversations import build_api
from tests.test_nodes import RedisProcess, redis_server  # noqa: F401 (a fixture)

CONVERSATIONS = "/api/v1/conversations"
TIERS = {"new": 3, "regular": 6, "trusted": 9}


def limited(**extra: Any) -> dict[str, Any]:
    """Small limits, easy to reach: new 3, regular 6, trusted 9 of everything per window."""
    return {
        "rate_limits": True,
        "limit_messages_per_minute": TIERS,
        "limit_new_conversations_per_day": TIERS,
        "limit_group_creations_per_day": {"new": 1, "regular": 2, "trusted": 3},
        "limit_group_size": {"new": 3, "regular": 4, "trusted": 5},
        "limit_forwards_per_action": {"new": 2, "regular": 3, "trusted": 5},
        # registration and login limits are tests/test_limits.py's business
        "limit_accounts_per_ip_per_hour": 1000,
        "limit_logins_per_ip_per_minute": 1000,
        **extra,
    }


async def count(api: Api, table: Any) -> int:
    return int(
        await api.core.store.read(
            "test_count",
            lambda t: t.conn.execute(select(func.count()).select_from(table)).scalar_one(),
        )
    )


async def age(api: Api, user: User, days: float) -> None:
    """Make an account `days` old (and log in again: the tier is read at authentication)."""

    def txn(t: Any) -> None:
        t.conn.execute(
            update(users)
            .where(users.c.pid == user.profile["id"])
            .values(created_at=users.c.created_at - int(days * 86_400_000))
        )

    await api.core.store.write("test_age", txn)
    api.core.auth_cache.clear()


async def test_messages_a_minute_hold_under_a_parallel_burst(
    tmp_path: Path, database_url: str
) -> None:
    async with build_api(tmp_path, database_url, **limited()) as api:
        alice, bob = await api.users(2)
        cid = await alice.direct(bob)
        before = await count(api, messages)
        replies = await asyncio.gather(
            *(
                alice.post(f"{CONVERSATIONS}/{cid}/messages", json={"text": f"m{i}"})
                for i in range(20)
            )
        )
        sent = [r for r in replies if r.status_code == 201]
        refused = [r for r in replies if r.status_code == 429]
        assert len(sent) == TIERS["new"] and len(sent) + len(refused) == 20
        assert await count(api, messages) == before + TIERS["new"]  # nothing half-written
        body = refused[0].json()["error"]
        assert body["code"] == "rate_limited"
        assert int(refused[0].headers["retry-after"]) >= 1
        assert body["details"]["retry_after"] == int(refused[0].headers["retry-after"])
        # one sender's limit is not another's
        await bob.send(cid, "I can still talk")


async def test_limits_grow_with_the_account_and_drop_with_declined_requests(
    tmp_path: Path, database_url: str
) -> None:
    async with build_api(tmp_path, database_url, **limited()) as api:
        veteran, *others = await api.users(12)
        await age(api, veteran, 100)  # trusted: 9 new conversations a day
        started = [
            await veteran.post(CONVERSATIONS, json={"kind": "direct", "members": [o.handle]})
            for o in others[:10]
        ]
        assert [r.status_code for r in started].count(201) == TIERS["trusted"]
        assert started[-1].status_code == 429
        # re-opening an existing conversation is not a new one
        r = await veteran.post(
            CONVERSATIONS, json={"kind": "direct", "members": [others[0].handle]}
        )
        assert r.status_code == 200
        assert await count(api, conversations) == TIERS["trusted"]

        # a regular account whose requests are mostly declined is treated as new
        async with build_api(
            tmp_path / "second", database_url, dm_inbox_default="following", **limited()
        ) as second:
            spammer, *targets = await second.users(8)
            await age(second, spammer, 30)
            for target in targets[:5]:
                r = await spammer.post(
                    CONVERSATIONS, json={"kind": "direct", "members": [target.handle]}
                )
                cid = r.json()["id"]
                await spammer.send(cid, "hey check my profile")
                assert (
                    await target.post(f"{CONVERSATIONS}/{cid}/decline", json={})
                ).status_code == 204
            second.core.auth_cache.clear()
            r = await spammer.post(
                CONVERSATIONS, json={"kind": "direct", "members": [targets[5].handle]}
            )
            assert r.status_code == 429  # 5 used of the new tier's... 3 (was regular: 6)


async def test_group_size_creation_and_forward_fan_out_by_tier(
    tmp_path: Path, database_url: str
) -> None:
    async with build_api(tmp_path, database_url, **limited()) as api:
        newbie, *others = await api.users(6)
        r = await newbie.post(
            CONVERSATIONS, json={"kind": "group", "members": [o.handle for o in others[:3]]}
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "group_too_large"
        gid = await newbie.group(others[0], others[1])
        r = await newbie.post(CONVERSATIONS, json={"kind": "group", "members": [others[2].handle]})
        assert r.status_code == 429  # one group a day for a new account
        r = await newbie.post(
            f"{CONVERSATIONS}/{gid}/members", json={"members": [others[3].handle]}
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "group_too_large"
        mid = (await newbie.send(gid, "forward me"))["id"]
        targets = [await newbie.direct(o) for o in others[3:5]]
        r = await newbie.post(
            f"{CONVERSATIONS}/{gid}/messages/{mid}/forward",
            json={"conversation_ids": [*targets, gid]},
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_targets"


async def test_two_nodes_share_one_budget_through_redis(
    tmp_path: Path,
    postgres_url: str,
    redis_server: RedisProcess,  # noqa: F811
) -> None:
    # A private Redis: the limiter's keys are internal user ids, which every test
    # database starts afresh, so a shared Redis would mix the budgets of test runs.
    extra = limited(redis_url=redis_server.url)
    async with (
        build_api(tmp_path / "a", postgres_url, **extra) as one,
        build_api(tmp_path / "b", postgres_url, **extra) as two,
    ):
        alice, bob = await one.users(2)
        cid = await alice.direct(bob)
        # the same account's token on the other node
        alice_there = User(two.http, alice.token, alice.profile)
        replies = await asyncio.gather(
            *(
                (alice if i % 2 else alice_there).post(
                    f"{CONVERSATIONS}/{cid}/messages", json={"text": f"m{i}"}
                )
                for i in range(12)
            )
        )
        assert [r.status_code for r in replies].count(201) == TIERS["new"]


async def test_uploads_an_hour(tmp_path: Path, database_url: str) -> None:
    from tests.test_media import jpeg_with_gps

    async with build_api(tmp_path, database_url, **limited(limit_uploads_per_hour=2)) as api:
        alice = await api.register()
        replies = [
            await alice.post(
                "/api/v1/media", files={"file": ("a.jpg", jpeg_with_gps(64, 64), "image/jpeg")}
            )
            for _ in range(3)
        ]
        assert [r.status_code for r in replies] == [201, 201, 429]
        assert replies[-1].json()["error"]["code"] == "rate_limited"
