"""The web client's people search and message list in real Chromium: suggestions, long
histories (first unread, infinite scroll, jump to newest), day and sender grouping,
the photo viewer, and bubbles that keep their media when they change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import open_with, shot, sign_up
from tests.conftest import PASSWORD
from tests.servers import Servers

pytestmark = pytest.mark.server

DESKTOP = {"width": 1280, "height": 800}


async def account(http: httpx.AsyncClient, handle: str, name: str) -> dict[str, str]:
    r = await http.post(
        "/api/v1/accounts", json={"handle": handle, "password": PASSWORD, "display_name": name}
    )
    assert r.status_code == 201, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


async def page_of(browser: Any, errors: list[str]) -> Any:
    page = await (await browser.new_context(viewport=DESKTOP)).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


async def test_people_search_suggests_and_opens(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    async with httpx.AsyncClient(base_url=server.url) as http:
        await account(http, "bobby", "Robert Tables")
        await account(http, "carol", "Carol Singer")
        await account(http, "carla", "Carla Bruni")
    errors: list[str] = []
    alice = await page_of(browser, errors)
    await sign_up(alice, server.url, "alice", "Alice")
    # a word of a name finds the person; Enter on the highlighted one opens the chat
    await alice.fill("#new-handle", "tab")
    option = alice.locator("#new-handle-results [role=option]", has_text="Robert Tables")
    await option.wait_for()
    assert await alice.get_attribute("#new-handle", "aria-expanded") == "true"
    await alice.press("#new-handle", "ArrowDown")
    assert await option.get_attribute("aria-selected") == "true"
    await alice.press("#new-handle", "Enter")
    await alice.locator("#conversation-title", has_text="Robert Tables").wait_for()
    assert await alice.locator("#new-handle-results").is_hidden()
    # the group form completes the handle being typed, keeping those before it
    await alice.fill("#new-group-members", "bobby, car")
    results = alice.locator("#new-group-members-results [role=option]")
    await results.nth(1).wait_for()
    assert sorted(await results.locator(".person-handle").all_text_contents()) == [
        "@carla",
        "@carol",
    ]
    await results.filter(has_text="Carol Singer").click()
    assert await alice.input_value("#new-group-members") == "bobby, carol, "
    await alice.click("#new-group-create")
    await alice.locator("#conversation-subtitle", has_text="3 members").wait_for()
    assert errors == []


async def test_a_long_history_opens_at_the_first_unread_and_scrolls_back(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    alice = await page_of(browser, errors)
    await sign_up(alice, server.url, "alice", "Alice")
    async with httpx.AsyncClient(base_url=server.url) as http:
        bob = await account(http, "bob", "Bob")
        r = await http.post(
            "/api/v1/conversations", json={"kind": "direct", "members": ["alice"]}, headers=bob
        )
        cid = r.json()["id"]
        send = f"/api/v1/conversations/{cid}/messages"
        for i in range(30):
            r = await http.post(send, json={"text": f"old {i}"}, headers=bob)
            assert r.status_code == 201, r.text
        # alice reads those (through the API, as if on another device)...
        r = await http.get(send, params={"limit": 1}, headers=bob)
        newest = r.json()["items"][-1]["id"]
    token = await alice.evaluate("() => localStorage.getItem('bc.token')")
    async with httpx.AsyncClient(base_url=server.url) as http:
        me = {"authorization": f"Bearer {token}"}
        r = await http.post(f"/api/v1/conversations/{cid}/read", json={"up_to": newest}, headers=me)
        assert r.status_code == 200, r.text
        # ...and then 120 more arrive: more than two pages
        for i in range(120):
            r = await http.post(send, json={"text": f"new {i}"}, headers=bob)
            assert r.status_code == 201, r.text
    row = alice.locator("li.conversation", has_text="Bob")
    await row.locator(".badge", has_text="120").wait_for()
    await row.click()
    divider = alice.locator("li.unread-divider")
    await divider.wait_for()
    # "New messages" sits right before the first unread one, and is what the pane shows
    first_unread = alice.locator("li.unread-divider + li.message")
    assert (await first_unread.locator(".text").text_content()) == "new 0"
    assert await divider.evaluate(
        """d => { const s = document.getElementById('scroller').getBoundingClientRect();
                  const r = d.getBoundingClientRect(); return r.top >= s.top - 2 && r.bottom <= s.bottom; }"""
    )
    assert await alice.locator("#jump-newest").is_visible()
    await shot(alice, "first-unread.png")
    # one group from one sender on one day: a single "Today", the rest continue the group
    assert await alice.locator("li.day-divider").all_text_contents() == ["Today"]
    assert await alice.locator("li.message.cont").count() >= 100
    # scrolling to the top loads the older pages by itself, down to the very first message
    for _ in range(10):
        await alice.locator("#scroller").evaluate("s => { s.scrollTop = 0; }")
        if await alice.locator("li.message .text", has_text="old 0").count():
            break
        await alice.wait_for_timeout(300)
    await alice.locator("li.message .text", has_text="old 0").wait_for()
    assert await alice.locator("li.message").count() == 150
    assert await alice.locator("#load-older").is_hidden()
    assert await alice.locator("li.day-divider").count() == 1
    # the jump button brings the newest back; answering clears "New messages"
    await alice.click("#jump-newest")
    await alice.locator("#jump-newest").wait_for(state="hidden")
    assert await alice.locator("li.message .text", has_text="new 119").is_visible()
    await alice.fill("#composer", "caught up!")
    await alice.press("#composer", "Enter")
    await alice.locator("li.message.mine", has_text="caught up!").wait_for()
    await divider.wait_for(state="detached")
    # the day label of other days
    labels = await alice.evaluate(
        """async () => {
            const { dayLabel } = await import('/static/views/conversation.js');
            const yesterday = new Date(Date.now() - 86400000).toISOString();
            return [dayLabel(new Date().toISOString()), dayLabel(yesterday),
                    dayLabel('2020-03-03T12:00:00Z')];
        }"""
    )
    assert labels[:2] == ["Today", "Yesterday"] and "2020" in labels[2]
    assert errors == []


async def test_photos_open_in_the_viewer_and_survive_a_reaction(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    from tests.media_files import jpeg

    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    alice = await page_of(browser, errors)
    bob = await page_of(browser, errors)
    await sign_up(alice, server.url, "alice", "Alice")
    await sign_up(bob, server.url, "bob", "Bob")
    await open_with(alice, "bob")
    files = [
        {"name": f"p{i}.jpg", "mimeType": "image/jpeg", "buffer": jpeg((320 + i * 40, 200))}
        for i in range(2)
    ]
    await alice.set_input_files("#file", files)
    await alice.locator("#attachments .attachment[data-media-id]").nth(1).wait_for()
    await alice.fill("#composer", "two photos")
    await alice.click("#send")
    await open_with(bob, "alice")
    bubble = bob.locator("li.message.theirs", has_text="two photos")
    photo = bubble.locator("button.media-open").first
    await photo.wait_for()
    # the placeholder is the photo's blurred colours (a blurhash decoded in the page)
    background = await bubble.locator(".media.blurred").first.evaluate(
        "el => getComputedStyle(el).backgroundImage"
    )
    assert background.startswith('url("data:image/png;base64,')
    image = photo.locator("img")
    handle = await image.element_handle()
    assert await handle.evaluate("img => img.complete && img.naturalWidth") == 320
    # a reaction (alice's, live) re-renders the bubble, but the photo element stays
    token = await alice.evaluate("() => localStorage.getItem('bc.token')")
    message_id = await bubble.get_attribute("data-id")
    async with httpx.AsyncClient(base_url=server.url) as http:
        me = {"authorization": f"Bearer {token}"}
        r = await http.get("/api/v1/conversations", params={"folder": "primary"}, headers=me)
        cid = r.json()["items"][0]["id"]
        r = await http.put(
            f"/api/v1/conversations/{cid}/messages/{message_id}/reactions",
            json={"emoji": "🔥"},
            headers=me,
        )
        assert r.status_code == 200, r.text
    await bubble.locator(".reaction", has_text="🔥").wait_for()
    assert await handle.evaluate("img => img.isConnected")
    # the viewer: large, stepping with the arrow keys, Escape gives focus back
    await photo.click()
    viewer = bob.locator("dialog#viewer")
    await viewer.wait_for()
    assert await bob.locator("#viewer-count").text_content() == "1 of 2"
    first_src = await bob.get_attribute("#viewer-image", "src")
    await bob.keyboard.press("ArrowRight")
    assert await bob.locator("#viewer-count").text_content() == "2 of 2"
    assert await bob.get_attribute("#viewer-image", "src") != first_src
    assert await bob.locator("#viewer-next").is_disabled()
    width = await bob.locator("#viewer-image").evaluate(
        "img => new Promise(r => img.complete ? r(img.naturalWidth) : img.onload = () => r(img.naturalWidth))"
    )
    assert width == 360
    await shot(bob, "photo-viewer.png")
    await bob.keyboard.press("Escape")
    await viewer.wait_for(state="hidden")
    second = bubble.locator("button.media-open").nth(1)
    assert await second.evaluate("b => document.activeElement === b")
    assert errors == []
