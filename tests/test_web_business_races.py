"""The team inbox never goes back in time: an answer the browser waited for must not undo
what the stream said meanwhile (real Chromium, a real server, the answer held back with
Playwright's routing to make the race happen every time)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import Servers
from tests.test_web_business import account, page_of, row, signed_in

pytestmark = pytest.mark.server

API = "/api/v1"


async def test_a_message_during_the_fetch_of_a_new_conversation_is_not_lost(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    """A conversation enters the inbox when it is created: the agent's page fetches it. The
    customer's first message arrives while that fetch is on its way, and the fetch's answer
    (read before the message) comes after: the row must still end up waiting."""
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop = {"authorization": f"Bearer {await account(http, 'shop', 'Shop')}"}
        agnes = await account(http, "agnes", "Agnes Agent")
        carla = {"authorization": f"Bearer {await account(http, 'carla', 'Carla Customer')}"}
        r = await http.post(f"{API}/me/business", json={"timezone": "UTC"}, headers=shop)
        assert r.status_code == 201, r.text
        r = await http.patch(f"{API}/me/settings", json={"dm_inbox": "everyone"}, headers=shop)
        assert r.status_code == 200, r.text
        r = await http.put(
            f"{API}/businesses/shop/members/agnes", json={"role": "agent"}, headers=shop
        )
        assert r.status_code == 201, r.text

        agent = await page_of(browser, errors)
        await signed_in(agent, server.url, agnes)
        await agent.select_option("#workspace", "shop")
        await agent.locator("#business-role", has_text="Agent").wait_for()

        held = asyncio.Event()
        release = asyncio.Event()

        async def hold_the_first(route: Any) -> None:
            if held.is_set():
                await route.continue_()
                return
            answer = await route.fetch()  # read now: before the message
            held.set()
            await release.wait()
            await route.fulfill(response=answer)

        await agent.route("**/api/v1/businesses/shop/conversations/c_*", hold_the_first)
        r = await http.post(
            f"{API}/conversations", json={"kind": "direct", "members": ["shop"]}, headers=carla
        )
        assert r.status_code == 201, r.text
        conv = r.json()["id"]
        await asyncio.wait_for(held.wait(), 10)
        r = await http.post(
            f"{API}/conversations/{conv}/messages",
            json={"txn_id": "t1", "text": "Is my parcel lost?"},
            headers=carla,
        )
        assert r.status_code == 201, r.text
        await asyncio.sleep(0.5)  # the message's events reach the page
        release.set()
        waiting = row(agent, "Carla Customer")
        await waiting.locator(".waiting", has_text="waiting").wait_for(timeout=10_000)
        assert await waiting.locator(".preview").text_content() == "Is my parcel lost?"
    assert errors == []
