"""Assignment in the business view, in real Chromium against a real server: an owner turns
on round-robin with a capacity, an agent says they take conversations, a new customer's
conversation goes to them, and a viewer, who takes none, is not offered it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser import shot
from tests.servers import Servers
from tests.test_web_business import account, page_of, signed_in
from tests.test_web_business_tools import shop_and_customer, token

pytestmark = pytest.mark.server

API = "/api/v1"


async def test_round_robin_is_set_up_and_agents_take_turns(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, vera, _carla, _conv = await shop_and_customer(http)

    owner = await page_of(browser, errors)
    await signed_in(owner, server.url, token(shop))
    await owner.select_option("#workspace", "shop")
    await owner.click("#business-assignment-open")
    await expect(owner.locator("#business-assignment-close")).to_be_focused()
    await expect(owner.locator("#bassign-mode")).to_have_value("manual")
    await owner.select_option("#bassign-mode", "round_robin")
    await owner.fill("#bassign-capacity", "0")
    await owner.click("#bassign-save")
    await owner.locator("#bassign-error", has_text="from 1 to 1000").wait_for()
    await expect(owner.locator("#bassign-capacity")).to_be_focused()
    await owner.fill("#bassign-capacity", "1")
    await owner.click("#bassign-save")
    await owner.locator("#business-assignment-status", has_text="Saved").wait_for()
    async with httpx.AsyncClient(base_url=server.url) as http:
        stored = (await http.get(f"{API}/businesses/shop/assignment", headers=shop)).json()
    assert (stored["mode"], stored["capacity"]) == ("round_robin", 1)

    # the agent takes conversations now; the table says who is next in turn
    agent = await page_of(browser, errors)
    await signed_in(agent, server.url, token(agnes))
    await agent.select_option("#workspace", "shop")
    await agent.click("#business-assignment-open")
    await agent.locator("#bassign-agents tr[data-handle=agnes]", has_text="Away").wait_for()
    assert await agent.locator("#bassign-mode").is_disabled()  # only owners and admins
    assert await agent.locator("#bassign-save").is_hidden()
    await agent.check("#bassign-available")
    await agent.locator("#business-assignment-status", has_text="You take conversations").wait_for()
    me = agent.locator("#bassign-agents tr[data-handle=agnes]")
    await expect(me).to_contain_text("Available")
    await expect(me.locator("td").nth(3)).to_have_text("Yes")
    await shot(agent, "business-assignment.png")

    # a new customer's conversation goes to her; at capacity she is no longer next
    async with httpx.AsyncClient(base_url=server.url) as http:
        olga = {"authorization": f"Bearer {await account(http, 'olga', 'Olga')}"}
        r = await http.post(
            f"{API}/conversations", json={"kind": "direct", "members": ["shop"]}, headers=olga
        )
        cid = r.json()["id"]
        r = await http.post(
            f"{API}/conversations/{cid}/messages", json={"text": "Hi!"}, headers=olga
        )
        assert r.status_code == 201, r.text
        state = (await http.get(f"{API}/businesses/shop/conversations/{cid}", headers=shop)).json()
    assert state["state"]["assignee"]["handle"] == "agnes"
    await agent.click("#business-assignment-close")
    await agent.click("#business-assignment-open")
    await expect(me.locator("td").nth(2)).to_have_text("1")
    await expect(me.locator("td").nth(3)).to_have_text("No")

    # a viewer reads it, and has no availability of their own
    viewer = await page_of(browser, errors)
    await signed_in(viewer, server.url, token(vera))
    await viewer.select_option("#workspace", "shop")
    assert await viewer.locator("#business-assignment-open").is_hidden()
    assert errors == []
