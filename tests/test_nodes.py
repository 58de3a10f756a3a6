"""Several nodes on one PostgreSQL database and one Redis: real processes, real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets

from backchannel.client import Client
from tests.conftest import PASSWORD, REQUIRE_SERVICES
from tests.servers import Servers, free_port

pytestmark = pytest.mark.server

# Readers would notice other nodes' commits by re-reading the log this often; set high
# so that a quick delivery proves the broker carried the wake-up.
SLOW_POLL = {"BACKCHANNEL_SYNC_POLL_SECONDS": "30"}


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    if shutil.which("redis-server") is None:
        if REQUIRE_SERVICES:
            pytest.fail("redis-server is needed in CI")
        pytest.skip("needs redis-server")
    server = RedisProcess(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RedisProcess:
    """A private redis-server, so a test can stop and restart it."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import socket

                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


async def stream(url: str, token: str) -> Any:
    ws = await websockets.connect(url.replace("http://", "ws://") + "/api/v1/stream")
    await ws.send(orjson.dumps({"op": "auth", "token": token}).decode())
    assert orjson.loads(await asyncio.wait_for(ws.recv(), 5))["op"] == "ready"
    return ws


async def messages_from(ws: Any, count: int, timeout: float) -> list[str]:
    texts: list[str] = []
    while len(texts) < count:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame.get("type") == "message.created":
            texts.append(frame["data"]["message"]["text"])
    return texts


async def test_a_dm_sent_through_one_node_arrives_live_on_another(
    tmp_path: Path, servers: Servers, postgres_url: str, redis_server: RedisProcess
) -> None:
    env = {**SLOW_POLL, "BACKCHANNEL_REDIS_URL": redis_server.url}
    node_a = await servers.serve(tmp_path / "a", postgres_url, env=env)
    node_b = await servers.serve(tmp_path / "b", postgres_url, env=env)
    async with (
        await Client.register(node_a.url, "alice", PASSWORD) as alice_on_a,
        await Client.register(node_b.url, "bob", PASSWORD) as bob_on_b,
    ):
        assert alice_on_a.token is not None
        conversation = (await bob_on_b.open_direct("alice"))["id"]
        ws = await stream(node_a.url, alice_on_a.token)
        await asyncio.sleep(0.3)  # both nodes' subscriptions are up
        started = time.monotonic()
        await bob_on_b.send(conversation, "through node b")
        assert await messages_from(ws, 1, timeout=5) == ["through node b"]
        assert time.monotonic() - started < 5  # far below the 30 s re-read: Redis woke it
        # ephemeral typing crosses nodes too
        assert bob_on_b.token is not None
        bob_ws = await stream(node_b.url, bob_on_b.token)
        typing = {"op": "typing", "id": "t", "conversation_id": conversation, "active": True}
        await bob_ws.send(orjson.dumps(typing).decode())
        while (frame := orjson.loads(await asyncio.wait_for(ws.recv(), 5)))["op"] != "typing":
            pass
        assert frame["user"] == "bob" and frame["active"] is True
        await bob_ws.close()
        # and the long-poll fallback on node A too
        token = (await alice_on_a.sync())["next"]
        poll = asyncio.create_task(alice_on_a.sync(token, timeout_ms=20000))
        await asyncio.sleep(0.2)
        await bob_on_b.send(conversation, "again")
        batch = await asyncio.wait_for(poll, 5)
        assert [e["data"]["message"]["text"] for e in batch["events"]] == ["again"]
        await ws.close()


async def test_redis_stopped_and_restarted_loses_nothing(
    tmp_path: Path, servers: Servers, postgres_url: str, redis_server: RedisProcess
) -> None:
    env = {"BACKCHANNEL_SYNC_POLL_SECONDS": "1", "BACKCHANNEL_REDIS_URL": redis_server.url}
    node_a = await servers.serve(tmp_path / "a", postgres_url, env=env)
    node_b = await servers.serve(tmp_path / "b", postgres_url, env=env)
    async with (
        await Client.register(node_a.url, "alice", PASSWORD) as alice_on_a,
        await Client.register(node_b.url, "bob", PASSWORD) as bob_on_b,
    ):
        assert alice_on_a.token is not None
        conversation = (await bob_on_b.open_direct("alice"))["id"]
        ws = await stream(node_a.url, alice_on_a.token)
        sent = []
        for phase in ("before", "during", "after"):
            if phase == "during":
                redis_server.stop()
            if phase == "after":
                redis_server.start()
                await asyncio.sleep(1.5)  # the nodes reconnect with backoff
            for i in range(10):
                text = f"{phase} {i}"
                await bob_on_b.send(conversation, text)
                sent.append(text)
        received = await messages_from(ws, len(sent), timeout=10)
        assert received == sent  # every message, once, in order
        await ws.close()


async def test_a_device_revoked_through_one_node_loses_its_socket_on_another(
    tmp_path: Path, servers: Servers, postgres_url: str, redis_server: RedisProcess
) -> None:
    env = {**SLOW_POLL, "BACKCHANNEL_REDIS_URL": redis_server.url}
    node_a = await servers.serve(tmp_path / "a", postgres_url, env=env)
    node_b = await servers.serve(tmp_path / "b", postgres_url, env=env)
    async with (
        await Client.register(node_a.url, "alice", PASSWORD, device_name="phone") as phone,
        await Client.login(node_b.url, "alice", PASSWORD, device_name="laptop") as laptop,
    ):
        assert phone.token is not None
        ws = await stream(node_a.url, phone.token)
        await asyncio.sleep(0.3)  # both nodes' subscriptions are up
        lost = next(s for s in await laptop.sessions() if not s["current"])
        await laptop.revoke_session(lost["id"])
        with pytest.raises(websockets.ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4001


async def test_after_removal_through_one_node_a_socket_on_another_hears_nothing(
    tmp_path: Path, servers: Servers, postgres_url: str, redis_server: RedisProcess
) -> None:
    env = {**SLOW_POLL, "BACKCHANNEL_REDIS_URL": redis_server.url}
    node_a = await servers.serve(tmp_path / "a", postgres_url, env=env)
    node_b = await servers.serve(tmp_path / "b", postgres_url, env=env)
    async with (
        await Client.register(node_b.url, "alice", PASSWORD) as alice_on_b,
        await Client.register(node_a.url, "bob", PASSWORD) as bob_on_a,
        await Client.register(node_b.url, "carol", PASSWORD) as carol_on_b,
    ):
        assert bob_on_a.token is not None
        group = (await alice_on_b.create_group(["bob", "carol"]))["id"]
        ws = await stream(node_a.url, bob_on_a.token)
        await asyncio.sleep(0.3)  # both nodes' subscriptions are up
        await alice_on_b.send(group, "before")
        await alice_on_b.remove_member(group, "bob")
        await carol_on_b.send(group, "after bob was removed")
        await alice_on_b.send(group, "and again")
        direct = (await alice_on_b.open_direct("bob"))["id"]
        await alice_on_b.send(direct, "but this one is for bob")  # the socket still hears
        frames = []
        with contextlib.suppress(TimeoutError):
            while True:
                frames.append(orjson.loads(await asyncio.wait_for(ws.recv(), 1.0)))
        events = [(f["type"], f["data"].get("message", {}).get("text")) for f in frames
                  if f["op"] == "event"]  # fmt: skip
        assert events == [
            ("message.created", "before"),
            ("member.left", None),
            ("conversation.created", None),
            ("message.created", "but this one is for bob"),
        ]
        await ws.close()
