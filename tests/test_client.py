"""The Python SDK against a real `backchannel serve` process."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from backchannel.client import ApiError, Client
from tests.conftest import PASSWORD
from tests.servers import Servers

pytestmark = pytest.mark.server


async def collect(client: Client, count: int, since: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async for event in client.events(since, timeout_ms=2000):
        seen.append(event)
        if len(seen) == count:
            break
    return seen


async def test_a_conversation_through_the_sdk(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "alice", PASSWORD, display_name="Alice") as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        assert alice.profile is not None and alice.profile["handle"] == "alice"
        start = (await bob.sync())["next"]
        listener = asyncio.create_task(collect(bob, 4, start))
        conversation = await alice.open_direct("bob")
        first = await alice.send(conversation["id"], "hello")
        reply = await bob.send(conversation["id"], "hi!", reply_to=first["id"])
        await alice.react(conversation["id"], reply["id"], "👍")
        events = await asyncio.wait_for(listener, 10)
        assert [e["type"] for e in events] == [
            "conversation.created",
            "message.created",
            "message.created",
            "reaction.added",
        ]
        assert events[2]["data"]["message"]["reply_to"]["id"] == first["id"]
        assert bob.position == str(events[-1]["position"])

        await alice.edit(conversation["id"], first["id"], "hello, Bob")
        page = await bob.history(conversation["id"])
        assert [m["text"] for m in page["items"]] == ["hello, Bob", "hi!"]
        assert (await bob.inbox())["items"][0]["unread_count"] == 1
        await bob.mark_read(conversation["id"], first["id"])
        assert (await bob.inbox())["items"][0]["unread_count"] == 0

        with pytest.raises(ApiError) as info:
            await bob.history("c_doesnotexist0000000000")
        assert (info.value.status, info.value.code) == (404, "conversation_not_found")


class LoseFirstReply(httpx.AsyncHTTPTransport):
    """Delivers the first send to the server, then drops its reply (a lost ack)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/messages") and not self.lost:
            self.lost += 1
            await response.aclose()
            raise httpx.ReadError("connection reset after the server answered")
        return response


async def test_a_send_whose_reply_is_lost_is_retried_without_duplicating(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    transport = LoseFirstReply()
    async with (
        await Client.register(server.url, "alice", PASSWORD, transport=transport) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        conversation = await alice.open_direct("bob")
        sent = await alice.send(conversation["id"], "exactly once")
        assert transport.lost == 1
        page = await bob.history(conversation["id"])
        assert [m["id"] for m in page["items"]] == [sent["id"]]


async def test_events_resume_across_a_server_kill(tmp_path: Path, servers: Servers) -> None:
    """The iterator backs off while the server is gone and resumes from its position:
    every message arrives exactly once."""
    data = tmp_path / "data"
    server = await servers.serve(data)
    port = server.port
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        conversation = (await alice.open_direct("bob"))["id"]
        start = (await bob.sync())["next"]
        listener = asyncio.create_task(collect(bob, 40, start))
        for i in range(20):
            await alice.send(conversation, f"before {i}")
        await server.kill()
        restarted = await servers.serve(data, port=port)
        assert restarted.url == server.url
        for i in range(20):
            await alice.send(conversation, f"after {i}")
        events = await asyncio.wait_for(listener, 30)
    texts = [e["data"]["message"]["text"] for e in events]
    assert texts == [f"before {i}" for i in range(20)] + [f"after {i}" for i in range(20)]


async def test_the_echo_bot_example_answers(tmp_path: Path, servers: Servers) -> None:
    import runpy

    bot_module = runpy.run_path(str(Path(__file__).parent.parent / "examples" / "echo_bot.py"))
    server = await servers.serve(tmp_path / "data")
    await (await Client.register(server.url, "echobot", PASSWORD)).close()
    bot = asyncio.create_task(bot_module["run"](server.url, "echobot", PASSWORD))
    try:
        async with await Client.register(server.url, "alice", PASSWORD) as alice:
            conversation = (await alice.open_direct("echobot"))["id"]
            # The bot listens from "now" on: ping until one lands after it started.
            echoes: list[dict[str, Any]] = []
            for i in range(50):
                await alice.send(conversation, f"ping {i}")
                await asyncio.sleep(0.1)
                items = (await alice.history(conversation))["items"]
                echoes = [m for m in items if m["sender"]["handle"] == "echobot"]
                if echoes:
                    break
            assert echoes, "the bot never answered"
            pings = {m["id"]: m["text"] for m in items if m["sender"]["handle"] == "alice"}
            assert echoes[0]["text"] == pings[echoes[0]["reply_to"]["id"]]
    finally:
        bot.cancel()
        with pytest.raises(asyncio.CancelledError):
            await bot


async def test_requests_blocks_and_reports_through_the_sdk(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(
        tmp_path / "data", env={"BACKCHANNEL_DM_INBOX_DEFAULT": "following"}
    )
    async with (
        await Client.register(server.url, "mod", PASSWORD) as mod,  # the first: a moderator
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
        await Client.register(server.url, "eve", PASSWORD) as eve,
    ):
        assert (await alice.can_message("bob"))["can_message"] == "request"
        cid = (await alice.open_direct("bob"))["id"]
        await alice.send(cid, "hi bob")
        requests = (await bob.inbox(folder="requests"))["items"]
        assert [c["id"] for c in requests] == [cid]
        assert (await bob.accept_request(cid))["folder"] == "primary"
        assert (await bob.update_membership(cid, pinned=True))["pinned"] is True
        spam = (await eve.open_direct("bob"))["id"]
        await eve.send(spam, "cheap followers")
        await bob.decline_request(spam, block=True, report_reason="spam")
        assert [u["handle"] for u in (await bob.blocked())["items"]] == ["eve"]
        report = await alice.report("user", "harassment", user="eve", comment="rude")
        assert report["status"] == "open"
        assert await bob.set_hidden_words(["Crypto"]) == ["crypto"]
        # to eve it all still looks like a request waiting for an answer
        assert await eve.can_message("bob") == {
            "can_message": "request",
            "conversation_id": spam,
            "remaining_messages": 0,
        }
        with pytest.raises(ApiError) as refused:
            await eve.send(spam, "hello??")
        assert refused.value.code == "request_limit_reached"
        await bob.unblock("eve")
        assert mod.token is not None
