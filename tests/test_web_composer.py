"""The web client's composer and bubbles in a real browser (Debian's Chromium, Playwright)
against a real server process: voice notes recorded from Chromium's fake microphone, shared
locations, link previews of a page served here, the emoji picker and reactions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser import open_with, send, shot, sign_up
from tests.servers import Servers
from tests.test_media import jpeg_with_gps
from tests.test_previews import LocalServer, page

pytestmark = pytest.mark.server

VIEWPORT = {"width": 1280, "height": 800}


async def two_people(browser: Any, url: str, **alice_context: Any) -> tuple[Any, Any, list[str]]:
    """Alice (in a context made with `alice_context`) and Bob, signed up, each with the
    conversation open; the list collects page errors."""
    alice = await (await browser.new_context(viewport=VIEWPORT, **alice_context)).new_page()
    bob = await (await browser.new_context(viewport=VIEWPORT)).new_page()
    errors: list[str] = []
    for p in (alice, bob):
        p.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_up(alice, url, "alice", "Alice")
    await sign_up(bob, url, "bob", "Bob")
    await open_with(alice, "bob")
    await open_with(bob, "alice")
    return alice, bob, errors


async def api_get(server_url: str, page_: Any, path: str) -> Any:
    token = await page_.evaluate("() => localStorage.getItem('bc.token')")
    async with httpx.AsyncClient(base_url=server_url) as http:
        r = await http.get(f"/api/v1{path}", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return r.json()


async def test_a_voice_note_recorded_in_the_browser_arrives_live_with_its_waveform(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    alice, bob, errors = await two_people(browser, server.url, permissions=["microphone"])
    await alice.click("#voice-record")
    await expect(alice.locator("#voice-bar")).to_be_visible()
    await expect(alice.locator("#composer-form")).to_be_hidden()
    await expect(alice.locator("#voice-send")).to_be_focused()
    await expect(alice.locator("#voice-time")).to_have_text("0:02", timeout=5000)
    await shot(alice, "voice-recording.png")
    await alice.click("#voice-send")
    # bob sees it live: a voice player and the waveform the page drew from the recording
    note = bob.locator("li.message.theirs .media-kind-voice")
    await note.locator("audio.media-audio").wait_for()
    assert await note.locator(".waveform .waveform-bar").count() > 10
    await expect(alice.locator("#composer-form")).to_be_visible()
    await expect(alice.locator("#voice-bar")).to_be_hidden()
    await expect(alice.locator("#voice-record")).to_be_focused()
    # the server took Chromium's recording as a voice note, about two seconds long
    conv_id = await bob.evaluate("() => document.querySelector('li.conversation').dataset.id")
    history = await api_get(server.url, bob, f"/conversations/{conv_id}/messages")
    media = history["items"][0]["media"][0]
    assert media["kind"] == "voice", media
    assert media["mime"] in ("audio/webm", "audio/ogg"), media
    assert 1500 <= media["duration_ms"] <= 6000, media
    levels = media["waveform"]
    assert len(levels) == 64 and max(levels) == 255 and all(0 <= v <= 255 for v in levels)
    # and its bytes play: the player reads the audio's metadata through the signed link
    audio = note.locator("audio.media-audio")
    await expect(audio).to_have_js_property("readyState", 4, timeout=10000)
    assert errors == []


async def test_a_microphone_that_is_refused_says_so(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    context = await browser.new_context(viewport=VIEWPORT)
    # what the browser answers when the person (or a site setting) refuses the microphone
    await context.add_init_script(
        "navigator.mediaDevices.getUserMedia = () =>"
        " Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"
    )
    carol = await context.new_page()
    await sign_up(carol, server.url, "carol", "Carol")
    await sign_up(await (await browser.new_context()).new_page(), server.url, "dave", "Dave")
    await open_with(carol, "dave")
    await carol.click("#voice-record")
    await expect(carol.locator("#composer-error")).to_contain_text("Microphone access was denied")
    await expect(carol.locator("#voice-bar")).to_be_hidden()
    await expect(carol.locator("#composer-form")).to_be_visible()


async def test_a_location_is_confirmed_then_shown_as_a_card_on_both_sides(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    alice, bob, errors = await two_people(
        browser,
        server.url,
        geolocation={"latitude": 48.85, "longitude": 2.35},
        permissions=["geolocation"],
    )
    await alice.click("#location-share")
    await expect(alice.locator("#location-text")).to_contain_text("48.85000, 2.35000")
    assert await alice.locator("li.message").count() == 0  # nothing is sent before asking
    await alice.click("#location-send")
    for p, side in ((alice, "mine"), (bob, "theirs")):
        card = p.locator(f"li.message.{side} .location-card")
        await expect(card.locator(".location-label")).to_have_text("Location")
        await expect(card.locator(".location-coords")).to_have_text("48.85000, 2.35000")
        link = card.locator("a.location-link")
        href = await link.get_attribute("href")
        assert href is not None
        assert href.startswith("https://www.openstreetmap.org/?mlat=48.850000&mlon=2.350000")
        assert await link.get_attribute("rel") == "noopener noreferrer"
        assert await link.get_attribute("target") == "_blank"
    await expect(alice.locator("#location-bar")).to_be_hidden()
    await expect(bob.locator("li.conversation .preview")).to_have_text("Location")
    # the server has it as a location message
    conv_id = await bob.evaluate("() => document.querySelector('li.conversation').dataset.id")
    message = (await api_get(server.url, bob, f"/conversations/{conv_id}/messages"))["items"][0]
    assert message["kind"] == "location"
    assert message["share"]["latitude"] == pytest.approx(48.85)
    assert errors == []


async def test_a_refused_location_says_so_and_sends_nothing(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    alice, _bob, errors = await two_people(browser, server.url)  # no geolocation permission
    await alice.click("#location-share")
    await expect(alice.locator("#composer-error")).to_contain_text("Location access was denied")
    await expect(alice.locator("#location-bar")).to_be_hidden()
    assert await alice.locator("li.message").count() == 0
    assert errors == []


ARTICLE = """<!doctype html><html><head>
<meta property="og:title" content="Tides of the North Sea">
<meta property="og:description" content="Why the water comes <b>and goes</b>, twice a day.">
<meta property="og:site_name" content="Coast Weekly">
<meta property="og:image" content="/tide.jpg">
<title>ignored</title></head><body>the article</body></html>"""


async def test_a_link_preview_appears_live_and_its_sender_removes_it_for_everyone(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    site = LocalServer()
    site.routes["/tides"] = page(ARTICLE)
    site.routes["/tide.jpg"] = page(jpeg_with_gps(), "image/jpeg")
    await site.start()
    try:
        server = await servers.serve(
            tmp_path / "data",
            env={"BACKCHANNEL_PREVIEW_ALLOWED_NETWORKS": json.dumps(["127.0.0.1/32"])},
        )
        alice, bob, errors = await two_people(browser, server.url)
        url = site.url("/tides")
        await send(alice, f"read this {url}")
        for p in (alice, bob):
            card = p.locator("li.message .link-preview")
            await expect(card.locator(".link-preview-title")).to_have_text("Tides of the North Sea")
            await expect(card.locator(".link-preview-site")).to_have_text("Coast Weekly")
            # the description is text: its markup shows as written
            await expect(card.locator(".link-preview-description")).to_have_text(
                "Why the water comes <b>and goes</b>, twice a day."
            )
            link = card.locator("a.link-preview-title")
            assert (await link.get_attribute("href") or "").startswith(url)
            assert await link.get_attribute("rel") == "noopener noreferrer"
            await expect(card.locator(".link-preview-host")).to_have_text(f"127.0.0.1:{site.port}")
            # the image comes from Backchannel (re-hosted), and loads under the page's policy
            image = card.locator("img.link-preview-image")
            await expect(image).to_have_js_property("naturalWidth", 640)
            src = await image.evaluate("img => img.src")
            assert src.startswith(f"{server.url}/api/v1/media/"), src
        assert site.requests and all(seen.headers.get("cookie") is None for seen in site.requests)
        await shot(bob, "link-preview.png")
        # only the sender may remove it; it goes for both, live
        assert await bob.locator(".preview-remove").count() == 0
        await alice.locator("li.message.mine .preview-remove").click()
        await expect(bob.locator(".link-preview")).to_have_count(0)
        await expect(alice.locator(".link-preview")).to_have_count(0)
        await expect(bob.locator("li.message.theirs .text")).to_have_text(f"read this {url}")
        await bob.reload()
        await open_with(bob, "alice")
        await bob.locator("li.message.theirs", has_text="read this").wait_for()
        assert await bob.locator(".link-preview").count() == 0
        assert errors == []
    finally:
        await site.stop()


async def test_the_emoji_picker_inserts_at_the_caret_by_keyboard(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    alice, bob, errors = await two_people(browser, server.url)
    await alice.fill("#composer", "ab")
    await alice.locator("#composer").evaluate("el => el.setSelectionRange(1, 1)")
    await alice.click("#emoji-open")
    picker = alice.locator("#emoji-picker")
    await expect(picker).to_be_visible()
    await expect(alice.locator("#emoji-open")).to_have_attribute("aria-expanded", "true")
    await expect(picker.locator("button").first).to_be_focused()
    assert await picker.locator("button").count() >= 40
    await alice.keyboard.press("ArrowRight")
    await expect(picker.locator("button", has_text="😂")).to_be_focused()
    await alice.keyboard.press("ArrowDown")  # a row down: the tenth
    await expect(picker.locator("button").nth(9)).to_be_focused()
    await alice.keyboard.press("ArrowUp")
    await alice.keyboard.press("Enter")
    await expect(picker).to_be_hidden()
    await expect(alice.locator("#composer")).to_have_value("a😂b")
    await expect(alice.locator("#composer")).to_be_focused()
    # Escape closes it and gives the focus back to its button
    await alice.click("#emoji-open")
    await expect(picker).to_be_visible()
    await alice.keyboard.press("Escape")
    await expect(picker).to_be_hidden()
    await expect(alice.locator("#emoji-open")).to_be_focused()
    await alice.click("#send")
    await bob.locator("li.message.theirs .text", has_text="a😂b").wait_for()
    assert errors == []


async def test_reactions_from_the_picker_and_the_chips_toggle_live(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    alice, bob, errors = await two_people(browser, server.url)
    await send(alice, "we won the match")
    theirs = bob.locator("li.message.theirs", has_text="we won the match")
    await theirs.wait_for()
    mine = alice.locator("li.message.mine", has_text="we won the match")
    await mine.wait_for()
    # only others' messages can be reported, and only once the report dialog is wired in
    assert await mine.locator(".action-report").count() == 0

    async def pick(emoji: str) -> None:
        await theirs.hover()
        await theirs.locator(".action-react").click()
        picker = theirs.locator(".reaction-picker")
        await expect(picker).to_be_visible()
        await picker.locator("button", has_text=emoji).click()
        await expect(picker).to_have_count(0)

    await pick("😂")
    await expect(mine.locator(".reaction")).to_have_text(["😂"])
    await pick("❤️")
    await expect(mine.locator(".reaction")).to_have_text(["😂", "❤️"])
    chip = theirs.locator(".reaction", has_text="😂")
    await expect(chip).to_have_attribute("aria-pressed", "true")
    # alice adds hers to 😂: a count of two for both
    await mine.locator(".reaction", has_text="😂").click()
    await expect(theirs.locator(".reaction", has_text="😂")).to_have_text("😂 2")
    await shot(bob, "reactions.png")
    # picking 😂 again takes bob's back (the picker shows it as chosen)
    await theirs.hover()
    await theirs.locator(".action-react").click()
    await expect(theirs.locator(".reaction-picker button", has_text="😂")).to_have_attribute(
        "aria-pressed", "true"
    )
    await theirs.locator(".reaction-picker button", has_text="😂").click()
    await expect(mine.locator(".reaction", has_text="😂")).to_have_text("😂")
    # and a chip click takes the heart back
    await theirs.locator(".reaction", has_text="❤️").click()
    await expect(mine.locator(".reaction")).to_have_text(["😂"])
    # the picker works by keyboard: arrows move, Enter picks, Escape closes
    await theirs.locator(".action-react").focus()
    await bob.keyboard.press("Enter")
    picker = theirs.locator(".reaction-picker")
    await expect(picker.locator("button").first).to_be_focused()
    await bob.keyboard.press("End")
    await expect(picker.locator("button", has_text="👍")).to_be_focused()
    await bob.keyboard.press("Enter")
    await expect(mine.locator(".reaction")).to_have_text(["😂", "👍"])
    await expect(theirs.locator(".action-react")).to_be_focused()
    await bob.keyboard.press("Enter")
    await expect(picker).to_be_visible()
    await bob.keyboard.press("Escape")
    await expect(picker).to_have_count(0)
    await expect(theirs.locator(".action-react")).to_be_focused()
    assert errors == []
