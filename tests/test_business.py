"""The business inbox through the API: becoming a business, the team and its roles,
delegated reads and replies as the business, triage, labels, notes, the audit log, and
what the team's and the customers' streams carry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Api, User

B = "/api/v1/businesses"


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def become(user: User, **body: Any) -> dict[str, Any]:
    r = await user.post("/api/v1/me/business", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def add(
    owner: User, shop: User, member: User, role: str, expect: int = 201, **extra: Any
) -> Any:
    r = await owner.put(f"{B}/{shop.handle}/members/{member.handle}", json={"role": role, **extra})
    assert r.status_code == expect, r.text
    return r.json()


async def inbox(user: User, shop: User, expect: int = 200, **params: Any) -> Any:
    r = await user.get(f"{B}/{shop.handle}/conversations", params=params)
    assert r.status_code == expect, r.text
    return r.json()


async def events(user: User, since: str) -> tuple[list[dict[str, Any]], str]:
    body = await user.sync(since)
    return list(body["events"]), str(body["next"])


async def token(user: User) -> str:
    return str((await user.sync())["next"])


async def shop_with_team(api: Api) -> tuple[User, User, User, User, User]:
    """A business `shop` (its own owner), an admin, an agent, a viewer, and a customer."""
    shop = await api.register("shop")
    admin, agent, viewer, customer = [await api.register(h) for h in ("ada", "agnes", "vic", "cyd")]
    await become(shop, timezone="Europe/Paris")
    await add(shop, shop, admin, "admin")
    await add(shop, shop, agent, "agent")
    await add(shop, shop, viewer, "viewer")
    return shop, admin, agent, viewer, customer


async def test_becoming_a_business(api: Api) -> None:
    shop = await api.register("shop")
    view = await become(shop, timezone="Europe/Paris")
    assert view["business"]["handle"] == "shop" and view["role"] == "owner"
    assert view["timezone"] == "Europe/Paris"
    r = await shop.post("/api/v1/me/business", json={})
    assert r.status_code == 409 and code(r) == "already_business"
    other = await api.register("other")
    r = await other.post("/api/v1/me/business", json={"timezone": "Mars/Olympus"})
    assert r.status_code == 400 and code(r) == "invalid_request"
    # a stranger learns nothing: a business they are not on looks like no business
    for path in (f"{B}/shop", f"{B}/shop/conversations", f"{B}/nobody_here"):
        r = await other.get(path)
        assert r.status_code == 404 and code(r) == "business_not_found", path
    mine = (await shop.get("/api/v1/me/businesses")).json()["items"]
    assert [(m["business"]["handle"], m["role"]) for m in mine] == [("shop", "owner")]


async def test_the_team_sees_only_conversations_started_after_becoming_a_business(
    api: Api,
) -> None:
    shop = await api.register("shop")
    friend = await api.register("friend")
    customer = await api.register("cyd")
    agent = await api.register("agnes")
    personal = await friend.direct(shop)
    await friend.send(personal, "our private chat")
    group = await friend.group(shop, customer, title="old friends")
    await become(shop)
    await add(shop, shop, agent, "agent")
    cid = await customer.direct(shop)
    await customer.send(cid, "Hi, is the blue one in stock?")
    await friend.send(personal, "still private after")
    items = (await inbox(agent, shop))["items"]
    assert [i["conversation"]["id"] for i in items] == [cid]
    state = items[0]["state"]
    assert state["status"] == "open" and state["customer"]["handle"] == "cyd"
    assert state["waiting_since"] is not None and state["assignee"] is None
    for other in (personal, group):
        for path in ("", "/messages"):
            r = await agent.get(f"{B}/shop/conversations/{other}{path}")
            assert r.status_code == 404 and code(r) == "conversation_not_found"
        r = await agent.post(f"{B}/shop/conversations/{other}/messages", json={"text": "x"})
        assert r.status_code == 404 and code(r) == "conversation_not_found"
    # the team member's own account sees nothing of it either
    r = await agent.get(f"/api/v1/conversations/{cid}")
    assert r.status_code == 404


async def test_agents_reply_as_the_business_and_the_team_sees_who(api: Api) -> None:
    shop, admin, agent, viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "Where is my order?")
    customer_since = await token(customer)
    admin_since = await token(admin)
    r = await agent.post(
        f"{B}/shop/conversations/{cid}/messages", json={"text": "Checking now!", "txn_id": "t1"}
    )
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["sender"]["handle"] == "shop" and sent["agent"]["handle"] == "agnes"
    # a retry is the same message
    r = await agent.post(
        f"{B}/shop/conversations/{cid}/messages", json={"text": "Checking now!", "txn_id": "t1"}
    )
    assert r.status_code == 200 and r.json()["id"] == sent["id"]
    # the customer sees the business, and nothing of the agent
    history = (await customer.get(f"/api/v1/conversations/{cid}/messages")).json()["items"]
    assert [(m["sender"]["handle"], m["text"]) for m in history][-1] == ("shop", "Checking now!")
    assert all("agent" not in m for m in history)
    got, _ = await events(customer, customer_since)
    assert [e["type"] for e in got] == ["message.created"]
    assert "agnes" not in str(got)
    # the team sees the message live, and who wrote it
    got, _ = await events(admin, admin_since)
    assert [e["type"] for e in got] == ["message.created", "business.message_sent"]
    assert got[1]["data"]["agent"]["handle"] == "agnes"
    team_view = (await admin.get(f"{B}/shop/conversations/{cid}/messages")).json()["items"]
    assert [(m["text"], (m["agent"] or {}).get("handle")) for m in team_view] == [
        ("Where is my order?", None),
        ("Checking now!", "agnes"),
    ]
    # answered: nobody waits now
    state = (await inbox(admin, shop))["items"][0]["state"]
    assert state["waiting_since"] is None
    # a viewer reads, but does not write
    assert (await viewer.get(f"{B}/shop/conversations/{cid}/messages")).status_code == 200
    r = await viewer.post(f"{B}/shop/conversations/{cid}/messages", json={"text": "hi"})
    assert r.status_code == 403 and code(r) == "business_forbidden"


ACTIONS = {
    # action -> a call (owner's fixtures) and the status it gives when allowed
    "read": lambda u, cid, lid: u.get(f"{B}/shop/conversations/{cid}"),
    "reply": lambda u, cid, lid: u.post(
        f"{B}/shop/conversations/{cid}/messages", json={"text": "ok"}
    ),
    "note": lambda u, cid, lid: u.post(f"{B}/shop/conversations/{cid}/notes", json={"text": "n"}),
    "triage": lambda u, cid, lid: u.patch(
        f"{B}/shop/conversations/{cid}", json={"priority": "high"}
    ),
    "label": lambda u, cid, lid: u.put(f"{B}/shop/conversations/{cid}/labels/{lid}"),
    "manage_labels": lambda u, cid, lid: u.patch(
        f"{B}/shop/labels/{lid}", json={"color": "#00ff00"}
    ),
    "manage_team": lambda u, cid, lid: u.get(f"{B}/shop/members"),  # reading is open to all
    "audit": lambda u, cid, lid: u.get(f"{B}/shop/audit"),
}
ALLOWED = {
    "owner": set(ACTIONS),
    "admin": set(ACTIONS),
    "agent": {"read", "reply", "note", "triage", "label", "manage_team"},
    "viewer": {"read", "manage_team"},
    "former": set(),
    "expired": set(),
    "stranger": set(),
}


@pytest.mark.parametrize("who", list(ALLOWED))
async def test_role_by_action_matrix(api: Api, who: str) -> None:
    shop, admin, agent, viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "hello")
    label = (await shop.post(f"{B}/shop/labels", json={"name": "VIP", "color": "#ff0000"})).json()
    person: User
    if who == "owner":
        person = shop
    elif who in ("admin", "agent", "viewer"):
        person = {"admin": admin, "agent": agent, "viewer": viewer}[who]
    elif who == "former":
        person = agent
        assert (await shop.delete(f"{B}/shop/members/agnes")).status_code == 204
    elif who == "expired":
        person = await api.register("temp")
        soon = datetime.now(UTC) + timedelta(milliseconds=600)
        await add(shop, shop, person, "admin", expires_at=soon.isoformat())
        assert (await person.get(f"{B}/shop")).status_code == 200
        await asyncio.sleep(0.7)
    else:
        person = await api.register("stranger")
    for action, call in ACTIONS.items():
        r = await call(person, cid, label["id"])
        if action in ALLOWED[who]:
            assert r.status_code in (200, 201), (who, action, r.text)
        elif who in ("former", "expired", "stranger"):
            assert r.status_code == 404 and code(r) == "business_not_found", (who, action, r.text)
        else:
            assert r.status_code == 403 and code(r) == "business_forbidden", (who, action, r.text)


async def test_managing_the_team(api: Api) -> None:
    shop, admin, agent, viewer, _customer = await shop_with_team(api)
    other = await api.register("olga")
    # admins add and change everyone but owners, and make no owners
    await add(admin, shop, other, "agent")
    assert (await add(admin, shop, other, "viewer", expect=200))["role"] == "viewer"
    r = await admin.put(f"{B}/shop/members/olga", json={"role": "owner"})
    assert r.status_code == 403 and code(r) == "business_forbidden"
    await add(shop, shop, other, "owner", expect=200)
    r = await admin.delete(f"{B}/shop/members/olga")
    assert r.status_code == 403 and code(r) == "business_forbidden"
    # agents do not manage the team; anyone may leave it
    r = await agent.put(f"{B}/shop/members/vic", json={"role": "admin"})
    assert r.status_code == 403 and code(r) == "business_forbidden"
    assert (await viewer.delete(f"{B}/shop/members/vic")).status_code == 204
    assert (await viewer.get(f"{B}/shop")).status_code == 404
    # the business account stays its owner; a scope is for agents only
    r = await shop.put(f"{B}/shop/members/shop", json={"role": "agent"})
    assert r.status_code == 400 and code(r) == "invalid_request"
    r = await shop.put(f"{B}/shop/members/ada", json={"role": "admin", "scope": "assigned"})
    assert r.status_code == 400
    r = await shop.put(f"{B}/shop/members/nobody_at_all", json={"role": "agent"})
    assert r.status_code == 404 and code(r) == "user_not_found"
    r = await shop.delete(f"{B}/shop/members/vic")
    assert r.status_code == 404 and code(r) == "member_not_found"
    members = (await shop.get(f"{B}/shop/members")).json()["items"]
    assert [(m["user"]["handle"], m["role"]) for m in members] == [
        ("shop", "owner"),
        ("ada", "admin"),
        ("agnes", "agent"),
        ("olga", "owner"),
    ]
    # an owner can step down while another owner remains
    await add(other, shop, other, "admin", expect=200)
    r = await shop.get(f"{B}/shop/audit", params={"actor": "ada"})
    assert [e["action"] for e in r.json()["items"]] == ["member.changed", "member.added"]


async def test_agents_limited_to_their_assignments(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    narrow = await api.register("nora")
    await add(admin, shop, narrow, "agent", scope="assigned")
    other_customer = await api.register("dee")
    first = await customer.direct(shop)
    await customer.send(first, "first")
    second = await other_customer.direct(shop)
    await other_customer.send(second, "second")
    since = await token(narrow)
    assert (await inbox(narrow, shop))["items"] == []
    r = await narrow.get(f"{B}/shop/conversations/{first}")
    assert r.status_code == 404 and code(r) == "conversation_not_found"
    r = await admin.patch(f"{B}/shop/conversations/{first}", json={"assignee": "nora"})
    assert r.status_code == 200 and r.json()["assignee"]["handle"] == "nora"
    assert [i["conversation"]["id"] for i in (await inbox(narrow, shop))["items"]] == [first]
    await customer.send(first, "more on first")
    await other_customer.send(second, "more on second")
    got, _ = await events(narrow, since)
    texts = [e["data"]["message"]["text"] for e in got if e["type"] == "message.created"]
    assert "more on second" not in texts and "more on first" in texts
    assert [i["conversation"]["id"] for i in (await inbox(admin, shop))["items"]] == [second, first]
    # filters: mine, unassigned, and a bad assignee
    assert [
        i["conversation"]["id"] for i in (await inbox(narrow, shop, assignee="me"))["items"]
    ] == [first]
    assert [
        i["conversation"]["id"] for i in (await inbox(admin, shop, assignee="none"))["items"]
    ] == [second]
    r = await admin.patch(f"{B}/shop/conversations/{first}", json={"assignee": "vic"})
    assert r.status_code == 422 and code(r) == "invalid_assignee"
    r = await admin.patch(f"{B}/shop/conversations/{first}", json={"assignee": "cyd"})
    assert r.status_code == 422 and code(r) == "invalid_assignee"
    del agent


async def test_status_priority_labels_and_reopening(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "refund please")
    label = (
        await admin.post(f"{B}/shop/labels", json={"name": "Refund", "color": "#FF8800"})
    ).json()
    assert label["color"] == "#ff8800"
    r = await admin.post(f"{B}/shop/labels", json={"name": " refund ", "color": "#000000"})
    assert r.status_code == 409 and code(r) == "label_exists"
    r = await admin.post(f"{B}/shop/labels", json={"name": "x", "color": "red"})
    assert r.status_code == 400
    r = await agent.put(f"{B}/shop/conversations/{cid}/labels/{label['id']}")
    assert r.status_code == 200 and [x["name"] for x in r.json()["labels"]] == ["Refund"]
    assert (
        await agent.put(f"{B}/shop/conversations/{cid}/labels/{label['id']}")
    ).status_code == 200
    r = await agent.put(f"{B}/shop/conversations/{cid}/labels/l_nope")
    assert r.status_code == 404 and code(r) == "label_not_found"
    assert len((await inbox(agent, shop, label=label["id"]))["items"]) == 1
    # snoozing needs a future time; resolving clears it
    r = await agent.patch(f"{B}/shop/conversations/{cid}", json={"status": "snoozed"})
    assert r.status_code == 400
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    r = await agent.patch(
        f"{B}/shop/conversations/{cid}", json={"status": "snoozed", "snoozed_until": later}
    )
    assert r.status_code == 200 and r.json()["status"] == "snoozed" and r.json()["snoozed_until"]
    r = await agent.patch(
        f"{B}/shop/conversations/{cid}", json={"status": "resolved", "priority": "urgent"}
    )
    state = r.json()
    assert (state["status"], state["snoozed_until"], state["priority"]) == (
        "resolved",
        None,
        "urgent",
    )
    assert (await inbox(agent, shop, status="open"))["items"] == []
    r = await agent.patch(f"{B}/shop/conversations/{cid}", json={})
    assert r.status_code == 400
    # the customer writes again: it reopens, and the team is told why
    since = await token(agent)
    await customer.send(cid, "still waiting")
    got, _ = await events(agent, since)
    updates = [e["data"] for e in got if e["type"] == "business.conversation_updated"]
    assert [(u["reason"], u["by"], u["state"]["status"]) for u in updates] == [
        ("customer_replied", None, "open")
    ]
    assert updates[0]["state"] == (await inbox(agent, shop))["items"][0]["state"]
    assert [i["state"]["status"] for i in (await inbox(agent, shop))["items"]] == ["open"]
    # deleting a label takes it off conversations
    assert (await admin.delete(f"{B}/shop/labels/{label['id']}")).status_code == 204
    assert (await inbox(agent, shop))["items"][0]["state"]["labels"] == []


async def test_notes_stay_with_the_team_and_mentions_are_told(api: Api) -> None:
    shop, admin, agent, viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "my package is damaged")
    customer_since = await token(customer)
    admin_since = await token(admin)
    r = await agent.post(
        f"{B}/shop/conversations/{cid}/notes",
        json={"text": "Looks like a courier issue, @ada can you refund? cc @cyd @vic @nobody_x"},
    )
    assert r.status_code == 201, r.text
    note = r.json()
    # only teammates who can see the conversation count as mentioned (not the customer)
    assert note["mentions"] == [admin.id, viewer.id]
    got, _ = await events(admin, admin_since)
    assert [e["type"] for e in got] == ["business.note_added", "business.mentioned"]
    got, _ = await events(customer, customer_since)
    assert got == []
    detail = (await viewer.get(f"{B}/shop/conversations/{cid}")).json()
    assert [n["text"][:10] for n in detail["notes"]] == ["Looks like"]
    assert detail["state"]["customer"]["handle"] == "cyd"
    r = await viewer.post(f"{B}/shop/conversations/{cid}/notes", json={"text": "can I?"})
    assert r.status_code == 403
    r = await agent.post(f"{B}/shop/conversations/{cid}/notes", json={"text": "   "})
    assert r.status_code == 400


async def test_removal_ends_the_stream_and_every_read_is_audited(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    since = await token(agent)
    await customer.send(cid, "one")
    assert (await agent.get(f"{B}/shop/conversations/{cid}/messages")).status_code == 200
    assert (await admin.delete(f"{B}/shop/members/agnes")).status_code == 204
    await customer.send(cid, "two")
    got, _ = await events(agent, since)
    assert [e["type"] for e in got] == ["message.created", "business.team_updated"]
    assert got[1]["data"]["removed"] is True
    log = (await admin.get(f"{B}/shop/audit", params={"actor": "agnes"})).json()["items"]
    assert [(e["action"], e["conversation_id"]) for e in log] == [("messages.read", cid)]
    log = (await shop.get(f"{B}/shop/audit")).json()["items"]
    assert log[0]["action"] == "member.removed" and log[0]["detail"] == {"member": "agnes"}


async def test_two_businesses_talking_keep_their_teams_apart(api: Api) -> None:
    shop, _admin, agent, _viewer, _customer = await shop_with_team(api)
    supplier = await api.register("supplier")
    await become(supplier)
    both = await api.register("bob")
    await add(shop, shop, both, "agent")
    await add(supplier, supplier, both, "agent")
    cid = await shop.direct(supplier)
    since = await token(both)
    await supplier.send(cid, "your invoice")
    r = await agent.post(f"{B}/shop/conversations/{cid}/notes", json={"text": "shop-only note"})
    assert r.status_code == 201
    got, _ = await events(both, since)
    assert [e["type"] for e in got] == ["message.created", "business.note_added"]
    supplier_view = (await both.get(f"{B}/supplier/conversations/{cid}")).json()
    assert supplier_view["notes"] == []
    assert supplier_view["state"]["customer"]["handle"] == "shop"


async def test_the_fanout_audience_agrees_with_each_users_sync(api: Api) -> None:
    """The two SQL texts (one user's sync, everyone's fan-out audience) must give every
    user the same events, team branches included: scopes, removal, two businesses."""
    from backchannel.services import sync
    from backchannel.store import accounts as user_db
    from backchannel.store import events as event_db

    shop, admin, agent, viewer, customer = await shop_with_team(api)
    narrow = await api.register("nora")
    await add(shop, shop, narrow, "agent", scope="assigned")
    supplier = await api.register("supplier")
    await become(supplier)
    await add(supplier, supplier, agent, "agent")
    talk = await shop.direct(supplier)
    await supplier.send(talk, "invoice")
    cid = await customer.direct(shop)
    await customer.send(cid, "hi")
    await admin.patch(f"{B}/shop/conversations/{cid}", json={"assignee": "nora"})
    await agent.post(f"{B}/shop/conversations/{cid}/notes", json={"text": "@nora yours"})
    r = await narrow.post(f"{B}/shop/conversations/{cid}/messages", json={"text": "Hello!"})
    r = await customer.put(
        f"/api/v1/conversations/{cid}/messages/{r.json()['id']}/reactions", json={"emoji": "👍"}
    )
    assert r.status_code == 200, r.text
    await shop.delete(f"{B}/shop/members/vic")
    await customer.send(cid, "thanks")
    core = api.core

    def read(t: Any) -> tuple[dict[int, list[int]], dict[str, list[int]]]:
        upto = event_db.current_position(t.conn)
        batch = sync.fanout_slice(t.conn, 0, upto)
        per_user: dict[str, list[int]] = {}
        for user in (shop, admin, agent, viewer, customer, narrow, supplier):
            uid = int(user_db.user_by_handle(t.conn, user.handle)["id"])
            rows = event_db.events_for_user(
                t.conn, uid, since=0, upto=upto, limit=10**6, now=t.now_ms
            )
            per_user[user.handle] = [row[0] for row in rows]
            per_user[f"#{user.handle}"] = [uid]
        return batch.audience, per_user

    audience, per_user = await core.store.read("compare", read)
    for handle, positions in per_user.items():
        if handle.startswith("#"):
            continue
        uid = per_user[f"#{handle}"][0]
        from_audience = sorted(p for p, users in audience.items() for u in users if u == uid)
        assert from_audience == positions, handle
    # and the branches really carried something: the narrow agent got only their assignment
    assert per_user["nora"] and per_user["vic"] and len(per_user["agnes"]) > len(per_user["nora"])


async def test_every_business_conversation_route_hides_what_is_not_the_teams(api: Api) -> None:
    """A teammate naming a conversation outside the inbox (the business account's personal
    one, a group, one of another business) gets the same 404 as for a made-up id, and
    nothing is written (not even to the audit log)."""
    from backchannel.domain.ids import new_id
    from tests.test_authorization import db_snapshot

    shop, admin, _agent, _viewer, customer = await shop_with_team(api)
    label = (await admin.post(f"{B}/shop/labels", json={"name": "VIP"})).json()["id"]
    friend = await api.register("friend")
    routes = sorted(
        (method.upper(), path)
        for path, operations in api.app.openapi()["paths"].items()
        if path.startswith("/api/v1/businesses/") and "{conversation_id}" in path
        for method in operations
    )
    assert len(routes) == 9
    bodies = {
        "PATCH": {"json": {"priority": "high"}},
        "POST": {"json": {"text": "sneaky"}},
    }
    by_suffix = {
        "/read": {"json": {"up_to": new_id("m")}},
        "/presence": {"json": {"state": "viewing"}},
    }
    # conversations the team may not see: a group of the business, another business's
    group = await customer.group(shop, friend, title="a group with the shop")
    other = await api.register("otherbiz")
    await become(other)
    theirs = await customer.direct(other)
    failures = []
    for cid in (group, theirs):
        for method, template in routes:
            values = {"handle": "shop", "conversation_id": cid, "label_id": label}
            path = template.format(**values)
            missing = template.format(**{**values, "conversation_id": new_id("c")})
            before = await db_snapshot(api)
            suffix = "/" + path.rsplit("/", 1)[1]
            body = by_suffix.get(suffix, bodies.get(method, {}))
            r = await admin.request(method, path, **body)
            after = await db_snapshot(api)
            r2 = await admin.request(method, missing, **body)
            if r.status_code != 404 or code(r) != "conversation_not_found":
                failures.append(f"{method} {template} {cid}: {r.status_code} {r.text}")
            elif r.json() != r2.json():
                failures.append(f"{method} {template}: {r.text} differs from {r2.text}")
            if before != after:
                failures.append(f"{method} {template}: the database changed")
    assert failures == []


async def test_teams_within_the_team_scope_agents(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    tess = await api.register("tess")
    await add(admin, shop, tess, "agent", scope="team")
    r = await admin.post(f"{B}/shop/teams", json={"name": " Returns "})
    assert r.status_code == 201, r.text
    returns = r.json()
    assert returns["name"] == "Returns" and returns["members"] == []
    r = await admin.post(f"{B}/shop/teams", json={"name": "Returns"})
    assert r.status_code == 409 and code(r) == "team_exists"
    r = await agent.post(f"{B}/shop/teams", json={"name": "Mine"})
    assert r.status_code == 403 and code(r) == "business_forbidden"
    r = await admin.put(f"{B}/shop/teams/{returns['id']}/members/tess")
    assert [m["handle"] for m in r.json()["members"]] == ["tess"]
    r = await admin.put(f"{B}/shop/teams/{returns['id']}/members/cyd")
    assert r.status_code == 404 and code(r) == "member_not_found"
    cid = await customer.direct(shop)
    await customer.send(cid, "I want to return this")
    assert (await inbox(tess, shop))["items"] == []
    r = await agent.patch(f"{B}/shop/conversations/{cid}", json={"team": returns["id"]})
    assert r.status_code == 200 and r.json()["team"] == {"id": returns["id"], "name": "Returns"}
    assert [i["conversation"]["id"] for i in (await inbox(tess, shop))["items"]] == [cid]
    r = await agent.patch(f"{B}/shop/conversations/{cid}", json={"team": "t_nope"})
    assert r.status_code == 404 and code(r) == "team_not_found"
    # leaving the business leaves its teams; deleting a team unassigns its conversations
    assert (await admin.delete(f"{B}/shop/members/tess")).status_code == 204
    teams = (await admin.get(f"{B}/shop/teams")).json()["items"]
    assert teams == [{"id": returns["id"], "name": "Returns", "members": []}]
    assert (await admin.delete(f"{B}/shop/teams/{returns['id']}")).status_code == 204
    assert (await inbox(admin, shop))["items"][0]["state"]["team"] is None


async def test_saved_replies_are_checked_when_saved_and_filled_when_used(api: Api) -> None:
    shop, admin, agent, viewer, customer = await shop_with_team(api)
    r = await shop.patch("/api/v1/me", json={"display_name": "Shop & Co"})
    assert r.status_code == 200, r.text
    r = await agent.patch("/api/v1/me", json={"display_name": "Agnes Varda"})
    assert r.status_code == 200, r.text
    r = await customer.patch("/api/v1/me", json={"display_name": "Cyd Charisse"})
    assert r.status_code == 200, r.text
    cid = await customer.direct(shop)
    await customer.send(cid, "hello")
    text = (
        "Hi {{customer.first_name|there}}, {{agent.first_name}} from {{ business.name }} here."
        " Your plan: {{customer.attributes.plan|none}}. {{customer.handle}}"
    )
    r = await admin.post(
        f"{B}/shop/saved-replies", json={"shortcut": "/Hello", "title": "Greeting", "text": text}
    )
    assert r.status_code == 201, r.text
    saved = r.json()
    assert saved["shortcut"] == "hello"
    assert saved["variables"] == [
        "customer.first_name",
        "agent.first_name",
        "business.name",
        "customer.attributes.plan",
        "customer.handle",
    ]
    for bad in ("Hi {{agent.nme}}", "Hi {{customer.first_name", "   "):
        r = await admin.post(
            f"{B}/shop/saved-replies", json={"shortcut": "x", "title": "x", "text": bad}
        )
        assert r.status_code in (400, 422), (bad, r.text)
    r = await admin.post(
        f"{B}/shop/saved-replies", json={"shortcut": "x", "title": "x", "text": "{{agent.nme}}"}
    )
    assert code(r) == "invalid_template" and r.json()["error"]["details"]["unknown"] == [
        "agent.nme"
    ]
    r = await admin.post(
        f"{B}/shop/saved-replies", json={"shortcut": "hello", "title": "t", "text": "t"}
    )
    assert r.status_code == 409 and code(r) == "shortcut_taken"
    r = await agent.post(
        f"{B}/shop/saved-replies", json={"shortcut": "mine", "title": "t", "text": "t"}
    )
    assert r.status_code == 403
    render = f"{B}/shop/saved-replies/{saved['id']}/render"
    r = await agent.post(render, json={"conversation_id": cid})
    assert r.json()["text"] == "Hi Cyd, Agnes from Shop & Co here. Your plan: none. cyd"
    # the business's own name for the customer, and their attributes, win
    r = await agent.patch(
        f"{B}/shop/contacts/cyd", json={"name": "Dr. Charisse", "attributes": {"plan": "gold"}}
    )
    assert r.status_code == 200, r.text
    r = await agent.post(render, json={"conversation_id": cid})
    assert r.json()["text"] == "Hi Dr., Agnes from Shop & Co here. Your plan: gold. cyd"
    # a value is text: braces in it are not expanded again
    r = await agent.patch(f"{B}/shop/contacts/cyd", json={"attributes": {"plan": "{{agent.name}}"}})
    r = await agent.post(render, json={"conversation_id": cid})
    assert "Your plan: {{agent.name}}." in r.json()["text"]
    # viewers do not reply, so do not render; editing keeps what is not given
    assert (await viewer.post(render, json={"conversation_id": cid})).status_code == 403
    r = await admin.patch(f"{B}/shop/saved-replies/{saved['id']}", json={"title": "Hello!"})
    assert r.json()["title"] == "Hello!" and r.json()["text"] == text
    assert [
        x["shortcut"] for x in (await viewer.get(f"{B}/shop/saved-replies")).json()["items"]
    ] == ["hello"]
    assert (await admin.delete(f"{B}/shop/saved-replies/{saved['id']}")).status_code == 204
    r = await agent.post(render, json={"conversation_id": cid})
    assert r.status_code == 404 and code(r) == "saved_reply_not_found"


async def test_contact_profiles(api: Api) -> None:
    shop, _admin, agent, viewer, customer = await shop_with_team(api)
    stranger = await api.register("stranger")
    cid = await customer.direct(shop)
    await customer.send(cid, "hi")
    r = await viewer.get(f"{B}/shop/contacts/cyd")
    assert r.status_code == 200, r.text
    contact = r.json()
    assert contact["customer"]["handle"] == "cyd" and contact["attributes"] == {}
    assert [c["conversation_id"] for c in contact["conversations"]] == [cid]
    r = await agent.patch(
        f"{B}/shop/contacts/cyd",
        json={"notes": "Prefers email", "attributes": {"plan": "gold", "city": "Oslo"}},
    )
    assert r.json()["notes"] == "Prefers email" and r.json()["attributes"] == {
        "plan": "gold",
        "city": "Oslo",
    }
    r = await agent.patch(f"{B}/shop/contacts/cyd", json={"attributes": {"city": None}})
    assert r.json()["attributes"] == {"plan": "gold"} and r.json()["notes"] == "Prefers email"
    r = await agent.patch(f"{B}/shop/contacts/cyd", json={"attributes": {"Bad Key": "x"}})
    assert r.status_code == 422 and code(r) == "invalid_attributes"
    # only the business's customers have a contact; viewers do not edit
    r = await agent.get(f"{B}/shop/contacts/stranger")
    assert r.status_code == 404 and code(r) == "user_not_found"
    r = await viewer.patch(f"{B}/shop/contacts/cyd", json={"notes": "x"})
    assert r.status_code == 403
    # to an agent narrowed to their own conversations, a customer they do not serve does
    # not exist; once assigned to them, the contact is there
    nora = await api.register("nora")
    await add(shop, shop, nora, "agent", scope="assigned")
    for method, body in (("GET", None), ("PATCH", {"notes": "peek"})):
        r = await nora.request(method, f"{B}/shop/contacts/cyd", json=body)
        assert r.status_code == 404 and code(r) == "user_not_found", r.text
    await shop.patch(f"{B}/shop/conversations/{cid}", json={"assignee": "nora"})
    r = await nora.get(f"{B}/shop/contacts/cyd")
    assert r.status_code == 200 and [c["conversation_id"] for c in r.json()["conversations"]] == [
        cid
    ]
    del stranger


async def test_the_team_marks_read_and_sees_new_conversations_and_writers(api: Api) -> None:
    shop, admin, agent, viewer, customer = await shop_with_team(api)
    since = await token(admin)
    cid = await customer.direct(shop)
    first = await customer.send(cid, "anyone there?")
    got, since = await events(admin, since)
    new = [e["data"] for e in got if e["type"] == "business.conversation_updated"]
    assert [(d["reason"], d["state"]["conversation_id"]) for d in new] == [("new", cid)]
    item = (await inbox(agent, shop))["items"][0]
    assert item["conversation"]["unread_count"] == 1
    # a viewer may not mark read (the customer would see "Seen" from the business)
    r = await viewer.post(f"{B}/shop/conversations/{cid}/read", json={"up_to": first["id"]})
    assert r.status_code == 403
    r = await agent.post(f"{B}/shop/conversations/{cid}/read", json={"up_to": first["id"]})
    assert r.status_code == 200 and r.json()["read_position"] == first["position"]
    got, since = await events(admin, since)
    # the business's receipt (the team sees the conversation as the business does), and who
    assert [e["type"] for e in got] == ["receipt.updated", "business.read_updated"]
    assert got[1]["data"]["by"]["handle"] == "agnes"
    assert (await inbox(agent, shop))["items"][0]["conversation"]["unread_count"] == 0
    assert (await inbox(agent, shop, unread="true"))["items"] == []
    # the customer sees "Seen" from the business
    detail = (await customer.get(f"/api/v1/conversations/{cid}")).json()
    assert detail["read_positions"].get("shop") == first["position"]
    # the inbox names the teammate who wrote the last message
    await agent.post(f"{B}/shop/conversations/{cid}/messages", json={"text": "Yes!"})
    last = (await inbox(admin, shop))["items"][0]["conversation"]["last_message"]
    assert last["text"] == "Yes!" and last["agent"]["handle"] == "agnes"


async def test_business_hours_welcome_and_away_messages(api: Api) -> None:
    shop, admin, agent, viewer, customer = await shop_with_team(api)
    r = await viewer.patch(f"{B}/shop/settings", json={"welcome_message": "hi"})
    assert r.status_code == 403
    r = await admin.patch(f"{B}/shop/settings", json={"hours": {"week": {"mon": [["9:00", "5"]]}}})
    assert r.status_code == 400 and code(r) == "invalid_request"
    # open now: every day, all day; a welcome on the first message only
    always = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    r = await admin.patch(
        f"{B}/shop/settings",
        json={
            "timezone": "Pacific/Auckland",
            "hours": {"week": always},
            "welcome_message": "Welcome to Shop! We answer within a day.",
            "away_message": "We're closed now; we'll answer when we open.",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["open_now"] is True and r.json()["timezone"] == "Pacific/Auckland"
    cid = await customer.direct(shop)
    admin_since = await token(admin)
    await customer.send(cid, "hello")
    await customer.send(cid, "anyone?")
    texts = [
        m["text"]
        for m in (await customer.get(f"/api/v1/conversations/{cid}/messages")).json()["items"]
    ]
    assert texts == ["hello", "Welcome to Shop! We answer within a day.", "anyone?"]
    team = (await admin.get(f"{B}/shop/conversations/{cid}/messages")).json()["items"]
    assert [(m["automation"], m["agent"]) for m in team] == [
        (None, None),
        ("welcome", None),
        (None, None),
    ]
    got, _ = await events(admin, admin_since)
    sent = [e["data"] for e in got if e["type"] == "business.message_sent"]
    assert sent == [
        {
            "conversation_id": cid,
            "message_id": team[1]["id"],
            "agent": None,
            "automation": "welcome",
        }
    ]
    # the automatic answer does not end the customer's wait
    state = (await inbox(agent, shop))["items"][0]["state"]
    assert state["waiting_since"] is not None
    # closed (no hours on any day): the away message, once for this closure
    r = await admin.patch(f"{B}/shop/settings", json={"hours": {"week": {}, "holidays": []}})
    assert r.json()["open_now"] is False and r.json()["next_open"] is None
    await customer.send(cid, "are you there?")
    await customer.send(cid, "hello??")
    texts = [
        m["text"]
        for m in (await customer.get(f"/api/v1/conversations/{cid}/messages")).json()["items"]
    ]
    assert texts[-3:] == [
        "are you there?",
        "We're closed now; we'll answer when we open.",
        "hello??",
    ]
    # always open again (hours null): no away message
    r = await admin.patch(f"{B}/shop/settings", json={"hours": None})
    assert r.json()["open_now"] is True and r.json()["hours"] is None
    await customer.send(cid, "ok")
    texts = [
        m["text"]
        for m in (await customer.get(f"/api/v1/conversations/{cid}/messages")).json()["items"]
    ]
    assert texts[-1] == "ok"
    # a request to the business gets no automatic answer (it would accept it)
    r = await shop.patch(
        "/api/v1/me/settings", json={"dm_inbox": "following", "dm_requests": "everyone"}
    )
    assert r.status_code == 200, r.text
    stranger = await api.register("stranger")
    cid2 = await stranger.direct(shop)
    await stranger.send(cid2, "hi shop")
    texts = [
        m["text"]
        for m in (await stranger.get(f"/api/v1/conversations/{cid2}/messages")).json()["items"]
    ]
    assert texts == ["hi shop"]
    settings = (await viewer.get(f"{B}/shop/settings")).json()
    assert settings["welcome_message"].startswith("Welcome") and settings["open_now"] is True
