"""Message search in the inbox, in real Chromium against a real server: ranked results
with the matched words marked, markup in a message shown as text, a filter, and a result
opening its conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser import open_with, send, shot, sign_up
from tests.servers import Servers

pytestmark = pytest.mark.server


async def test_search_finds_highlights_filters_and_opens(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    bob = await (await browser.new_context()).new_page()
    await sign_up(bob, server.url, "bob", "Bob")
    alice = await (await browser.new_context(viewport={"width": 1100, "height": 760})).new_page()
    alice.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_up(alice, server.url, "alice", "Alice")
    await open_with(alice, "bob")
    await send(alice, "the <b>quarterly</b> report is ready")
    await alice.locator("#messages li", has_text="quarterly").wait_for()
    await send(alice, "quarterly numbers at https://example.com/q3")
    await alice.locator("#messages li", has_text="example.com").wait_for()
    await send(alice, "lunch later?")
    await alice.locator("#messages li", has_text="lunch later?").wait_for()
    await alice.reload()
    await alice.wait_for_selector("#app", state="visible")

    await alice.fill("#search-q", "quarter*")
    await alice.click("#search-go")
    results = alice.locator("#search-results li")
    await expect(results).to_have_count(2)
    marks = alice.locator("#search-results mark")
    await expect(marks).to_have_text(["quarterly", "quarterly"])
    # a message's markup is text, never HTML
    assert await alice.locator("#search-results b").count() == 0
    await expect(results.filter(has_text="<b>")).to_have_count(1)
    await shot(alice, "search.png")

    await alice.check("#search-link")
    await alice.click("#search-go")
    await expect(results).to_have_count(1)
    await expect(results).to_contain_text("example.com")

    await alice.fill("#search-q", '"report is" "nothing like this"')
    await alice.click("#search-go")
    await alice.locator("#search-status", has_text="No messages found").wait_for()
    await alice.fill("#search-q", '"open')
    await alice.click("#search-go")
    await alice.locator("#search-status", has_text="quote").wait_for()

    await alice.click("#search-clear")
    await alice.fill("#search-q", "lunch")
    await alice.click("#search-go")
    await results.first.locator("button").click()
    await alice.wait_for_selector("#composer", state="visible")
    await alice.locator("#messages li", has_text="lunch later?").wait_for()
    assert errors == []
