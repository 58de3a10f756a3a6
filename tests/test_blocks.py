"""Blocking, through every channel: nothing from the blocked person reaches the blocker —
messages, requests, reactions, typing, receipts, presence, group invitations, forwards —
the blocked person sees none of the blocker's presence or read state, and is not told."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from backchannel.client import Client
from backchannel.store import presence as presence_db
from backchannel.store.tables import users
from tests.conftest import PASSWORD, Api, User
from tests.servers import Servers
from tests.test_gateway import next_frame, open_stream

CONVERSATIONS = "/api/v1/conversations"


def code(r: Any) -> str:
    return str(r.json()["error"]["code"])


async def block(blocker: User, blocked: User) -> None:
    r = await blocker.put(f"/api/v1/users/{blocked.handle}/block")
    assert r.status_code == 204, r.text


async def texts(user: User, cid: str) -> list[str | None]:
    r = await user.get(f"{CONVERSATIONS}/{cid}/messages")
    assert r.status_code == 200, r.text
    return [m["text"] for m in r.json()["items"]]


async def event_types(user: User, since: str) -> list[str]:
    return [e["type"] for e in (await user.sync(since))["events"]]


async def user_id(api: Api, user: User) -> int:
    return int(
        await api.core.store.read(
            "test_id",
            lambda t: t.conn.execute(
                select(users.c.id).where(users.c.pid == user.profile["id"])
            ).scalar_one(),
        )
    )


async def test_in_a_direct_conversation_nothing_arrives_and_the_blocked_is_not_told(
    api: Api,
) -> None:
    me, troll = await api.users(2)
    cid = await troll.direct(me)
    mine = await me.send(cid, "hi")
    await block(me, troll)
    my_token = (await me.sync())["next"]
    troll_token = (await troll.sync())["next"]
    troll_view = (await troll.get(f"{CONVERSATIONS}/{cid}")).json()
    # messages: sent, as far as the troll can tell; never arrive
    sent = await troll.send(cid, "you can't ignore me")
    assert sent["text"] == "you can't ignore me"
    assert await texts(troll, cid) == ["hi", "you can't ignore me"]
    assert await texts(me, cid) == ["hi"]
    r = await me.get(f"{CONVERSATIONS}/{cid}/messages/{sent['id']}")
    assert r.status_code == 404
    # reactions on my message, edits of theirs: nowhere for me
    r = await troll.put(
        f"{CONVERSATIONS}/{cid}/messages/{mine['id']}/reactions", json={"emoji": "👎"}
    )
    assert r.status_code == 200 and r.json()["reactions"] == [
        {"emoji": "👎", "users": [troll.handle]}
    ]
    r = await troll.patch(f"{CONVERSATIONS}/{cid}/messages/{sent['id']}", json={"text": "edited"})
    assert r.status_code == 200
    assert (await me.get(f"{CONVERSATIONS}/{cid}/messages/{mine['id']}")).json()["reactions"] == []
    assert await event_types(me, my_token) == []
    inbox = (await me.get(f"{CONVERSATIONS}/{cid}")).json()
    assert inbox["unread_count"] == 0 and inbox["last_message"]["text"] == "hi"
    # the troll's stream carries their own actions, as always; their view is unchanged
    assert await event_types(troll, troll_token) == [
        "message.created",
        "reaction.added",
        "message.edited",
    ]
    after = (await troll.get(f"{CONVERSATIONS}/{cid}")).json()
    assert after["read_positions"] == troll_view["read_positions"]
    # I cannot send into it until I unblock
    r = await me.post(f"{CONVERSATIONS}/{cid}/messages", json={"text": "stop"})
    assert r.status_code == 403 and code(r) == "blocked_by_you"
    # unblock: new messages flow again; what was sent during the block stays undelivered
    assert (await me.delete(f"/api/v1/users/{troll.handle}/block")).status_code == 204
    await troll.send(cid, "sorry")
    assert await texts(me, cid) == ["hi", "sorry"]
    await me.send(cid, "ok")


async def test_no_new_conversation_request_or_group_invitation(api: Api) -> None:
    me, troll, friend = await api.users(3)
    await block(me, troll)
    r = await troll.get(f"/api/v1/users/{me.handle}/can-message")
    assert r.json()["can_message"] == "none"
    r = await troll.post(CONVERSATIONS, json={"kind": "direct", "members": [me.handle]})
    assert r.status_code == 403 and code(r) == "cannot_message"
    r = await troll.post(
        CONVERSATIONS, json={"kind": "group", "members": [friend.handle, me.handle]}
    )
    assert r.status_code == 403 and code(r) == "cannot_add_member"
    gid = await troll.group(friend)
    r = await troll.post(f"{CONVERSATIONS}/{gid}/members", json={"members": [me.handle]})
    assert r.status_code == 403 and code(r) == "cannot_add_member"
    # the block holds the other way too: I cannot start one with them
    r = await me.post(CONVERSATIONS, json={"kind": "direct", "members": [troll.handle]})
    assert r.status_code == 403 and code(r) == "cannot_message"
    assert (await me.get(CONVERSATIONS)).json()["items"] == []


async def test_forwards_into_the_blocked_conversation_never_arrive(api: Api) -> None:
    me, troll, friend = await api.users(3)
    cid = await troll.direct(me)
    source = await troll.direct(friend)
    mid = (await troll.send(source, "look at this"))["id"]
    await block(me, troll)
    r = await troll.post(
        f"{CONVERSATIONS}/{source}/messages/{mid}/forward", json={"conversation_ids": [cid]}
    )
    assert r.status_code == 201
    assert await texts(me, cid) == []
    assert await texts(troll, cid) == ["look at this"]


async def test_in_a_shared_group_both_stay_and_receipts_and_reactions_stop(api: Api) -> None:
    me, troll, friend = await api.users(3)
    gid = await friend.group(me, troll)
    await block(me, troll)
    my_token = (await me.sync())["next"]
    troll_token = (await troll.sync())["next"]
    # their messages still reach me (a client shows them collapsed, from GET /me/blocks)
    theirs = await troll.send(gid, "hello group")
    mine = await me.send(gid, "hi everyone")
    assert await texts(me, gid) == ["hello group", "hi everyone"]
    # reactions: neither sees the other's
    await troll.put(f"{CONVERSATIONS}/{gid}/messages/{mine['id']}/reactions", json={"emoji": "😡"})
    await friend.put(f"{CONVERSATIONS}/{gid}/messages/{mine['id']}/reactions", json={"emoji": "❤️"})
    await me.put(f"{CONVERSATIONS}/{gid}/messages/{theirs['id']}/reactions", json={"emoji": "🙄"})
    seen = (await me.get(f"{CONVERSATIONS}/{gid}/messages/{mine['id']}")).json()["reactions"]
    assert seen == [{"emoji": "❤️", "users": [friend.handle]}]
    seen = (await troll.get(f"{CONVERSATIONS}/{gid}/messages/{theirs['id']}")).json()
    assert seen["reactions"] == []
    friend_view = (await friend.get(f"{CONVERSATIONS}/{gid}/messages/{mine['id']}")).json()
    assert len(friend_view["reactions"]) == 2  # others see everything
    # receipts: neither sees the other's read state
    await me.post(f"{CONVERSATIONS}/{gid}/read", json={"up_to": mine["id"]})
    await troll.post(f"{CONVERSATIONS}/{gid}/read", json={"up_to": mine["id"]})
    assert troll.handle not in (await me.get(f"{CONVERSATIONS}/{gid}")).json()["read_positions"]
    assert me.handle not in (await troll.get(f"{CONVERSATIONS}/{gid}")).json()["read_positions"]
    assert set((await friend.get(f"{CONVERSATIONS}/{gid}")).json()["read_positions"]) == {
        me.handle,
        troll.handle,
    }
    mine_events = (await me.sync(my_token))["events"]
    troll_events = (await troll.sync(troll_token))["events"]
    assert {e["data"]["user"] for e in mine_events if e["type"] == "reaction.added"} == {
        friend.handle,
        me.handle,
    }
    assert not any(
        e["type"] == "receipt.updated" and e["data"]["user"] == troll.handle for e in mine_events
    )
    assert not any(
        e["type"] in ("receipt.updated", "reaction.added") and e["data"]["user"] == me.handle
        for e in troll_events
    )


async def test_presence_is_hidden_both_ways(api: Api) -> None:
    me, troll = await api.users(2)
    cid = await troll.direct(me)
    assert cid
    ids = [await user_id(api, me), await user_id(api, troll)]
    await api.core.store.write(
        "test_active", lambda t: presence_db.set_last_active(t.conn, ids, 1_000)
    )

    async def seen_by(viewer: User, other: User) -> Any:
        r = await viewer.get("/api/v1/presence", params={"users": other.handle})
        return r.json()["items"][0]["last_active_at"]

    assert await seen_by(troll, me) is not None and await seen_by(me, troll) is not None
    await block(me, troll)
    assert await seen_by(troll, me) is None
    assert await seen_by(me, troll) is None


async def test_the_block_list(api: Api) -> None:
    me, *others = await api.users(4)
    for other in others:
        await block(me, other)
    await block(me, others[0])  # idempotent
    page = (await me.get("/api/v1/me/blocks", params={"limit": 2})).json()
    rest = (await me.get("/api/v1/me/blocks", params={"cursor": page["next_cursor"]})).json()
    listed = [u["handle"] for u in page["items"] + rest["items"]]
    assert sorted(listed) == sorted(o.handle for o in others) and len(listed) == 3
    r = await me.put(f"/api/v1/users/{me.handle}/block")
    assert r.status_code == 400
    r = await me.put("/api/v1/users/nobody_here/block")
    assert r.status_code == 404 and code(r) == "user_not_found"
    # nobody learns whom I blocked
    assert (await others[0].get("/api/v1/me/blocks")).json()["items"] == []


# --- the WebSocket -----------------------------------------------------------------------


async def quiet(ws: Any, seconds: float = 0.6) -> list[dict[str, Any]]:
    frames = []
    with contextlib.suppress(TimeoutError):
        while True:
            frames.append(orjson.loads(await asyncio.wait_for(ws.recv(), seconds)))
    return frames


@pytest.mark.server
async def test_over_the_websocket_no_message_typing_or_presence_crosses_a_block(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with (
        await Client.register(server.url, "mina", PASSWORD) as me,
        await Client.register(server.url, "troll", PASSWORD) as troll,
        await Client.register(server.url, "friend", PASSWORD) as friend,
    ):
        direct = (await troll.open_direct("mina"))["id"]
        group = (await friend.create_group(["mina", "troll"], title="g"))["id"]
        me_ws, _ = await open_stream(server.url, me.token)
        troll_ws, _ = await open_stream(server.url, troll.token)
        friend_ws, _ = await open_stream(server.url, friend.token)
        for ws in (me_ws, troll_ws, friend_ws):  # everyone's "active now" announced first
            await quiet(ws)
        await me.block("troll")
        # the troll is told I went dark, as if I hid my activity
        dark = await next_frame(troll_ws, "presence")
        while dark["user"] != "mina":  # others coming online first
            dark = await next_frame(troll_ws, "presence")
        assert dark == {"op": "presence", "user": "mina", "active": False, "last_active_at": None}
        for conversation in (direct, group):
            typing = {"op": "typing", "id": "t", "conversation_id": conversation, "active": True}
            await troll_ws.send(orjson.dumps(typing).decode())
        send = {"op": "send", "id": "s", "conversation_id": direct, "text": "over the socket"}
        await troll_ws.send(orjson.dumps(send).decode())
        ack = await next_frame(troll_ws, "ack")
        assert ack["id"] in ("t", "s")
        frames = await quiet(me_ws)
        assert [f for f in frames if f["op"] in ("typing", "event")] == []
        # the friend still sees the troll typing in the group
        assert (await next_frame(friend_ws, "typing"))["user"] == "troll"
        # unblocked: each sees the other active again, at once
        await me.unblock("troll")
        back = await next_frame(troll_ws, "presence")
        while back["user"] != "mina":
            back = await next_frame(troll_ws, "presence")
        assert back["active"] is True
        seen = await next_frame(me_ws, "presence")
        while seen["user"] != "troll":
            seen = await next_frame(me_ws, "presence")
        assert seen["active"] is True
        for ws in (me_ws, troll_ws, friend_ws):
            await ws.close()


async def test_edits_and_reads_do_not_cross_a_block_either(api: Api) -> None:
    me, troll = await api.users(2)
    cid = await troll.direct(me)
    old = await troll.send(cid, "an older message")
    mine = await me.send(cid, "mine")
    await block(me, troll)
    my_token = (await me.sync())["next"]
    # their edit of a message I already have: done, as far as they can tell; not for me
    r = await troll.patch(f"{CONVERSATIONS}/{cid}/messages/{old['id']}", json={"text": "insult"})
    assert r.status_code == 200 and r.json()["text"] == "insult"
    assert await texts(me, cid) == ["an older message", "mine"]
    # mine: I cannot edit into the conversation I blocked, as I cannot send
    r = await me.patch(f"{CONVERSATIONS}/{cid}/messages/{mine['id']}", json={"text": "x"})
    assert r.status_code == 403 and code(r) == "blocked_by_you"
    # their read of something they sent during the block moves nothing others can see
    private = await troll.send(cid, "during the block")
    r = await troll.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": private["id"]})
    assert r.status_code == 200
    assert (await me.delete(f"/api/v1/users/{troll.handle}/block")).status_code == 204
    assert await event_types(me, my_token) == []
    seen = (await me.get(f"{CONVERSATIONS}/{cid}")).json()["read_positions"]
    assert seen.get(troll.handle, 0) < private["position"]
