"""The web client in a real browser: Debian's Chromium driven by Playwright, against a
real server process. Skipped when no Chromium is installed, unless
BACKCHANNEL_TEST_REQUIRE_BROWSER is set (CI sets it, and installs Chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import open_with, send, shot, sign_up
from tests.servers import Servers

pytestmark = pytest.mark.server


async def test_the_page_is_served_with_a_strict_policy(tmp_path: Path, servers: Servers) -> None:
    server = await servers.serve(tmp_path / "data")
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert page.headers.get_list("content-security-policy") == [policy]
        script = await http.get("/static/app.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert (await http.get("/static/../backchannel.db")).status_code == 404


async def test_two_people_meet_through_a_request_and_talk_live(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(
        tmp_path / "data", env={"BACKCHANNEL_DM_INBOX_DEFAULT": "following"}
    )
    alice = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    bob = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    errors: list[str] = []
    for page in (alice, bob):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    await sign_up(alice, server.url, "alice", "Alice")
    await sign_up(bob, server.url, "bob", "Bob")
    await open_with(alice, "bob")
    await send(alice, "Hi Bob, loved your talk!")
    await alice.wait_for_selector("li.message.mine >> text=Hi Bob, loved your talk!")
    # a stranger's message is a request for bob
    await bob.click('[data-folder="requests"]')
    await bob.wait_for_selector("li.conversation >> text=Alice")
    await bob.click("li.conversation")
    await bob.wait_for_selector("#request-bar", state="visible")
    await bob.wait_for_selector("li.message.theirs >> text=Hi Bob, loved your talk!")
    await shot(bob, "request.png")
    await bob.click("#request-accept")
    await bob.wait_for_selector("#request-bar", state="hidden")
    await send(bob, "Thanks Alice! Check https://example.com/talk")
    # alice sees it live, with the link made safe
    reply = alice.locator("li.message.theirs", has_text="Thanks Alice!")
    await reply.wait_for()
    # and sees the request is no longer waiting
    subtitle = alice.locator("#conversation", has_text="haven't accepted")
    await subtitle.wait_for(state="detached")
    link = reply.locator("a")
    assert await link.get_attribute("href") == "https://example.com/talk"
    assert await link.get_attribute("rel") == "noopener noreferrer"
    # an XSS corpus renders as text
    corpus = [
        "<script>alert('x')</script>",
        '<img src=x onerror="alert(1)">',
        "javascript:alert(1)",
        '<a href="javascript:alert(1)">click</a>',
        "<svg/onload=alert(1)>",
    ]
    for text in corpus:
        await send(alice, text)
    for text in corpus:
        await bob.locator("li.message.theirs .text", has_text=text).first.wait_for()
    assert await bob.locator("#messages img, #messages script, #messages svg").count() == 0
    hrefs = await bob.locator("#messages a").evaluate_all("els => els.map(e => e.href)")
    assert all(h.startswith(("http://", "https://")) for h in hrefs), hrefs
    await shot(alice, "conversation-desktop.png")
    assert errors == []


async def test_the_layout_at_phone_width(tmp_path: Path, servers: Servers, browser: Any) -> None:
    server = await servers.serve(tmp_path / "data")
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(server.url)
    await page.wait_for_selector("form#auth")
    await shot(page, "sign-up-phone.png")
    await sign_up(page, server.url, "carol", "Carol")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the screen
    await shot(page, "inbox-phone.png")


async def test_a_photo_and_a_voice_note_travel_and_a_block_hides_everything(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    from tests.test_media import jpeg_with_gps, wav_seconds

    server = await servers.serve(tmp_path / "data")
    alice = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    bob = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    errors: list[str] = []
    for page in (alice, bob):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_up(alice, server.url, "alice", "Alice")
    await sign_up(bob, server.url, "bob", "Bob")
    await open_with(alice, "bob")
    files = [
        {"name": "beach.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps()},
        {"name": "note.wav", "mimeType": "audio/wav", "buffer": wav_seconds(1.0)},
    ]
    await alice.set_input_files("#file", files)
    await alice.locator("#attachments .attachment[data-media-id]").nth(1).wait_for()
    await send(alice, "from the beach")
    await open_with(bob, "alice")
    bubble = bob.locator("li.message.theirs", has_text="from the beach")
    await bubble.wait_for()
    image = bubble.locator("img.media-image")
    await image.wait_for()
    # the photo really loads (a signed link; the page sends no token for it)
    assert await image.evaluate("img => img.complete && img.naturalWidth") == 640
    await bubble.locator("audio.media-audio").wait_for()
    await shot(bob, "media.png")
    # bob blocks alice (through the API, with his page's own token): nothing more arrives
    token = await bob.evaluate("() => localStorage.getItem('bc.token')")
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.put(
            "/api/v1/users/alice/block", headers={"authorization": f"Bearer {token}"}
        )
        assert r.status_code == 204, r.text
    await send(alice, "are you ignoring me?")
    await alice.locator("li.message.mine", has_text="are you ignoring me?").wait_for()
    await bob.wait_for_timeout(800)
    assert await bob.locator("li.message", has_text="are you ignoring me?").count() == 0
    await bob.reload()
    await bob.wait_for_selector("#app", state="visible")
    await open_with(bob, "alice")
    await bob.locator("li.message", has_text="from the beach").wait_for()
    assert await bob.locator("li.message", has_text="are you ignoring me?").count() == 0
    # and the blocked account is listed in bob's settings
    await bob.click("#settings-open")
    await bob.locator("#settings-blocked", has_text="alice").wait_for()
    assert errors == []


async def test_replies_edits_forwards_controls_and_groups(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    alice = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    bob = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    errors: list[str] = []
    for page in (alice, bob):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_up(alice, server.url, "alice", "Alice")
    await sign_up(bob, server.url, "bob", "Bob")
    await open_with(alice, "bob")
    await send(alice, "lunch at noon?")
    await open_with(bob, "alice")
    asked = bob.locator("li.message.theirs", has_text="lunch at noon?")
    await asked.wait_for()
    # a reply quotes the message, for both
    await asked.locator(".action-reply").click(force=True)
    await bob.locator("#reply-banner", has_text="lunch at noon?").wait_for()
    await send(bob, "yes!")
    answer = alice.locator("li.message.theirs", has_text="yes!")
    await answer.locator(".quote", has_text="lunch at noon?").wait_for()
    # an edit shows live
    mine = alice.locator("li.message.mine", has_text="lunch at noon?")
    await mine.locator(".action-edit").click(force=True)
    await alice.fill("#composer", "lunch at one?")
    await alice.click("#send")
    edited = bob.locator("li.message.theirs", has_text="lunch at one?")
    await edited.locator(".edited").wait_for()
    # pin and archive from the conversation menu
    await bob.click("#conversation-menu")
    await bob.click("#action-pin")
    await bob.locator("li.conversation .pinned").wait_for()
    # a group, created in the page
    await alice.fill("#new-group-title", "Lunch crew")
    await alice.fill("#new-group-members", "bob")
    await alice.click("#new-group-create")
    await alice.locator("#conversation-title", has_text="Lunch crew").wait_for()
    await send(alice, "welcome to the crew")
    await bob.locator("li.conversation", has_text="Lunch crew").wait_for()
    assert errors == []
