"""GET /api/v1/sync: tokens, long-polling, paging, privacy, devices and ordering."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from backchannel.store import events as event_db
from tests.conftest import PASSWORD, Api, User

CONVERSATIONS = "/api/v1/conversations"


async def current_position(api: Api) -> int:
    return int(
        await api.core.store.read("test_position", lambda t: event_db.current_position(t.conn))
    )


async def all_events(user: User, since: str, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every event after `since`, following `limited` pages to the end."""
    events: list[dict[str, Any]] = []
    while True:
        body = await user.sync(since, **params)
        events.extend(body["events"])
        assert int(body["next"]) >= int(since)
        since = body["next"]
        if not body["limited"]:
            return events, since


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """(type, the message or conversation it is about) per event."""
    result = []
    for event in events:
        data = event["data"]
        subject = (
            data.get("message", {}).get("id")
            or data.get("message_id")
            or data.get("conversation", {}).get("id")
            or data.get("conversation_id")
        )
        result.append((event["type"], subject))
    return result


async def wait_for_waiters(api: Api, count: int) -> None:
    """Until `count` long-polls are parked on the broker (bounded: fails if never)."""
    for _ in range(500):
        if api.core.broker.waiters >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"expected {count} parked long-polls, have {api.core.broker.waiters}")


# --- tokens ---------------------------------------------------------------------------------


async def test_without_since_no_events_and_a_token_for_now(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    await alice.send(cid, "before the token")
    body = await bob.sync()
    assert body == {"events": [], "next": str(await current_position(api)), "limited": False}
    # from that token: nothing old, and then exactly what is new
    assert (await bob.sync(body["next"]))["events"] == []
    later = await alice.send(cid, "after the token")
    events, _ = await all_events(bob, body["next"])
    assert summary(events) == [("message.created", later["id"])]
    assert events[0]["position"] == later["position"]


async def test_zero_is_the_start_of_time(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    sent = await alice.send(cid, "hi")
    events, _ = await all_events(bob, "0")
    assert summary(events) == [("conversation.created", cid), ("message.created", sent["id"])]


@pytest.mark.parametrize("token", ["abc", "-1", "1.5", "", " 1", "1e3", "9" * 19, "future"])
async def test_invalid_tokens_are_refused(api: Api, token: str) -> None:
    alice, bob = await api.users(2)
    await alice.direct(bob)
    if token == "future":
        token = str(await current_position(api) + 1000)
    r = await alice.get("/api/v1/sync", params={"since": token})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_token"


async def test_the_current_token_is_not_from_the_future(api: Api) -> None:
    alice, bob = await api.users(2)
    await alice.direct(bob)
    now = str(await current_position(api))
    assert (await alice.sync(now)) == {"events": [], "next": now, "limited": False}


# --- long-poll ------------------------------------------------------------------------------


async def test_long_poll_returns_as_soon_as_an_event_arrives(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    token = (await bob.sync())["next"]
    poll = asyncio.create_task(bob.sync(token, timeout=20000))
    await wait_for_waiters(api, 1)
    assert not poll.done()
    sent = await alice.send(cid, "wake up")
    # far sooner than the 20 s timeout, and with the event
    body = await asyncio.wait_for(poll, 10)
    assert summary(body["events"]) == [("message.created", sent["id"])]
    assert body["next"] == str(sent["position"])


async def test_long_poll_times_out_empty(api: Api) -> None:
    alice, bob = await api.users(2)
    await alice.direct(bob)
    token = (await bob.sync())["next"]
    body = await bob.sync(token, timeout=200)
    assert body["events"] == []
    assert body["limited"] is False
    assert int(body["next"]) >= int(token)


async def test_other_peoples_events_do_not_end_a_long_poll(api: Api) -> None:
    alice, bob, carol, dave = await api.users(4)
    theirs = await carol.direct(dave)
    mine = await alice.direct(bob)
    token = (await bob.sync())["next"]
    poll = asyncio.create_task(bob.sync(token, timeout=20000))
    await wait_for_waiters(api, 1)
    await carol.send(theirs, "not for bob")
    await wait_for_waiters(api, 1)  # woken, found nothing for him, waiting again
    assert not poll.done()
    sent = await alice.send(mine, "for bob")
    body = await asyncio.wait_for(poll, 10)
    assert summary(body["events"]) == [("message.created", sent["id"])]


async def test_long_poll_with_nothing_for_me_returns_a_later_token(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    theirs = await alice.direct(carol)
    token = (await bob.sync())["next"]
    poll = asyncio.create_task(bob.sync(token, timeout=300))
    await wait_for_waiters(api, 1)
    sent = await alice.send(theirs, "not for bob")
    body = await asyncio.wait_for(poll, 10)
    assert body["events"] == []
    # past what he may not see, so the next poll does not re-read it
    assert int(body["next"]) >= sent["position"]


# --- paging ---------------------------------------------------------------------------------


async def test_limit_pages_through_a_backlog_exactly_once_in_order(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    direct = await alice.direct(bob)
    group = await alice.group(bob, carol)
    token = (await bob.sync())["next"]
    for i in range(40):
        await alice.send(direct if i % 3 else group, f"message {i}")
        if i % 7 == 0:
            await carol.send(group, f"carol {i}")
    everything, end = await all_events(bob, token)
    assert len(everything) == 40 + 6
    pages = 0
    paged: list[dict[str, Any]] = []
    since = token
    while True:
        body = await bob.sync(since, limit=7)
        pages += 1
        assert len(body["events"]) <= 7
        assert body["limited"] == (len(body["events"]) == 7)
        if body["events"]:
            assert body["next"] == str(body["events"][-1]["position"]) or not body["limited"]
        paged.extend(body["events"])
        since = body["next"]
        if not body["limited"]:
            break
    assert pages >= 7
    assert paged == everything
    positions = [e["position"] for e in paged]
    assert positions == sorted(set(positions))
    assert since == end


# --- privacy --------------------------------------------------------------------------------


async def test_no_events_of_conversations_i_am_not_in(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    token = (await carol.sync())["next"]
    cid = await alice.direct(bob)
    m = await alice.send(cid, "private")
    await bob.put(f"{CONVERSATIONS}/{cid}/messages/{m['id']}/reactions", json={"emoji": "👍"})
    await alice.patch(f"{CONVERSATIONS}/{cid}/messages/{m['id']}", json={"text": "edited"})
    group = await alice.group(bob, title="no carol")
    await alice.patch(f"{CONVERSATIONS}/{group}", json={"title": "still no carol"})
    events, _ = await all_events(carol, token)
    assert events == []
    assert len((await all_events(bob, token))[0]) == 6


async def test_no_events_from_before_i_joined(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    token = (await carol.sync())["next"]
    group = await alice.group(bob)
    early = await alice.send(group, "before carol")
    await alice.patch(f"{CONVERSATIONS}/{group}", json={"title": "renamed before"})
    r = await alice.post(f"{CONVERSATIONS}/{group}/members", json={"members": [carol.handle]})
    assert r.status_code == 200, r.text
    late = await bob.send(group, "after carol")
    # touching the old message after she joined is not hers to see either
    await alice.patch(f"{CONVERSATIONS}/{group}/messages/{early['id']}", json={"text": "x"})
    events, _ = await all_events(carol, token)
    assert summary(events) == [("member.joined", group), ("message.created", late["id"])]
    assert [u["handle"] for u in events[0]["data"]["users"]] == [carol.handle]


async def test_no_events_after_i_left_or_was_removed(api: Api) -> None:
    alice, bob, carol, dave = await api.users(4)
    group = await alice.group(bob, carol, dave)
    token = {u.handle: (await u.sync())["next"] for u in (bob, carol)}
    kept = await alice.send(group, "everyone")
    r = await alice.delete(f"{CONVERSATIONS}/{group}/members/{carol.handle}")
    assert r.status_code == 204, r.text
    r = await bob.delete(f"{CONVERSATIONS}/{group}/members/{bob.handle}")
    assert r.status_code == 204, r.text
    after = await dave.send(group, "they are gone")
    await alice.put(
        f"{CONVERSATIONS}/{group}/messages/{kept['id']}/reactions", json={"emoji": "👋"}
    )
    await alice.patch(f"{CONVERSATIONS}/{group}", json={"title": "the rest"})
    # carol: her own removal is the last thing she hears; bob too, and not carol's removal twice
    carol_events, _ = await all_events(carol, token[carol.handle])
    assert summary(carol_events) == [("message.created", kept["id"]), ("member.left", group)]
    assert carol_events[-1]["data"]["user"]["handle"] == carol.handle
    assert carol_events[-1]["data"]["removed"] is True
    bob_events, _ = await all_events(bob, token[bob.handle])
    assert summary(bob_events) == [
        ("message.created", kept["id"]),
        ("member.left", group),
        ("member.left", group),
    ]
    assert [e["data"]["user"]["handle"] for e in bob_events[1:]] == [carol.handle, bob.handle]
    assert all(e["position"] < after["position"] for e in bob_events + carol_events)


async def test_rejoining_sees_both_spans_but_not_the_gap(api: Api) -> None:
    alice, bob = await api.users(2)
    group = await alice.group(bob)
    token = (await bob.sync())["next"]
    first = await alice.send(group, "first span")
    await alice.delete(f"{CONVERSATIONS}/{group}/members/{bob.handle}")
    await alice.send(group, "while bob is away")
    await alice.patch(f"{CONVERSATIONS}/{group}", json={"title": "secret"})
    r = await alice.post(f"{CONVERSATIONS}/{group}/members", json={"members": [bob.handle]})
    assert r.status_code == 200, r.text
    second = await alice.send(group, "second span")
    events, _ = await all_events(bob, token)
    assert summary(events) == [
        ("message.created", first["id"]),
        ("member.left", group),
        ("member.joined", group),
        ("message.created", second["id"]),
    ]
    # and his history starts again at rejoining
    r = await bob.get(f"{CONVERSATIONS}/{group}/messages")
    assert [m["id"] for m in r.json()["items"]] == [second["id"]]


async def test_personal_events_stay_personal(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    m = await bob.send(cid, "read me, then hide me")
    token = {u.handle: (await u.sync())["next"] for u in (alice, bob)}
    r = await alice.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": m["id"]})
    assert r.status_code == 200, r.text
    assert (await alice.delete(f"{CONVERSATIONS}/{cid}/messages/{m['id']}")).status_code == 204
    mine, _ = await all_events(alice, token[alice.handle])
    assert [e["type"] for e in mine] == ["read.updated", "receipt.updated", "message.hidden"]
    assert mine[0]["data"]["read_position"] == m["position"]
    theirs, _ = await all_events(bob, token[bob.handle])
    # Bob sees that Alice read it (they share receipts), but not her marker or her hide.
    assert [e["type"] for e in theirs] == ["receipt.updated"]


# --- devices and ordering -------------------------------------------------------------------


async def login(api: Api, user: User, device: str) -> User:
    r = await api.http.post(
        "/api/v1/sessions",
        json={"handle": user.handle, "password": PASSWORD, "device_name": device},
    )
    assert r.status_code == 201, r.text
    return User(api.http, r.json()["token"], r.json()["user"])


async def test_every_device_gets_the_same_events(api: Api) -> None:
    alice, bob = await api.users(2)
    phone = await login(api, alice, "phone")
    laptop = alice
    cid = await bob.direct(alice)
    token = (await phone.sync())["next"]
    one = await bob.send(cid, "one")
    two = await bob.send(cid, "two")
    # read on the laptop: the phone hears of it; hide on the phone: the laptop hears of it
    r = await laptop.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": two["id"]})
    assert r.status_code == 200, r.text
    assert (await phone.delete(f"{CONVERSATIONS}/{cid}/messages/{one['id']}")).status_code == 204
    on_phone, _ = await all_events(phone, token)
    on_laptop, _ = await all_events(laptop, token)
    assert on_phone == on_laptop
    assert summary(on_phone) == [
        ("message.created", one["id"]),
        ("message.created", two["id"]),
        ("read.updated", two["id"]),
        ("receipt.updated", two["id"]),
        ("message.hidden", one["id"]),
    ]
    # and the phone's view of the conversation follows
    view = (await phone.get(f"{CONVERSATIONS}/{cid}")).json()
    assert view["read_position"] == two["position"]
    assert view["unread_count"] == 0


async def test_a_parked_device_is_woken_by_a_read_on_another(api: Api) -> None:
    alice, bob = await api.users(2)
    phone = await login(api, alice, "phone")
    cid = await bob.direct(alice)
    m = await bob.send(cid, "hi")
    token = (await phone.sync())["next"]
    poll = asyncio.create_task(phone.sync(token, timeout=20000))
    await wait_for_waiters(api, 1)
    r = await alice.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": m["id"]})
    assert r.status_code == 200, r.text
    body = await asyncio.wait_for(poll, 10)
    assert [e["type"] for e in body["events"]] == ["read.updated", "receipt.updated"]


async def test_every_member_sees_one_order(api: Api) -> None:
    users = await api.users(4)
    first, *others = users
    group = await first.group(*others)
    direct = await users[1].direct(users[2])
    token = {u.handle: (await u.sync())["next"] for u in users}

    async def chatter(user: User, n: int) -> None:
        for i in range(n):
            await user.send(group, f"{user.handle} {i}")
            if i % 4 == 0 and user in users[1:3]:
                await user.send(direct, f"aside {i}")

    # concurrent senders: their writes share group commits
    await asyncio.gather(*(chatter(u, 8) for u in users))
    orders = []
    for user in users:
        events, _ = await all_events(user, token[user.handle])
        orders.append(
            [
                (e["position"], e["data"]["message"]["id"])
                for e in events
                if e["type"] == "message.created"
                and e["data"]["message"]["conversation_id"] == group
            ]
        )
    assert len(orders[0]) == 32
    assert all(order == orders[0] for order in orders)
    history = (await first.get(f"{CONVERSATIONS}/{group}/messages", params={"limit": 100})).json()
    assert [(m["position"], m["id"]) for m in history["items"]] == orders[0]


@pytest.mark.parametrize("token", ["\u00b2", "\u0661", "1\u00b2"])
async def test_non_ascii_digit_tokens_are_refused(api: Api, token: str) -> None:
    user = await api.register()
    r = await user.get("/api/v1/sync", params={"since": token})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_token"
