"""Automation rules and round-robin assignment through the API: each trigger, condition and
action, checking rules when saved, dry-runs that write nothing, the loop guard, the run log,
round-robin's fairness and capacity, and who may do what."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backchannel.config import Settings
from backchannel.services.core import Core
from tests.conftest import Api, Clock, User, make_settings
from tests.test_business import B, add, become, code, events, shop_with_team, token
from tests.test_webhooks import Receiver


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # A webhook receiver on 127.0.0.1, for the webhook action.
    return make_settings(
        tmp_path,
        database_url,
        webhook_allow_http=True,
        webhook_allowed_networks=["127.0.0.1/32"],
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


async def run_jobs(core: Core) -> None:
    assert core.jobs is not None
    await core.jobs.run_due()
    await core.jobs.drain()


async def create_rule(user: User, shop: User, expect: int = 201, **body: Any) -> Any:
    r = await user.post(f"{B}/{shop.handle}/rules", json=body)
    assert r.status_code == expect, r.text
    return r.json()


async def label(shop: User, name: str) -> str:
    r = await shop.post(f"{B}/{shop.handle}/labels", json={"name": name, "color": "#ff0000"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def saved_reply(shop: User, shortcut: str, text: str) -> str:
    r = await shop.post(
        f"{B}/{shop.handle}/saved-replies", json={"shortcut": shortcut, "title": "t", "text": text}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def state(user: User, shop: User, cid: str) -> dict[str, Any]:
    r = await user.get(f"{B}/{shop.handle}/conversations/{cid}")
    assert r.status_code == 200, r.text
    return dict(r.json()["state"])


async def runs(user: User, shop: User, rule_id: str) -> list[dict[str, Any]]:
    r = await user.get(f"{B}/{shop.handle}/rules/{rule_id}/runs")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def texts(user: User, cid: str) -> list[tuple[str, str]]:
    r = await user.get(f"/api/v1/conversations/{cid}/messages")
    assert r.status_code == 200, r.text
    return [(m["sender"]["handle"], m["text"]) for m in r.json()["items"]]


PRIORITY_HIGH = {"type": "priority", "priority": "high"}


# --- managing rules -----------------------------------------------------------------------


async def test_owners_and_admins_manage_rules_others_may_not(api: Api) -> None:
    shop, admin, agent, viewer, _customer = await shop_with_team(api)
    rule = await create_rule(
        admin,
        shop,
        name="Urgent words",
        trigger={"type": "message_received"},
        conditions=[{"type": "keywords", "words": ["urgent"]}],
        actions=[PRIORITY_HIGH],
    )
    assert rule["id"].startswith("ru_") and rule["enabled"] is True and rule["position"] == 0
    assert rule["conditions"] == [{"type": "keywords", "words": ["urgent"], "match": "any"}]
    second = await create_rule(
        shop, shop, name="Second", trigger={"type": "conversation_created"}, actions=[PRIORITY_HIGH]
    )
    assert second["position"] == 1
    listed = (await shop.get(f"{B}/shop/rules")).json()["items"]
    assert [r["name"] for r in listed] == ["Urgent words", "Second"]
    r = await admin.patch(f"{B}/shop/rules/{second['id']}", json={"position": 0, "enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False, r.text
    listed = (await shop.get(f"{B}/shop/rules")).json()["items"]
    assert [r["name"] for r in listed] == ["Second", "Urgent words"]
    r = await admin.patch(f"{B}/shop/rules/{rule['id']}", json={"name": "Renamed"})
    assert r.json()["name"] == "Renamed" and r.json()["conditions"] == rule["conditions"]
    # agents and viewers may not; strangers see no business; unknown rules are not found
    stranger = await api.register("stranger")
    for user, status, error in (
        (agent, 403, "business_forbidden"),
        (viewer, 403, "business_forbidden"),
        (stranger, 404, "business_not_found"),
    ):
        for method, path, body in (
            ("GET", "/rules", None),
            ("POST", "/rules", {"name": "x", "actions": [PRIORITY_HIGH]}),
            ("PATCH", f"/rules/{rule['id']}", {"name": "x"}),
            ("DELETE", f"/rules/{rule['id']}", None),
            ("GET", f"/rules/{rule['id']}/runs", None),
            ("POST", f"/rules/{rule['id']}/dry-run", {"text": "x"}),
            ("PATCH", "/assignment", {"mode": "round_robin"}),
        ):
            r = await user.request(method, f"{B}/shop{path}", json=body)
            assert (r.status_code, code(r)) == (status, error), (user.handle, method, path)
    for method in ("PATCH", "DELETE"):
        r = await shop.request(method, f"{B}/shop/rules/ru_nothing", json={"name": "x"})
        assert (r.status_code, code(r)) == (404, "rule_not_found")
    r = await shop.delete(f"{B}/shop/rules/{rule['id']}")
    assert r.status_code == 204
    assert [r["name"] for r in (await shop.get(f"{B}/shop/rules")).json()["items"]] == ["Second"]
    audit = (await shop.get(f"{B}/shop/audit")).json()["items"]
    assert {"rule.created", "rule.updated", "rule.deleted"} <= {a["action"] for a in audit}


async def test_rules_are_checked_when_saved(api: Api) -> None:
    shop, _admin, _agent, viewer, _customer = await shop_with_team(api)
    r = await shop.post(
        f"{B}/shop/rules",
        json={
            "name": "Bad",
            "trigger": {"type": "when_the_moon_is_full"},
            "conditions": [{"type": "regex", "pattern": "(("}],
            "actions": [{"type": "snooze", "minutes": -5}],
        },
    )
    assert (r.status_code, code(r)) == (422, "invalid_rule")
    errors = r.json()["error"]["details"]["errors"]
    assert [e["path"] for e in errors] == [
        "trigger.type",
        "conditions[0].pattern",
        "actions[0].minutes",
    ]
    # what it names must exist in this business: labels, saved replies, teammates who reply
    elsewhere = await api.register("elsewhere")
    await become(elsewhere)
    foreign = await label(elsewhere, "Theirs")
    r = await shop.post(
        f"{B}/shop/rules",
        json={
            "name": "Names",
            "trigger": {"type": "message_received"},
            "conditions": [{"type": "label", "label_id": foreign}],
            "actions": [
                {"type": "reply", "saved_reply_id": "r_missing"},
                {"type": "assign", "to": viewer.handle},
                {"type": "label", "label_id": "l_missing"},
            ],
        },
    )
    assert (r.status_code, code(r)) == (422, "invalid_rule")
    assert [e["path"] for e in r.json()["error"]["details"]["errors"]] == [
        "conditions[0].label_id",
        "actions[0].saved_reply_id",
        "actions[1].to",
        "actions[2].label_id",
    ]
    # a change is checked as a whole rule too; nothing is half-saved
    ok = await create_rule(
        shop, shop, name="Ok", trigger={"type": "idle", "minutes": 5}, actions=[PRIORITY_HIGH]
    )
    r = await shop.patch(
        f"{B}/shop/rules/{ok['id']}", json={"name": "Changed", "trigger": {"type": "idle"}}
    )
    assert (r.status_code, code(r)) == (422, "invalid_rule")
    assert (await shop.get(f"{B}/shop/rules")).json()["items"][0]["name"] == "Ok"


# --- triggers and actions -----------------------------------------------------------------


async def test_a_message_rule_replies_labels_and_sets_priority(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    refunds = await label(shop, "Refunds")
    reply = await saved_reply(
        shop, "refund", "Hi {{customer.first_name|there}}, {{business.name}} will refund you."
    )
    rule = await create_rule(
        shop,
        shop,
        name="Refunds",
        trigger={"type": "message_received"},
        conditions=[{"type": "keywords", "words": ["refund", "money back"]}],
        actions=[
            {"type": "reply", "saved_reply_id": reply},
            {"type": "label", "label_id": refunds},
            PRIORITY_HIGH,
        ],
    )
    cid = await customer.direct(shop)
    await customer.send(cid, "Hello there")
    assert (await state(agent, shop, cid))["priority"] == "none"
    since = await token(admin)
    await customer.send(cid, "I want my money  back!")
    got = await state(agent, shop, cid)
    assert got["priority"] == "high" and [x["name"] for x in got["labels"]] == ["Refunds"]
    assert got["waiting_since"] is not None  # an automation does not answer for the team
    assert (await texts(customer, cid))[-1] == ("shop", "Hi cyd, shop will refund you.")
    team_view = (await agent.get(f"{B}/shop/conversations/{cid}/messages")).json()["items"]
    assert (team_view[-1]["automation"], team_view[-1]["agent"]) == ("rule", None)
    seen, _ = await events(admin, since)
    updates = [e["data"] for e in seen if e["type"] == "business.conversation_updated"]
    assert updates[-1]["reason"] == "rule" and updates[-1]["state"]["priority"] == "high"
    logged = await runs(shop, shop, rule["id"])
    assert len(logged) == 1 and logged[0]["conversation_id"] == cid
    assert logged[0]["trigger"] == "message_received"
    assert [(a["type"], a["done"]) for a in logged[0]["actions"]] == [
        ("reply", True),
        ("label", True),
        ("priority", True),
    ]


async def test_a_new_conversation_rule_assigns_and_labels(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    new = await label(shop, "New")
    await create_rule(
        shop,
        shop,
        name="Welcome desk",
        trigger={"type": "conversation_created"},
        actions=[{"type": "assign", "to": agent.handle}, {"type": "label", "label_id": new}],
    )
    cid = await customer.direct(shop)
    got = await state(admin, shop, cid)
    assert got["assignee"]["handle"] == agent.handle and [x["id"] for x in got["labels"]] == [new]


async def test_status_rules_run_and_cannot_loop(api: Api) -> None:
    shop, _admin, agent, _viewer, customer = await shop_with_team(api)
    resolver = await create_rule(
        shop,
        shop,
        name="Pending means resolved",
        trigger={"type": "status_changed"},
        actions=[{"type": "resolve"}],
    )
    snoozer = await create_rule(
        shop,
        shop,
        name="Resolved means snoozed",
        trigger={"type": "status_changed", "to": "resolved"},
        actions=[{"type": "snooze", "minutes": 60}],
    )
    cid = await customer.direct(shop)
    await customer.send(cid, "hi")
    r = await agent.patch(f"{B}/shop/conversations/{cid}", json={"status": "pending"})
    assert r.status_code == 200, r.text
    # pending → (rule) resolved → (rule) snoozed, and no further: without the guard each
    # rule's change would trigger the other forever
    got = await state(agent, shop, cid)
    assert got["status"] == "snoozed" and got["snoozed_until"] is not None
    assert len(await runs(shop, shop, resolver["id"])) == 1
    assert [x["trigger"] for x in await runs(shop, shop, snoozer["id"])] == ["status_changed"]


async def test_idle_rules_act_when_the_customer_still_waits(
    api: Api, core: Core, clock: Clock
) -> None:
    shop, _admin, agent, _viewer, customer = await shop_with_team(api)
    rule = await create_rule(
        shop,
        shop,
        name="Half an hour",
        trigger={"type": "idle", "minutes": 30},
        actions=[{"type": "priority", "priority": "urgent"}, {"type": "webhook"}],
    )
    tag = await label(shop, "Slow")
    dropped = await create_rule(
        shop,
        shop,
        name="Turned off before its time",
        trigger={"type": "idle", "minutes": 10},
        actions=[{"type": "label", "label_id": tag}],
    )
    waiting = await customer.direct(shop)
    await customer.send(waiting, "anyone?")
    r = await shop.patch(f"{B}/shop/rules/{dropped['id']}", json={"enabled": False})
    assert r.status_code == 200, r.text
    other = await api.register("otto")
    answered = await other.direct(shop)
    await other.send(answered, "hello?")
    await agent.post(f"{B}/shop/conversations/{answered}/messages", json={"text": "Hi!"})
    clock.advance(29 * 60)
    await customer.send(waiting, "still here")  # the wait runs from the first message
    await run_jobs(core)
    assert (await state(agent, shop, waiting))["priority"] == "none"
    clock.advance(2 * 60)
    await run_jobs(core)
    got = await state(agent, shop, waiting)
    assert got["priority"] == "urgent" and got["labels"] == []  # the disabled rule did not act
    assert (await state(agent, shop, answered))["priority"] == "none"
    logged = await runs(shop, shop, rule["id"])
    assert [(x["conversation_id"], x["trigger"]) for x in logged] == [(waiting, "idle")]
    assert [a["type"] for a in logged[0]["actions"]] == ["priority", "webhook"]
    # a later wait counts again from its own start
    await agent.post(f"{B}/shop/conversations/{waiting}/messages", json={"text": "Sorry!"})
    await customer.send(waiting, "thanks, one more thing")
    clock.advance(31 * 60)
    await run_jobs(core)
    assert len(await runs(shop, shop, rule["id"])) == 2


async def test_conditions_on_labels_attributes_hours_and_first_message(api: Api) -> None:
    shop, _admin, agent, _viewer, customer = await shop_with_team(api)
    vip = await label(shop, "VIP")
    await create_rule(
        shop,
        shop,
        name="Gold first",
        trigger={"type": "message_received"},
        conditions=[
            {"type": "attribute", "name": "plan", "op": "equals", "value": "gold"},
            {"type": "label", "label_id": vip, "has": False},
            {"type": "regex", "pattern": r"order\s+\d+"},
        ],
        actions=[{"type": "label", "label_id": vip}, PRIORITY_HIGH],
    )
    cid = await customer.direct(shop)
    await customer.send(cid, "order 12")  # no attribute yet
    assert (await state(agent, shop, cid))["labels"] == []
    r = await agent.patch(
        f"{B}/shop/contacts/{customer.handle}", json={"attributes": {"plan": "Gold"}}
    )
    assert r.status_code == 200, r.text
    await customer.send(cid, "where is order 12")
    got = await state(agent, shop, cid)
    assert [x["name"] for x in got["labels"]] == ["VIP"] and got["priority"] == "high"
    await agent.patch(f"{B}/shop/conversations/{cid}", json={"priority": "low"})
    await customer.send(cid, "order 12 again")  # has the label now: the rule holds no more
    assert (await state(agent, shop, cid))["priority"] == "low"
    # business hours and first message, live: closed all week
    r = await shop.patch(f"{B}/shop/settings", json={"hours": {"week": {}, "holidays": []}})
    assert r.status_code == 200 and r.json()["open_now"] is False, r.text
    await create_rule(
        shop,
        shop,
        name="Closed hello",
        trigger={"type": "message_received"},
        conditions=[{"type": "business_hours", "is": "closed"}, {"type": "first_message"}],
        actions=[{"type": "priority", "priority": "urgent"}],
    )
    other = await api.register("otto")
    second = await other.direct(shop)
    await other.send(second, "first")
    assert (await state(agent, shop, second))["priority"] == "urgent"
    await agent.patch(f"{B}/shop/conversations/{second}", json={"priority": "none"})
    await other.send(second, "second")
    assert (await state(agent, shop, second))["priority"] == "none"


async def test_a_stop_rule_ends_the_round(api: Api) -> None:
    shop, _admin, agent, _viewer, customer = await shop_with_team(api)
    first = await create_rule(
        shop,
        shop,
        name="First",
        trigger={"type": "message_received"},
        stop=True,
        actions=[PRIORITY_HIGH],
    )
    later = await create_rule(
        shop,
        shop,
        name="Later",
        trigger={"type": "message_received"},
        actions=[{"type": "resolve"}],
    )
    cid = await customer.direct(shop)
    await customer.send(cid, "hi")
    got = await state(agent, shop, cid)
    assert (got["priority"], got["status"]) == ("high", "open")
    assert len(await runs(shop, shop, first["id"])) == 1
    assert await runs(shop, shop, later["id"]) == []


async def test_the_webhook_action_calls_the_business_webhooks(
    api: Api, core: Core, receiver: Receiver
) -> None:
    shop, admin, _agent, _viewer, customer = await shop_with_team(api)
    r = await admin.post(
        f"{B}/shop/webhooks", json={"url": receiver.url, "events": ["rule.webhook"]}
    )
    assert r.status_code == 201, r.text
    rule = await create_rule(
        shop,
        shop,
        name="Call back",
        trigger={"type": "message_received"},
        conditions=[{"type": "keywords", "words": ["call me"]}],
        actions=[{"type": "webhook"}],
    )
    cid = await customer.direct(shop)
    await customer.send(cid, "hello")
    await customer.send(cid, "please CALL me back")
    await run_jobs(core)
    bodies = [json.loads(req["body"]) for req in receiver.requests]
    assert [(b["type"], b["data"]) for b in bodies] == [
        (
            "rule.webhook",
            {
                "rule": {"id": rule["id"], "name": "Call back"},
                "trigger": "message_received",
                "conversation_id": cid,
            },
        )
    ]


async def test_actions_whose_objects_are_gone_do_nothing_and_say_so(api: Api) -> None:
    shop, _admin, agent, _viewer, customer = await shop_with_team(api)
    gone_label = await label(shop, "Temporary")
    gone_reply = await saved_reply(shop, "temp", "Hello")
    rule = await create_rule(
        shop,
        shop,
        name="Stale",
        trigger={"type": "message_received"},
        actions=[
            {"type": "reply", "saved_reply_id": gone_reply},
            {"type": "label", "label_id": gone_label},
            {"type": "assign", "to": agent.handle},
            PRIORITY_HIGH,
        ],
    )
    await shop.delete(f"{B}/shop/labels/{gone_label}")
    await shop.delete(f"{B}/shop/saved-replies/{gone_reply}")
    await shop.delete(f"{B}/shop/members/{agent.handle}")
    cid = await customer.direct(shop)
    await customer.send(cid, "hi")
    got = await state(shop, shop, cid)
    assert (got["priority"], got["labels"], got["assignee"]) == ("high", [], None)
    assert await texts(customer, cid) == [("cyd", "hi")]
    (logged,) = await runs(shop, shop, rule["id"])
    assert [(a["type"], a["done"]) for a in logged["actions"]] == [
        ("reply", False),
        ("label", False),
        ("assign", False),
        ("priority", True),
    ]
    assert logged["actions"][0]["detail"] == "the saved reply was deleted"


# --- dry-runs -----------------------------------------------------------------------------


async def test_a_dry_run_says_why_and_writes_nothing(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    vip = await label(shop, "VIP")
    reply = await saved_reply(shop, "hi", "Hello!")
    rule = await create_rule(
        shop,
        shop,
        name="VIP refunds",
        trigger={"type": "message_received"},
        conditions=[
            {"type": "keywords", "words": ["refund"]},
            {"type": "label", "label_id": vip},
        ],
        actions=[{"type": "reply", "saved_reply_id": reply}, {"type": "resolve"}],
    )
    cid = await customer.direct(shop)
    await customer.send(cid, "hello")
    await agent.put(f"{B}/shop/conversations/{cid}/labels/{vip}")
    before = (await state(agent, shop, cid), await texts(customer, cid))
    audit_before = (await shop.get(f"{B}/shop/audit")).json()["items"]
    r = await admin.post(
        f"{B}/shop/rules/{rule['id']}/dry-run",
        json={"text": "A refund please", "conversation_id": cid},
    )
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["matched"] is True
    assert [(c["type"], c["matched"], c["reason"]) for c in result["conditions"]] == [
        ("keywords", True, "found: refund"),
        ("label", True, "has the label"),
    ]
    assert [a["type"] for a in result["actions"]] == ["reply", "resolve"]
    r = await admin.post(f"{B}/shop/rules/{rule['id']}/dry-run", json={"text": "A refund please"})
    result = r.json()
    assert result["matched"] is False and result["actions"] == []
    assert result["conditions"][1] == {
        "index": 1,
        "type": "label",
        "matched": False,
        "reason": "does not have the label",
    }
    # an unsaved rule, checked like one being saved
    r = await admin.post(
        f"{B}/shop/rules/dry-run",
        json={
            "rule": {
                "name": "Draft",
                "trigger": {"type": "message_received"},
                "conditions": [{"type": "regex", "pattern": r"\border\s+\d+"}],
                "actions": [PRIORITY_HIGH],
            },
            "text": "my order 42",
        },
    )
    assert r.status_code == 200 and r.json()["matched"] is True, r.text
    r = await admin.post(
        f"{B}/shop/rules/dry-run",
        json={"rule": {"name": "Draft", "trigger": {}, "actions": []}, "text": "x"},
    )
    assert (r.status_code, code(r)) == (422, "invalid_rule")
    # nothing was sent, changed or logged; the one read of the conversation was audited
    audit_after = (await shop.get(f"{B}/shop/audit")).json()["items"]
    added = audit_after[: len(audit_after) - len(audit_before)]
    assert audit_after[len(added) :] == audit_before
    assert [(e["action"], e["conversation_id"], e["actor"]["handle"]) for e in added] == [
        ("rule.dry_run", cid, admin.handle)
    ]
    assert (await state(agent, shop, cid), await texts(customer, cid)) == before
    assert await runs(shop, shop, rule["id"]) == []
    r = await admin.post(
        f"{B}/shop/rules/{rule['id']}/dry-run", json={"text": "x", "conversation_id": "c_nope"}
    )
    assert (r.status_code, code(r)) == (404, "conversation_not_found")


# --- round-robin --------------------------------------------------------------------------


async def assignment(user: User, shop: User, expect: int = 200, **body: Any) -> Any:
    if body:
        r = await user.patch(f"{B}/{shop.handle}/assignment", json=body)
    else:
        r = await user.get(f"{B}/{shop.handle}/assignment")
    assert r.status_code == expect, r.text
    return r.json()


async def available(user: User, shop: User, on: bool = True, expect: int = 200) -> Any:
    r = await user.put(f"{B}/{shop.handle}/assignment/availability", json={"available": on})
    assert r.status_code == expect, r.text
    return r.json()


async def assignee(user: User, shop: User, cid: str) -> str | None:
    found = (await state(user, shop, cid))["assignee"]
    return None if found is None else str(found["handle"])


async def test_round_robin_takes_turns_within_capacity(api: Api) -> None:
    shop, admin, agent, viewer, customer = await shop_with_team(api)
    bea = await api.register("bea")
    away = await api.register("away")
    await add(shop, shop, bea, "agent")
    await add(shop, shop, away, "agent")
    view = await assignment(shop, shop)
    assert view["mode"] == "manual" and view["roles"] == ["agent"]
    assert {a["user"]["handle"]: a["available"] for a in view["agents"]}[agent.handle] is False
    view = await assignment(admin, shop, mode="round_robin", capacity=2)
    assert (view["mode"], view["capacity"]) == ("round_robin", 2)
    await available(agent, shop)
    await available(bea, shop)
    await available(viewer, shop, expect=403)
    customers = [customer] + [await api.register(f"cust{i}") for i in range(5)]
    cids = [await c.direct(shop) for c in customers]
    got = [await assignee(admin, shop, cid) for cid in cids]
    # turns alternate between the two available agents, two each, then nobody has room
    assert got == [agent.handle, bea.handle, agent.handle, bea.handle, None, None]
    view = await assignment(shop, shop)
    loads = {a["user"]["handle"]: (a["open_conversations"], a["eligible"]) for a in view["agents"]}
    assert loads[agent.handle] == (2, False) and loads[bea.handle] == (2, False)
    assert loads[away.handle] == (0, False)
    # resolving frees room; a conversation reopened unassigned is taken in turn
    r = await agent.patch(f"{B}/shop/conversations/{cids[0]}", json={"status": "resolved"})
    assert r.status_code == 200
    await admin.patch(f"{B}/shop/conversations/{cids[4]}", json={"status": "resolved"})
    await customers[4].send(cids[4], "hello again")
    assert await assignee(admin, shop, cids[4]) == agent.handle
    # away: no more turns
    await available(bea, shop, on=False)
    await admin.patch(f"{B}/shop/conversations/{cids[1]}", json={"status": "resolved"})
    late = await (await api.register("late")).direct(shop)
    assert await assignee(admin, shop, late) is None
    # manual again: nothing is assigned by itself
    await assignment(shop, shop, mode="manual")
    await available(bea, shop)
    assert await assignee(admin, shop, await (await api.register("later")).direct(shop)) is None


async def test_assignment_settings_are_checked_and_roles_chosen(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    r = await admin.patch(f"{B}/shop/assignment", json={"capacity": 0})
    assert (r.status_code, code(r)) == (400, "invalid_request")
    r = await admin.patch(f"{B}/shop/assignment", json={"roles": ["viewer"]})
    assert (r.status_code, code(r)) == (400, "invalid_request")
    r = await admin.patch(f"{B}/shop/assignment", json={"roles": []})
    assert (r.status_code, code(r)) == (400, "invalid_request")
    await assignment(admin, shop, mode="round_robin", roles=["admin"])
    await available(agent, shop)
    await available(admin, shop)
    cid = await customer.direct(shop)
    assert await assignee(shop, shop, cid) == admin.handle


async def test_a_rule_can_assign_by_round_robin(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    await available(agent, shop)  # mode stays manual: only the rule assigns
    await create_rule(
        shop,
        shop,
        name="Sales to the pool",
        trigger={"type": "message_received"},
        conditions=[{"type": "keywords", "words": ["buy"]}],
        actions=[{"type": "assign", "to": "round_robin"}],
    )
    cid = await customer.direct(shop)
    assert await assignee(admin, shop, cid) is None
    await customer.send(cid, "I want to buy one")
    assert await assignee(admin, shop, cid) == agent.handle
