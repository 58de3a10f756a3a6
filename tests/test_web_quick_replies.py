"""A business's suggested replies in the person's own web client, in real Chromium against
a real server: the FAQ bot answers with buttons, tapping one sends its label as the
person's message (and the bot answers that), and only the newest message offers any."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import open_with, send, shot, sign_up
from tests.conftest import PASSWORD
from tests.servers import Servers

pytestmark = pytest.mark.server

B = "/api/v1/businesses"


async def test_a_person_taps_a_business_s_suggested_reply(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post(
            "/api/v1/accounts",
            json={"handle": "shop", "password": PASSWORD, "display_name": "The Shop"},
        )
        shop = {"authorization": f"Bearer {r.json()['token']}"}
        assert (await http.post("/api/v1/me/business", json={}, headers=shop)).status_code == 201
        r = await http.patch("/api/v1/me/settings", json={"dm_inbox": "everyone"}, headers=shop)
        assert r.status_code == 200, r.text
        entries = [
            {
                "question": "What are your opening hours?",
                "keywords": ["opening hours"],
                "answer": "We are open 9 to 17.",
                "quick_replies": ["Shipping costs"],
            },
            {
                "question": "How much does shipping cost?",
                "alternatives": ["Shipping costs"],
                "answer": "Shipping is free above 50 euros.",
            },
        ]
        for entry in entries:
            r = await http.post(f"{B}/shop/bot/entries", json=entry, headers=shop)
            assert r.status_code == 201, r.text
        r = await http.patch(f"{B}/shop/bot", json={"enabled": True}, headers=shop)
        assert r.status_code == 200, r.text

    errors: list[str] = []
    page = await (await browser.new_context(viewport={"width": 1000, "height": 760})).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_up(page, server.url, "cyd", "Cyd")
    await open_with(page, "shop")
    await send(page, "What are your opening hours?")
    answer = page.locator("#messages li.message.theirs", has_text="We are open 9 to 17.")
    await answer.wait_for()
    group = answer.get_by_role("group", name="Suggested replies")
    buttons = group.get_by_role("button")
    labels = await buttons.all_inner_texts()
    assert labels[0] == "Shipping costs" and len(labels) >= 2  # and the hand-off button
    await shot(page, "quick-replies.png")
    await group.get_by_role("button", name="Shipping costs").click()
    mine = page.locator("#messages li.message.mine", has_text="Shipping costs")
    await mine.wait_for()
    reply = page.locator("#messages li.message.theirs", has_text="free above 50 euros")
    await reply.wait_for()
    # the first answer's buttons are gone now that more was said; the newest offers its own
    assert await group.is_hidden()
    newest = reply.get_by_role("group", name="Suggested replies")
    if await newest.count():
        assert await newest.is_visible()
    # the person's own messages never offer buttons
    assert await mine.locator(".quick-replies").count() == 0
    assert errors == []
