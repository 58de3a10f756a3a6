"""Authorization, driven by the app's own route list.

Every route that names a conversation (or a message in one) has a case below;
a test fails when a new such route appears without one. For each case, anyone
who is not (or no longer) a member gets exactly the 404 a nonexistent id gets,
and the database does not change. Every route but the public ones wants a token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from backchannel.domain.ids import new_id
from backchannel.store import events as event_db
from backchannel.store.tables import metadata
from tests.conftest import Api, User

CONVERSATIONS = "/api/v1/conversations"
MESSAGES = CONVERSATIONS + "/{conversation_id}/messages"

PUBLIC_ROUTES = {
    ("POST", "/api/v1/accounts"),
    ("POST", "/api/v1/sessions"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/"),  # the web client's page (it signs in through the API)
}


@dataclass
class World:
    """A group of alice (admin) and bob, a message of bob's in it, and people around it."""

    alice: User
    bob: User
    carol: User  # in no conversation with alice or bob
    cid: str
    mid: str
    own_cids: dict[str, str]  # handle -> a conversation of theirs without the others


# (method, path template) -> (World, the caller) -> extra path values and request kwargs.
Builder = Callable[[World, User], tuple[dict[str, str], dict[str, Any]]]


def _plain(_w: World, _u: User) -> tuple[dict[str, str], dict[str, Any]]:
    return {}, {}


def _body(body: dict[str, Any]) -> Builder:
    return lambda _w, _u: ({}, {"json": body})


CASES: dict[tuple[str, str], Builder] = {
    ("GET", CONVERSATIONS + "/{conversation_id}"): _plain,
    ("PATCH", CONVERSATIONS + "/{conversation_id}"): _body({"title": "taken over"}),
    ("PUT", CONVERSATIONS + "/{conversation_id}/disappearing"): _body({"seconds": 300}),
    ("POST", CONVERSATIONS + "/{conversation_id}/scheduled"): _body(
        {"text": "later", "send_at": "2099-01-01T00:00:00Z"}
    ),
    ("POST", CONVERSATIONS + "/{conversation_id}/members"): lambda _w, u: (
        {},
        {"json": {"members": [u.handle]}},
    ),
    ("DELETE", CONVERSATIONS + "/{conversation_id}/members/{handle}"): lambda w, _u: (
        {"handle": w.alice.handle},
        {},
    ),
    ("POST", CONVERSATIONS + "/{conversation_id}/read"): lambda w, _u: (
        {},
        {"json": {"up_to": w.mid}},
    ),
    ("PATCH", CONVERSATIONS + "/{conversation_id}/membership"): _body(
        {"archived": True, "pinned": True, "muted": True}
    ),
    ("POST", CONVERSATIONS + "/{conversation_id}/accept"): _plain,
    ("POST", CONVERSATIONS + "/{conversation_id}/decline"): _body(
        {"block": True, "report": {"reason": "spam"}}
    ),
    ("GET", MESSAGES): lambda _w, _u: ({}, {"params": {"limit": 10}}),
    ("POST", MESSAGES): lambda w, _u: ({}, {"json": {"text": "sneaky", "reply_to": w.mid}}),
    ("GET", MESSAGES + "/{message_id}"): _plain,
    ("PATCH", MESSAGES + "/{message_id}"): _body({"text": "rewritten"}),
    ("DELETE", MESSAGES + "/{message_id}"): _plain,
    ("POST", MESSAGES + "/{message_id}/unsend"): _plain,
    ("DELETE", MESSAGES + "/{message_id}/preview"): _plain,
    ("PUT", MESSAGES + "/{message_id}/reactions"): _body({"emoji": "👍"}),
    ("DELETE", MESSAGES + "/{message_id}/reactions/{emoji}"): lambda _w, _u: (
        {"emoji": "👍"},
        {},
    ),
    # to a conversation of the caller's own: only the source can be what fails
    ("POST", MESSAGES + "/{message_id}/forward"): lambda w, u: (
        {},
        {"json": {"conversation_ids": [w.own_cids[u.handle]]}},
    ),
}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path template) of every HTTP route the app serves: the documented ones,
    and the app's own top-level routes such as /openapi.json (WebSockets have their tests)."""
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    for route in app.routes:
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


def routes_naming_a_conversation(app: Any) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if ("{conversation_id}" in path or "{message_id}" in path)
        # a business's routes: tests/test_business.py, which puts the caller on its team
        and not path.startswith("/api/v1/businesses/")
        for method in operations
    }


async def db_snapshot(api: Api) -> dict[str, Any]:
    """Every row of every table, plus the stream position (sessions excepted: advisory)."""

    def read(t: Any) -> dict[str, Any]:
        snapshot: dict[str, Any] = {"position": event_db.current_position(t.conn)}
        for table in metadata.sorted_tables:
            if table.name == "sessions":
                continue
            rows = t.conn.execute(select(table)).all()
            snapshot[table.name] = sorted(repr(tuple(row)) for row in rows)
        return snapshot

    return dict(await api.core.store.read("test_snapshot", read))


async def call(
    user: User,
    world: World,
    key: tuple[str, str],
    *,
    conversation_id: str,
    message_id: str,
) -> Any:
    method, template = key
    extra, kwargs = CASES[key](world, user)
    values = {"conversation_id": conversation_id, "message_id": message_id, **extra}
    path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
    return await user.request(method, path, **kwargs)


@pytest.fixture
async def world(api: Api) -> World:
    alice, bob, carol, dave = await api.users(4)
    cid = await alice.group(bob, title="private")
    mid = (await bob.send(cid, "secret"))["id"]
    own_cids = {alice.handle: await alice.direct(dave)}
    own_cids[bob.handle] = await bob.direct(dave)
    own_cids[carol.handle] = await carol.direct(dave)
    return World(alice, bob, carol, cid, mid, own_cids)


def test_every_conversation_route_has_a_case(app: Any) -> None:
    routes = routes_naming_a_conversation(app)
    assert routes, "no conversation routes found: is the route list being read right?"
    missing = routes - CASES.keys()
    stale = CASES.keys() - routes
    assert not missing, f"routes without an authorization case: {sorted(missing)}"
    assert not stale, f"cases for routes that no longer exist: {sorted(stale)}"


async def assert_indistinguishable_and_harmless(
    api: Api, outsider: User, world: World, *, expected_code: str, message_ids: tuple[str, str]
) -> None:
    """For every case: forbidden (real ids) and missing (random ids) answer the same 404,
    and neither changes anything."""
    failures = []
    real_mid, other_mid = message_ids
    for key in CASES:
        if expected_code == "message_not_found" and "{message_id}" not in key[1]:
            continue
        before = await db_snapshot(api)
        forbidden = await call(outsider, world, key, conversation_id=world.cid, message_id=real_mid)
        after = await db_snapshot(api)
        missing_cid = world.cid if expected_code == "message_not_found" else new_id("c")
        missing = await call(
            outsider, world, key, conversation_id=missing_cid, message_id=other_mid
        )
        if forbidden.status_code != 404 or forbidden.json()["error"]["code"] != expected_code:
            failures.append(f"{key}: {forbidden.status_code} {forbidden.text}")
        elif forbidden.json() != missing.json() or missing.status_code != 404:
            failures.append(f"{key}: {forbidden.text} differs from {missing.text}")
        if before != after:
            failures.append(f"{key}: the database changed")
        assert await db_snapshot(api) == after, f"{key}: a request for a missing id wrote"
    assert not failures, "\n".join(failures)


async def test_a_stranger_gets_the_same_404_as_for_a_missing_conversation(
    api: Api, world: World
) -> None:
    await assert_indistinguishable_and_harmless(
        api,
        world.carol,
        world,
        expected_code="conversation_not_found",
        message_ids=(world.mid, new_id("m")),
    )


async def test_someone_who_left_gets_404(api: Api, world: World) -> None:
    r = await world.bob.delete(f"{CONVERSATIONS}/{world.cid}/members/{world.bob.handle}")
    assert r.status_code == 204, r.text
    await assert_indistinguishable_and_harmless(
        api,
        world.bob,
        world,
        expected_code="conversation_not_found",
        message_ids=(world.mid, new_id("m")),
    )


async def test_someone_removed_gets_404(api: Api, world: World) -> None:
    r = await world.alice.delete(f"{CONVERSATIONS}/{world.cid}/members/{world.bob.handle}")
    assert r.status_code == 204, r.text
    # the case table's "add member" names the caller: a removed member re-adding themselves
    await assert_indistinguishable_and_harmless(
        api,
        world.bob,
        world,
        expected_code="conversation_not_found",
        message_ids=(world.mid, new_id("m")),
    )


async def test_a_later_member_cannot_reach_earlier_messages(api: Api, world: World) -> None:
    late = await api.register()
    world.own_cids[late.handle] = await late.direct(world.carol)
    r = await world.alice.post(
        f"{CONVERSATIONS}/{world.cid}/members", json={"members": [late.handle]}
    )
    assert r.status_code == 200, r.text
    # every message route: a message from before joining is as missing as a random id
    await assert_indistinguishable_and_harmless(
        api,
        late,
        world,
        expected_code="message_not_found",
        message_ids=(world.mid, new_id("m")),
    )
    # and so are the routes that name a message in their body
    own_cid = world.own_cids[late.handle]
    messages = f"{CONVERSATIONS}/{world.cid}/messages"
    for method, path, body in [
        ("POST", messages, {"text": "quoting", "reply_to": world.mid}),
        ("POST", f"{CONVERSATIONS}/{world.cid}/read", {"up_to": world.mid}),
        ("POST", f"{messages}/{world.mid}/forward", {"conversation_ids": [own_cid]}),
    ]:
        before = await db_snapshot(api)
        r = await late.request(method, path, json=body)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "message_not_found", (path, r.text)
        assert await db_snapshot(api) == before, path
    # history starts at joining; what comes after is theirs to see
    history = (await late.get(messages)).json()["items"]
    assert history == []
    later = await world.bob.send(world.cid, "welcome")
    assert [m["id"] for m in (await late.get(messages)).json()["items"]] == [later["id"]]
    r = await late.get(f"{messages}/{later['id']}")
    assert r.status_code == 200, r.text


async def test_a_message_id_only_works_in_its_own_conversation(api: Api, world: World) -> None:
    # alice is a member of both conversations; bob's message belongs to only one
    other_cid = await world.alice.direct(world.carol)
    before = await db_snapshot(api)
    for key in CASES:
        if "{message_id}" not in key[1]:
            continue
        r = await call(world.alice, world, key, conversation_id=other_cid, message_id=world.mid)
        assert r.status_code == 404, (key, r.text)
        assert r.json()["error"]["code"] == "message_not_found", (key, r.text)
    assert await db_snapshot(api) == before


async def test_a_message_deleted_for_me_is_gone_for_me_only(api: Api, world: World) -> None:
    path = f"{CONVERSATIONS}/{world.cid}/messages/{world.mid}"
    assert (await world.alice.delete(path)).status_code == 204
    missing = await world.alice.get(f"{CONVERSATIONS}/{world.cid}/messages/{new_id('m')}")
    hidden = await world.alice.get(path)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    assert (await world.bob.get(path)).status_code == 200


def _fill(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: f"x_{m.group(1)}", template)


async def test_every_private_route_wants_a_token(api: Api) -> None:
    routes = app_routes(api.app)
    assert routes >= PUBLIC_ROUTES, f"public routes gone: {sorted(PUBLIC_ROUTES - routes)}"
    private = sorted(routes - PUBLIC_ROUTES)
    assert len(private) >= len(CASES)
    failures = []
    for method, template in private:
        for headers in ({}, {"Authorization": "Bearer bc_not-a-real-token"}):
            r = await api.http.request(method, _fill(template), headers=headers)
            if r.status_code != 401 or r.json()["error"]["code"] != "unauthenticated":
                failures.append(f"{method} {template} {headers}: {r.status_code} {r.text}")
    assert not failures, "\n".join(failures)


async def test_public_routes_need_no_token(api: Api) -> None:
    for method, path in sorted(PUBLIC_ROUTES):
        if method != "GET":
            continue
        r = await api.http.get(path)
        assert r.status_code == 200, (path, r.text)


# --- reports and moderation -------------------------------------------------------------

MODERATION = "/api/v1/moderation"

# Every moderation route (admins only): (World) -> extra path values and request kwargs.
ModerationBuilder = Callable[[World], tuple[dict[str, str], dict[str, Any]]]
MODERATION_CASES: dict[tuple[str, str], ModerationBuilder] = {
    ("GET", MODERATION + "/reports"): lambda _w: ({}, {"params": {"status": "open"}}),
    ("GET", MODERATION + "/reports/{report_id}"): lambda _w: ({}, {}),
    ("POST", MODERATION + "/reports/{report_id}/actions"): lambda _w: (
        {},
        {"json": {"action": "dismiss", "note": "taken over"}},
    ),
    ("POST", MODERATION + "/users/{handle}/actions"): lambda w: (
        {"handle": w.bob.handle},
        {"json": {"action": "suspend", "note": "taken over"}},
    ),
    ("GET", MODERATION + "/log"): lambda w: ({}, {"params": {"user": w.bob.handle}}),
    ("POST", MODERATION + "/users/{handle}/exports"): lambda w: (
        {"handle": w.bob.handle},
        {"json": {"reason": "court order"}},
    ),
    ("GET", MODERATION + "/exports/{export_id}"): lambda _w: ({"export_id": new_id("x")}, {}),
    ("GET", MODERATION + "/exports/{export_id}/download"): lambda _w: (
        {"export_id": new_id("x")},
        {},
    ),
}
# What the moderator gets where it is not 200 (tests/test_exports.py covers real exports).
MODERATOR_STATUS = {
    ("POST", MODERATION + "/users/{handle}/exports"): 202,
    ("GET", MODERATION + "/exports/{export_id}"): 404,
    ("GET", MODERATION + "/exports/{export_id}/download"): 404,
}


def moderation_routes(app: Any) -> set[tuple[str, str]]:
    return {key for key in app_routes(app) if key[1].startswith(MODERATION + "/")}


def test_every_moderation_route_has_a_case(app: Any) -> None:
    routes = moderation_routes(app)
    assert routes, "no moderation routes found"
    assert routes == MODERATION_CASES.keys()


async def test_only_moderators_moderate(api: Api, world: World) -> None:
    """alice registered first: she is the moderator. Anyone else gets 403 `not_moderator`
    on every moderation route, for real and made-up ids alike, and nothing changes."""
    r = await world.alice.post("/api/v1/reports", json={
        "kind": "message", "conversation_id": world.cid, "message_id": world.mid,
        "reason": "spam",
    })  # fmt: skip
    assert r.status_code == 201, r.text
    report_id = r.json()["id"]
    failures = []
    for user in (world.bob, world.carol):
        for key, build in MODERATION_CASES.items():
            for rid in (report_id, new_id("r")):
                method, template = key
                extra, kwargs = build(world)
                values = {"report_id": rid, **extra}
                path = re.sub(r"\{(\w+)\}", lambda m, v=values: v[m.group(1)], template)
                before = await db_snapshot(api)
                r = await user.request(method, path, **kwargs)
                if r.status_code != 403 or r.json()["error"]["code"] != "not_moderator":
                    failures.append(f"{user.handle} {key}: {r.status_code} {r.text}")
                if await db_snapshot(api) != before:
                    failures.append(f"{user.handle} {key}: the database changed")
    assert not failures, "\n".join(failures)
    for key, build in MODERATION_CASES.items():  # and the moderator may
        extra, kwargs = build(world)
        values = {"report_id": report_id, **extra}
        path = re.sub(r"\{(\w+)\}", lambda m, v=values: v[m.group(1)], key[1])
        r = await world.alice.request(key[0], path, **kwargs)
        assert r.status_code == MODERATOR_STATUS.get(key, 200), (key, r.text)


async def assert_unreportable(api: Api, user: User, world: World, expected_code: str) -> None:
    """Reporting the world's conversation or message: the 404 of a missing one, no write."""
    for kind in ("conversation", "message"):
        if expected_code == "message_not_found" and kind == "conversation":
            continue
        body = {"kind": kind, "conversation_id": world.cid, "reason": "spam"}
        if kind == "message":
            body["message_id"] = world.mid
        missing = dict(body)
        if expected_code == "message_not_found":
            missing["message_id"] = new_id("m")
        else:
            missing["conversation_id"] = new_id("c")
        before = await db_snapshot(api)
        forbidden = await user.post("/api/v1/reports", json=body)
        assert await db_snapshot(api) == before, kind
        other = await user.post("/api/v1/reports", json=missing)
        assert forbidden.status_code == other.status_code == 404, (kind, forbidden.text)
        assert forbidden.json() == other.json(), kind
        assert forbidden.json()["error"]["code"] == expected_code, kind


async def test_only_what_you_can_read_can_be_reported(api: Api, world: World) -> None:
    await assert_unreportable(api, world.carol, world, "conversation_not_found")
    late = await api.register()
    r = await world.alice.post(
        f"{CONVERSATIONS}/{world.cid}/members", json={"members": [late.handle]}
    )
    assert r.status_code == 200, r.text
    await assert_unreportable(api, late, world, "message_not_found")
    r = await world.bob.delete(f"{CONVERSATIONS}/{world.cid}/members/{world.bob.handle}")
    assert r.status_code == 204, r.text
    await assert_unreportable(api, world.bob, world, "conversation_not_found")
