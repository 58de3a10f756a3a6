"""Spam and phishing screening through the API: hidden words and filtered requests go to
Hidden Requests, suspect messages are held for moderators, the worst are refused — over
REST and the WebSocket, with flags in the moderation queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from backchannel.client import Client
from backchannel.config import Settings
from backchannel.domain.spam import Link, MessageContext, Signal
from tests.conftest import PASSWORD, Api, User, make_settings
from tests.servers import Servers
from tests.test_gateway import next_frame, open_stream
from tests.test_requests import conversation, folder, history, request

CONVERSATIONS = "/api/v1/conversations"


def operator_check(ctx: MessageContext, links: list[Link]) -> Iterator[Signal]:
    """An operator's own check (loaded by `spam_hooks`): scores messages that say so."""
    for marker, score in (("[[hide]]", 45), ("[[hold]]", 75)):
        if marker in ctx.text:
            yield Signal("operator_marker", score, f"marked {marker}")


HOOK = "tests.test_screening:operator_check"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        dm_inbox_default="following",
        spam_blocked_domains=["malware.example"],
        spam_hooks=[HOOK],
    )


async def flags(admin: User) -> list[dict[str, Any]]:
    r = await admin.get("/api/v1/moderation/reports", params={"source": "filter"})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_hidden_words_send_a_request_to_hidden_requests(api: Api) -> None:
    admin, bob, stranger = await api.users(3)
    r = await bob.put("/api/v1/me/hidden-words", json={"words": ["Crypto", "  get RICH  "]})
    assert r.status_code == 200 and r.json()["words"] == ["crypto", "get rich"]
    clean = await request(stranger, bob, "loved your photos from Lisbon")
    hidden = await request(await api.register(), bob, "Want to get   rich with CRYPTO?")
    assert await folder(bob, "requests") == [clean]
    assert await folder(bob, "hidden") == [hidden]
    assert (await conversation(bob, hidden))["folder"] == "hidden"
    assert await flags(admin) == []  # a recipient's taste, not abuse
    # the words match whole words only
    await request(await api.register(), bob, "cryptography lecture notes, as promised")
    assert len(await folder(bob, "requests")) == 2


async def test_filtered_held_and_refused_messages(api: Api) -> None:
    admin, bob, stranger, friend = await api.users(4)
    # a filter score past `spam_hide_score` in a request: Hidden Requests, and a flag
    hidden = await request(stranger, bob, "[[hide]] hello")
    assert await folder(bob, "hidden") == [hidden]
    # past `spam_hold_score`: held, private to its sender, for a moderator to look at
    await bob.put(f"/api/v1/users/{friend.handle}/follow")
    direct = await friend.direct(bob)
    held = await friend.send(direct, "[[hold]] look at this")
    assert held["text"] == "[[hold]] look at this"  # to the sender it looks sent
    assert await history(bob, direct) == []
    assert await history(friend, direct) == ["[[hold]] look at this"]
    # past `spam_reject_score` (a blocked domain): refused, with the reason, nothing written
    r = await friend.post(
        f"{CONVERSATIONS}/{direct}/messages",
        json={"text": "get the app at https://dl.malware.example/app.apk"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "message_rejected"
    assert "malware.example" in r.json()["error"]["message"]
    assert await history(friend, direct) == ["[[hold]] look at this"]
    queue = await flags(admin)
    assert sorted(f["reason"] for f in queue) == ["held", "spam"]
    held_flag = next(f for f in queue if f["reason"] == "held")
    assert held_flag["target"]["handle"] == friend.handle and held_flag["score"] >= 70
    detail = (await admin.get(f"/api/v1/moderation/reports/{held_flag['id']}")).json()
    assert detail["evidence"]["signals"][0]["check"] == "operator_marker"
    assert detail["evidence"]["message"]["text"] == "[[hold]] look at this"


async def test_phishing_links_are_caught_in_any_conversation(api: Api) -> None:
    admin, alice, bob = await api.users(3)
    await bob.put(f"/api/v1/users/{alice.handle}/follow")
    direct = await alice.direct(bob)
    await alice.send(direct, "here is the doc https://github.com/backchannel/docs")
    r = await alice.post(
        f"{CONVERSATIONS}/{direct}/messages",
        json={"text": "your account is locked, verify at http://paypa1-secure-login.com/verify"},
    )
    assert r.status_code == 201  # held: to alice it looks sent
    assert await history(bob, direct) == ["here is the doc https://github.com/backchannel/docs"]
    (flag,) = await flags(admin)
    assert flag["reason"] == "held" and flag["score"] == 80


async def test_with_the_filter_off_nothing_is_screened(tmp_path: Path, database_url: str) -> None:
    from tests.test_conversations import build_api

    async with build_api(
        tmp_path,
        database_url,
        spam_filter=False,
        spam_blocked_domains=["malware.example"],
    ) as api:
        alice, bob = await api.users(2)
        cid = await alice.direct(bob)
        await alice.send(cid, "https://malware.example/")
        assert await history(bob, cid) == ["https://malware.example/"]


@pytest.mark.server
async def test_a_refused_message_over_the_websocket(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(
        tmp_path / "data", env={"BACKCHANNEL_SPAM_BLOCKED_DOMAINS": '["malware.example"]'}
    )
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        cid = (await alice.open_direct("bob"))["id"]
        ws, _ = await open_stream(server.url, alice.token)
        frame = {"op": "send", "id": "s1", "conversation_id": cid, "text": "http://malware.example"}
        await ws.send(orjson.dumps(frame).decode())
        error = await next_frame(ws, "error")
        assert error["id"] == "s1" and error["error"]["code"] == "message_rejected"
        assert (await bob.history(cid))["items"] == []
        await ws.close()


async def test_a_moderator_releases_or_removes_a_held_message(api: Api) -> None:
    admin, bob, friend = await api.users(3)
    await bob.put(f"/api/v1/users/{friend.handle}/follow")
    direct = await friend.direct(bob)
    await friend.send(direct, "[[hold]] first")
    await friend.send(direct, "[[hold]] second")
    token = (await bob.sync())["next"]
    first, second = sorted(await flags(admin), key=lambda f: f["created_at"])
    # dismissed: a false alarm, and the message goes out after all
    r = await admin.post(
        f"/api/v1/moderation/reports/{first['id']}/actions", json={"action": "dismiss"}
    )
    assert r.status_code == 200, r.text
    assert await history(bob, direct) == ["[[hold]] first"]
    events = (await bob.sync(token))["events"]
    assert [e["type"] for e in events] == ["message.created"]
    assert events[0]["data"]["message"]["text"] == "[[hold]] first"
    # removed: a tombstone for its sender, and nothing at all for anyone else
    r = await admin.post(
        f"/api/v1/moderation/reports/{second['id']}/actions", json={"action": "remove_message"}
    )
    assert r.status_code == 200, r.text
    assert await history(friend, direct) == ["[[hold]] first", None]
    assert await history(bob, direct) == ["[[hold]] first"]
    assert [e["type"] for e in (await bob.sync(token))["events"]] == ["message.created"]
