"""The event stream converges: state at token T + the events after T == a fresh fetch.

Zulip's `verify_action`: for each kind of change, every involved user's client
state is fetched at a token, the change is made, the events after the token
are applied by a small reducer (what a real client does), and the result must
equal what the server returns when asked afresh.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from backchannel.services.events import EVENT_TYPES
from tests.conftest import Api, User

CONVERSATIONS = "/api/v1/conversations"
TestFn = Callable[..., Awaitable[None]]

# event type -> the tests that prove it converges (see test_every_event_type_is_covered)
COVERED: dict[str, set[str]] = {}
RAN: set[str] = set()  # covering tests that ran in this session
EXERCISED: set[str] = set()  # event types verify_action saw converge


def covers(*types: str) -> Callable[[TestFn], TestFn]:
    def mark(fn: TestFn) -> TestFn:
        for type_ in types:
            COVERED.setdefault(type_, set()).add(fn.__name__)

        @functools.wraps(fn)
        async def test(*args: Any, **kwargs: Any) -> None:
            await fn(*args, **kwargs)
            RAN.add(fn.__name__)

        return test

    return mark


# --- client state -------------------------------------------------------------------

State = dict[str, Any]  # {"conversations": {id: summary}, "messages": {id: [message]}}
# Every listing a client loads; together they hold each conversation once (hidden groups
# excepted: those are listed nowhere until new activity).
FOLDERS = ("primary", "general", "requests", "hidden", "archived")
MEMBERSHIP = {
    "folder": "primary",
    "request": None,
    "archived": False,
    "hidden": False,
    "muted": False,
    "muted_until": None,
    "pinned": False,
}


async def fetch_state(user: User) -> State:
    """What a client loads at start: the whole inbox and every conversation's history."""
    conversations: dict[str, dict[str, Any]] = {}
    for folder in FOLDERS:
        cursor = None
        while True:
            params = {"limit": 100, "folder": folder, **({"cursor": cursor} if cursor else {})}
            r = await user.get(CONVERSATIONS, params=params)
            assert r.status_code == 200, r.text
            for item in r.json()["items"]:
                assert item["id"] not in conversations, f"{item['id']} in two folders"
                conversations[item["id"]] = item
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
    messages: dict[str, list[dict[str, Any]]] = {}
    for cid in conversations:
        items: list[dict[str, Any]] = []
        before = None
        while True:
            params = {"limit": 100, **({"before": before} if before else {})}
            r = await user.get(f"{CONVERSATIONS}/{cid}/messages", params=params)
            assert r.status_code == 200, r.text
            items = r.json()["items"] + items
            before = r.json()["before_cursor"]
            if before is None:
                break
        messages[cid] = items
    return {"conversations": conversations, "messages": messages}


async def events_since(user: User, token: str) -> tuple[list[dict[str, Any]], str]:
    events: list[dict[str, Any]] = []
    while True:
        body = await user.sync(token)
        events.extend(body["events"])
        token = body["next"]
        if not body["limited"]:
            return events, token


def _find(messages: list[dict[str, Any]], mid: str) -> dict[str, Any]:
    found = [m for m in messages if m["id"] == mid]
    assert len(found) == 1, f"event for a message the client does not have: {mid}"
    return found[0]


def _quoting(state: State, cid: str, mid: str) -> list[dict[str, Any]]:
    return [m for m in state["messages"][cid] if m["reply_to"] and m["reply_to"]["id"] == mid]


def apply_event(state: State, event: dict[str, Any], me: str) -> None:
    """The client-side reducer: one event into the state, as a client would."""
    data = event["data"]
    kind = event["type"]
    convs = state["conversations"]
    msgs = state["messages"]
    if kind == "conversation.created":
        view = data["conversation"]
        assert view["id"] not in convs, "created twice"
        convs[view["id"]] = {
            **view,
            **MEMBERSHIP,
            "read_position": event["position"],
            "read_positions": {},
        }
        msgs[view["id"]] = []
    elif kind == "membership.updated":
        conv = convs[data["conversation_id"]]
        conv.update({k: v for k, v in data.items() if k != "conversation_id"})
    elif kind == "member.joined":
        view = data["conversation"]
        if view["id"] in convs:
            convs[view["id"]].update(members=view["members"], member_count=view["member_count"])
            convs[view["id"]].update(archived=False, hidden=False)
        else:  # I am among the new members
            assert me in [u["handle"] for u in data["users"]]
            convs[view["id"]] = {
                **view,
                **MEMBERSHIP,
                "read_position": event["position"],
                "read_positions": {},
            }
            msgs[view["id"]] = []
    elif kind == "member.left":
        cid = data["conversation_id"]
        if data["user"]["handle"] == me:
            del convs[cid]
            del msgs[cid]
        else:
            conv = convs[cid]
            conv["members"] = [m for m in conv["members"] if m["id"] != data["user"]["id"]]
            conv["read_positions"].pop(data["user"]["handle"], None)
            conv["member_count"] = len(conv["members"])
            conv.update(archived=False, hidden=False)
    elif kind == "member.role_changed":
        for member in convs[data["conversation_id"]]["members"]:
            if member["id"] == data["user"]["id"]:
                member["role"] = data["role"]
    elif kind == "conversation.updated":
        convs[data["conversation_id"]]["title"] = data["title"]
    elif kind == "conversation.disappearing_updated":
        convs[data["conversation_id"]]["disappearing"] = data["disappearing"]
    elif kind == "message.created":
        message = data["message"]
        msgs[message["conversation_id"]].append(copy.deepcopy(message))
        convs[message["conversation_id"]].update(archived=False, hidden=False)  # new activity
    elif kind == "message.edited":
        cid = data["conversation_id"]
        message = _find(msgs[cid], data["message_id"])
        message.update(text=data["text"], edited_at=data["edited_at"])
        # quotes are snapshots: an edit of the original leaves them as they were
    elif kind in ("message.unsent", "message.expired"):
        # also sent to members who joined after the message: they may only hold a quote
        cid = data["conversation_id"]
        for message in msgs[cid]:
            if message["id"] == data["message_id"]:
                message.update(
                    text=None,
                    unsent=True,
                    reactions=[],
                    edited_at=None,
                    media=[],
                    share=None,
                    preview=None,
                )
        for quoting in _quoting(state, cid, data["message_id"]):
            quoting["reply_to"]["text"] = None
    elif kind == "message.hidden":
        cid = data["conversation_id"]
        _find(msgs[cid], data["message_id"])
        msgs[cid] = [m for m in msgs[cid] if m["id"] != data["message_id"]]
    elif kind in ("reaction.added", "reaction.removed"):
        message = _find(msgs[data["conversation_id"]], data["message_id"])
        users = {r["emoji"]: list(r["users"]) for r in message["reactions"]}
        if kind == "reaction.added":
            users.setdefault(data["emoji"], []).append(data["user"])
        else:
            users[data["emoji"]].remove(data["user"])
        message["reactions"] = [{"emoji": e, "users": u} for e, u in users.items() if u]
    elif kind == "receipt.updated":
        if data["user"] != me:
            seen_by = convs[data["conversation_id"]]["read_positions"]
            seen_by[data["user"]] = max(seen_by.get(data["user"], 0), data["read_position"])
    elif kind == "message.preview":
        _find(msgs[data["conversation_id"]], data["message_id"])["preview"] = data["preview"]
    elif kind == "media.opened":
        state.setdefault("opened", []).append(data)  # for the sender's eyes; no state here
    elif kind == "account.warned":
        state.setdefault("warnings", []).append(data["warnings"])  # shown to the user; no state
    elif kind == "read.updated":
        conv = convs[data["conversation_id"]]
        conv["read_position"] = max(conv["read_position"], data["read_position"])
    else:
        raise AssertionError(f"the reducer does not know {kind!r}")


def normalize(state: State, me: str) -> dict[str, Any]:
    """The fields that matter, with unread counts derived as a client derives them."""
    result = {}
    for cid, conv in state["conversations"].items():
        messages = state["messages"][cid]
        members = [(m["handle"], m["role"]) for m in conv["members"]]
        result[cid] = {
            "kind": conv["kind"],
            "title": conv["title"],
            "members": members,
            "member_count": conv["member_count"],
            "role": dict(members)[me],
            "read_position": conv["read_position"],
            "read_positions": conv["read_positions"],
            **{key: conv[key] for key in MEMBERSHIP},
            "unread_count": sum(
                1
                for m in messages
                if m["sender"]["handle"] != me
                and not m["unsent"]
                and m["position"] > conv["read_position"]
            ),
            "last_message": messages[-1]["id"] if messages else None,
            "messages": [
                {
                    "id": m["id"],
                    "position": m["position"],
                    "sender": m["sender"]["handle"],
                    "text": m["text"],
                    "edited_at": m["edited_at"],
                    "unsent": m["unsent"],
                    "forwarded": m["forwarded"],
                    "reply_to": m["reply_to"],
                    "reactions": sorted((r["emoji"], sorted(r["users"])) for r in m["reactions"]),
                    "kind": m["kind"],
                    "share": m["share"],
                    "media": [a["id"] for a in m["media"]],
                    "preview": m["preview"],
                }
                for m in messages
            ],
        }
    return result


def server_view(state: State, me: str) -> dict[str, Any]:
    """A fresh fetch, normalized, with the server's own unread counts and last messages."""
    result = normalize(state, me)
    for cid, conv in state["conversations"].items():
        result[cid]["unread_count"] = conv["unread_count"]
        result[cid]["last_message"] = conv["last_message"]["id"] if conv["last_message"] else None
    return result


def assert_same(reduced: dict[str, Any], fresh: dict[str, Any], who: str) -> None:
    assert reduced.keys() == fresh.keys(), f"{who}: conversations differ"
    differences = [
        f"{cid} {field}: reduced {reduced[cid][field]!r} != fresh {fresh[cid][field]!r}"
        for cid in fresh
        for field in fresh[cid]
        if reduced[cid].get(field) != fresh[cid][field]
    ]
    assert not differences, f"{who}:\n" + "\n".join(differences)


async def verify_action(
    users: list[User], action: Callable[[], Awaitable[Any]], expected: set[str]
) -> dict[str, list[dict[str, Any]]]:
    """Run `action`; for each user, state at T + events after T must equal a fresh fetch.

    Returns each user's events. Every type in `expected` must have been emitted to someone,
    and nothing outside EVENT_TYPES may be.
    """
    before = {}
    for user in users:
        token = (await user.sync())["next"]
        before[user.handle] = (token, await fetch_state(user))
    await action()
    seen: dict[str, list[dict[str, Any]]] = {}
    for user in users:
        token, state = before[user.handle]
        events, _ = await events_since(user, token)
        positions = [e["position"] for e in events]
        assert positions == sorted(set(positions)), positions
        assert all(p > int(token) for p in positions)
        for event in events:
            assert event["type"] in EVENT_TYPES, event
            apply_event(state, event, user.handle)
        fresh = await fetch_state(user)
        assert_same(normalize(state, user.handle), server_view(fresh, user.handle), user.handle)
        seen[user.handle] = events
    emitted = {e["type"] for events in seen.values() for e in events}
    assert expected <= emitted, f"expected {expected - emitted} among {emitted}"
    EXERCISED.update(emitted)
    return seen


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


async def path_of(cid: str, mid: str | None = None) -> str:
    return f"{CONVERSATIONS}/{cid}/messages" + (f"/{mid}" if mid else "")


# --- one test per kind of change ---------------------------------------------------------


@covers("conversation.created")
async def test_direct_conversation_created(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    await alice.direct(carol)  # something already in alice's state
    seen = await verify_action(
        [alice, bob, carol], lambda: alice.direct(bob), {"conversation.created"}
    )
    assert types(seen[alice.handle]) == types(seen[bob.handle]) == ["conversation.created"]
    assert seen[carol.handle] == []
    # opening it again changes nothing and says nothing
    seen = await verify_action([alice, bob], lambda: alice.direct(bob), set())
    assert seen == {alice.handle: [], bob.handle: []}


@covers("conversation.created")
async def test_group_created(api: Api) -> None:
    alice, bob, carol, dave = await api.users(4)
    seen = await verify_action(
        [alice, bob, carol, dave],
        lambda: alice.group(bob, carol, title="plans"),
        {"conversation.created"},
    )
    assert seen[dave.handle] == []
    assert types(seen[carol.handle]) == ["conversation.created"]


@covers("message.created")
async def test_message_sent(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob, carol)
    await bob.send(cid, "earlier")

    async def action() -> None:
        await alice.send(cid, "hello")
        await bob.send(cid, "hi back")
        await carol.send(cid, "hey")

    seen = await verify_action([alice, bob, carol], action, {"message.created"})
    assert types(seen[alice.handle]) == ["message.created"] * 3


@covers("message.created")
async def test_reply(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    original = await alice.send(cid, "question?")
    seen = await verify_action(
        [alice, bob],
        lambda: bob.send(cid, "answer", reply_to=original["id"]),
        {"message.created"},
    )
    reply = seen[alice.handle][0]["data"]["message"]["reply_to"]
    assert reply == {"id": original["id"], "sender_handle": alice.handle, "text": "question?"}


@covers("message.edited")
async def test_message_edited(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    original = await alice.send(cid, "helo")
    await bob.send(cid, "what?", reply_to=original["id"])

    async def action() -> None:
        r = await alice.patch(await path_of(cid, original["id"]), json={"text": "hello"})
        assert r.status_code == 200, r.text

    await verify_action([alice, bob], action, {"message.edited"})


@covers("message.unsent")
async def test_message_unsent(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    original = await alice.send(cid, "oops")
    await bob.send(cid, "??", reply_to=original["id"])
    r = await bob.put(await path_of(cid, original["id"]) + "/reactions", json={"emoji": "😮"})
    assert r.status_code == 200, r.text
    r = await alice.patch(await path_of(cid, original["id"]), json={"text": "oops!"})
    assert r.status_code == 200, r.text

    async def action() -> None:
        r = await alice.post(await path_of(cid, original["id"]) + "/unsend")
        assert r.status_code == 200, r.text

    await verify_action([alice, bob], action, {"message.unsent"})


@covers("conversation.disappearing_updated", "message.expired")
async def test_disappearing_messages(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    await alice.send(cid, "before")

    async def set_timer() -> None:
        r = await bob.put(f"{CONVERSATIONS}/{cid}/disappearing", json={"seconds": 60})
        assert r.status_code == 200, r.text

    await verify_action([alice, bob], set_timer, {"conversation.disappearing_updated"})
    secret = await alice.send(cid, "secret")
    await bob.send(cid, "re: secret", reply_to=secret["id"])
    r = await bob.put(await path_of(cid, secret["id"]) + "/reactions", json={"emoji": "🔥"})
    assert r.status_code == 200, r.text
    core = api.core
    assert core.jobs is not None
    real = core.store.clock

    async def time_is_up() -> None:
        core.store.clock = lambda: real() + 61
        await core.jobs.run_due()  # type: ignore[union-attr]
        await core.jobs.drain()  # type: ignore[union-attr]

    try:
        await verify_action([alice, bob], time_is_up, {"message.expired"})
    finally:
        core.store.clock = real


@covers("scheduled.updated")
async def test_scheduled_messages_converge(api: Api) -> None:
    """A client's list of its scheduled messages at a token, plus `scheduled.updated`
    after it, equals a fresh list — through scheduling, an edit, a cancel and a send."""
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)

    async def listed() -> dict[str, dict[str, Any]]:
        r = await alice.get("/api/v1/me/scheduled")
        assert r.status_code == 200, r.text
        return {item["id"]: item for item in r.json()["items"]}

    def soon(seconds: float) -> str:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(time.time() + seconds, UTC).isoformat()

    first = (
        await alice.post(f"{CONVERSATIONS}/{cid}/scheduled", json={"text": "a", "send_at": soon(5)})
    ).json()
    token, state = (await alice.sync())["next"], await listed()
    core = api.core
    assert core.jobs is not None
    real = core.store.clock

    async def actions() -> None:
        r = await alice.post(
            f"{CONVERSATIONS}/{cid}/scheduled", json={"text": "b", "send_at": soon(60)}
        )
        assert r.status_code == 201, r.text
        r = await alice.patch(f"/api/v1/me/scheduled/{first['id']}", json={"text": "a!"})
        assert r.status_code == 200, r.text
        assert (await alice.delete(f"/api/v1/me/scheduled/{r.json()['id']}")).status_code == 200
        core.store.clock = lambda: real() + 120
        await core.jobs.run_due()  # type: ignore[union-attr]
        await core.jobs.drain()  # type: ignore[union-attr]

    try:
        await actions()
    finally:
        core.store.clock = real
    events, _ = await events_since(alice, token)
    for event in events:
        if event["type"] == "scheduled.updated":
            item = event["data"]["scheduled"]
            state[item["id"]] = item
            EXERCISED.add("scheduled.updated")
    assert state == await listed()
    assert sorted(i["status"] for i in state.values()) == ["cancelled", "sent"]
    seen, _ = await events_since(bob, token)
    assert "scheduled.updated" not in [e["type"] for e in seen]


@covers("reaction.added")
async def test_reaction_added(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob, carol)
    message = await alice.send(cid, "party?")
    reactions = await path_of(cid, message["id"]) + "/reactions"

    async def action() -> None:
        for user, emoji in [(bob, "🎉"), (carol, "🎉"), (bob, "👍"), (bob, "🎉")]:
            r = await user.put(reactions, json={"emoji": emoji})
            assert r.status_code == 200, r.text

    seen = await verify_action([alice, bob, carol], action, {"reaction.added"})
    assert types(seen[alice.handle]) == ["reaction.added"] * 3  # the repeat said nothing


@covers("reaction.removed")
async def test_reaction_removed(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob, carol)
    message = await alice.send(cid, "party?")
    reactions = await path_of(cid, message["id"]) + "/reactions"
    for user, emoji in [(bob, "🎉"), (carol, "🎉"), (bob, "👍")]:
        assert (await user.put(reactions, json={"emoji": emoji})).status_code == 200

    async def action() -> None:
        for user, emoji in [(bob, "🎉"), (bob, "👍"), (bob, "👍"), (carol, "👍")]:
            r = await user.delete(f"{reactions}/{emoji}")
            assert r.status_code == 200, r.text

    seen = await verify_action([alice, bob, carol], action, {"reaction.removed"})
    assert types(seen[alice.handle]) == ["reaction.removed"] * 2


@covers("message.hidden")
async def test_delete_for_me(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    mine = await alice.send(cid, "mine")
    theirs = await bob.send(cid, "theirs, unread")  # unread for alice, then hidden by her
    await bob.send(cid, "latest")

    async def action() -> None:
        for mid in (mine["id"], theirs["id"]):
            r = await alice.delete(await path_of(cid, mid))
            assert r.status_code == 204, r.text
        # a second time: it is gone for her, so it is not found, and nothing is emitted
        r = await alice.delete(await path_of(cid, theirs["id"]))
        assert r.status_code == 404, r.text

    seen = await verify_action([alice, bob], action, {"message.hidden"})
    assert types(seen[alice.handle]) == ["message.hidden"] * 2
    assert seen[bob.handle] == []


@covers("message.hidden")
async def test_delete_for_me_of_the_last_message(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    await alice.send(cid, "first")
    last = await bob.send(cid, "last")

    async def action() -> None:
        assert (await alice.delete(await path_of(cid, last["id"]))).status_code == 204

    await verify_action([alice, bob], action, {"message.hidden"})


@covers("read.updated")
async def test_read_marker_moved(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    first = await bob.send(cid, "one")
    await bob.send(cid, "two")
    third = await bob.send(cid, "three")
    await alice.send(cid, "mine")

    async def action() -> None:
        for mid in (first["id"], third["id"], first["id"]):  # never moves back
            r = await alice.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": mid})
            assert r.status_code == 200, r.text

    seen = await verify_action([alice, bob], action, {"read.updated", "receipt.updated"})
    assert types(seen[alice.handle]) == ["read.updated", "receipt.updated"] * 2
    assert types(seen[bob.handle]) == ["receipt.updated"] * 2  # "Seen", twice: it moved twice


@covers("receipt.updated")
async def test_receipts_in_a_group_and_for_a_later_member(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob, title="trip")
    early = await alice.send(cid, "before carol")
    r = await alice.post(f"{CONVERSATIONS}/{cid}/members", json={"members": [carol.handle]})
    assert r.status_code == 200, r.text
    late = await alice.send(cid, "with carol")

    async def action() -> None:
        for who, mid in ((bob, early["id"]), (bob, late["id"]), (carol, late["id"])):
            r = await who.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": mid})
            assert r.status_code == 200, r.text

    seen = await verify_action([alice, bob, carol], action, {"receipt.updated"})
    receipts = [e["data"]["user"] for e in seen[carol.handle] if e["type"] == "receipt.updated"]
    assert receipts == [bob.handle, carol.handle]  # not bob's read of a pre-join message


@covers("member.joined")
async def test_member_added(api: Api) -> None:
    alice, bob, carol, dave = await api.users(4)
    cid = await alice.group(bob, title="club")
    await bob.send(cid, "before carol")

    async def action() -> None:
        r = await alice.post(
            f"{CONVERSATIONS}/{cid}/members", json={"members": [carol.handle, dave.handle]}
        )
        assert r.status_code == 200, r.text
        await carol.send(cid, "hi all")

    seen = await verify_action([alice, bob, carol, dave], action, {"member.joined"})
    assert types(seen[carol.handle]) == ["member.joined", "message.created"]


@covers("member.left")
async def test_member_removed(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob, carol)
    await carol.send(cid, "hello")

    async def action() -> None:
        r = await alice.delete(f"{CONVERSATIONS}/{cid}/members/{carol.handle}")
        assert r.status_code == 204, r.text
        await bob.send(cid, "carol is gone")

    seen = await verify_action([alice, bob, carol], action, {"member.left"})
    assert types(seen[carol.handle]) == ["member.left"]
    assert seen[carol.handle][0]["data"]["removed"] is True


@covers("member.left", "member.role_changed")
async def test_admin_leaves_and_an_heir_is_promoted(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob, carol)
    await alice.send(cid, "bye soon")

    async def action() -> None:
        r = await alice.delete(f"{CONVERSATIONS}/{cid}/members/{alice.handle}")
        assert r.status_code == 204, r.text

    seen = await verify_action([alice, bob, carol], action, {"member.left", "member.role_changed"})
    assert types(seen[alice.handle]) == ["member.left"]  # nothing after leaving
    assert types(seen[carol.handle]) == ["member.left", "member.role_changed"]
    assert seen[carol.handle][1]["data"]["user"]["handle"] == bob.handle


@covers("member.left")
async def test_member_leaves(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob, carol)

    async def action() -> None:
        r = await carol.delete(f"{CONVERSATIONS}/{cid}/members/{carol.handle}")
        assert r.status_code == 204, r.text

    seen = await verify_action([alice, bob, carol], action, {"member.left"})
    assert seen[carol.handle][0]["data"]["removed"] is False


@covers("conversation.updated")
async def test_group_renamed(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.group(bob, title="old")

    async def action() -> None:
        for title in ("new", None):
            r = await alice.patch(f"{CONVERSATIONS}/{cid}", json={"title": title})
            assert r.status_code == 200, r.text

    seen = await verify_action([alice, bob], action, {"conversation.updated"})
    assert types(seen[bob.handle]) == ["conversation.updated"] * 2


@covers("message.created")
async def test_forward(api: Api) -> None:
    alice, bob, carol, dave = await api.users(4)
    source = await alice.direct(bob)
    to_carol = await bob.direct(carol)
    group = await bob.group(carol, dave)
    message = await alice.send(source, "pass it on")

    async def action() -> None:
        r = await bob.post(
            await path_of(source, message["id"]) + "/forward",
            json={"conversation_ids": [to_carol, group]},
        )
        assert r.status_code == 201, r.text

    seen = await verify_action([alice, bob, carol, dave], action, {"message.created"})
    assert seen[alice.handle] == []
    assert len(seen[carol.handle]) == 2
    assert all(e["data"]["message"]["forwarded"] for e in seen[carol.handle])


async def late_joiner_setup(api: Api) -> tuple[User, User, User, str, dict[str, Any]]:
    """alice and bob talk; carol joins; bob then quotes a message from before she joined."""
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob)
    early = await alice.send(cid, "before carol")
    r = await alice.post(f"{CONVERSATIONS}/{cid}/members", json={"members": [carol.handle]})
    assert r.status_code == 200, r.text
    return alice, bob, carol, cid, early


@covers("reaction.added", "message.edited", "message.unsent")
async def test_changes_to_earlier_messages_skip_later_members(api: Api) -> None:
    alice, bob, carol, cid, early = await late_joiner_setup(api)
    path = await path_of(cid, early["id"])

    async def action() -> None:
        assert (await bob.put(path + "/reactions", json={"emoji": "👍"})).status_code == 200
        assert (await alice.patch(path, json={"text": "edited"})).status_code == 200
        assert (await alice.post(path + "/unsend")).status_code == 200

    seen = await verify_action(
        [alice, bob, carol], action, {"reaction.added", "message.edited", "message.unsent"}
    )
    # she cannot see the message, so she hears nothing of its reactions or new text;
    # that it was unsent she hears (it carries no content), as she may hold a quote of it
    assert types(seen[carol.handle]) == ["message.unsent"]


@covers("message.unsent")
async def test_unsending_a_message_a_later_member_saw_quoted(api: Api) -> None:
    alice, bob, carol, cid, early = await late_joiner_setup(api)
    await bob.send(cid, "quoting it", reply_to=early["id"])

    async def action() -> None:
        assert (await alice.post(await path_of(cid, early["id"]) + "/unsend")).status_code == 200

    seen = await verify_action([alice, bob, carol], action, {"message.unsent"})
    assert types(seen[carol.handle]) == ["message.unsent"]


async def test_a_quote_keeps_its_text_when_the_original_is_edited(api: Api) -> None:
    """Quotes are snapshots, so members who joined after the original (and get no
    message.edited for it) still converge."""
    alice, bob, carol, cid, early = await late_joiner_setup(api)
    reply = await bob.send(cid, "quoting it", reply_to=early["id"])
    quoted = reply["reply_to"]["text"]

    async def action() -> None:
        r = await alice.patch(await path_of(cid, early["id"]), json={"text": "rewritten"})
        assert r.status_code == 200

    await verify_action([alice, bob, carol], action, {"message.edited"})
    r = await carol.get(await path_of(cid, reply["id"]))
    assert r.json()["reply_to"]["text"] == quoted != "rewritten"


async def test_a_long_mixed_sequence_converges(api: Api) -> None:
    """Many kinds of change at once, with the tokens taken before all of them."""
    alice, bob, carol, dave = await api.users(4)
    direct = await alice.direct(bob)
    first = await bob.send(direct, "first")

    async def action() -> None:
        group = await alice.group(bob, carol, title="g")
        m = await carol.send(group, "in the group")
        await alice.send(direct, "re", reply_to=first["id"])
        await bob.put(await path_of(group, m["id"]) + "/reactions", json={"emoji": "👍"})
        await alice.post(f"{CONVERSATIONS}/{group}/members", json={"members": [dave.handle]})
        await dave.send(group, "hello")
        await alice.delete(f"{CONVERSATIONS}/{group}/members/{carol.handle}")
        await carol.direct(dave)
        await alice.patch(f"{CONVERSATIONS}/{group}", json={"title": "g2"})
        await bob.post(f"{CONVERSATIONS}/{group}/read", json={"up_to": m["id"]})
        await bob.delete(await path_of(direct, first["id"]))
        await alice.delete(f"{CONVERSATIONS}/{group}/members/{alice.handle}")
        await dave.send(group, "alice left")

    await verify_action([alice, bob, carol, dave], action, set())


@covers("membership.updated")
async def test_own_view_of_a_conversation(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    r = await bob.patch("/api/v1/me/settings", json={"dm_inbox": "following"})
    assert r.status_code == 200, r.text
    direct = await alice.direct(bob)  # a request to bob
    await alice.send(direct, "hello bob")
    group = await alice.group(bob, carol)
    other = await carol.direct(alice)
    await carol.send(other, "hi")

    async def action() -> None:
        r = await bob.post(f"{CONVERSATIONS}/{direct}/accept")
        assert r.status_code == 200 and r.json()["folder"] == "primary", r.text
        for body in (
            {"folder": "general"},
            {"pinned": True, "muted": True},
            {"archived": True},
        ):
            r = await bob.patch(f"{CONVERSATIONS}/{direct}/membership", json=body)
            assert r.status_code == 200, r.text
        r = await alice.patch(f"{CONVERSATIONS}/{other}/membership", json={"archived": True})
        assert r.status_code == 200 and r.json()["archived"], r.text
        await carol.send(other, "are you there?")  # unarchives it for alice
        r = await carol.patch(
            f"{CONVERSATIONS}/{group}/membership",
            json={"muted": True, "muted_until": "2099-01-01T00:00:00Z"},
        )
        assert r.json()["muted_until"] == "2099-01-01T00:00:00.000Z", r.text

    seen = await verify_action([alice, bob, carol], action, {"membership.updated"})
    # each sees only their own changes: bob's accept and three edits, alice's archive
    counts = {
        u.handle: types(seen[u.handle]).count("membership.updated") for u in (alice, bob, carol)
    }
    assert counts == {alice.handle: 1, bob.handle: 4, carol.handle: 1}


@covers("message.preview", "media.opened")
async def test_media_and_previews(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.direct(bob)
    r = await alice.post(
        "/api/v1/media",
        files={"file": ("s.png", _png(), "image/png")},
        data={"view_once": "true"},
    )
    assert r.status_code == 201, r.text
    once = r.json()["id"]

    async def action() -> None:
        sent = await alice.send(cid, "a photo, and a place", media=[once])
        await alice.send(cid, "", location={"latitude": 1.5, "longitude": 2.5})
        r = await alice.delete(f"{CONVERSATIONS}/{cid}/messages/{sent['id']}/preview")
        assert r.status_code == 204
        assert (await bob.get(f"/api/v1/media/{once}")).status_code == 200

    seen = await verify_action([alice, bob], action, {"message.preview", "media.opened"})
    assert "media.opened" in types(seen[alice.handle])
    assert "media.opened" not in types(seen[bob.handle])


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


@covers("account.warned")
async def test_a_moderator_warns_someone(api: Api) -> None:
    admin, bob, carol = await api.users(3)  # the first account is a moderator
    cid = await bob.direct(carol)
    await bob.send(cid, "hi")

    async def action() -> None:
        r = await admin.post(
            f"/api/v1/moderation/users/{bob.handle}/actions",
            json={"action": "warn", "note": "first warning"},
        )
        assert r.status_code == 200, r.text

    seen = await verify_action([admin, bob, carol], action, {"account.warned"})
    assert types(seen[bob.handle]) == ["account.warned"]
    assert seen[carol.handle] == [] and seen[admin.handle] == []


# --- the business inbox: a team's client state converges too ------------------------------

BUSINESSES = "/api/v1/businesses"


async def fetch_team_state(user: User, business: str) -> State:
    """What a team client loads: the team, the labels, every conversation's state, notes
    and messages (with who wrote the business's)."""
    members = (await user.get(f"{BUSINESSES}/{business}/members")).json()["items"]
    labels = (await user.get(f"{BUSINESSES}/{business}/labels")).json()["items"]
    states, notes, messages, reads = {}, {}, {}, {}
    cursor = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = (await user.get(f"{BUSINESSES}/{business}/conversations", params=params)).json()
        for item in page["items"]:
            cid = item["state"]["conversation_id"]
            states[cid] = item["state"]
            reads[cid] = item["conversation"]["read_position"]
            detail = (await user.get(f"{BUSINESSES}/{business}/conversations/{cid}")).json()
            notes[cid] = detail["notes"]
            history = await user.get(f"{BUSINESSES}/{business}/conversations/{cid}/messages")
            messages[cid] = [
                (m["id"], m["text"], (m["agent"] or {}).get("handle"))
                for m in history.json()["items"]
            ]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return {
        "members": {m["user"]["id"]: m for m in members},
        "labels": {label["id"]: label for label in labels},
        "states": states,
        "notes": notes,
        "messages": messages,
        "reads": reads,
    }


def apply_team_event(state: State, event: dict[str, Any], business: dict[str, str]) -> None:
    """A team client's reducer. `message.created` moves `last_message_at` and
    `waiting_since` by the rule docs/api.md gives (no team event repeats it)."""
    data = event["data"]
    kind = event["type"]
    if kind == "business.conversation_updated":
        state["states"][data["state"]["conversation_id"]] = data["state"]
    elif kind == "business.read_updated":
        state["reads"][data["conversation_id"]] = data["read_position"]
    elif kind == "business.note_added":
        state["notes"].setdefault(data["conversation_id"], []).append(data["note"])
    elif kind == "business.labels_updated":
        label = data["label"]
        if data["deleted"]:
            state["labels"].pop(label["id"], None)
        else:
            state["labels"][label["id"]] = label
        for work in state["states"].values():
            kept = [x for x in work["labels"] if x["id"] != label["id"]]
            if not data["deleted"] and len(kept) < len(work["labels"]):
                kept.append(label)
            work["labels"] = sorted(kept, key=lambda x: x["name"].casefold())
    elif kind == "business.team_updated":
        if data["removed"]:
            state["members"].pop(data["member"]["user"]["id"], None)
        else:
            state["members"][data["member"]["user"]["id"]] = data["member"]
    elif kind == "business.message_sent":
        rows = state["messages"][data["conversation_id"]]
        index = [row[0] for row in rows].index(data["message_id"])
        rows[index] = (*rows[index][:2], (data["agent"] or {}).get("handle"))
    elif kind == "message.created":
        message = data["message"]
        cid = message["conversation_id"]
        work = state["states"].get(cid)
        if work is None:
            return  # a conversation the client does not list yet: it fetches it when told
        state["messages"].setdefault(cid, []).append((message["id"], message["text"], None))
        work["last_message_at"] = message["created_at"]
        if message["sender"]["id"] == business["id"]:
            work["waiting_since"] = None
        elif work["waiting_since"] is None:
            work["waiting_since"] = message["created_at"]


async def verify_team_action(
    users: list[User], business: User, action: Callable[[], Awaitable[Any]], expected: set[str]
) -> dict[str, list[dict[str, Any]]]:
    """`verify_action` for team clients of `business`: state at T + events == a fresh fetch."""
    before = {}
    for user in users:
        before[user.handle] = (
            (await user.sync())["next"],
            await fetch_team_state(user, business.handle),
        )
    await action()
    seen = {}
    for user in users:
        token, state = before[user.handle]
        events, _ = await events_since(user, token)
        for event in events:
            assert event["type"] in EVENT_TYPES, event
            apply_team_event(state, event, {"id": business.id})
        assert state == await fetch_team_state(user, business.handle), user.handle
        seen[user.handle] = events
    emitted = {e["type"] for events in seen.values() for e in events}
    assert expected <= emitted, f"expected {expected - emitted} among {emitted}"
    EXERCISED.update(emitted & {t for t in EVENT_TYPES if t.startswith("business.")})
    return seen


@covers(
    "business.conversation_updated",
    "business.message_sent",
    "business.note_added",
    "business.team_updated",
    "business.labels_updated",
    "business.mentioned",
    "business.read_updated",
)
async def test_a_team_works_a_conversation(api: Api) -> None:
    shop, ada, agnes, cyd, olga = [
        await api.register(h) for h in ("shop", "ada", "agnes", "cyd", "olga")
    ]
    assert (await shop.post("/api/v1/me/business", json={})).status_code == 201
    for member, role in ((ada, "admin"), (agnes, "agent")):
        r = await shop.put(f"{BUSINESSES}/shop/members/{member.handle}", json={"role": role})
        assert r.status_code == 201, r.text
    cid = await cyd.direct(shop)
    await cyd.send(cid, "Do you ship to Norway?")
    team = [shop, ada, agnes]
    label = {}

    async def triage() -> None:
        label.update(
            (await ada.post(f"{BUSINESSES}/shop/labels", json={"name": "Shipping"})).json()
        )
        r = await agnes.put(f"{BUSINESSES}/shop/conversations/{cid}/labels/{label['id']}")
        assert r.status_code == 200, r.text
        r = await agnes.patch(
            f"{BUSINESSES}/shop/conversations/{cid}", json={"assignee": "agnes", "priority": "high"}
        )
        assert r.status_code == 200, r.text

    await verify_team_action(
        team, shop, triage, {"business.labels_updated", "business.conversation_updated"}
    )

    async def answer() -> None:
        page = await agnes.get(f"{BUSINESSES}/shop/conversations/{cid}/messages")
        newest = page.json()["items"][-1]["id"]
        r = await agnes.post(f"{BUSINESSES}/shop/conversations/{cid}/read", json={"up_to": newest})
        assert r.status_code == 200, r.text
        r = await agnes.post(
            f"{BUSINESSES}/shop/conversations/{cid}/notes", json={"text": "@ada rates?"}
        )
        assert r.status_code == 201, r.text
        r = await agnes.post(
            f"{BUSINESSES}/shop/conversations/{cid}/messages", json={"text": "Yes, we do!"}
        )
        assert r.status_code == 201, r.text
        r = await agnes.patch(f"{BUSINESSES}/shop/conversations/{cid}", json={"status": "resolved"})
        assert r.status_code == 200, r.text
        await cyd.send(cid, "Great, and to Iceland?")  # reopens it

    seen = await verify_team_action(
        team,
        shop,
        answer,
        {
            "business.note_added",
            "business.message_sent",
            "business.conversation_updated",
            "business.mentioned",
        },
    )
    assert "business.mentioned" in types(seen["ada"]) and "business.mentioned" not in types(
        seen["agnes"]
    )

    async def reshape() -> None:
        r = await ada.patch(
            f"{BUSINESSES}/shop/labels/{label['id']}", json={"name": "Shipping abroad"}
        )
        assert r.status_code == 200, r.text
        r = await shop.put(f"{BUSINESSES}/shop/members/olga", json={"role": "viewer"})
        assert r.status_code == 201, r.text
        assert (await shop.delete(f"{BUSINESSES}/shop/members/agnes")).status_code == 204
        assert (await ada.delete(f"{BUSINESSES}/shop/labels/{label['id']}")).status_code == 204

    await verify_team_action(
        [shop, ada], shop, reshape, {"business.team_updated", "business.labels_updated"}
    )
    # the customer's own client state converges as always, and saw none of it
    seen = await verify_action([cyd], lambda: cyd.send(cid, "hello?"), {"message.created"})
    assert not [e for e in seen["cyd"] if e["type"].startswith("business.")]
    del olga


# --- approvals (issue 7) ---------------------------------------------------------------


async def fetch_approvals(user: User) -> dict[str, dict[str, Any]]:
    """A team client's held replies (all for admins, their own for an agent), by id."""
    r = await user.get(f"{BUSINESSES}/shop/approvals", params={"limit": 100})
    assert r.status_code == 200, r.text
    return {item["id"]: item for item in r.json()["items"]}


@covers("business.approval_requested", "business.approval_decided")
async def test_held_replies_converge(api: Api) -> None:
    shop, ada, agnes, cyd = [await api.register(h) for h in ("shop", "ada", "agnes", "cyd")]
    assert (await shop.post("/api/v1/me/business", json={})).status_code == 201
    for member, role in ((ada, "admin"), (agnes, "agent")):
        r = await shop.put(f"{BUSINESSES}/shop/members/{member.handle}", json={"role": role})
        assert r.status_code == 201, r.text
    assert (await ada.put(f"{BUSINESSES}/shop/approvals/restricted/agnes")).status_code == 200
    cid = await cyd.direct(shop)
    await cyd.send(cid, "Is it in stock?")
    customer_since = (await cyd.sync())["next"]
    reply = f"{BUSINESSES}/shop/conversations/{cid}/messages"
    mine = {"ada": True, "agnes": False}  # admins see all; an author, their own

    async def step(action: Callable[[], Awaitable[Any]], expected: set[str]) -> None:
        before = {
            u.handle: ((await u.sync())["next"], await fetch_approvals(u)) for u in (ada, agnes)
        }
        await action()
        emitted: set[str] = set()
        for user in (ada, agnes):
            token, state = before[user.handle]
            events, _ = await events_since(user, token)
            for event in events:
                if event["type"] in ("business.approval_requested", "business.approval_decided"):
                    item = event["data"]["approval"]
                    if mine[user.handle] or item["author"]["handle"] == user.handle:
                        state[item["id"]] = item
                    emitted.add(event["type"])
            assert state == await fetch_approvals(user), user.handle
        assert expected <= emitted
        EXERCISED.update(emitted)

    async def hold_two() -> None:
        for text in ("Yes!", "No..."):
            assert (await agnes.post(reply, json={"text": text})).status_code == 202

    await step(hold_two, {"business.approval_requested"})
    first, second = list(await fetch_approvals(ada))

    async def decide() -> None:
        path = f"{BUSINESSES}/shop/approvals"
        assert (await ada.post(f"{path}/{first}/approve", json={})).status_code == 200
        r = await shop.post(f"{path}/{second}/reject", json={"comment": "No."})
        assert r.status_code == 200, r.text

    await step(decide, {"business.approval_decided"})
    # the customer got the approved reply, and nothing of the approvals themselves
    seen, _ = await events_since(cyd, customer_since)
    assert [e["type"] for e in seen] == ["message.created"]


# Event types whose convergence tests live beside their feature, which they need the
# fixtures of (a local webhook receiver, the job runner and its clock): module, test.
COVERED_ELSEWHERE = {
    "business.scheduled_updated": (
        "tests.test_outbound",
        "test_state_at_a_token_plus_the_events_is_a_fresh_fetch",
    ),
    "business.broadcast_updated": (
        "tests.test_outbound",
        "test_state_at_a_token_plus_the_events_is_a_fresh_fetch",
    ),
    "business.webhook_disabled": (
        "tests.test_webhooks",
        "test_a_webhook_failing_too_often_is_turned_off_and_owners_and_admins_told",
    ),
    "export.updated": (
        "tests.test_exports",
        "test_state_at_a_token_plus_the_events_is_a_fresh_fetch",
    ),
}


def test_every_event_type_is_covered() -> None:
    """Each type has a covering test, and each covering test that ran saw its type converge.

    Runs last in this module; under `-k` only the covering tests that ran are checked."""
    import importlib

    for type_, (module, name) in COVERED_ELSEWHERE.items():
        assert callable(getattr(importlib.import_module(module), name, None)), (type_, name)
    covered = set(COVERED) | set(COVERED_ELSEWHERE)
    assert covered == set(EVENT_TYPES), (
        f"event types without a convergence test: {sorted(set(EVENT_TYPES) - covered)}"
    )
    unproved = {t for t, names in COVERED.items() if names & RAN and t not in EXERCISED}
    assert not unproved, f"covering tests ran but never saw {sorted(unproved)} converge"
