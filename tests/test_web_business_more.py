"""The business view's outbound and integration tools in real Chromium, against a real
server: the FAQ bot (its switch and texts, the knowledge list, "Try it"), "send later" in
the team composer with the conversation's scheduled messages kept live, broadcasts (the
subscribers, keywords, sending, recipients, cancelling, live counts), and the
integrations: webhooks (the secret shown once, test pings, the delivery log, redelivery)
delivered to a real local receiver, and API tokens."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser import shot
from tests.servers import Servers
from tests.test_web_business import account, page_of, row, signed_in
from tests.test_web_business_tools import shop_and_customer, token
from tests.test_webhooks import Receiver, verify

pytestmark = pytest.mark.server

API = "/api/v1"


async def test_the_faq_bot_is_edited_tried_and_read(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, _vera, _carla, _conv = await shop_and_customer(http)

    owner = await page_of(browser, errors)
    await signed_in(owner, server.url, token(shop))
    await owner.select_option("#workspace", "shop")
    await owner.click("#business-bot-open")
    await owner.locator("#bbot-entries", has_text="No questions yet").wait_for()
    await expect(owner.locator("#business-bot-close")).to_be_focused()
    assert not await owner.locator("#bbot-enabled").is_checked()  # off until turned on

    # Settings: turned on with a greeting; a threshold out of range is refused in place
    await owner.check("#bbot-enabled")
    await owner.fill("#bbot-greeting", "Hi, I'm the shop's bot.")
    await owner.fill("#bbot-threshold", "150")
    await owner.click("#bbot-save")
    await owner.locator("#bbot-error", has_text="from 1 to 100").wait_for()
    await expect(owner.locator("#bbot-threshold")).to_be_focused()
    await owner.fill("#bbot-threshold", "55")
    await owner.click("#bbot-save")
    await owner.locator("#business-bot-status", has_text="The bot is on").wait_for()

    # An entry with an unknown variable is refused by name; then added, with its buttons
    await owner.fill("#bbot-entry-question", "When do you ship?")
    await owner.fill("#bbot-entry-alternatives", "How long is delivery?\nshipping times")
    await owner.fill("#bbot-entry-keywords", "ship, delivery")
    await owner.fill("#bbot-entry-answer", "Hi {{customer.nme}}, in 2 days.")
    await owner.fill("#bbot-entry-buttons", "Track my order\nReturns")
    await owner.click("#bbot-entry-save")
    await owner.locator(
        "#bbot-entry-error", has_text="Unknown variable: {{customer.nme}}"
    ).wait_for()
    assert await owner.locator("#bbot-entries .bbot-entry").count() == 0
    await owner.fill("#bbot-entry-answer", "Hi {{customer.first_name|there}}, in 2 days.")
    await owner.click("#bbot-entry-save")
    entry = owner.locator("#bbot-entries .bbot-entry", has_text="When do you ship?")
    await entry.wait_for()
    assert await owner.locator("#bbot-entry-error").text_content() == ""
    await expect(entry).to_contain_text("3 ways to ask")
    await expect(owner.locator("#bbot-entry-question")).to_have_value("")
    await owner.fill("#bbot-entry-question", "Do you take returns?")
    await owner.fill("#bbot-entry-answer", "Yes, within 30 days.")
    await owner.click("#bbot-entry-save")
    await owner.locator("#bbot-entries .bbot-entry", has_text="Do you take returns?").wait_for()

    # Edit one (the form is filled in), delete the other after a confirmation
    await owner.click("#bbot-entries [aria-label='Edit “Do you take returns?”']")
    await expect(owner.locator("#bbot-entry-answer")).to_have_value("Yes, within 30 days.")
    await expect(owner.locator("#bbot-entry-question")).to_be_focused()
    await owner.fill("#bbot-entry-answer", "Yes, within 60 days.")
    await owner.click("#bbot-entry-save")
    await owner.locator(".bbot-entry", has_text="within 60 days").wait_for()
    await owner.click("#bbot-entries [aria-label='Delete “Do you take returns?”']")
    await owner.click("#confirm-ok")
    await owner.locator(".bbot-entry", has_text="Do you take returns?").wait_for(state="detached")

    async with httpx.AsyncClient(base_url=server.url) as http:
        settings = (await http.get(f"{API}/businesses/shop/bot", headers=shop)).json()
        stored = (await http.get(f"{API}/businesses/shop/bot/entries", headers=shop)).json()
    assert (settings["enabled"], settings["greeting"], settings["threshold"]) == (
        True,
        "Hi, I'm the shop's bot.",
        55,
    )
    assert [
        (e["question"], e["alternatives"], e["keywords"], e["quick_replies"])
        for e in stored["items"]
    ] == [
        (
            "When do you ship?",
            ["How long is delivery?", "shipping times"],
            ["ship", "delivery"],
            ["Track my order", "Returns"],
        )
    ]

    # Try it: an answer with its buttons (and the hand-off's), then an unsure one
    await owner.fill("#bbot-try-text", "how long is delivery")
    await owner.click("#bbot-try")
    verdict = owner.locator("#bbot-try-result .bbot-verdict")
    await verdict.wait_for()
    assert await verdict.get_attribute("data-action") == "answer"
    await expect(verdict).to_contain_text("When do you ship?")
    await expect(owner.locator("#bbot-try-result .bbot-reply")).to_have_text("Hi there, in 2 days.")
    assert await owner.locator("#bbot-try-result .quick-chip").all_text_contents() == [
        "Track my order",
        "Returns",
        settings["handoff_label"],
    ]
    await owner.fill("#bbot-try-text", "what colour is the sky on mars")
    await owner.click("#bbot-try")
    await owner.locator("#bbot-try-result .bbot-verdict[data-action=unsure]").wait_for()
    await expect(owner.locator("#bbot-try-result .bbot-reply")).to_have_text(
        settings["unsure_text"]
    )
    await shot(owner, "business-bot.png")
    await owner.keyboard.press("Escape")
    await owner.locator("#business-bot").wait_for(state="hidden")
    await expect(owner.locator("#business-bot-open")).to_be_focused()

    # An agent reads the bot (and may try it) but changes nothing
    agent = await page_of(browser, errors)
    await signed_in(agent, server.url, token(agnes))
    await agent.select_option("#workspace", "shop")
    await agent.click("#business-bot-open")
    await agent.locator("#business-bot-status", has_text="Only owners and admins").wait_for()
    await agent.locator(".bbot-entry", has_text="When do you ship?").wait_for()
    for control in ("#bbot-enabled", "#bbot-greeting", "#bbot-threshold"):
        assert await agent.locator(control).is_disabled()
    assert await agent.locator("#bbot-save, #bbot-entry-form, .bbot-entry button").count() == 0
    await agent.fill("#bbot-try-text", "when do you ship")
    await agent.click("#bbot-try")
    await agent.locator("#bbot-try-result .bbot-verdict[data-action=answer]").wait_for()
    assert errors == []


def iso_in(seconds: float) -> str:
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def test_send_later_schedules_edits_cancels_and_follows_live(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, _vera, carla, conv = await shop_and_customer(http)

    agent = await page_of(browser, errors)
    await signed_in(agent, server.url, token(agnes))
    await agent.select_option("#workspace", "shop")
    await row(agent, "Carla Customer").click()
    await agent.locator("#bconv-messages li", has_text="when do you ship").wait_for()
    scheduled = agent.locator("#bconv-scheduled-list li")
    assert await agent.locator("#bconv-scheduled").is_hidden()

    # By keys: it opens on its time, Escape closes it and returns to the composer
    await agent.click("#bconv-later-open")
    await expect(agent.locator("#bconv-later-at")).to_be_focused()
    await agent.keyboard.press("Escape")
    assert await agent.locator("#bconv-later").is_hidden()
    await expect(agent.locator("#bconv-text")).to_be_focused()
    await expect(agent.locator("#bconv-later-open")).to_have_attribute("aria-expanded", "false")

    # Nothing written yet: refused in place; a past time too
    await agent.click("#bconv-later-open")
    await expect(agent.locator("#bconv-later-open")).to_have_attribute("aria-expanded", "true")
    await expect(agent.locator("#bconv-later-at")).to_be_focused()
    await agent.click("#bconv-later-save")
    await agent.locator("#bconv-later-error", has_text="Write the message first").wait_for()
    await agent.fill("#bconv-text", "Your parcel leaves tomorrow, {{customer.first_name|there}}.")
    await agent.fill("#bconv-later-at", "2020-01-01T09:00")
    await agent.click("#bconv-later-save")
    await agent.locator("#bconv-later-error", has_text="in the future").wait_for()

    # Scheduled for tomorrow at 09:00 (the browser's time), cancelled if Carla replies first
    tomorrow = await agent.evaluate(
        "() => { const d = new Date(Date.now() + 86400000); d.setHours(9, 0, 0, 0);"
        " return [d.toISOString(), `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}"
        "-${String(d.getDate()).padStart(2, '0')}T09:00`]; }"
    )
    await agent.fill("#bconv-later-at", tomorrow[1])
    await agent.check("#bconv-later-cancel")
    await agent.click("#bconv-later-save")
    await scheduled.filter(has_text="Your parcel leaves tomorrow").wait_for()
    assert await agent.locator("#bconv-later").is_hidden()
    await expect(agent.locator("#bconv-text")).to_have_value("")
    await expect(agent.locator("#bconv-text")).to_be_focused()
    await expect(scheduled.first).to_contain_text("unless the customer replies first")
    async with httpx.AsyncClient(base_url=server.url) as http:
        items = (
            await http.get(f"{API}/businesses/shop/scheduled?conversation_id={conv}", headers=shop)
        ).json()["items"]
    assert [
        (s["text"], s["send_at"], s["cancel_if_customer_replies"], s["status"]) for s in items
    ] == [
        (
            "Your parcel leaves tomorrow, {{customer.first_name|there}}.",
            tomorrow[0],
            True,
            "pending",
        )
    ]
    first_id = items[0]["id"]

    # Edited in place: the text and the flag
    await scheduled.first.locator("[data-what=edit]").click()
    await expect(agent.locator(f"#bsched-text-{first_id}")).to_be_focused()
    await agent.fill(f"#bsched-text-{first_id}", "Your parcel leaves tomorrow morning.")
    await agent.uncheck(f"#bsched-cancel-{first_id}")
    await agent.click("#bconv-scheduled-list button[type=submit]")
    await scheduled.filter(has_text="tomorrow morning").wait_for()
    await expect(scheduled.first.locator("[data-what=edit]")).to_be_focused()
    async with httpx.AsyncClient(base_url=server.url) as http:
        one = (await http.get(f"{API}/businesses/shop/scheduled/{first_id}", headers=shop)).json()
        assert (one["text"], one["cancel_if_customer_replies"]) == (
            "Your parcel leaves tomorrow morning.",
            False,
        )
        # Live: the owner schedules one with "cancel if the customer replies", and one due now
        r = await http.post(
            f"{API}/businesses/shop/scheduled",
            json={
                "conversation_id": conv,
                "text": "Any news?",
                "send_at": iso_in(3600),
                "cancel_if_customer_replies": True,
            },
            headers=shop,
        )
        assert r.status_code == 201, r.text
    await scheduled.filter(has_text="Any news?").wait_for()
    assert await scheduled.count() == 2
    await shot(agent, "business-scheduled.png")
    # the owner's is not the agent's to change
    assert await scheduled.filter(has_text="Any news?").locator("button").count() == 0

    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post(
            f"{API}/conversations/{conv}/messages",
            json={"txn_id": "t2", "text": "Still there?"},
            headers=carla,
        )
        assert r.status_code == 201, r.text
    await scheduled.filter(has_text="Any news?").wait_for(state="detached")
    await agent.locator(
        "#bconv-scheduled-status", has_text="cancelled (the customer replied first)"
    ).wait_for()
    assert await scheduled.count() == 1

    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post(
            f"{API}/businesses/shop/scheduled",
            json={"conversation_id": conv, "text": "Right away!", "send_at": iso_in(2)},
            headers=shop,
        )
        assert r.status_code == 201, r.text
    await scheduled.filter(has_text="Right away!").wait_for()
    await agent.locator("#bconv-messages li", has_text="Right away!").wait_for(timeout=15_000)
    await scheduled.filter(has_text="Right away!").wait_for(state="detached")
    await agent.locator("#bconv-scheduled-status", has_text="was sent").wait_for()

    # Cancelled by its author: the list empties and hides
    await scheduled.first.locator("[data-what=cancel]").click()
    await agent.locator("#bconv-scheduled").wait_for(state="hidden")
    await expect(agent.locator("#bconv-text")).to_be_focused()
    async with httpx.AsyncClient(base_url=server.url) as http:
        one = (await http.get(f"{API}/businesses/shop/scheduled/{first_id}", headers=shop)).json()
    assert one["status"] == "cancelled"
    assert errors == []


async def customer_writes(http: httpx.AsyncClient, handle: str, name: str, *texts: str) -> str:
    """A new customer who writes `texts` to the shop; their conversation's id."""
    headers = {"authorization": f"Bearer {await account(http, handle, name)}"}
    r = await http.post(
        f"{API}/conversations", json={"kind": "direct", "members": ["shop"]}, headers=headers
    )
    conv = str(r.json()["id"])
    for i, text in enumerate(texts):
        r = await http.post(
            f"{API}/conversations/{conv}/messages",
            json={"txn_id": f"{handle}{i}", "text": text},
            headers=headers,
        )
        assert r.status_code == 201, r.text
    return conv


async def test_broadcasts_go_to_subscribers_and_are_followed_live(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, _vera, carla, conv = await shop_and_customer(http)
        r = await http.post(
            f"{API}/conversations/{conv}/messages",
            json={"txn_id": "in", "text": "START"},
            headers=carla,
        )
        assert r.status_code == 201, r.text
        await customer_writes(http, "dan", "Dan", "Hi", "subscribe")
        await customer_writes(http, "eve", "Eve", "start", "STOP")
        labels = {}
        for name, color in (("VIP", "#ff0000"), ("Empty", "#00ff00")):
            r = await http.post(
                f"{API}/businesses/shop/labels", json={"name": name, "color": color}, headers=shop
            )
            assert r.status_code == 201, r.text
            labels[name] = r.json()["id"]
        r = await http.put(
            f"{API}/businesses/shop/conversations/{conv}/labels/{labels['VIP']}", headers=shop
        )
        assert r.status_code == 200, r.text

    # An agent has no Broadcasts button
    agent = await page_of(browser, errors)
    await signed_in(agent, server.url, token(agnes))
    await agent.select_option("#workspace", "shop")
    await agent.locator("#business-name", has_text="Shop").wait_for()
    assert await agent.locator("#business-broadcasts-open").is_hidden()

    owner = await page_of(browser, errors)
    await signed_in(owner, server.url, token(shop))
    await owner.select_option("#workspace", "shop")
    await owner.click("#business-broadcasts-open")
    await owner.locator("#bbc-count", has_text="2 subscribed · 1 opted out").wait_for()
    await expect(owner.locator("#business-broadcasts-close")).to_be_focused()
    subscribers = owner.locator("#bbc-subscribers li")
    shown = await subscribers.evaluate_all(
        "(lis) => lis.map((li) => [li.dataset.handle, li.dataset.status])"
    )
    assert sorted(shown) == [["carla", "opted_in"], ["dan", "opted_in"], ["eve", "opted_out"]]
    await owner.locator("#bbc-list", has_text="No broadcasts yet").wait_for()

    # Keywords: a bad one is refused, good ones saved
    await expect(owner.locator("#bbc-opt-in")).to_have_value("START, SUBSCRIBE")
    await owner.fill("#bbc-opt-in", "START, $$$")
    await owner.click("#bbc-keywords-save")
    await owner.locator("#bbc-keywords-error", has_text="is not a keyword").wait_for()
    await owner.fill("#bbc-opt-in", "START, JOIN")
    await owner.click("#bbc-keywords-save")
    await owner.locator("#business-broadcasts-status", has_text="Saved the keywords").wait_for()
    assert await owner.locator("#bbc-keywords-error").text_content() == ""
    async with httpx.AsyncClient(base_url=server.url) as http:
        keywords = (
            await http.get(f"{API}/businesses/shop/broadcasts/keywords", headers=shop)
        ).json()
    assert keywords["opt_in"] == ["START", "JOIN"]

    # A label nobody subscribed has: refused; then to the VIPs, sent live
    await owner.fill("#bbc-text", "VIP sale today, {{customer.first_name|friend}}!")
    await owner.select_option("#bbc-label", labels["Empty"])
    await owner.click("#bbc-send")
    await owner.locator("#bbc-error:not(:empty)").wait_for()
    await expect(owner.locator("#bbc-text")).to_be_focused()
    await owner.select_option("#bbc-label", labels["VIP"])
    await owner.click("#bbc-send")
    await owner.locator("#business-broadcasts-status", has_text="to 1 contact.").wait_for()
    item = owner.locator("#bbc-list li.bbc-item").first
    await owner.locator("#bbc-list li.bbc-item[data-status=done]").wait_for(timeout=15_000)
    await expect(item.locator(".bbc-counts")).to_have_text("1 of 1 sent")
    await expect(item).to_contain_text("to “VIP”")
    await item.locator("[data-what=recipients]").click()
    await item.locator(".bbc-recipients li[data-handle=carla][data-status=sent]").wait_for()
    await expect(item.locator("[data-what=recipients]")).to_have_attribute("aria-expanded", "true")
    async with httpx.AsyncClient(base_url=server.url) as http:
        texts = [
            m["text"]
            for m in (await http.get(f"{API}/conversations/{conv}/messages", headers=carla)).json()[
                "items"
            ]
        ]
    assert "VIP sale today, Carla!" in texts
    await shot(owner, "business-broadcasts.png")

    # Scheduled for tomorrow to everyone subscribed, then cancelled
    await owner.fill("#bbc-text", "Tomorrow's news")
    await owner.select_option("#bbc-label", "")
    await owner.fill("#bbc-at", "2020-01-01T09:00")
    await owner.click("#bbc-send")
    await owner.locator("#bbc-error", has_text="in the future").wait_for()
    tomorrow = await owner.evaluate(
        "() => { const d = new Date(Date.now() + 86400000);"
        " return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}"
        "-${String(d.getDate()).padStart(2, '0')}T09:00`; }"
    )
    await owner.fill("#bbc-at", tomorrow)
    await owner.click("#bbc-send")
    await owner.locator(
        "#business-broadcasts-status", has_text="Scheduled a broadcast to 2 contacts"
    ).wait_for()
    scheduled = owner.locator("#bbc-list li.bbc-item[data-status=scheduled]")
    await expect(scheduled).to_contain_text("Tomorrow's news")
    await scheduled.locator("[data-what=cancel]").click()
    cancelled = owner.locator("#bbc-list li.bbc-item[data-status=cancelled]")
    await expect(cancelled.locator(".bbc-counts")).to_have_text("0 of 2 sent · 2 cancelled")
    assert await cancelled.locator("[data-what=cancel]").count() == 0
    await expect(cancelled.locator("[data-what=recipients]")).to_be_focused()
    assert await owner.locator("#bbc-list li.bbc-item").count() == 2
    assert errors == []


async def test_webhooks_and_api_tokens_are_managed_in_the_integrations_dialog(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    receiver = Receiver()
    try:
        await integrations(tmp_path, servers, browser, receiver)
    finally:
        receiver.close()


async def integrations(tmp_path: Path, servers: Servers, browser: Any, receiver: Receiver) -> None:
    server = await servers.serve(
        tmp_path / "data",
        env={
            "BACKCHANNEL_WEBHOOK_ALLOW_HTTP": "true",
            "BACKCHANNEL_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
            "BACKCHANNEL_JOBS_MAX_ATTEMPTS": "1",  # a refused delivery fails at once
            "BACKCHANNEL_WEBHOOK_DISABLE_AFTER": "2",
        },
    )
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, *_ = await shop_and_customer(http)

    agent = await page_of(browser, errors)
    await signed_in(agent, server.url, token(agnes))
    await agent.select_option("#workspace", "shop")
    await agent.locator("#business-name", has_text="Shop").wait_for()
    assert await agent.locator("#business-integrations-open").is_hidden()

    owner = await page_of(browser, errors)
    await owner.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await signed_in(owner, server.url, token(shop))
    await owner.select_option("#workspace", "shop")
    await owner.click("#business-integrations-open")
    await owner.locator("#bint-webhooks", has_text="No webhooks yet").wait_for()
    await owner.locator("#bint-tokens", has_text="No API tokens yet").wait_for()

    # Refused in place: no events; an internal address (the server says why)
    await owner.fill("#bint-webhook-url", "http://10.0.0.7/hooks")
    await owner.click("#bint-webhook-create")
    await owner.locator("#bint-webhook-error", has_text="at least one event").wait_for()
    await owner.check("#bint-webhook-events [data-event='message.received']")
    await owner.click("#bint-webhook-create")
    await owner.locator("#bint-webhook-error:not(:empty)").wait_for()
    assert "10.0.0.7" in (await owner.locator("#bint-webhook-error").text_content() or "")
    assert await owner.locator("#bint-webhooks .bint-item").count() == 0

    # Created: the secret shown once, copied
    await owner.fill("#bint-webhook-url", receiver.url)
    await owner.fill("#bint-webhook-description", "CRM")
    await owner.click("#bint-webhook-create")
    hook = owner.locator("#bint-webhooks .bint-item").first
    await expect(hook).to_contain_text(receiver.url)
    await expect(hook).to_contain_text("message.received")
    secret = await owner.locator("#bint-webhook-secret-box-value").input_value()
    assert secret.startswith("whsec_")
    await expect(owner.locator("#bint-webhook-secret-box-copy")).to_be_focused()
    await owner.click("#bint-webhook-secret-box-copy")
    await owner.locator("#bint-webhook-secret-box", has_text="Copied.").wait_for()
    assert await owner.evaluate("navigator.clipboard.readText()") == secret
    async with httpx.AsyncClient(base_url=server.url) as http:
        listed = (await http.get(f"{API}/businesses/shop/webhooks", headers=shop)).json()["items"]
    assert [(w["url"], w["events"], w["description"]) for w in listed] == [
        (receiver.url, ["message.received"], "CRM")
    ]
    assert "secret" not in listed[0]

    # A test ping the receiver refuses fails (HTTP 500); redelivered, it arrives, signed
    receiver.statuses = [500]
    await hook.locator("[data-what=test]").click()
    log = hook.locator(".bint-deliveries")
    await log.locator("li[data-type='webhook.ping'][data-state=failed]").wait_for(timeout=15_000)
    await expect(log.locator("li").first).to_contain_text("HTTP 500")
    await expect(hook.locator("[data-what=log]")).to_have_attribute("aria-expanded", "true")
    await log.locator("[data-what=redeliver]").first.click()
    await log.locator("li[data-type='webhook.ping'][data-state=delivered]").wait_for(timeout=15_000)
    await expect(log.locator("li").first).to_contain_text("2 attempts")
    assert len(receiver.requests) == 2
    last = receiver.requests[-1]
    event = verify(secret, last["headers"], last["body"], now=time.time())
    assert event["type"] == "webhook.ping"
    await shot(owner, "business-integrations.png")

    # Off: nothing to test; rotated: a new secret
    await hook.locator("[data-what=enabled]").uncheck()
    await owner.locator("#business-integrations-status", has_text="is off").wait_for()
    await expect(hook.locator("[data-what=enabled]")).to_be_focused()
    assert await hook.locator("[data-what=test]").is_disabled()
    await hook.locator("[data-what=rotate]").click()
    await owner.click("#confirm-ok")
    await owner.locator("#bint-webhook-secret-box", has_text="The new signing secret").wait_for()
    rotated = await owner.locator("#bint-webhook-secret-box-value").input_value()
    assert rotated.startswith("whsec_") and rotated != secret
    async with httpx.AsyncClient(base_url=server.url) as http:
        one = (await http.get(f"{API}/businesses/shop/webhooks", headers=shop)).json()["items"][0]
    assert one["enabled"] is False

    # On again; failing twice in a row, the server turns it off, and the dialog says so live
    await hook.locator("[data-what=enabled]").check()
    await owner.locator("#business-integrations-status", has_text="is on").wait_for()
    receiver.statuses = [500, 503]
    await hook.locator("[data-what=test]").click()
    await log.locator("li[data-state=failed]").wait_for(timeout=15_000)
    await expect(hook).to_contain_text("1 failed in a row")
    await log.locator("li[data-state=failed] [data-what=redeliver]").click()
    await owner.locator("#business-integrations-status", has_text="was turned off").wait_for(
        timeout=15_000
    )
    await expect(hook).to_have_attribute("data-enabled", "false")
    assert not await hook.locator("[data-what=enabled]").is_checked()

    # API tokens: created with a role (shown once), working, then revoked
    await owner.click("#bint-token-create")
    await owner.locator("#bint-token-error", has_text="Name the token").wait_for()
    await owner.fill("#bint-token-name", "Analytics")
    await owner.select_option("#bint-token-role", "viewer")
    await owner.click("#bint-token-create")
    row_ = owner.locator("#bint-tokens li[data-role=viewer]", has_text="Analytics")
    await expect(row_).to_contain_text("never used")
    bearer_ = await owner.locator("#bint-token-secret-box-value").input_value()
    assert bearer_.startswith("bcb_")
    as_token = {"authorization": f"Bearer {bearer_}"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get(f"{API}/businesses/shop/conversations", headers=as_token)
        assert r.status_code == 200, r.text
        r = await http.get(f"{API}/businesses/shop/tokens", headers=shop)
        assert [(t["name"], t["role"]) for t in r.json()["items"]] == [("Analytics", "viewer")]
    await row_.locator("[data-what=revoke]").click()
    await owner.click("#confirm-ok")
    await owner.locator("#bint-tokens", has_text="No API tokens yet").wait_for()
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get(f"{API}/businesses/shop/conversations", headers=as_token)
        assert r.status_code == 401, r.text

    # Deleted, after a confirmation
    await hook.locator("[data-what=delete]").click()
    await owner.click("#confirm-ok")
    await owner.locator("#bint-webhooks", has_text="No webhooks yet").wait_for()
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get(f"{API}/businesses/shop/webhooks", headers=shop)).json() == {
            "items": []
        }
    assert errors == []
