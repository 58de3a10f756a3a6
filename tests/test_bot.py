"""The FAQ bot through the API: its knowledge list and settings, answers with quick replies,
taps on them, hand-off (asked for, or unsure) after which it stays quiet until the
conversation is resolved, and where it never speaks."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, User
from tests.test_business import add, become, code, events, token

B = "/api/v1/businesses"
HOURS = {
    "question": "What are your opening hours?",
    "alternatives": ["When are you open?"],
    "keywords": ["opening hours"],
    "answer": "Hi {{customer.first_name|there}}! We are open 9-17, {{business.name}}.",
    "quick_replies": ["Shipping costs", "Returns"],
}
SHIPPING = {
    "question": "How much does shipping cost?",
    "alternatives": ["Shipping costs"],
    "keywords": ["delivery"],
    "answer": "Shipping is free above 50 euros.",
}


async def shop_with_bot(api: Api, **settings: Any) -> tuple[User, User, User]:
    """A business `shop` whose bot knows the hours and shipping, on; an agent; a customer."""
    shop = await api.register("shop", display_name="The Shop")
    agent = await api.register("agnes")
    customer = await api.register("cyd", display_name="Cyd Charisse")
    await become(shop)
    await add(shop, shop, agent, "agent")
    for entry in (HOURS, SHIPPING):
        r = await shop.post(f"{B}/shop/bot/entries", json=entry)
        assert r.status_code == 201, r.text
    r = await shop.patch(f"{B}/shop/bot", json={"enabled": True, **settings})
    assert r.status_code == 200, r.text
    return shop, agent, customer


async def messages(user: User, cid: str) -> list[dict[str, Any]]:
    r = await user.get(f"/api/v1/conversations/{cid}/messages")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def team_messages(user: User, cid: str) -> list[dict[str, Any]]:
    r = await user.get(f"{B}/shop/conversations/{cid}/messages")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def state(user: User, cid: str) -> dict[str, Any]:
    r = await user.get(f"{B}/shop/conversations/{cid}")
    assert r.status_code == 200, r.text
    return dict(r.json()["state"])


async def test_the_bot_answers_a_matched_question_with_buttons(api: Api) -> None:
    shop, agent, customer = await shop_with_bot(api)
    cid = await customer.direct(shop)
    since = await token(customer)
    await customer.send(cid, "what are ur opening hours??")
    answer = (await messages(customer, cid))[-1]
    assert answer["sender"]["handle"] == "shop"
    assert answer["text"] == "Hi Cyd! We are open 9-17, The Shop."
    assert answer["quick_replies"] == [
        {"id": "1", "label": "Shipping costs"},
        {"id": "2", "label": "Returns"},
        {"id": "handoff", "label": "Talk to a person"},
    ]
    # the customer's stream carries the same buttons as the history
    seen, _ = await events(customer, since)
    created = [e["data"]["message"] for e in seen if e["type"] == "message.created"]
    assert created[-1] == answer
    # the team sees the bot wrote it, and its question stays theirs to answer
    mine = (await team_messages(agent, cid))[-1]
    assert mine["automation"] == "bot" and mine["agent"] is None
    assert (await state(agent, cid))["waiting_since"] is not None
    # messages without buttons carry no quick_replies at all
    assert "quick_replies" not in (await messages(customer, cid))[0]


async def test_a_quick_reply_tap_is_answered_and_does_not_reopen(api: Api) -> None:
    shop, agent, customer = await shop_with_bot(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "When are you open?")
    r = await agent.patch(f"{B}/shop/conversations/{cid}", json={"status": "pending"})
    assert r.status_code == 200, r.text
    await customer.send(cid, "Shipping costs")  # the first button, tapped
    answer = (await messages(customer, cid))[-1]
    assert answer["text"] == "Shipping is free above 50 euros."
    assert answer["quick_replies"] == [{"id": "handoff", "label": "Talk to a person"}]
    # the tap went to the bot alone: the conversation stays pending
    assert (await state(agent, cid))["status"] == "pending"
    # a question typed (not a button) reopens it, as any message does
    await customer.send(cid, "how much does shipping cost")
    assert (await state(agent, cid))["status"] == "open"


async def test_when_unsure_the_bot_says_so_once_and_hands_off(api: Api) -> None:
    shop, agent, customer = await shop_with_bot(api, unsure_text="Let me find someone.")
    cid = await customer.direct(shop)
    team_since = await token(agent)
    await customer.send(cid, "my parrot is sad")
    said = await messages(customer, cid)
    assert [m["text"] for m in said] == ["my parrot is sad", "Let me find someone."]
    assert "quick_replies" not in said[-1]
    seen, _ = await events(agent, team_since)
    handoffs = [
        e["data"]
        for e in seen
        if e["type"] == "business.conversation_updated" and e["data"]["reason"] == "bot_handoff"
    ]
    assert len(handoffs) == 1 and handoffs[0]["state"]["status"] == "open"
    # from now on the bot is quiet here, even for a question it knows
    await customer.send(cid, "What are your opening hours?")
    await customer.send(cid, "still sad")
    texts = [m["text"] for m in await messages(customer, cid)]
    assert texts[-3:] == ["Let me find someone.", "What are your opening hours?", "still sad"]


async def test_asking_for_a_person_hands_off_until_the_conversation_is_resolved(
    api: Api,
) -> None:
    shop, agent, customer = await shop_with_bot(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "I want to talk to a human")
    assert (await messages(customer, cid))[-1]["text"] == (
        "Of course: someone from the team will answer you here soon."
    )
    await customer.send(cid, "What are your opening hours?")
    assert (await messages(customer, cid))[-1]["sender"]["handle"] == "cyd"
    r = await agent.post(f"{B}/shop/conversations/{cid}/messages", json={"text": "Hi, Agnes here"})
    assert r.status_code == 201, r.text
    r = await agent.patch(f"{B}/shop/conversations/{cid}", json={"status": "resolved"})
    assert r.status_code == 200, r.text
    # resolved: the next question is the bot's again
    await customer.send(cid, "When are you open?")
    last = (await messages(customer, cid))[-1]
    assert last["sender"]["handle"] == "shop" and last["text"].startswith("Hi Cyd!")


async def test_the_hand_off_button_hands_off(api: Api) -> None:
    shop, agent, customer = await shop_with_bot(api, handoff_label="Human please")
    cid = await customer.direct(shop)
    await customer.send(cid, "When are you open?")
    buttons = (await messages(customer, cid))[-1]["quick_replies"]
    assert buttons[-1] == {"id": "handoff", "label": "Human please"}
    await customer.send(cid, "Human please")
    assert (await messages(customer, cid))[-1]["text"].startswith("Of course")
    # the hand-off was not taken as an answer: the customer waits, the conversation is open
    now = await state(agent, cid)
    assert now["status"] == "open" and now["waiting_since"] is not None


async def test_the_bot_is_quiet_when_off_and_in_assigned_conversations(api: Api) -> None:
    shop, _agent, customer = await shop_with_bot(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "hello there")  # unsure: hands off (the bot spoke once)
    other = await api.register("otto")
    assigned = await other.direct(shop)
    await other.send(assigned, "I have a question")  # hands off too
    r = await shop.patch(f"{B}/shop/conversations/{assigned}", json={"status": "resolved"})
    assert r.status_code == 200, r.text
    r = await shop.patch(f"{B}/shop/conversations/{assigned}", json={"assignee": "agnes"})
    assert r.status_code == 200, r.text
    await other.send(assigned, "What are your opening hours?")
    assert (await messages(other, assigned))[-1]["sender"]["handle"] == "otto"
    # off: nothing, in a fresh conversation too
    r = await shop.patch(f"{B}/shop/bot", json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    third = await api.register("thea")
    fresh = await third.direct(shop)
    await third.send(fresh, "What are your opening hours?")
    assert [m["sender"]["handle"] for m in await messages(third, fresh)] == ["thea"]


async def test_the_knowledge_list_and_settings(api: Api) -> None:
    shop = await api.register("shop")
    agent, outsider = await api.register("agnes"), await api.register("olga")
    await become(shop)
    await add(shop, shop, agent, "agent")
    r = await shop.get(f"{B}/shop/bot")
    assert r.status_code == 200
    assert r.json()["enabled"] is False and r.json()["handoff_label"] == "Talk to a person"
    r = await shop.post(f"{B}/shop/bot/entries", json=HOURS)
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["question"] == HOURS["question"] and entry["quick_replies"] == [
        "Shipping costs",
        "Returns",
    ]
    r = await shop.patch(
        f"{B}/shop/bot/entries/{entry['id']}", json={"keywords": ["hours", "HOURS", "open"]}
    )
    assert r.status_code == 200 and r.json()["keywords"] == ["hours", "open"]
    items = (await agent.get(f"{B}/shop/bot/entries")).json()["items"]
    assert [i["id"] for i in items] == [entry["id"]]
    # bad input, clearly refused; nothing written
    for body, expected in (
        ({**HOURS, "answer": "Hi {{agent.nme}}"}, "invalid_template"),
        ({**HOURS, "question": "  "}, "invalid_request"),
        ({**HOURS, "quick_replies": ["Yes", "yes"]}, "invalid_request"),
        ({"question": "Only a question"}, "invalid_request"),
    ):
        r = await shop.post(f"{B}/shop/bot/entries", json=body)
        assert r.status_code in (400, 422) and code(r) == expected, r.text
    assert len((await shop.get(f"{B}/shop/bot/entries")).json()["items"]) == 1
    for patch in ({"threshold": 0}, {"handoff_label": ""}, {}, {"unsure_text": " "}):
        r = await shop.patch(f"{B}/shop/bot", json=patch)
        assert r.status_code == 400 and code(r) == "invalid_request", patch
    r = await shop.patch(f"{B}/shop/bot", json={"threshold": 80, "greeting": "I am the shop bot."})
    assert r.status_code == 200 and r.json()["threshold"] == 80
    assert r.json()["enabled"] is False  # what was not named stays as it was
    # the team may read; only owners and admins change it; strangers see no business
    r = await agent.patch(f"{B}/shop/bot", json={"enabled": True})
    assert r.status_code == 403 and code(r) == "business_forbidden"
    r = await agent.post(f"{B}/shop/bot/entries", json=SHIPPING)
    assert r.status_code == 403 and code(r) == "business_forbidden"
    for method, path in (
        ("GET", "/bot"),
        ("GET", "/bot/entries"),
        ("DELETE", f"/bot/entries/{entry['id']}"),
    ):
        r = await outsider.request(method, f"{B}/shop{path}")
        assert r.status_code == 404 and code(r) == "business_not_found", path
    r = await outsider.post(f"{B}/shop/bot/try", json={"text": "hours?"})
    assert r.status_code == 404 and code(r) == "business_not_found"
    r = await shop.delete(f"{B}/shop/bot/entries/{entry['id']}")
    assert r.status_code == 204
    r = await shop.patch(f"{B}/shop/bot/entries/{entry['id']}", json={"answer": "x"})
    assert r.status_code == 404 and code(r) == "bot_entry_not_found"
    actions = [i["action"] for i in (await shop.get(f"{B}/shop/audit")).json()["items"]]
    for action in ("bot.entry_created", "bot.entry_updated", "bot.entry_deleted", "bot.updated"):
        assert action in actions


async def test_trying_the_bot_writes_nothing(api: Api) -> None:
    _shop, agent, _customer = await shop_with_bot(api)
    r = await agent.post(f"{B}/shop/bot/try", json={"text": "opening hours please"})
    assert r.status_code == 200, r.text
    tried = r.json()
    assert tried["action"] == "answer" and tried["entry"]["question"] == HOURS["question"]
    assert tried["text"] == "Hi there! We are open 9-17, The Shop."  # no customer: fallbacks
    assert [q["label"] for q in tried["quick_replies"]][-1] == "Talk to a person"
    r = await agent.post(f"{B}/shop/bot/try", json={"text": "get me an agent"})
    assert r.json()["action"] == "handoff" and r.json()["quick_replies"] == []
    r = await agent.post(f"{B}/shop/bot/try", json={"text": "parrots"})
    assert r.json()["action"] == "unsure" and r.json()["score"] < 0.6
    r = await agent.post(f"{B}/shop/bot/try", json={"text": "   "})
    assert r.status_code == 400 and code(r) == "invalid_request"
    inbox = (await agent.get(f"{B}/shop/conversations")).json()["items"]
    assert inbox == []


async def test_the_greeting_comes_once_before_the_first_answer(api: Api) -> None:
    shop, _agent, customer = await shop_with_bot(api, greeting="Hello, I am the shop's bot.")
    cid = await customer.direct(shop)
    await customer.send(cid, "When are you open?")
    await customer.send(cid, "how much is delivery")
    texts = [m["text"] for m in await messages(customer, cid)]
    assert texts == [
        "When are you open?",
        "Hello, I am the shop's bot.",
        "Hi Cyd! We are open 9-17, The Shop.",
        "how much is delivery",
        "Shipping is free above 50 euros.",
    ]


async def test_the_bot_leaves_a_conversation_a_teammate_answered(api: Api) -> None:
    shop, agent, customer = await shop_with_bot(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "When are you open?")
    r = await agent.post(f"{B}/shop/conversations/{cid}/messages", json={"text": "Agnes here!"})
    assert r.status_code == 201, r.text
    await customer.send(cid, "how much is delivery")
    assert (await messages(customer, cid))[-1]["text"] == "how much is delivery"
    r = await agent.patch(f"{B}/shop/conversations/{cid}", json={"status": "resolved"})
    assert r.status_code == 200, r.text
    await customer.send(cid, "how much is delivery")
    assert (await messages(customer, cid))[-1]["text"] == "Shipping is free above 50 euros."
