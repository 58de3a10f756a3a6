"""Disappearing messages in the web client, in real Chromium against a real server: a member
sets the timer from the conversation menu (a preset, then a custom length counted from
reading), both sides see it in the header live, and a bad length is refused in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser import open_with, send, shot, sign_up
from tests.servers import Servers

pytestmark = pytest.mark.server


async def test_the_timer_is_set_from_the_menu_and_shown_live(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    pages = []
    for handle, name in (("alice", "Alice"), ("bob", "Bob")):
        page = await (await browser.new_context(viewport={"width": 1100, "height": 760})).new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_up(page, server.url, handle, name)
        pages.append(page)
    alice, bob = pages
    await open_with(alice, "bob")
    await send(alice, "hello")
    await bob.locator("#conversations li", has_text="Alice").click()
    await bob.locator("#messages li", has_text="hello").wait_for()

    await alice.click("#conversation-menu")
    await alice.click("#action-disappearing")
    dialog = alice.locator("#disappearing-dialog")
    await expect(dialog).to_be_visible()
    await expect(alice.locator("input[name=disappearing-length][value=null]")).to_be_checked()
    await alice.check("input[name=disappearing-length][value='86400']")
    await alice.click("#disappearing-save")
    await expect(dialog).to_be_hidden()
    await expect(alice.locator("#conversation-subtitle")).to_contain_text(
        "Messages disappear 24 hours after they are sent"
    )
    await expect(bob.locator("#conversation-subtitle")).to_contain_text(
        "Messages disappear 24 hours after they are sent"
    )

    # a custom length, counted from reading; a length out of bounds is refused in place
    await bob.click("#conversation-menu")
    await bob.click("#action-disappearing")
    await expect(bob.locator("input[name=disappearing-length][value='86400']")).to_be_checked()
    await bob.check("input[name=disappearing-length][value=custom]")
    await bob.fill("#disappearing-amount", "0")
    await bob.click("#disappearing-save")
    await bob.locator("#disappearing-error", has_text="10 seconds to 90 days").wait_for()
    await bob.fill("#disappearing-amount", "45")
    await bob.select_option("#disappearing-unit", "60")
    await bob.check("#disappearing-seen")
    await shot(bob, "disappearing.png")
    await bob.click("#disappearing-save")
    for page in (alice, bob):
        await expect(page.locator("#conversation-subtitle")).to_contain_text(
            "Messages disappear 45 minutes after they are read"
        )
    token = await alice.evaluate("localStorage.getItem('bc.token')")
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get("/api/v1/conversations", headers={"authorization": f"Bearer {token}"})
    (conv,) = r.json()["items"]
    assert conv["disappearing"] == {"seconds": 2700, "from": "seen"}
    # and off again
    await alice.click("#conversation-menu")
    await alice.click("#action-disappearing")
    await alice.check("input[name=disappearing-length][value=null]")
    await alice.click("#disappearing-save")
    await expect(bob.locator("#conversation-subtitle")).not_to_contain_text("disappear")
    assert errors == []
