"""Presence: "active now" and "last active", shown only to people one shares a
conversation with, reciprocal with the activity status setting, hidden identically
from everyone else. Service tests drive the real app; the gateway tests use real
servers and real WebSocket clients; the multi-node test runs on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection

from backchannel.broker.redis import PRESENCE_KEY, RedisBroker
from backchannel.config import Settings
from backchannel.services import accounts, presence
from backchannel.services.core import Requester
from tests.conftest import PASSWORD, Api, User, make_settings
from tests.servers import Servers
from tests.test_gateway import next_frame, open_stream
from tests.test_nodes import RedisProcess, redis_server  # noqa: F401 - the fixture

PRESENCE = "/api/v1/presence"
SETTINGS = "/api/v1/me/settings"
GRACE = 0.2  # seconds: small, so that the tests are quick
FAST = {"BACKCHANNEL_PRESENCE_GRACE_SECONDS": str(GRACE)}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, presence_grace_seconds=GRACE)


def hidden(user: User) -> dict[str, Any]:
    return {"user": user.handle, "active": False, "last_active_at": None}


async def ask(viewer: User, *users: User | str) -> list[dict[str, Any]]:
    handles = ",".join(u if isinstance(u, str) else u.handle for u in users)
    r = await viewer.get(PRESENCE, params={"users": handles})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


class Session:
    """A user's socket, as the gateway would report it: `presence.connected` /
    `disconnected` on the app's core, and the ephemeral frames addressed to them."""

    def __init__(self, api: Api, user: User, requester: Requester) -> None:
        self.api = api
        self.user = user
        self.requester = requester
        self.frames: list[dict[str, Any]] = []
        api.core.broker.subscribe(requester.user_id, self._deliver)

    def _deliver(self, frame: bytes) -> None:
        parsed = orjson.loads(frame)
        if parsed["op"] == "presence":
            self.frames.append(parsed)

    async def connect(self) -> None:
        await presence.connected(self.api.core, self.requester)

    async def disconnect(self) -> None:
        await presence.disconnected(self.api.core, self.requester)


async def session(api: Api, user: User) -> Session:
    return Session(api, user, await accounts.authenticate(api.core, user.token))


async def settle(api: Api) -> None:
    """Let spawned presence work (writes, grace timers, broadcasts) finish."""
    deadline = time.monotonic() + 5
    await asyncio.sleep(GRACE + 0.1)
    while api.core.background and time.monotonic() < deadline:
        await asyncio.gather(*api.core.background, return_exceptions=True)
        await asyncio.sleep(0.01)


# --- settings and the query ---------------------------------------------------------


async def test_activity_status_setting_defaults_on(api: Api) -> None:
    alice = await api.register()
    settings = (await alice.get(SETTINGS)).json()
    assert (settings["read_receipts"], settings["activity_status"]) == (True, True)
    r = await alice.patch(SETTINGS, json={"activity_status": False})
    assert r.status_code == 200
    assert (r.json()["read_receipts"], r.json()["activity_status"]) == (True, False)
    assert (await alice.get(SETTINGS)).json()["activity_status"] is False
    r = await alice.patch(SETTINGS, json={"activity_status": "maybe"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"


async def test_the_query_wants_1_to_100_handles(api: Api) -> None:
    alice = await api.register()
    for params in ({}, {"users": ""}, {"users": "a,,b"}, {"users": ",".join(["bob"] * 101)}):
        r = await alice.get(PRESENCE, params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"]["code"] == "invalid_request"
    r = await alice.get(PRESENCE, params={"users": ",".join(["bob"] * 100)})
    assert r.status_code == 200 and len(r.json()["items"]) == 100


# --- who sees what ------------------------------------------------------------------


async def test_a_conversation_partner_sees_active_then_last_active(api: Api) -> None:
    alice, bob = await api.users(2)
    await alice.direct(bob)
    assert await ask(bob, alice) == [hidden(alice)]  # never active yet
    a, b = await session(api, alice), await session(api, bob)
    await b.connect()
    await a.connect()
    await settle(api)
    [now] = await ask(bob, alice)
    assert now["active"] is True and now["last_active_at"] is not None
    assert [f["user"] for f in b.frames] == [alice.handle] and b.frames[0]["active"] is True
    assert [f["user"] for f in a.frames] == [bob.handle]

    await a.disconnect()
    await settle(api)
    [later] = await ask(bob, alice)
    assert later["active"] is False and later["last_active_at"] is not None
    assert b.frames[-1] == later | {"op": "presence"}


async def test_a_second_socket_and_a_quick_reconnect_do_not_flicker(api: Api) -> None:
    alice, bob = await api.users(2)
    await alice.direct(bob)
    a, b = await session(api, alice), await session(api, bob)
    await b.connect()
    await a.connect()
    await a.connect()  # a second device
    await settle(api)
    await a.disconnect()  # one of two closes: still active
    await settle(api)
    assert [f["active"] for f in b.frames] == [True]
    await a.disconnect()
    await a.connect()  # back within the grace
    await settle(api)
    assert all(f["active"] for f in b.frames)
    assert (await ask(bob, alice))[0]["active"] is True


async def test_strangers_ex_members_and_unknown_handles_learn_nothing(api: Api) -> None:
    alice, bob, carol, eve = await api.users(4)
    group = await alice.group(bob, carol)
    r = await carol.delete(f"/api/v1/conversations/{group}/members/{carol.handle}")
    assert r.status_code == 204
    sessions = {u.handle: await session(api, u) for u in (alice, bob, carol, eve)}
    for s in sessions.values():
        await s.connect()
    await settle(api)
    await sessions[alice.handle].disconnect()
    await settle(api)

    assert (await ask(bob, alice))[0]["last_active_at"] is not None  # bob may see her
    for outsider in (carol, eve):  # an ex-member and a stranger
        assert await ask(outsider, alice, bob) == [hidden(alice), hidden(bob)]
        assert sessions[outsider.handle].frames == []
    # a handle nobody has looks the same as a hidden one
    assert await ask(eve, "nobody_here", alice) == [
        {"user": "nobody_here", "active": False, "last_active_at": None},
        hidden(alice),
    ]
    # and bob hears nothing of the outsiders
    assert {f["user"] for f in sessions[bob.handle].frames} == {alice.handle}


@pytest.mark.parametrize("who_hides", ["subject", "viewer"])
async def test_activity_status_off_on_either_side_hides_both_ways(api: Api, who_hides: str) -> None:
    alice, bob = await api.users(2)
    await alice.direct(bob)
    hider = alice if who_hides == "subject" else bob
    r = await hider.patch(SETTINGS, json={"activity_status": False})
    assert r.status_code == 200
    a, b = await session(api, alice), await session(api, bob)
    for s in (a, b):
        await s.connect()
    await settle(api)
    await a.disconnect()
    await b.disconnect()
    await settle(api)
    assert await ask(bob, alice) == [hidden(alice)]
    assert await ask(alice, bob) == [hidden(bob)]
    assert a.frames == [] and b.frames == []
    # the hider still sees their own
    assert (await ask(hider, hider))[0]["last_active_at"] is not None


async def test_turning_activity_status_off_and_on_tells_those_who_could_see(api: Api) -> None:
    alice, bob = await api.users(2)
    await alice.direct(bob)
    a, b = await session(api, alice), await session(api, bob)
    await a.connect()
    await b.connect()
    await settle(api)
    b.frames.clear()
    assert (await alice.patch(SETTINGS, json={"activity_status": False})).status_code == 200
    assert b.frames == [hidden(alice) | {"op": "presence"}]
    assert await ask(bob, alice) == [hidden(alice)]
    assert (await alice.patch(SETTINGS, json={"activity_status": True})).status_code == 200
    assert b.frames[-1]["active"] is True
    assert (await ask(bob, alice))[0]["active"] is True


async def test_last_active_is_recorded_for_connected_users(
    tmp_path: Path, database_url: str
) -> None:
    """The periodic refresh: one batched write for everyone connected to the node."""
    from backchannel.app import create_app

    app = create_app(
        make_settings(
            tmp_path, database_url, presence_refresh_seconds=0.1, presence_grace_seconds=0
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            api = Api(http, app)
            alice, bob = await api.users(2)
            await alice.direct(bob)
            await (await session(api, alice)).connect()
            await asyncio.sleep(0.2)
            queries = dict(api.core.store.queries.totals)
            await asyncio.sleep(0.35)
            writes = api.core.store.queries.totals.get("presence_last_active", 0)
            assert writes - queries.get("presence_last_active", 0) >= 2  # one per tick

            def stored(t: Any) -> Any:
                from sqlalchemy import select

                from backchannel.store.tables import users

                return t.conn.execute(
                    select(users.c.last_active_at).where(users.c.handle == alice.handle)
                ).scalar()

            first = await api.core.store.read("test", stored)
            await asyncio.sleep(0.25)
            assert await api.core.store.read("test", stored) > first


# --- real servers, real sockets -------------------------------------------------------


async def register(http: httpx.AsyncClient, handle: str) -> str:
    r = await http.post("/api/v1/accounts", json={"handle": handle, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def query(http: httpx.AsyncClient, token: str, handle: str) -> dict[str, Any]:
    r = await http.get(PRESENCE, params={"users": handle}, headers=auth(token))
    assert r.status_code == 200, r.text
    return dict(r.json()["items"][0])


async def silent(ws: ClientConnection, within: float) -> list[dict[str, Any]]:
    """Every presence frame the socket gets within `within` seconds."""
    frames = []
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
        if frame["op"] == "presence":
            frames.append(frame)
    return frames


@pytest.fixture
async def http_of() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(url: str) -> httpx.AsyncClient:
        clients.append(httpx.AsyncClient(base_url=url, timeout=10))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


@pytest.mark.server
async def test_over_websockets_a_partner_sees_it_and_a_stranger_does_not(
    tmp_path: Path, servers: Servers, http_of: Any
) -> None:
    server = await servers.serve(tmp_path / "data", env=FAST)
    http = http_of(server.url)
    alice, bob, eve = [await register(http, h) for h in ("alice", "bob", "eve")]
    r = await http.post(
        "/api/v1/conversations", json={"kind": "direct", "members": ["bob"]}, headers=auth(alice)
    )
    assert r.status_code == 201
    bob_ws, _ = await open_stream(server.url, bob)
    eve_ws, _ = await open_stream(server.url, eve)
    alice_ws, _ = await open_stream(server.url, alice)

    frame = await next_frame(bob_ws, "presence")
    assert frame["user"] == "alice" and frame["active"] is True
    assert (await query(http, bob, "alice"))["active"] is True
    assert await query(http, eve, "alice") == {
        "user": "alice",
        "active": False,
        "last_active_at": None,
    }

    await alice_ws.close()
    started = time.monotonic()
    frame = await next_frame(bob_ws, "presence")
    assert time.monotonic() - started >= GRACE * 0.9  # after the grace, not at once
    assert frame["user"] == "alice" and frame["active"] is False
    assert frame["last_active_at"] is not None
    assert await query(http, bob, "alice") == {k: v for k, v in frame.items() if k != "op"}
    assert await silent(eve_ws, 0.3) == []
    await bob_ws.close()
    await eve_ws.close()


@pytest.mark.server
async def test_a_user_on_one_node_is_seen_active_from_another(
    tmp_path: Path,
    servers: Servers,
    postgres_url: str,
    redis_server: RedisProcess,  # noqa: F811
    http_of: Any,
) -> None:
    env = {**FAST, "BACKCHANNEL_REDIS_URL": redis_server.url}
    node_a = await servers.serve(tmp_path / "a", postgres_url, env=env)
    node_b = await servers.serve(tmp_path / "b", postgres_url, env=env)
    http_a, http_b = http_of(node_a.url), http_of(node_b.url)
    alice, bob = await register(http_a, "alice"), await register(http_b, "bob")
    r = await http_b.post(
        "/api/v1/conversations", json={"kind": "direct", "members": ["alice"]}, headers=auth(bob)
    )
    assert r.status_code == 201
    bob_ws, _ = await open_stream(node_b.url, bob)
    await asyncio.sleep(0.3)  # both nodes' subscriptions are up
    alice_ws, _ = await open_stream(node_a.url, alice)
    frame = await next_frame(bob_ws, "presence")
    assert frame["user"] == "alice" and frame["active"] is True
    assert (await query(http_b, bob, "alice"))["active"] is True  # node B asks Redis

    await alice_ws.close()
    frame = await next_frame(bob_ws, "presence")
    assert frame["active"] is False and frame["last_active_at"] is not None
    assert await query(http_b, bob, "alice") == {k: v for k, v in frame.items() if k != "op"}
    await bob_ws.close()


# --- the Redis broker's presence --------------------------------------------------------


async def test_redis_claims_expire_and_are_withdrawn(
    redis_server: RedisProcess,  # noqa: F811
) -> None:
    one = RedisBroker(redis_server.url, presence_ttl_seconds=60)
    other = RedisBroker(redis_server.url)
    await one.start()
    await other.start()
    try:
        for _ in range(250):  # both subscribed: `connected`
            if one.connected and other.connected:
                break
            await asyncio.sleep(0.02)
        assert one.presence_up(7) is True and one.presence_up(7) is False
        await one.presence_flush()
        assert await other.active_users([7, 8]) == {7}
        assert one.presence_down(7) is False and one.presence_down(7) is True
        await one.presence_flush()
        assert await other.active_users([7]) == set()

        # A crashed node's claim: left behind, expired.
        assert other._client is not None
        now = int(time.time() * 1000)
        await other._client.hset(PRESENCE_KEY.format(8), "crashed-node", now - 1)
        assert await other.active_users([8]) == set()
        await other._client.hset(PRESENCE_KEY.format(8), "live-node", now + 60_000)
        assert await other.active_users([8]) == {8}

        # A node that closes withdraws its claims.
        one.presence_up(9)
        await one.presence_flush()
        assert await other.active_users([9]) == {9}
    finally:
        await one.close()
    try:
        assert await other.active_users([9]) == set()
    finally:
        await other.close()


async def test_redis_away_answers_from_local_knowledge() -> None:
    from tests.servers import free_port

    broker = RedisBroker(f"redis://127.0.0.1:{free_port()}/0")
    await broker.start()
    try:
        broker.presence_up(1)
        await broker.presence_flush()  # nothing to write to: no error
        assert await broker.active_users([1, 2]) == {1}
    finally:
        await broker.close()


async def test_redis_claims_are_renewed_while_connected_and_age_out_after(
    redis_server: RedisProcess,  # noqa: F811
) -> None:
    renewing = RedisBroker(redis_server.url, presence_refresh_seconds=0.1, presence_ttl_seconds=0.3)
    stale = RedisBroker(redis_server.url, presence_refresh_seconds=60, presence_ttl_seconds=0.3)
    for broker in (renewing, stale):
        await broker.start()
    try:
        for _ in range(250):
            if renewing.connected and stale.connected:
                break
            await asyncio.sleep(0.02)
        renewing.presence_up(21)
        stale.presence_up(22)  # as if its node then crashed: never renewed
        await renewing.presence_flush()
        await stale.presence_flush()
        fresh = RedisBroker(redis_server.url)  # a third node, knowing nothing locally
        await fresh.start()
        try:
            for _ in range(250):
                if fresh.connected:
                    break
                await asyncio.sleep(0.02)
            assert await fresh.active_users([21, 22]) == {21, 22}
            await asyncio.sleep(0.6)
            assert await fresh.active_users([21, 22]) == {21}
        finally:
            await fresh.close()
    finally:
        for broker in (renewing, stale):
            await broker.close()
