"""Conversations through the API: direct and group, members and admins, inbox, read markers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from backchannel.app import create_app
from backchannel.store.tables import conversations as conversations_table
from tests.conftest import Api, User, ValidatingApp, make_settings

CONVERSATIONS = "/api/v1/conversations"


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


@asynccontextmanager
async def build_api(tmp_path: Path, database_url: str, **overrides: Any) -> AsyncIterator[Api]:
    """An app with its own settings, on the test's database."""
    application = create_app(make_settings(tmp_path, database_url, **overrides))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=ValidatingApp(application))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client, application)


@pytest.fixture
async def small_api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    async with build_api(tmp_path, database_url, max_group_size=3) as built:
        yield built


async def count_conversations(api: Api) -> int:
    from sqlalchemy import func, select

    return int(
        await api.core.store.read(
            "test_count",
            lambda t: t.conn.execute(
                select(func.count()).select_from(conversations_table)
            ).scalar_one(),
        )
    )


async def conversation(user: User, cid: str) -> dict[str, Any]:
    r = await user.get(f"{CONVERSATIONS}/{cid}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def inbox(user: User, **params: Any) -> dict[str, Any]:
    r = await user.get(CONVERSATIONS, params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def history_texts(user: User, cid: str) -> list[str | None]:
    r = await user.get(f"{CONVERSATIONS}/{cid}/messages", params={"limit": 100})
    assert r.status_code == 200, r.text
    return [m["text"] for m in r.json()["items"]]


def roles(view: dict[str, Any]) -> dict[str, str]:
    return {m["handle"]: m["role"] for m in view["members"]}


# --- direct -------------------------------------------------------------------------


async def test_direct_conversation_is_one_per_pair(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    first = await alice.post(CONVERSATIONS, json={"kind": "direct", "members": [bob.handle]})
    assert first.status_code == 201, first.text
    view = first.json()
    assert view["kind"] == "direct"
    assert view["title"] is None
    assert view["member_count"] == 2
    assert {m["handle"] for m in view["members"]} == {alice.handle, bob.handle}
    assert {m["role"] for m in view["members"]} == {"member"}
    assert view["last_message"] is None
    assert view["unread_count"] == 0

    again = await alice.post(CONVERSATIONS, json={"kind": "direct", "members": [bob.handle]})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == view["id"]

    theirs = await bob.post(
        CONVERSATIONS, json={"kind": "direct", "members": [alice.handle.upper()]}
    )
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["id"] == view["id"]

    other = await alice.post(CONVERSATIONS, json={"kind": "direct", "members": [carol.handle]})
    assert other.status_code == 201
    assert other.json()["id"] != view["id"]
    assert await count_conversations(api) == 2
    assert len((await inbox(alice))["items"]) == 2


async def test_cannot_dm_yourself(api: Api) -> None:
    alice = await api.register("alice")
    for handle in ("alice", "ALICE"):
        r = await alice.post(CONVERSATIONS, json={"kind": "direct", "members": [handle]})
        assert r.status_code == 422, r.text
        assert error_code(r) == "invalid_members"
    assert await count_conversations(api) == 0


async def test_direct_needs_exactly_one_other_member(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    r = await alice.post(
        CONVERSATIONS, json={"kind": "direct", "members": [bob.handle, carol.handle]}
    )
    assert r.status_code == 422
    assert error_code(r) == "invalid_members"
    r = await alice.post(CONVERSATIONS, json={"kind": "direct", "members": []})
    assert r.status_code == 400
    assert error_code(r) == "invalid_request"


@pytest.mark.parametrize("kind", ["direct", "group"])
async def test_unknown_member_is_404_and_nothing_is_created(api: Api, kind: str) -> None:
    alice = await api.register("alice")
    await api.register("bob")
    for handle in ("nobody_here", "x!"):
        members = [handle] if kind == "direct" else ["bob", handle]
        r = await alice.post(CONVERSATIONS, json={"kind": kind, "members": members})
        assert r.status_code == 404, r.text
        assert error_code(r) == "user_not_found"
    assert await count_conversations(api) == 0


async def test_strangers_cannot_see_a_conversation(api: Api) -> None:
    alice, bob, eve = await api.users(3)
    cid = await alice.direct(bob)
    sent = await alice.send(cid, "private")
    for path in (
        f"{CONVERSATIONS}/{cid}",
        f"{CONVERSATIONS}/{cid}/messages",
        f"{CONVERSATIONS}/{cid}/messages/{sent['id']}",
    ):
        r = await eve.get(path)
        assert r.status_code == 404, path
        assert error_code(r) == "conversation_not_found"
    # the same answer as for an id that does not exist at all
    missing = await eve.get(f"{CONVERSATIONS}/c_AAAAAAAAAAAAAAAAAAAAAA")
    assert missing.json() == (await eve.get(f"{CONVERSATIONS}/{cid}")).json()
    r = await eve.post(f"{CONVERSATIONS}/{cid}/messages", json={"text": "let me in"})
    assert r.status_code == 404
    assert await history_texts(alice, cid) == ["private"]


async def test_direct_conversations_have_no_admins(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.direct(bob)
    r = await alice.patch(f"{CONVERSATIONS}/{cid}", json={"title": "renamed"})
    assert r.status_code == 403
    assert error_code(r) == "forbidden"
    r = await alice.post(f"{CONVERSATIONS}/{cid}/members", json={"members": [carol.handle]})
    assert r.status_code == 403
    r = await alice.delete(f"{CONVERSATIONS}/{cid}/members/{alice.handle}")
    assert r.status_code == 403
    assert (await conversation(alice, cid))["member_count"] == 2


# --- groups -------------------------------------------------------------------------


async def test_group_creator_is_admin(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    r = await alice.post(
        CONVERSATIONS,
        json={"kind": "group", "members": [bob.handle, carol.handle], "title": "  Trip  "},
    )
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["kind"] == "group"
    assert view["title"] == "Trip"
    assert view["role"] == "admin"
    assert view["member_count"] == 3
    assert roles(view) == {alice.handle: "admin", bob.handle: "member", carol.handle: "member"}
    seen_by_bob = await conversation(bob, view["id"])
    assert seen_by_bob["role"] == "member"
    assert seen_by_bob["title"] == "Trip"


async def test_group_member_list_validation(api: Api) -> None:
    alice, bob = await api.users(2)
    for members in ([bob.handle, bob.handle], [bob.handle, alice.handle], [alice.handle]):
        r = await alice.post(CONVERSATIONS, json={"kind": "group", "members": members})
        assert r.status_code == 422, members
        assert error_code(r) == "invalid_members"
    r = await alice.post(
        CONVERSATIONS, json={"kind": "group", "members": [bob.handle], "title": "t" * 101}
    )
    assert r.status_code == 400
    assert error_code(r) == "invalid_request"
    r = await alice.post(
        CONVERSATIONS, json={"kind": "group", "members": [bob.handle], "title": "bad\x00title"}
    )
    assert r.status_code == 400, r.text
    assert error_code(r) == "invalid_request"
    assert await count_conversations(api) == 0


async def test_max_group_size(small_api: Api) -> None:
    alice, bob, carol, dave = await small_api.users(4)
    r = await alice.post(
        CONVERSATIONS,
        json={"kind": "group", "members": [bob.handle, carol.handle, dave.handle]},
    )
    assert r.status_code == 422, r.text
    assert error_code(r) == "group_too_large"
    assert await count_conversations(small_api) == 0

    cid = await alice.group(bob, carol)  # exactly the maximum
    r = await alice.post(f"{CONVERSATIONS}/{cid}/members", json={"members": [dave.handle]})
    assert r.status_code == 422
    assert error_code(r) == "group_too_large"
    assert (await conversation(alice, cid))["member_count"] == 3

    # after someone leaves there is room again
    assert (await bob.delete(f"{CONVERSATIONS}/{cid}/members/{bob.handle}")).status_code == 204
    r = await alice.post(f"{CONVERSATIONS}/{cid}/members", json={"members": [dave.handle]})
    assert r.status_code == 200, r.text
    assert r.json()["member_count"] == 3


async def test_admin_adds_removes_and_renames(api: Api) -> None:
    alice, bob, carol, dave = await api.users(4)
    cid = await alice.group(bob, title="old")

    r = await alice.post(
        f"{CONVERSATIONS}/{cid}/members", json={"members": [carol.handle, dave.handle]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["member_count"] == 4
    assert roles(r.json())[carol.handle] == "member"
    assert (await conversation(carol, cid))["title"] == "old"

    r = await alice.post(f"{CONVERSATIONS}/{cid}/members", json={"members": [carol.handle]})
    assert r.status_code == 422
    assert error_code(r) == "invalid_members"

    r = await alice.patch(f"{CONVERSATIONS}/{cid}", json={"title": "new title"})
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "new title"
    assert (await conversation(bob, cid))["title"] == "new title"
    r = await alice.patch(f"{CONVERSATIONS}/{cid}", json={"title": None})
    assert r.status_code == 200
    assert r.json()["title"] is None

    r = await alice.delete(f"{CONVERSATIONS}/{cid}/members/{dave.handle}")
    assert r.status_code == 204
    view = await conversation(alice, cid)
    assert view["member_count"] == 3
    assert dave.handle not in roles(view)


async def test_non_admins_cannot_manage_the_group(api: Api) -> None:
    alice, bob, carol, dave = await api.users(4)
    cid = await alice.group(bob, carol, title="mine")

    r = await bob.post(f"{CONVERSATIONS}/{cid}/members", json={"members": [dave.handle]})
    assert r.status_code == 403
    assert error_code(r) == "not_group_admin"
    r = await bob.delete(f"{CONVERSATIONS}/{cid}/members/{carol.handle}")
    assert r.status_code == 403
    assert error_code(r) == "not_group_admin"
    r = await bob.delete(f"{CONVERSATIONS}/{cid}/members/{alice.handle}")
    assert r.status_code == 403
    r = await bob.patch(f"{CONVERSATIONS}/{cid}", json={"title": "hijacked"})
    assert r.status_code == 403
    assert error_code(r) == "not_group_admin"

    view = await conversation(alice, cid)
    assert view["title"] == "mine"
    assert set(roles(view)) == {alice.handle, bob.handle, carol.handle}

    # an outsider gets 404, not 403
    r = await dave.patch(f"{CONVERSATIONS}/{cid}", json={"title": "x"})
    assert r.status_code == 404
    assert error_code(r) == "conversation_not_found"


async def test_removing_someone_who_is_not_a_member_is_404(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob)
    for handle in (carol.handle, "nobody_here"):
        r = await alice.delete(f"{CONVERSATIONS}/{cid}/members/{handle}")
        assert r.status_code == 404
        assert error_code(r) == "user_not_found"


async def test_anyone_can_leave(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob, carol)
    await alice.send(cid, "before")

    r = await bob.delete(f"{CONVERSATIONS}/{cid}/members/{bob.handle.upper()}")
    assert r.status_code == 204, r.text
    r = await bob.get(f"{CONVERSATIONS}/{cid}")
    assert r.status_code == 404
    assert error_code(r) == "conversation_not_found"
    assert cid not in {c["id"] for c in (await inbox(bob))["items"]}
    view = await conversation(alice, cid)
    assert view["member_count"] == 2
    assert roles(view) == {alice.handle: "admin", carol.handle: "member"}


async def test_last_admin_leaving_promotes_the_longest_standing_member(api: Api) -> None:
    alice, bob, carol, dave = await api.users(4)
    # carol joins first; bob (an older account, a lower id) joins later
    cid = await alice.group(carol)
    r = await alice.post(f"{CONVERSATIONS}/{cid}/members", json={"members": [bob.handle]})
    assert r.status_code == 200
    r = await alice.post(f"{CONVERSATIONS}/{cid}/members", json={"members": [dave.handle]})
    assert r.status_code == 200

    assert (await alice.delete(f"{CONVERSATIONS}/{cid}/members/{alice.handle}")).status_code == 204
    view = await conversation(bob, cid)
    assert roles(view) == {carol.handle: "admin", bob.handle: "member", dave.handle: "member"}
    assert (await conversation(carol, cid))["role"] == "admin"

    # the new admin can manage the group
    r = await carol.patch(f"{CONVERSATIONS}/{cid}", json={"title": "carol's"})
    assert r.status_code == 200
    # a remaining admin means nobody else is promoted
    r = await carol.post(f"{CONVERSATIONS}/{cid}/members", json={"members": [alice.handle]})
    assert r.status_code == 200
    assert (await bob.delete(f"{CONVERSATIONS}/{cid}/members/{bob.handle}")).status_code == 204
    assert roles(await conversation(carol, cid)) == {
        carol.handle: "admin",
        dave.handle: "member",
        alice.handle: "member",
    }


async def test_everyone_can_leave_a_group(api: Api) -> None:
    alice, bob = await api.users(2)
    cid = await alice.group(bob)
    assert (await alice.delete(f"{CONVERSATIONS}/{cid}/members/{alice.handle}")).status_code == 204
    assert (await conversation(bob, cid))["role"] == "admin"
    assert (await bob.delete(f"{CONVERSATIONS}/{cid}/members/{bob.handle}")).status_code == 204
    assert (await bob.get(f"{CONVERSATIONS}/{cid}")).status_code == 404
    assert (await alice.get(f"{CONVERSATIONS}/{cid}")).status_code == 404


async def test_members_added_later_see_history_from_when_they_joined(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob)
    old1 = await alice.send(cid, "old one")
    await bob.send(cid, "old two")
    r = await alice.post(f"{CONVERSATIONS}/{cid}/members", json={"members": [carol.handle]})
    assert r.status_code == 200
    await alice.send(cid, "new one")

    assert await history_texts(carol, cid) == ["new one"]
    assert await history_texts(bob, cid) == ["old one", "old two", "new one"]
    r = await carol.get(f"{CONVERSATIONS}/{cid}/messages/{old1['id']}")
    assert r.status_code == 404
    assert error_code(r) == "message_not_found"
    r = await carol.post(
        f"{CONVERSATIONS}/{cid}/messages", json={"text": "re", "reply_to": old1["id"]}
    )
    assert r.status_code == 404
    assert error_code(r) == "message_not_found"
    r = await carol.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": old1["id"]})
    assert r.status_code == 404
    view = await conversation(carol, cid)
    assert view["last_message"]["text"] == "new one"
    assert view["unread_count"] == 1


async def test_a_removed_member_loses_the_conversation(api: Api) -> None:
    alice, bob, carol = await api.users(3)
    cid = await alice.group(bob, carol)
    sent = await alice.send(cid, "hello")
    assert (await alice.delete(f"{CONVERSATIONS}/{cid}/members/{bob.handle}")).status_code == 204

    for method, path, body in (
        ("GET", f"{CONVERSATIONS}/{cid}", None),
        ("GET", f"{CONVERSATIONS}/{cid}/messages", None),
        ("GET", f"{CONVERSATIONS}/{cid}/messages/{sent['id']}", None),
        ("POST", f"{CONVERSATIONS}/{cid}/messages", {"text": "still here?"}),
        ("POST", f"{CONVERSATIONS}/{cid}/read", {"up_to": sent["id"]}),
        ("DELETE", f"{CONVERSATIONS}/{cid}/members/{bob.handle}", None),
    ):
        r = await bob.request(method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert error_code(r) == "conversation_not_found"
    assert cid not in {c["id"] for c in (await inbox(bob))["items"]}
    assert await history_texts(carol, cid) == ["hello"]


# --- inbox --------------------------------------------------------------------------


async def test_inbox_is_ordered_by_last_activity(api: Api) -> None:
    me, bob, carol, dave = await api.users(4)
    with_bob = await me.direct(bob)
    with_carol = await me.direct(carol)
    with_dave = await dave.direct(me)  # opened by the other person
    await bob.send(with_bob, "from bob")
    await carol.send(with_carol, "from carol 1")
    await carol.send(with_carol, "from carol 2")
    await me.send(with_carol, "my reply")

    items = (await inbox(me))["items"]
    assert [c["id"] for c in items] == [with_carol, with_bob, with_dave]
    first = items[0]
    assert first["last_message"]["text"] == "my reply"
    assert first["unread_count"] == 2  # my own message never counts
    assert first["last_message_at"] is not None
    assert items[1]["last_message"]["text"] == "from bob"
    assert items[1]["unread_count"] == 1
    assert items[2]["last_message"] is None
    assert items[2]["last_message_at"] is None
    assert items[2]["unread_count"] == 0

    # new activity moves a conversation to the top
    await dave.send(with_dave, "wake up")
    items = (await inbox(me))["items"]
    assert [c["id"] for c in items] == [with_dave, with_carol, with_bob]
    assert items[0]["last_message"]["sender"]["handle"] == dave.handle
    assert items[0]["last_activity_position"] > items[1]["last_activity_position"]


async def test_inbox_pagination_has_no_duplicates_or_gaps(api: Api) -> None:
    me = await api.register("myself")
    others = await api.users(5)
    expected: list[str] = []
    for other in others:
        cid = await other.direct(me)
        await other.send(cid, f"hi from {other.handle}")
        expected.insert(0, cid)
    # shuffle the activity order
    await me.send(expected[3], "bump")
    expected.insert(0, expected.pop(3))

    full = await inbox(me)
    assert [c["id"] for c in full["items"]] == expected
    assert full["next_cursor"] is None

    seen: list[str] = []
    sizes = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await inbox(me, **params)
        sizes.append(len(page["items"]))
        seen.extend(c["id"] for c in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [2, 2, 1]
    assert seen == expected


async def test_inbox_cursor_and_limit_validation(api: Api) -> None:
    me = await api.register("myself")
    # garbage, one part ("1") where the inbox wants (pinned, position), a negative part
    for cursor in ("garbage!", "MQ", "MDotMQ"):
        r = await me.get(CONVERSATIONS, params={"cursor": cursor})
        assert r.status_code == 400, cursor
        assert error_code(r) == "invalid_token"
    for limit in (0, 101):
        r = await me.get(CONVERSATIONS, params={"limit": limit})
        assert r.status_code == 400
        assert error_code(r) == "invalid_request"


# --- read markers -------------------------------------------------------------------


async def test_read_marker_clears_unread_and_never_moves_back(api: Api) -> None:
    me, bob = await api.users(2)
    cid = await bob.direct(me)
    first = await bob.send(cid, "one")
    second = await bob.send(cid, "two")
    third = await bob.send(cid, "three")
    assert (await conversation(me, cid))["unread_count"] == 3

    r = await me.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": second["id"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"read_position": second["position"]}
    view = await conversation(me, cid)
    assert view["unread_count"] == 1
    assert view["read_position"] == second["position"]

    r = await me.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": third["id"]})
    assert r.json() == {"read_position": third["position"]}
    assert (await conversation(me, cid))["unread_count"] == 0

    # reading an older message keeps the later position
    r = await me.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": first["id"]})
    assert r.status_code == 200
    assert r.json() == {"read_position": third["position"]}
    view = await conversation(me, cid)
    assert view["read_position"] == third["position"]
    assert view["unread_count"] == 0

    # the same again is harmless
    r = await me.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": third["id"]})
    assert r.json() == {"read_position": third["position"]}

    # new messages are unread again; the other side's marker is their own
    await bob.send(cid, "four")
    assert (await conversation(me, cid))["unread_count"] == 1
    assert (await conversation(bob, cid))["unread_count"] == 0


async def test_read_marker_needs_a_message_of_that_conversation(api: Api) -> None:
    me, bob, carol = await api.users(3)
    cid = await bob.direct(me)
    other = await carol.direct(me)
    elsewhere = await carol.send(other, "elsewhere")
    await bob.send(cid, "here")
    for up_to in (elsewhere["id"], "m_AAAAAAAAAAAAAAAAAAAAAA"):
        r = await me.post(f"{CONVERSATIONS}/{cid}/read", json={"up_to": up_to})
        assert r.status_code == 404
        assert error_code(r) == "message_not_found"
    assert (await conversation(me, cid))["unread_count"] == 1
