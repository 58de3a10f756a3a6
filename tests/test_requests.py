"""Who may message whom, message requests and folders, through the API, on the product's
defaults (direct: people I follow; requests: everyone), on both engines."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from backchannel.client import Client
from backchannel.config import Settings
from backchannel.store import presence as presence_db
from backchannel.store.tables import users
from tests.conftest import PASSWORD, Api, User, make_settings
from tests.servers import Servers
from tests.test_conversations import build_api
from tests.test_gateway import next_frame, open_stream

CONVERSATIONS = "/api/v1/conversations"
SETTINGS = "/api/v1/me/settings"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The product defaults for reaching people (conftest opens them up for other tests)."""
    return make_settings(tmp_path, database_url, dm_inbox_default="following")


def code(r: Any) -> str:
    return str(r.json()["error"]["code"])


async def folder(user: User, name: str | None) -> list[str]:
    params = {} if name is None else {"folder": name}
    r = await user.get(CONVERSATIONS, params=params)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["items"]]


async def conversation(user: User, cid: str) -> dict[str, Any]:
    r = await user.get(f"{CONVERSATIONS}/{cid}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def can_message(user: User, other: User) -> dict[str, Any]:
    r = await user.get(f"/api/v1/users/{other.handle}/can-message")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def history(user: User, cid: str) -> list[str | None]:
    r = await user.get(f"{CONVERSATIONS}/{cid}/messages")
    assert r.status_code == 200, r.text
    return [m["text"] for m in r.json()["items"]]


async def request(sender: User, recipient: User, text: str = "hi, saw your post") -> str:
    r = await sender.post(CONVERSATIONS, json={"kind": "direct", "members": [recipient.handle]})
    assert r.status_code == 201, r.text
    await sender.send(r.json()["id"], text)
    return str(r.json()["id"])


async def events_of(user: User, since: str) -> list[dict[str, Any]]:
    return list((await user.sync(since))["events"])


# --- who may reach me ----------------------------------------------------------------------


async def test_a_stranger_can_only_request_and_a_followed_person_lands_directly(
    api: Api,
) -> None:
    alice, bob = await api.users(2)
    assert await can_message(alice, bob) == {
        "can_message": "request",
        "conversation_id": None,
        "remaining_messages": 1,
    }
    assert (await bob.put(f"/api/v1/users/{alice.handle}/follow")).status_code == 204
    answer = await can_message(alice, bob)
    assert answer["can_message"] == "direct" and answer["remaining_messages"] is None
    cid = await request(alice, bob)
    assert await folder(bob, None) == [cid] and await folder(bob, "primary") == [cid]
    assert await folder(bob, "requests") == []


@pytest.mark.parametrize(
    ("inbox", "requests", "follows", "expected"),
    [
        ("everyone", "nobody", set(), "direct"),
        ("following", "everyone", set(), "request"),
        ("following", "everyone", {"bob->alice"}, "direct"),
        ("following", "followers", set(), "none"),
        ("following", "followers", {"alice->bob"}, "request"),
        ("following", "nobody", {"alice->bob"}, "none"),
        ("nobody", "everyone", {"bob->alice"}, "request"),
        ("nobody", "nobody", {"bob->alice", "alice->bob"}, "none"),
    ],
)
async def test_each_setting_decides_how_a_new_sender_reaches_me(
    api: Api, inbox: str, requests: str, follows: set[str], expected: str
) -> None:
    alice, bob = await api.users(2)
    users = {"alice": alice, "bob": bob}
    for edge in follows:
        follower, followee = edge.split("->")
        r = await users[follower].put(f"/api/v1/users/{users[followee].handle}/follow")
        assert r.status_code == 204
    r = await bob.patch(SETTINGS, json={"dm_inbox": inbox, "dm_requests": requests})
    assert r.status_code == 200 and r.json()["dm_inbox"] == inbox, r.text
    assert (await can_message(alice, bob))["can_message"] == expected
    r = await alice.post(CONVERSATIONS, json={"kind": "direct", "members": [bob.handle]})
    if expected == "none":
        assert r.status_code == 403 and code(r) == "cannot_message"
        assert await folder(alice, None) == []  # nothing was created
    else:
        assert r.status_code == 201
        mine = await conversation(bob, r.json()["id"])
        assert mine["folder"] == ("primary" if expected == "direct" else "requests")


async def test_settings_are_validated(api: Api) -> None:
    bob = await api.register()
    for body in (
        {"dm_inbox": "friends"},
        {"dm_requests": "following"},
        {"birth_date": "2020-02-30"},
        {"birth_date": "2999-01-01"},
        {"birth_date": "1800-01-01"},
    ):
        r = await bob.patch(SETTINGS, json=body)
        assert r.status_code == 400, body
    r = await bob.get(SETTINGS)
    assert r.json()["dm_inbox"] == "following" and r.json()["birth_date"] is None


def years_ago(years: int) -> str:
    today = datetime.now(UTC).date()
    return date(today.year - years, 1, 1).isoformat()


async def test_minors_are_reached_only_by_people_they_follow_back(api: Api) -> None:
    teen, stranger, fan, friend = await api.users(4)
    r = await teen.patch(SETTINGS, json={"birth_date": years_ago(14), "dm_inbox": "everyone"})
    assert r.status_code == 200, r.text
    for user in (fan, friend):
        assert (await user.put(f"/api/v1/users/{teen.handle}/follow")).status_code == 204
    assert (await teen.put(f"/api/v1/users/{friend.handle}/follow")).status_code == 204
    assert (await can_message(stranger, teen))["can_message"] == "none"
    assert (await can_message(fan, teen))["can_message"] == "none"  # no requests either
    assert (await can_message(friend, teen))["can_message"] == "direct"
    # and they cannot be pulled into groups by people who may not message them
    r = await stranger.post(CONVERSATIONS, json={"kind": "group", "members": [teen.handle]})
    assert r.status_code == 403 and code(r) == "cannot_add_member"
    # a birth date given at sign-up protects from the start
    young = await api.register(birth_date=years_ago(12))
    assert (await can_message(stranger, young))["can_message"] == "none"
    assert (await young.get(SETTINGS)).json()["birth_date"] == years_ago(12)
    r = await api.http.post(
        "/api/v1/accounts",
        json={
            "handle": "time_traveller",
            "password": "a fine passphrase",
            "birth_date": "3000-01-01",
        },
    )
    assert r.status_code == 400 and code(r) == "invalid_request"
    # an adult (by the same rule) is reachable by request
    r = await teen.patch(SETTINGS, json={"birth_date": years_ago(30), "dm_inbox": "following"})
    assert (await can_message(stranger, teen))["can_message"] == "request"


# --- message requests: what the sender can and cannot see -----------------------------------


async def test_a_request_allows_one_text_message_until_accepted(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await request(alice, bob, "hello there")
    mine = await conversation(alice, cid)
    assert mine["awaiting_acceptance"] is True and mine["remaining_messages"] == 0
    assert mine["folder"] == "primary"  # the sender files it like any conversation
    r = await alice.post(f"{CONVERSATIONS}/{cid}/messages", json={"text": "hello??"})
    assert r.status_code == 403 and code(r) == "request_limit_reached"
    assert await history(alice, cid) == ["hello there"]  # nothing half-written
    answer = await can_message(alice, bob)
    assert answer == {"can_message": "request", "conversation_id": cid, "remaining_messages": 0}
    theirs = await conversation(bob, cid)
    assert theirs["folder"] == "requests"
    assert theirs["request"]["status"] == "pending"
    assert theirs["request"]["from"] == alice.handle
    assert await folder(bob, "requests") == [cid]
    assert await folder(bob, None) == []


async def test_the_recipient_reads_a_request_without_the_sender_knowing(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await request(alice, bob)
    token = (await alice.sync())["next"]
    # bob was active lately, reads the request, has receipts on
    await api.core.store.write(
        "test_active", lambda t: presence_db.set_last_active(t.conn, [_id(t, bob)], 1_000)
    )
    message = (await bob.get(f"{CONVERSATIONS}/{cid}/messages")).json()["items"][0]
    r = await bob.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": message["id"]})
    assert r.status_code == 200
    assert [e["type"] for e in await events_of(alice, token)] == []
    assert (await conversation(alice, cid))["read_positions"] == {}
    r = await alice.get("/api/v1/presence", params={"users": bob.handle})
    assert r.json()["items"] == [{"user": bob.handle, "active": False, "last_active_at": None}]
    # once accepted, the sender sees what anyone sees
    r = await bob.post(f"{CONVERSATIONS}/{cid}/accept")
    assert r.status_code == 200 and r.json()["folder"] == "primary" and r.json()["request"] is None
    assert await folder(bob, "primary") == [cid] and await folder(bob, "requests") == []
    r = await alice.get("/api/v1/presence", params={"users": bob.handle})
    assert r.json()["items"][0]["last_active_at"] is not None
    await alice.send(cid, "thanks for accepting")
    newest = (await bob.get(f"{CONVERSATIONS}/{cid}/messages")).json()["items"][-1]
    await bob.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": newest["id"]})
    assert "receipt.updated" in [e["type"] for e in await events_of(alice, token)]
    assert (await conversation(alice, cid))["read_positions"] == {bob.handle: newest["position"]}
    assert (await conversation(alice, cid))["awaiting_acceptance"] is False


def _id(t: Any, user: User) -> int:
    return int(t.conn.execute(select(users.c.id).where(users.c.pid == user.profile["id"])).scalar())


async def test_replying_to_a_request_accepts_it(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await request(alice, bob)
    await bob.send(cid, "hey!")
    assert (await conversation(bob, cid))["folder"] == "primary"
    await alice.send(cid, "great, so about that post")  # no limit any more
    assert await history(bob, cid) == ["hi, saw your post", "hey!", "great, so about that post"]


async def test_a_declined_request_looks_pending_to_its_sender(
    tmp_path: Path, database_url: str
) -> None:
    async with build_api(
        tmp_path,
        database_url,
        dm_inbox_default="following",
        request_message_limit=2,
        request_cooldown_seconds=1.5,
    ) as api:
        alice, bob = await api.users(2)
        cid = await request(alice, bob, "first")
        token = (await alice.sync())["next"]
        before = await conversation(alice, cid)
        r = await bob.post(f"{CONVERSATIONS}/{cid}/decline", json={})
        assert r.status_code == 204
        assert cid not in await folder(bob, "requests") + await folder(bob, None)
        assert await events_of(alice, token) == []  # not told
        after = await conversation(alice, cid)
        assert after == before
        assert await can_message(alice, bob) == {
            "can_message": "request",
            "conversation_id": cid,
            "remaining_messages": 1,
        }
        # the allowance left still "sends", and reaches nobody
        await alice.send(cid, "second")
        assert await history(alice, cid) == ["first", "second"]
        assert await history(bob, cid) == ["first"]
        r = await alice.post(f"{CONVERSATIONS}/{cid}/messages", json={"text": "third"})
        assert r.status_code == 403 and code(r) == "request_limit_reached"
        # after the cool-down, a new message is a new request
        await asyncio.sleep(1.6)
        assert (await can_message(alice, bob))["remaining_messages"] == 2
        await alice.send(cid, "trying again")
        assert await folder(bob, "requests") == [cid]
        assert await history(bob, cid) == ["first", "trying again"]
        r = await bob.post(f"{CONVERSATIONS}/{cid}/decline", json={})
        assert r.status_code == 204
        r = await bob.post(f"{CONVERSATIONS}/{cid}/decline", json={})
        assert r.status_code == 409 and code(r) == "not_a_request"


async def test_unanswered_requests_expire(tmp_path: Path, database_url: str) -> None:
    async with build_api(
        tmp_path, database_url, dm_inbox_default="following", request_ttl_seconds=1.0
    ) as api:
        alice, bob = await api.users(2)
        cid = await request(alice, bob, "anyone?")
        assert await folder(bob, "requests") == [cid]
        await asyncio.sleep(1.1)
        assert await folder(bob, "requests") == []
        assert (await conversation(bob, cid))["request"]["status"] == "expired"
        assert (await can_message(alice, bob))["remaining_messages"] == 1
        await alice.send(cid, "me again")
        assert await folder(bob, "requests") == [cid]


async def test_block_and_report_in_one_action(api: Api) -> None:
    admin, alice, bob = await api.users(3)  # the first account is the moderator
    cid = await request(alice, bob, "buy followers cheap")
    r = await bob.post(
        f"{CONVERSATIONS}/{cid}/decline",
        json={"block": True, "report": {"reason": "spam", "comment": "spam"}},
    )
    assert r.status_code == 204, r.text
    blocks = (await bob.get("/api/v1/me/blocks")).json()["items"]
    assert [b["handle"] for b in blocks] == [alice.handle]
    queue = (await admin.get("/api/v1/moderation/reports")).json()["items"]
    assert len(queue) == 1 and queue[0]["reason"] == "spam"
    assert queue[0]["target"]["handle"] == alice.handle
    # alice sees nothing of it, and her later messages reach nobody
    assert (await conversation(alice, cid))["awaiting_acceptance"] is True
    assert (await can_message(alice, bob))["can_message"] == "request"


async def test_group_invitations_from_strangers_are_requests(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    assert (await carol.put(f"/api/v1/users/{alice.handle}/follow")).status_code == 204
    gid = await alice.group(bob, carol, title="party")
    assert (await conversation(carol, gid))["folder"] == "primary"
    theirs = await conversation(bob, gid)
    assert theirs["folder"] == "requests" and theirs["request"]["from"] == alice.handle
    assert await folder(bob, "requests") == []  # nothing to read yet
    await carol.send(gid, "hi all")
    assert await folder(bob, "requests") == [gid]
    r = await bob.post(f"{CONVERSATIONS}/{gid}/decline", json={})
    assert r.status_code == 204
    r = await bob.get(f"{CONVERSATIONS}/{gid}")
    assert r.status_code == 404  # declining a group request leaves it
    # someone who takes no requests cannot be added at all
    dave = await api.register()
    await dave.patch(SETTINGS, json={"dm_requests": "nobody"})
    r = await alice.post(f"{CONVERSATIONS}/{gid}/members", json={"members": [dave.handle]})
    assert r.status_code == 403 and code(r) == "cannot_add_member"


# --- folders and conversation controls -----------------------------------------------------


async def open_direct(a: User, b: User) -> str:
    """An accepted direct conversation (b follows a, so a lands in b's inbox)."""
    await b.put(f"/api/v1/users/{a.handle}/follow")
    return await request(a, b, f"hi {b.handle}")


async def test_moving_archiving_pinning_and_muting(api: Api) -> None:
    me, ann, ben, cat = await api.users(4)
    first = await open_direct(ann, me)
    second = await open_direct(ben, me)
    third = await open_direct(cat, me)
    assert await folder(me, None) == [third, second, first]
    # pinned first, then by activity
    r = await me.patch(f"{CONVERSATIONS}/{first}/membership", json={"pinned": True})
    assert r.status_code == 200 and r.json()["pinned"] is True
    assert await folder(me, None) == [first, third, second]
    page = (await me.get(CONVERSATIONS, params={"limit": 1})).json()
    rest = (await me.get(CONVERSATIONS, params={"cursor": page["next_cursor"]})).json()
    assert [c["id"] for c in page["items"] + rest["items"]] == [first, third, second]
    # general
    r = await me.patch(f"{CONVERSATIONS}/{second}/membership", json={"folder": "general"})
    assert r.json()["folder"] == "general"
    assert await folder(me, "general") == [second]
    assert await folder(me, "primary") == [first, third]
    r = await me.patch(f"{CONVERSATIONS}/{second}/membership", json={"folder": "requests"})
    assert r.status_code == 400
    # archive until a new message
    r = await me.patch(f"{CONVERSATIONS}/{third}/membership", json={"archived": True})
    assert r.json()["archived"] is True
    assert await folder(me, "archived") == [third]
    assert third not in await folder(me, None)
    await cat.send(third, "still there?")
    assert await folder(me, "archived") == []
    assert third in await folder(me, None)
    # mute until a time, and for ever
    r = await me.patch(
        f"{CONVERSATIONS}/{first}/membership",
        json={"muted": True, "muted_until": "2100-01-01T00:00:00Z"},
    )
    assert r.json()["muted"] is True and r.json()["muted_until"] == "2100-01-01T00:00:00.000Z"
    r = await me.patch(f"{CONVERSATIONS}/{first}/membership", json={"muted": True})
    assert r.json()["muted"] is True and r.json()["muted_until"] is None
    r = await me.patch(
        f"{CONVERSATIONS}/{first}/membership",
        json={"muted": True, "muted_until": "2000-01-01T00:00:00Z"},
    )
    assert r.json()["muted"] is False  # a time already past is no mute
    r = await me.patch(f"{CONVERSATIONS}/{first}/membership", json={"muted": False})
    assert r.json()["muted"] is False
    # nobody else learns any of it
    assert (await conversation(ann, first))["pinned"] is False


async def test_a_hidden_group_comes_back_with_a_new_message(api: Api) -> None:
    me, ann = await api.users(2)
    await me.put(f"/api/v1/users/{ann.handle}/follow")
    gid = await ann.group(me, title="noisy")
    direct = await open_direct(ann, me)
    r = await me.patch(f"{CONVERSATIONS}/{direct}/membership", json={"hidden": True})
    assert r.status_code == 403 and code(r) == "forbidden"
    r = await me.patch(f"{CONVERSATIONS}/{gid}/membership", json={"hidden": True})
    assert r.json()["hidden"] is True
    assert gid not in await folder(me, None) + await folder(me, "archived")
    await ann.send(gid, "news!")
    assert gid in await folder(me, None)


async def test_only_pending_requests_can_be_accepted_moved_or_declined(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await request(alice, bob)
    r = await bob.patch(f"{CONVERSATIONS}/{cid}/membership", json={"folder": "general"})
    assert r.status_code == 409 and code(r) == "not_accepted"
    r = await alice.post(f"{CONVERSATIONS}/{cid}/decline", json={})
    assert r.status_code == 409 and code(r) == "not_a_request"  # the sender has no request
    r = await alice.post(f"{CONVERSATIONS}/{cid}/accept")
    assert r.status_code == 200 and r.json()["awaiting_acceptance"] is True  # a no-op
    r = await bob.get(CONVERSATIONS, params={"folder": "spam"})
    assert r.status_code == 400


# --- the WebSocket ---------------------------------------------------------------------


@pytest.mark.server
async def test_over_the_websocket_a_request_hides_the_recipient_and_limits_the_sender(
    tmp_path: Path, servers: Servers
) -> None:
    server = await servers.serve(
        tmp_path / "data", env={"BACKCHANNEL_DM_INBOX_DEFAULT": "following"}
    )
    async with (
        await Client.register(server.url, "alice", PASSWORD) as alice,
        await Client.register(server.url, "bob", PASSWORD) as bob,
    ):
        cid = (await alice.open_direct("bob"))["id"]
        alice_ws, _ = await open_stream(server.url, alice.token)
        bob_ws, _ = await open_stream(server.url, bob.token)
        for n in (1, 2):
            send = {"op": "send", "id": f"s{n}", "conversation_id": cid, "text": f"hi {n}"}
            await alice_ws.send(orjson.dumps(send).decode())
        assert (await next_frame(alice_ws, "ack"))["id"] == "s1"
        refused = await next_frame(alice_ws, "error")
        assert refused["id"] == "s2" and refused["error"]["code"] == "request_limit_reached"
        created = await next_frame(bob_ws, "event")
        while created["type"] != "message.created":
            created = await next_frame(bob_ws, "event")
        message = created["data"]["message"]
        # bob reads and types: alice's socket hears nothing of it
        read = {"op": "read", "id": "r", "conversation_id": cid, "up_to": message["id"]}
        typing = {"op": "typing", "id": "t", "conversation_id": cid, "active": True}
        for frame in (read, typing):
            await bob_ws.send(orjson.dumps(frame).decode())
        frames = []
        with contextlib.suppress(TimeoutError):
            while True:
                frames.append(orjson.loads(await asyncio.wait_for(alice_ws.recv(), 0.6)))
        assert [f for f in frames if f["op"] in ("typing", "event")] == [], frames
        # accepted: now typing does reach her
        await bob.accept_request(cid)
        await bob_ws.send(orjson.dumps({**typing, "id": "t2"}).decode())
        assert (await next_frame(alice_ws, "typing"))["user"] == "bob"
        for ws in (alice_ws, bob_ws):
            await ws.close()
