"""The business view of the web client in real Chromium, against a real server: an owner
turns their account into a business and builds a team, an agent works a customer's
conversation live (assign, label, note with @mention, reply as the business, resolve), the
customer sees only the business, and a viewer reads everything but changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import open_with, send, shot, sign_up
from tests.conftest import PASSWORD
from tests.servers import Servers

pytestmark = pytest.mark.server

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


async def account(http: httpx.AsyncClient, handle: str, name: str) -> str:
    r = await http.post(
        "/api/v1/accounts", json={"handle": handle, "password": PASSWORD, "display_name": name}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


async def page_of(browser: Any, errors: list[str], viewport: dict[str, int] = DESKTOP) -> Any:
    page = await (await browser.new_context(viewport=viewport)).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


async def signed_in(page: Any, url: str, token: str) -> None:
    """Open the app with a session made through the API (the token the page keeps)."""
    await page.goto(url)
    await page.evaluate("(t) => localStorage.setItem('bc.token', t)", token)
    await page.reload()
    await page.wait_for_selector("#app", state="visible")


async def bearer(page: Any) -> dict[str, str]:
    """The headers of the page's own session (its token in localStorage)."""
    token = await page.evaluate("localStorage.getItem('bc.token')")
    return {"authorization": f"Bearer {token}"}


def row(page: Any, text: str) -> Any:
    return page.locator("#business-conversations li", has_text=text)


async def test_a_team_works_the_business_inbox_live(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    api = "/api/v1"
    errors: list[str] = []
    owner = await page_of(browser, errors)
    await sign_up(owner, server.url, "shop", "Shop")
    # Settings: the account becomes a business, in the browser's time zone
    await owner.click("#settings-open")
    await owner.click("#settings-become-business")
    await owner.locator("#settings-business-text", has_text="now a business").wait_for()
    assert await owner.locator("#settings-become-business").is_hidden()
    await owner.click("#settings-close")
    await owner.locator("#workspace-bar").wait_for()
    shop = await bearer(owner)
    async with httpx.AsyncClient(base_url=server.url) as http:
        me = (await http.get(f"{api}/businesses/shop", headers=shop)).json()
        assert me["role"] == "owner"
        assert me["timezone"] == await owner.evaluate(
            "Intl.DateTimeFormat().resolvedOptions().timeZone"
        )
        r = await http.patch(f"{api}/me/settings", json={"dm_inbox": "everyone"}, headers=shop)
        assert r.status_code == 200, r.text
        agnes_token = await account(http, "agnes", "Agnes")
        vera_token = await account(http, "vera", "Vera")

    agent = await page_of(browser, errors)
    await signed_in(agent, server.url, agnes_token)
    assert await agent.locator("#workspace-bar").is_hidden()  # on no team yet

    # The owner adds the agent through the Team dialog; the agent's switcher appears live
    await owner.select_option("#workspace", "shop")
    await owner.locator("#business-name", has_text="Shop").wait_for()
    await owner.click("#business-team-open")
    await owner.fill("#business-add-handle", "agnes")
    await owner.select_option("#business-add-role", "agent")
    await owner.click("#business-add")
    await owner.locator(
        "#business-team-status", has_text="Agnes joined the team as agent"
    ).wait_for()
    assert await owner.locator("#business-members li[data-handle=agnes] select").input_value() == (
        "agent"
    )
    await owner.keyboard.press("Escape")
    await owner.locator("#business-team").wait_for(state="hidden")
    await agent.locator("#workspace-bar").wait_for()
    await agent.select_option("#workspace", "shop")
    await agent.locator("#business-role", has_text="Agent").wait_for()
    assert await agent.locator("#business-audit-open").is_hidden()
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.put(
            f"{api}/businesses/shop/members/vera", json={"role": "viewer"}, headers=shop
        )
        assert r.status_code == 201, r.text
        r = await http.post(
            f"{api}/businesses/shop/labels",
            json={"name": "Delivery", "color": "#e8590c"},
            headers=shop,
        )
        assert r.status_code == 201, r.text

    # A customer writes to the business: the agent sees it live, waiting
    customer = await page_of(browser, errors)
    await sign_up(customer, server.url, "carla", "Carla Customer")
    await open_with(customer, "shop")
    await send(customer, "Hello, my order hasn't arrived")
    waiting = row(agent, "Carla Customer")
    await waiting.locator(".waiting", has_text="waiting").wait_for()
    assert await waiting.locator(".preview").text_content() == "Hello, my order hasn't arrived"
    await row(owner, "Carla Customer").wait_for()
    await shot(agent, "business-inbox.png")

    # The owner opens it too; the agent takes it, labels it, and writes a note
    await row(owner, "Carla Customer").click()
    await owner.locator("#bconv-messages", has_text="my order").wait_for()
    await waiting.click()
    await agent.locator("#bconv-messages li", has_text="my order").wait_for()
    assert await agent.locator("#bconv-messages .sender").first.text_content() == "Carla Customer"
    await agent.select_option("#bconv-assignee", "agnes")
    await waiting.locator(".assignee-name", has_text="Agnes").wait_for()
    await row(owner, "Carla Customer").locator(".assignee-name", has_text="Agnes").wait_for()
    toggle = agent.locator(".label-toggle", has_text="Delivery")
    await toggle.click()
    await agent.locator(".label-toggle[aria-pressed=true]", has_text="Delivery").wait_for()
    chip = waiting.locator(".label-chip", has_text="Delivery")
    await chip.wait_for()
    assert await chip.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(232, 89, 12)"
    await row(owner, "Carla Customer").locator(".label-chip", has_text="Delivery").wait_for()
    await agent.fill("#bconv-note-text", "@shop can we refund the shipping?")
    await agent.click("#bconv-note-add")
    await agent.locator("#bconv-notes .note", has_text="refund the shipping").wait_for()
    owner_note = owner.locator("#bconv-notes .note", has_text="refund the shipping")
    await owner_note.wait_for()
    assert await owner_note.locator(".mention").text_content() == "@shop"
    await owner.locator(".notice", has_text="Agnes mentioned you").wait_for()

    # The agent replies as the business: the customer sees the business, the team the agent
    await agent.fill("#bconv-text", "Sorry! It ships today.")
    await agent.click("#bconv-send")
    await customer.locator("#messages li", has_text="It ships today").wait_for()
    assert await customer.locator("#conversation-title").text_content() == "Shop"
    assert "Agnes" not in await customer.locator("#app").inner_text()
    async with httpx.AsyncClient(base_url=server.url) as http:
        carla = await bearer(customer)
        conversations = (await http.get(f"{api}/conversations", headers=carla)).json()["items"]
        messages = (
            await http.get(f"{api}/conversations/{conversations[0]['id']}/messages", headers=carla)
        ).json()["items"]
    assert messages[-1]["text"] == "Sorry! It ships today."
    assert messages[-1]["sender"]["handle"] == "shop"
    assert "agent" not in messages[-1]
    reply = owner.locator("#bconv-messages li", has_text="It ships today")
    await reply.locator(".sender", has_text="Agnes · as Shop").wait_for()
    assert await waiting.locator(".waiting").count() == 0  # answered
    await shot(owner, "business-conversation.png")

    # Resolving takes it out of Open; the customer's next message brings it back live
    await agent.select_option("#bconv-status", "resolved")
    await waiting.wait_for(state="detached")
    await row(owner, "Carla Customer").wait_for(state="detached")
    await agent.click(".business-tabs [data-status=resolved]")
    await waiting.wait_for()
    await agent.click(".business-tabs [data-status=open]")
    await waiting.wait_for(state="detached")
    await send(customer, "Great, thanks!")
    await waiting.locator(".waiting", has_text="waiting").wait_for()
    assert await agent.locator("#bconv-status").input_value() == "open"
    await row(owner, "Carla Customer").wait_for()

    # A viewer sees it all, and no composer or triage controls
    viewer = await page_of(browser, errors)
    await signed_in(viewer, server.url, vera_token)
    await viewer.select_option("#workspace", "shop")
    await row(viewer, "Carla Customer").click()
    await viewer.locator("#bconv-messages .sender", has_text="Agnes · as Shop").wait_for()
    await viewer.locator("#bconv-notes .note", has_text="refund the shipping").wait_for()
    panel = viewer.locator("#bconv-panel")
    await panel.locator("dd", has_text="Agnes").wait_for()
    assert await viewer.locator("#bconv-composer").is_hidden()
    assert "can't reply" in await viewer.locator("#bconv-readonly").text_content()
    for control in ("#bconv-status", "#bconv-assignee", "#bconv-note-text", ".label-toggle"):
        assert await viewer.locator(control).count() == 0, control
    assert await panel.locator(".label-chip", has_text="Delivery").count() == 1
    await shot(viewer, "business-viewer.png")
    await viewer.click("#business-team-open")
    await viewer.locator(
        "#business-members li[data-handle=agnes] .role", has_text="Agent"
    ).wait_for()
    assert await viewer.locator("#business-add-form").is_hidden()
    assert await viewer.locator("#business-members select").count() == 0
    await viewer.keyboard.press("Escape")

    # The owner's audit log shows who did what
    await owner.click("#business-audit-open")
    await owner.locator("#business-audit-list li", has_text="Agnes replied").wait_for()
    await owner.keyboard.press("Escape")

    # The business's conversation is not the agent's own: "My messages" stays empty
    await agent.select_option("#workspace", "")
    assert await agent.locator("#conversations").is_visible()
    assert await agent.locator("#conversations li").count() == 0
    assert errors == []


async def test_the_team_conversation_at_phone_width(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    api = "/api/v1"
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop = {"authorization": f"Bearer {await account(http, 'shop', 'Shop')}"}
        r = await http.post(f"{api}/me/business", json={"timezone": "UTC"}, headers=shop)
        assert r.status_code == 201, r.text
        await http.patch(f"{api}/me/settings", json={"dm_inbox": "everyone"}, headers=shop)
        agnes = await account(http, "agnes", "Agnes")
        r = await http.put(
            f"{api}/businesses/shop/members/agnes", json={"role": "agent"}, headers=shop
        )
        assert r.status_code == 201, r.text
        carla = {"authorization": f"Bearer {await account(http, 'carla', 'Carla')}"}
        conv = (
            await http.post(
                f"{api}/conversations", json={"kind": "direct", "members": ["shop"]}, headers=carla
            )
        ).json()
        r = await http.post(
            f"{api}/conversations/{conv['id']}/messages",
            json={"txn_id": "t1", "text": "Do you ship abroad?"},
            headers=carla,
        )
        assert r.status_code == 201, r.text
    phone = await page_of(browser, errors, PHONE)
    await signed_in(phone, server.url, agnes)
    await phone.select_option("#workspace", "shop")
    await row(phone, "Carla").click()
    # one pane at a time: the inbox gives way to the conversation, its panel below
    await phone.locator("#bconv-messages li", has_text="ship abroad").wait_for()
    assert await phone.locator("#inbox-pane").is_hidden()
    assert await phone.locator("#bconv-back").is_visible()
    text_box = await phone.locator("#bconv-text").bounding_box()
    panel_box = await phone.locator("#bconv-panel").bounding_box()
    assert panel_box["y"] >= text_box["y"] + text_box["height"]
    # snoozing asks until when (tomorrow morning unless changed), then leaves the Open tab
    await phone.select_option("#bconv-status", "snoozed")
    until = await phone.locator("#bconv-snooze-until").input_value()
    assert until.endswith("T09:00"), until
    await phone.click("#bconv-snooze")
    await phone.locator("#bconv-subtitle", has_text="Snoozed").wait_for()
    await phone.click("#bconv-back")
    await phone.locator("#business-status", has_text="No conversations here.").wait_for()
    await phone.click(".business-tabs [data-status=snoozed]")
    await row(phone, "Carla").wait_for()
    assert await phone.locator("#business-conversation").is_hidden()
    assert errors == []
