"""The SDK's WebSocket stream against real `backchannel serve` processes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from backchannel.client import ApiError, Client, Stream
from tests.conftest import PASSWORD
from tests.servers import Servers

pytestmark = pytest.mark.server


async def messages_from(stream: Stream, count: int) -> list[dict[str, Any]]:
    """The next `count` message.created events' messages."""
    seen: list[dict[str, Any]] = []
    async for event in stream.events():
        if event["type"] == "message.created":
            seen.append(event["data"]["message"])
            if len(seen) == count:
                break
    return seen


class Proxy:
    """A TCP proxy in front of a server that can swallow the server's replies (a lost
    ack) and cut every connection (a dropped network)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.swallow = False
        self.links: list[asyncio.StreamWriter] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _link(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.links += [client_w, server_w]
        await asyncio.gather(
            self._pipe(client_r, server_w, swallowable=False),
            self._pipe(server_r, client_w, swallowable=True),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, swallowable: bool
    ) -> None:
        try:
            while data := await reader.read(1 << 16):
                if swallowable and self.swallow:
                    continue
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def cut(self) -> None:
        for writer in self.links:
            writer.transport.abort()
        self.links.clear()

    async def close(self) -> None:
        self.cut()
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def proxies() -> Any:
    started: list[Proxy] = []

    async def start(port: int) -> Proxy:
        proxy = Proxy(port)
        await proxy.start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        await proxy.close()


async def test_events_arrive_live_and_the_position_is_shared_with_long_poll(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        conversation = (await alice.open_direct("bob"))["id"]
        async with bob.stream() as stream, alice.stream() as alice_stream:
            assert bob.position is not None  # "from now": the ready frame's position
            await alice.send(conversation, "over REST")
            sent = await alice_stream.send(conversation, "over the socket")
            assert sent["text"] == "over the socket" and sent["sender"]["handle"] == "alice"
            received = await asyncio.wait_for(messages_from(stream, 2), 10)
            assert [m["text"] for m in received] == ["over REST", "over the socket"]
            assert bob.position == str(sent["position"])
            assert await stream.read(conversation, sent["id"]) == sent["position"]
            await stream.ping()
        # Closed; the long-poll carries on from where the stream stopped.
        await alice.send(conversation, "after the stream")
        async for event in bob.events(timeout_ms=2000):
            if event["type"] == "message.created":
                assert event["data"]["message"]["text"] == "after the stream"
                break


async def test_an_error_frame_raises_the_rest_code(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        alice.stream() as stream,
    ):
        with pytest.raises(ApiError) as info:
            await stream.send("c_doesnotexist0000000000", "hello?")
        assert (info.value.status, info.value.code) == (404, "conversation_not_found")
        await stream.ping()  # the stream is still usable


async def test_a_send_whose_ack_is_lost_is_resent_without_duplicating(
    tmp_path: Path, servers: Servers, proxies: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    proxy = await proxies(server.port)
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
        Client(proxy.url, token=alice.token) as alice_via_proxy,
        alice_via_proxy.stream(max_backoff=0.5) as stream,
    ):
        conversation = (await alice.open_direct("bob"))["id"]
        proxy.swallow = True  # the server stores the message; its ack never arrives
        sending = asyncio.create_task(stream.send(conversation, "exactly once"))
        items: list[dict[str, Any]] = []
        for _ in range(200):
            items = (await bob.history(conversation))["items"]
            if items:
                break
            await asyncio.sleep(0.02)
        assert [m["text"] for m in items] == ["exactly once"]
        assert not sending.done()
        proxy.swallow = False
        proxy.cut()  # the stream reconnects and sends the same frame again
        message = await asyncio.wait_for(sending, 10)
        assert stream.connections == 2
        items = (await bob.history(conversation))["items"]
        assert [m["id"] for m in items] == [message["id"]]


async def test_every_event_arrives_exactly_once_across_a_kill_9(
    tmp_path: Path, servers: Servers
) -> None:
    """Sender and recipient both on streams; the server is killed mid-way and restarted
    on the same port and data: sends in flight are resent, the recipient resumes."""
    data = tmp_path / "data"
    server = await servers.serve(data)
    total = 40
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        conversation = (await alice.open_direct("bob"))["id"]
        async with (
            alice.stream(max_backoff=0.5) as sender,
            bob.stream(max_backoff=0.5) as recipient,
        ):
            half_acked = asyncio.Event()

            async def send_all() -> None:
                for i in range(total):
                    await sender.send(conversation, f"message {i}")
                    if i + 1 == total // 2:
                        half_acked.set()

            listening = asyncio.create_task(messages_from(recipient, total))
            sending = asyncio.create_task(send_all())
            await asyncio.wait_for(half_acked.wait(), 10)
            await server.kill()
            await servers.serve(data, port=server.port)
            await asyncio.wait_for(sending, 30)
            received = await asyncio.wait_for(listening, 30)
            assert [m["text"] for m in received] == [f"message {i}" for i in range(total)]
            assert recipient.connections >= 2 and sender.connections >= 2
            # and nothing more (no duplicate) is waiting behind them
            await alice.send(conversation, "the end")
            [last] = await asyncio.wait_for(messages_from(recipient, 1), 10)
            assert last["text"] == "the end"
        history = (await bob.history(conversation, limit=100))["items"]
        assert len(history) == total + 1


async def test_typing_frames_arrive(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        conversation = (await alice.open_direct("bob"))["id"]
        async with alice.stream() as typist, bob.stream() as watcher:
            await typist.typing(conversation)
            frame = await asyncio.wait_for(anext(aiter(watcher)), 10)
            assert frame["op"] == "typing" and frame["user"] == "alice" and frame["active"]
            await typist.typing(conversation, active=False)
            frame = await asyncio.wait_for(anext(aiter(watcher)), 10)
            assert frame["op"] == "typing" and frame["active"] is False


async def test_a_refused_token_raises_and_is_not_retried(
    tmp_path: Path, servers: Servers, proxies: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    with pytest.raises(ApiError) as info:
        async with Client(server.url, token="bc_not-a-token").stream():
            pass
    assert (info.value.status, info.value.code) == (401, "unauthenticated")

    # A token revoked while connected: the next reconnect fails for good.
    proxy = await proxies(server.port)
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        Client(proxy.url, token=alice.token) as alice_via_proxy,
        alice_via_proxy.stream(max_backoff=0.2) as stream,
    ):
        await alice.logout()
        proxy.cut()
        with pytest.raises(ApiError) as info:
            await asyncio.wait_for(anext(aiter(stream)), 10)
        assert info.value.status == 401
        with pytest.raises(ApiError):
            await stream.ping()
        assert stream.connections == 1


async def test_a_reader_that_falls_behind_loses_nothing(tmp_path: Path, servers: Servers) -> None:
    """Past `buffer` waiting frames the stream drops events and reads them again once
    the program has caught up: still every event, once, in order."""
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        conversation = (await alice.open_direct("bob"))["id"]
        async with bob.stream(buffer=5) as stream, alice.stream() as sender:
            await asyncio.gather(*(sender.send(conversation, f"m{i}") for i in range(30)))
            received = await asyncio.wait_for(messages_from(stream, 30), 20)
            assert sorted(m["position"] for m in received) == [m["position"] for m in received]
            assert len({m["id"] for m in received}) == 30
            assert stream.connections >= 2


async def test_an_idle_stream_keeps_itself_alive(tmp_path: Path, servers: Servers) -> None:
    """With a short server heartbeat the SDK pings on its own and is never closed as
    idle (4009)."""
    server = await servers.serve(
        tmp_path / "data",
        env={
            "BACKCHANNEL_STREAM_HEARTBEAT_SECONDS": "0.4",
            "BACKCHANNEL_STREAM_IDLE_TIMEOUT_SECONDS": "1.2",
        },
    )
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        conversation = (await alice.open_direct("bob"))["id"]
        async with bob.stream() as stream:
            await asyncio.sleep(3)
            await alice.send(conversation, "still there?")
            [message] = await asyncio.wait_for(messages_from(stream, 1), 10)
            assert message["text"] == "still there?"
            assert stream.connections == 1


async def test_closing_ends_the_iteration(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(tmp_path / "data")
    async with await Client.register(server.url, "alice", PASSWORD) as alice:
        stream = alice.stream()

        async def frames() -> list[dict[str, Any]]:
            return [frame async for frame in stream]

        async with stream:
            waiting = asyncio.create_task(frames())
            await asyncio.sleep(0.1)
        assert await asyncio.wait_for(waiting, 5) == []
        assert await frames() == []


async def test_presence_through_the_sdk(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        await alice.open_direct("bob")
        assert await alice.presence(["bob", "nobody"]) == [
            {"user": "bob", "active": False, "last_active_at": None},
            {"user": "nobody", "active": False, "last_active_at": None},
        ]
        async with bob.stream() as stream:
            await stream.ping()  # connected and authenticated
            (seen,) = await alice.presence(["bob"])
            assert seen["active"] is True and seen["last_active_at"] is not None
