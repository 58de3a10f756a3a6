"""Send later in a person's composer, in real Chromium against a real server: what is typed
is scheduled for a time, listed above the composer on every device of its author live,
cancelled from there, and refused in place without text or with a time gone by."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser import open_with, send, shot, sign_up
from tests.servers import Servers

pytestmark = pytest.mark.server


async def test_a_message_is_scheduled_listed_live_and_cancelled(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    context = await browser.new_context(viewport={"width": 1100, "height": 760})
    bob = await (await browser.new_context()).new_page()
    await sign_up(bob, server.url, "bob", "Bob")
    alice = await context.new_page()
    alice.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_up(alice, server.url, "alice", "Alice")
    await open_with(alice, "bob")
    await send(alice, "hi bob")
    await alice.locator("#messages li", has_text="hi bob").wait_for()
    # the same account on a second device, the conversation open there too
    other = await context.new_page()
    other.on("pageerror", lambda exc: errors.append(str(exc)))
    await other.goto(server.url)
    await other.locator("#conversations li", has_text="Bob").click()
    await other.locator("#messages li", has_text="hi bob").wait_for()

    # nothing typed: refused in place
    await alice.click("#later-open")
    await expect(alice.locator("#later-at")).to_be_focused()
    await alice.click("#later-send")
    await alice.locator("#composer-error", has_text="Write the message first").wait_for()
    # a time gone by: refused
    await alice.fill("#composer", "happy birthday!")
    await alice.fill("#later-at", "2001-01-01T10:00")
    await alice.click("#later-send")
    await alice.locator("#composer-error", has_text="in the future").wait_for()
    # an hour from now (the default): scheduled, the composer emptied, listed on both devices
    await alice.click("#later-cancel")
    await alice.click("#later-open")
    await alice.click("#later-send")
    item = alice.locator("#later-list li", has_text="happy birthday!")
    await item.wait_for()
    await expect(item).to_contain_text("Sends")
    await expect(alice.locator("#composer")).to_have_value("")
    assert await alice.locator("#later-bar").is_hidden()
    await other.locator("#later-list li", has_text="happy birthday!").wait_for()
    await shot(alice, "send-later.png")
    token = await alice.evaluate("localStorage.getItem('bc.token')")
    async with httpx.AsyncClient(base_url=server.url) as http:
        listed = (
            await http.get("/api/v1/me/scheduled", headers={"authorization": f"Bearer {token}"})
        ).json()["items"]
    assert [(i["text"], i["status"]) for i in listed] == [("happy birthday!", "pending")]
    # bob sees nothing of it
    assert await bob.locator("#later-list li").count() == 0
    # cancelled from the other device: gone from both lists
    await (
        other.locator("#later-list li", has_text="happy birthday!")
        .get_by_role("button", name="Cancel")
        .click()
    )
    await other.locator("#later-list li").wait_for(state="detached")
    await alice.locator("#later-list li").wait_for(state="detached")
    async with httpx.AsyncClient(base_url=server.url) as http:
        listed = (
            await http.get("/api/v1/me/scheduled", headers={"authorization": f"Bearer {token}"})
        ).json()["items"]
    assert [i["status"] for i in listed] == ["cancelled"]
    assert errors == []
