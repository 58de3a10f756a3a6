"""Approval before sending, through the API: a restricted agent's reply waits (202) and the
customer receives nothing; an admin approves it (as written, or edited: sent as the business,
attributed to the agent) or rejects it with a comment the agent sees; who may do what."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, User
from tests.test_business import code, events, shop_with_team, token

B = "/api/v1/businesses"


async def restricted_team(api: Api) -> tuple[User, User, User, User, User, str]:
    """shop_with_team's business, its agent restricted, and a customer's conversation."""
    shop, admin, agent, viewer, customer = await shop_with_team(api)
    r = await admin.put(f"{B}/shop/approvals/restricted/{agent.handle}")
    assert r.status_code == 200 and r.json()["approval_required"] is True, r.text
    cid = await customer.direct(shop)
    await customer.send(cid, "Can I change my order?")
    return shop, admin, agent, viewer, customer, cid


async def hold(agent: User, cid: str, text: str, **extra: Any) -> dict[str, Any]:
    r = await agent.post(f"{B}/shop/conversations/{cid}/messages", json={"text": text, **extra})
    assert r.status_code == 202, r.text
    return dict(r.json())


async def texts(user: User, cid: str) -> list[str]:
    r = await user.get(f"/api/v1/conversations/{cid}/messages")
    assert r.status_code == 200, r.text
    return [m["text"] for m in r.json()["items"]]


async def test_a_restricted_agents_reply_waits_and_the_customer_gets_nothing(api: Api) -> None:
    _shop, admin, agent, _viewer, customer, cid = await restricted_team(api)
    customer_since, admin_since = await token(customer), await token(admin)
    held = await hold(agent, cid, "Yes, until it ships.", txn_id="t1")
    assert held["state"] == "pending" and held["author"]["handle"] == "agnes"
    assert held["conversation_id"] == cid and held["message_id"] is None
    assert await texts(customer, cid) == ["Can I change my order?"]
    seen, _ = await events(customer, customer_since)
    assert [e for e in seen if e["type"] == "message.created"] == []
    assert all(not e["type"].startswith("business.") for e in seen)
    seen, _ = await events(admin, admin_since)
    requested = [e["data"] for e in seen if e["type"] == "business.approval_requested"]
    assert requested == [{"business": "shop", "approval": held}]
    # a retry returns the same held reply; the same txn_id for other text is a conflict
    again = await hold(agent, cid, "Yes, until it ships.", txn_id="t1")
    assert again == held
    r = await agent.post(
        f"{B}/shop/conversations/{cid}/messages", json={"text": "Other", "txn_id": "t1"}
    )
    assert r.status_code == 422 and code(r) == "txn_id_conflict"
    pending = (await admin.get(f"{B}/shop/approvals", params={"state": "pending"})).json()
    assert [i["id"] for i in pending["items"]] == [held["id"]]
    # the conversation still waits for the business's answer
    r = await admin.get(f"{B}/shop/conversations/{cid}")
    assert r.json()["state"]["waiting_since"] is not None
    # held replies carry text only
    r = await agent.post(
        f"{B}/shop/conversations/{cid}/messages",
        json={"text": "here", "location": {"latitude": 1, "longitude": 2}},
    )
    assert r.status_code == 400 and code(r) == "invalid_request"


async def test_approving_sends_it_attributed_to_the_author(api: Api) -> None:
    shop, admin, agent, _viewer, customer, cid = await restricted_team(api)
    held = await hold(agent, cid, "Yes, until it ships.")
    agent_since = await token(agent)
    r = await admin.post(f"{B}/shop/approvals/{held['id']}/approve", json={})
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["state"] == "approved" and decided["decided_by"]["handle"] == "ada"
    assert decided["message_id"] is not None and decided["text"] == "Yes, until it ships."
    assert await texts(customer, cid) == ["Can I change my order?", "Yes, until it ships."]
    r = await customer.get(f"/api/v1/conversations/{cid}/messages")
    assert r.json()["items"][-1]["sender"]["handle"] == "shop"
    team = (await admin.get(f"{B}/shop/conversations/{cid}/messages")).json()["items"]
    assert team[-1]["id"] == decided["message_id"] and team[-1]["agent"]["handle"] == "agnes"
    state = (await admin.get(f"{B}/shop/conversations/{cid}")).json()["state"]
    assert state["waiting_since"] is None  # answered now
    seen, _ = await events(agent, agent_since)
    told = [e["data"]["approval"] for e in seen if e["type"] == "business.approval_decided"]
    assert told == [decided]
    # decided once: no second decision
    for path, body in (("approve", {}), ("reject", {"comment": "late"})):
        r = await admin.post(f"{B}/shop/approvals/{held['id']}/{path}", json=body)
        assert r.status_code == 409 and code(r) == "approval_decided"
    actions = [i["action"] for i in (await shop.get(f"{B}/shop/audit")).json()["items"]]
    assert "message.held" in actions and "approval.approved" in actions


async def test_edit_and_approve_sends_the_edited_text(api: Api) -> None:
    shop, _admin, agent, _viewer, customer, cid = await restricted_team(api)
    held = await hold(agent, cid, "yes u can lol")
    r = await shop.post(
        f"{B}/shop/approvals/{held['id']}/approve",
        json={"text": "Yes, you can change it until it ships."},
    )
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "Yes, you can change it until it ships."
    assert await texts(customer, cid) == [
        "Can I change my order?",
        "Yes, you can change it until it ships.",
    ]
    audit = (await shop.get(f"{B}/shop/audit")).json()["items"]
    approved = [i for i in audit if i["action"] == "approval.approved"]
    assert approved[0]["detail"] == {"approval": held["id"], "edited": True}
    r = await shop.post(f"{B}/shop/approvals/{held['id']}/approve", json={"text": " "})
    assert r.status_code == 422 and code(r) == "invalid_text"


async def test_rejecting_sends_nothing_and_the_author_sees_the_comment(api: Api) -> None:
    _shop, admin, agent, _viewer, customer, cid = await restricted_team(api)
    held = await hold(agent, cid, "No idea, sorry")
    r = await admin.post(f"{B}/shop/approvals/{held['id']}/reject", json={"comment": "  "})
    assert r.status_code == 400 and code(r) == "invalid_request"
    r = await admin.post(
        f"{B}/shop/approvals/{held['id']}/reject", json={"comment": "Check the order first."}
    )
    assert r.status_code == 200 and r.json()["state"] == "rejected", r.text
    assert await texts(customer, cid) == ["Can I change my order?"]
    mine = (await agent.get(f"{B}/shop/approvals")).json()["items"]
    assert [(i["id"], i["state"], i["comment"]) for i in mine] == [
        (held["id"], "rejected", "Check the order first.")
    ]


async def test_who_may_approve_and_who_sees_held_replies(api: Api) -> None:
    _shop, admin, agent, viewer, customer, cid = await restricted_team(api)
    held = await hold(agent, cid, "Yes")
    stranger = await api.register("olga")
    for user, status, expected in (
        (agent, 403, "business_forbidden"),
        (viewer, 403, "business_forbidden"),
        (stranger, 404, "business_not_found"),
        (customer, 404, "business_not_found"),
    ):
        r = await user.post(f"{B}/shop/approvals/{held['id']}/approve", json={})
        assert r.status_code == status and code(r) == expected, user.handle
        r = await user.post(f"{B}/shop/approvals/{held['id']}/reject", json={"comment": "no"})
        assert r.status_code == status and code(r) == expected, user.handle
    r = await stranger.get(f"{B}/shop/approvals")
    assert r.status_code == 404 and code(r) == "business_not_found"
    # a viewer (not an author) sees none; admins see all
    assert (await viewer.get(f"{B}/shop/approvals")).json()["items"] == []
    assert len((await admin.get(f"{B}/shop/approvals")).json()["items"]) == 1
    r = await admin.post(f"{B}/shop/approvals/ap_nothing/approve", json={})
    assert r.status_code == 404 and code(r) == "approval_not_found"
    assert await texts(customer, cid) == ["Can I change my order?"]


async def test_restricting_members(api: Api) -> None:
    shop, _admin, agent, _viewer, customer = await shop_with_team(api)
    r = await agent.put(f"{B}/shop/approvals/restricted/agnes")
    assert r.status_code == 403 and code(r) == "business_forbidden"
    for handle in ("ada", "vic"):  # admins approve; viewers do not reply
        r = await shop.put(f"{B}/shop/approvals/restricted/{handle}")
        assert r.status_code == 400 and code(r) == "invalid_request", handle
    r = await shop.put(f"{B}/shop/approvals/restricted/cyd")
    assert r.status_code == 404 and code(r) == "member_not_found"
    for _ in range(2):  # idempotent
        r = await shop.put(f"{B}/shop/approvals/restricted/agnes")
        assert r.status_code == 200, r.text
    listed = (await agent.get(f"{B}/shop/approvals/restricted")).json()["items"]
    assert [i["user"]["handle"] for i in listed] == ["agnes"]
    cid = await customer.direct(shop)
    await customer.send(cid, "hi")
    await hold(agent, cid, "held")
    r = await shop.delete(f"{B}/shop/approvals/restricted/agnes")
    assert r.status_code == 200 and r.json()["approval_required"] is False
    r = await agent.post(f"{B}/shop/conversations/{cid}/messages", json={"text": "direct"})
    assert r.status_code == 201, r.text
    assert (await shop.get(f"{B}/shop/approvals/restricted")).json()["items"] == []


async def test_a_held_reply_of_someone_who_left_can_still_be_approved(api: Api) -> None:
    shop, admin, agent, _viewer, customer, cid = await restricted_team(api)
    held = await hold(agent, cid, "Sent after I left")
    r = await shop.delete(f"{B}/shop/members/agnes")
    assert r.status_code == 204, r.text
    agent_since = await token(agent)
    r = await admin.post(f"{B}/shop/approvals/{held['id']}/approve", json={})
    assert r.status_code == 200, r.text
    assert (await texts(customer, cid))[-1] == "Sent after I left"
    team = (await admin.get(f"{B}/shop/conversations/{cid}/messages")).json()["items"]
    assert team[-1]["agent"]["handle"] == "agnes"
    seen, _ = await events(agent, agent_since)
    assert [e for e in seen if e["type"].startswith("business.")] == []
