"""The web client's panels in a real browser: the unread count (title and favicon) and
desktop notifications, devices in Settings, group settings, reporting and blocking.
Real Chromium against a real server process, one browser context per person or device."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import open_with, send, shot, sign_up
from tests.servers import Servers

pytestmark = pytest.mark.server

PASSWORD = "a good long passphrase"
VIEWPORT = {"width": 1280, "height": 800}

# Records `new Notification(...)` (the real permission stays the browser's), counts chimes,
# and lets the test send the page to the background: `window.__away = true` makes it
# hidden and unfocused. Init scripts run before the page's own and are not subject to its CSP.
RECORDER = """
(() => {
  window.__notes = [];
  window.__away = false;
  window.__chimes = 0;
  const Real = window.Notification;
  class Recorded {
    constructor(title, options = {}) {
      this.title = title;
      this.body = options.body;
      this.tag = options.tag;
      this.onclick = null;
      this.onclose = null;
      window.__notes.push(this);
    }
    close() {}
    static get permission() { return Real.permission; }
    static requestPermission() { return Real.requestPermission(); }
  }
  window.Notification = Recorded;
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true, get() { return window.__away ? "hidden" : "visible"; },
  });
  Object.defineProperty(Document.prototype, "hidden", {
    configurable: true, get() { return window.__away; },
  });
  Document.prototype.hasFocus = function () { return !window.__away; };
  const oscillator = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () {
    window.__chimes += 1;
    return oscillator.call(this);
  };
})();
"""

NOTES = "() => window.__notes.map((n) => ({title: n.title, body: n.body}))"

# The favicon's pixel inside the unread badge (and outside the plain icon's bubble).
BADGE_PIXEL = """async () => {
  const img = new Image();
  img.src = document.querySelector('link[rel="icon"]').href;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = 64;
  canvas.height = 64;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0, 64, 64);
  return Array.from(ctx.getImageData(56, 10, 1, 1).data);
}"""


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10) -> Any:
    """Poll `check` until it returns something truthy (its value), or fail with the last."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {value!r} after {timeout}s")
        await asyncio.sleep(0.1)


class Person:
    """Someone acting through the API (not in a browser)."""

    def __init__(self, http: httpx.AsyncClient, token: str, handle: str) -> None:
        self.http = http
        self.handle = handle
        self.headers = {"authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, expect: int = 200, **kw: Any) -> Any:
        r = await self.http.request(method, f"/api/v1{path}", headers=self.headers, **kw)
        assert r.status_code == expect, r.text
        return r.json() if r.content else None

    async def direct(self, handle: str) -> str:
        r = await self.http.post(
            "/api/v1/conversations",
            headers=self.headers,
            json={"kind": "direct", "members": [handle]},
        )
        assert r.status_code in (200, 201), r.text
        return str(r.json()["id"])

    async def send(self, conversation_id: str, text: str) -> None:
        body = {"txn_id": str(uuid.uuid4()), "text": text}
        await self.call("POST", f"/conversations/{conversation_id}/messages", 201, json=body)


async def person(http: httpx.AsyncClient, handle: str, name: str) -> Person:
    r = await http.post(
        "/api/v1/accounts", json={"handle": handle, "password": PASSWORD, "display_name": name}
    )
    assert r.status_code == 201, r.text
    return Person(http, r.json()["token"], handle)


async def new_page(browser: Any, errors: list[str], **context: Any) -> Any:
    page = await (await browser.new_context(viewport=VIEWPORT, **context)).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    return page


async def log_in(page: Any, url: str, handle: str) -> None:
    await page.goto(url)
    await page.click("#auth-toggle")
    await page.fill("#handle", handle)
    await page.fill("#password", PASSWORD)
    await page.click("#auth-submit")
    await page.wait_for_selector("#app", state="visible")


async def token_of(page: Any) -> str:
    return str(await page.evaluate("() => localStorage.getItem('bc.token')"))


async def menu(page: Any, item: str) -> None:
    await page.click("#conversation-menu")
    await page.click(item)


async def test_the_title_and_favicon_count_unread_but_not_muted(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    alice = await new_page(browser, errors)
    await sign_up(alice, server.url, "alice", "Alice")
    await alice.locator('link[rel="icon"][href^="data:image/png"]').wait_for(state="attached")
    assert await alice.title() == "Backchannel"
    assert (await alice.evaluate(BADGE_PIXEL))[3] == 0  # no badge
    async with httpx.AsyncClient(base_url=server.url) as http:
        bob = await person(http, "bob", "Bob")
        carol = await person(http, "carol", "Carol")
        dave = await person(http, "dave", "Dave")
        with_bob = await bob.direct("alice")
        with_carol = await carol.direct("alice")
        await bob.send(with_bob, "one")
        await bob.send(with_bob, "two")
        await carol.send(with_carol, "three")
        await alice.locator("li.conversation", has_text="Carol").wait_for()
        await eventually(lambda: alice.evaluate("() => document.title === '(3) Backchannel'"))
        red, green, blue, alpha = await alice.evaluate(BADGE_PIXEL)
        assert alpha == 255 and red > 200 and green < 100 and blue < 100, (red, green, blue)
        # alice reads and mutes carol's conversation, then reads bob's
        await alice.click("li.conversation >> text=Carol")
        await menu(alice, "#action-mute")
        await alice.locator("li.conversation .muted").wait_for()
        await alice.click("li.conversation >> text=Bob")
        await eventually(lambda: alice.evaluate("() => document.title === 'Backchannel'"))
        # carol's new messages are unread, but muted: they count nowhere
        await carol.send(with_carol, "four")
        await carol.send(with_carol, "five")
        carol_row = alice.locator("li.conversation", has_text="Carol")
        await carol_row.locator(".badge", has_text="2").wait_for()
        assert await alice.title() == "Backchannel"
        assert (await alice.evaluate(BADGE_PIXEL))[3] == 0
        # an unmuted one does, live
        await dave.send(await dave.direct("alice"), "six")
        await eventually(lambda: alice.evaluate("() => document.title === '(1) Backchannel'"))
        assert (await alice.evaluate(BADGE_PIXEL))[3] == 255
    assert errors == []


async def test_desktop_notifications_in_the_background_and_never_when_muted(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    context = await browser.new_context(viewport=VIEWPORT, permissions=["notifications"])
    await context.add_init_script(RECORDER)
    alice = await context.new_page()
    alice.on("pageerror", lambda exc: errors.append(str(exc)))
    await sign_up(alice, server.url, "alice", "Alice")
    # turned on from Settings (the permission is the context's)
    await alice.click("#settings-open")
    desktop = alice.locator("#settings-notify-desktop")
    assert not await desktop.is_checked()  # off by default
    await desktop.click()
    await eventually(desktop.is_checked)  # once the permission is asked for and granted
    assert await alice.locator("#settings-notify-previews").is_checked()
    await alice.click("#settings-notify-sound")
    await alice.locator("#settings-notify-status").scroll_into_view_if_needed()
    await shot(alice, "settings-notifications.png")
    await alice.click("#settings-close")
    async with httpx.AsyncClient(base_url=server.url) as http:
        bob = await person(http, "bob", "Bob")
        carol = await person(http, "carol", "Carol")
        with_bob = await bob.direct("alice")
        with_carol = await carol.direct("alice")
        # while alice looks at the page: nothing pops up
        await bob.send(with_bob, "hello while you look")
        await carol.send(with_carol, "hi from carol")
        await alice.locator("li.conversation", has_text="hi from carol").wait_for()
        await alice.locator("li.conversation", has_text="hello while you look").wait_for()
        assert await alice.evaluate(NOTES) == []
        await alice.click("li.conversation >> text=Carol")
        await menu(alice, "#action-mute")
        await alice.locator("li.conversation .muted").wait_for()
        # in the background: bob's message notifies (with its text), and chimes
        await alice.evaluate("() => { window.__away = true; }")
        chimes = await alice.evaluate("() => window.__chimes")
        await bob.send(with_bob, "are you there?")
        notes = await eventually(lambda: alice.evaluate(NOTES))
        assert notes == [{"title": "Bob", "body": "are you there?"}]
        assert await alice.evaluate("() => window.__chimes") > chimes
        # carol's conversation is muted: nothing, though bob's later message does notify
        await carol.send(with_carol, "muted news")
        await bob.send(with_bob, "second")
        notes = await eventually(
            lambda: alice.evaluate(f"() => ({NOTES})().length === 2 && ({NOTES})()")
        )
        assert [n["body"] for n in notes] == ["are you there?", "second"]
        # clicking a notification opens its conversation
        await alice.evaluate("() => window.__notes[0].onclick()")
        await alice.locator("#conversation-title", has_text="Bob").wait_for()
        await alice.locator("li.message.theirs", has_text="second").wait_for()
        # previews off: the sender's name only
        await alice.click("li.conversation >> text=Carol")
        await alice.click("#settings-open")
        await alice.click("#settings-notify-previews")
        await alice.click("#settings-close")
        await bob.send(with_bob, "a secret")
        notes = await eventually(
            lambda: alice.evaluate(f"() => ({NOTES})().length === 3 && ({NOTES})()")
        )
        assert notes[2] == {"title": "Bob", "body": "New message"}
    assert errors == []


async def test_a_device_logged_out_from_settings_is_back_at_sign_in(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    laptop = await new_page(browser, errors)
    phone = await new_page(browser, errors)
    tablet = await new_page(browser, errors)
    await sign_up(laptop, server.url, "alice", "Alice")
    await log_in(phone, server.url, "alice")
    await log_in(tablet, server.url, "alice")
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get(
            "/api/v1/sessions", headers={"authorization": f"Bearer {await token_of(phone)}"}
        )
        phone_session = next(s["id"] for s in r.json()["items"] if s["current"])
    await laptop.click("#settings-open")
    devices = laptop.locator("#settings-devices li.device")
    await devices.nth(2).wait_for()
    assert await devices.count() == 3
    this = laptop.locator("li.device", has_text="This device")
    assert await this.count() == 1 and await this.locator("button").count() == 0
    assert "Chrome" in (await devices.first.inner_text())
    await laptop.locator("#settings-logout-others").scroll_into_view_if_needed()
    await shot(laptop, "settings-devices.png")
    await laptop.click(f'li.device[data-id="{phone_session}"] button.device-logout')
    # the phone drops back to the sign-in screen by itself; the tablet stays in
    await phone.wait_for_selector("#auth-screen", state="visible")
    assert await phone.evaluate("() => localStorage.getItem('bc.token')") is None
    await devices.nth(1).wait_for()
    await laptop.locator(f'li.device[data-id="{phone_session}"]').wait_for(state="detached")
    assert await tablet.locator("#app").is_visible()
    # and everywhere else at once
    await laptop.click("#settings-logout-others")
    await tablet.wait_for_selector("#auth-screen", state="visible")
    await laptop.locator("#settings-devices li.device").nth(1).wait_for(state="detached")
    assert await devices.count() == 1
    assert await laptop.locator("#settings-logout-others").is_hidden()
    assert await laptop.locator("#app").is_visible()
    assert errors == []


async def test_a_rest_call_refused_for_the_token_also_returns_to_sign_in(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    phone = await new_page(browser, errors)
    # the stream never answers here, so only a REST call can learn of the revocation
    await phone.route_web_socket("**/api/v1/stream", lambda ws: None)
    await sign_up(phone, server.url, "alice", "Alice")
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/v1/sessions", json={"handle": "alice", "password": PASSWORD})
        laptop = Person(http, r.json()["token"], "alice")
        sessions = (await laptop.call("GET", "/sessions"))["items"]
        (phone_session,) = [s["id"] for s in sessions if not s["current"]]
        await laptop.call("DELETE", f"/sessions/{phone_session}", 204)
    assert await phone.locator("#app").is_visible()
    await phone.click("#settings-open")
    await phone.wait_for_selector("#auth-screen", state="visible")
    assert await phone.locator("#settings").is_hidden()
    assert await phone.evaluate("() => localStorage.getItem('bc.token')") is None
    assert errors == []


async def test_group_settings_rename_add_remove_live_and_only_for_admins(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    alice = await new_page(browser, errors)
    bob = await new_page(browser, errors)
    carol = await new_page(browser, errors)
    await sign_up(alice, server.url, "alice", "Alice")
    await sign_up(bob, server.url, "bob", "Bob")
    await sign_up(carol, server.url, "carol", "Carol")
    async with httpx.AsyncClient(base_url=server.url) as http:
        await person(http, "dave", "Dave")
    await alice.fill("#new-group-title", "Lunch crew")
    await alice.fill("#new-group-members", "bob, carol")
    await alice.click("#new-group-create")
    await alice.locator("#conversation-title", has_text="Lunch crew").wait_for()
    await send(alice, "welcome")
    for page in (bob, carol):
        await page.click("li.conversation >> text=Lunch crew")
        await page.locator("#conversation-title", has_text="Lunch crew").wait_for()
    # bob (a member) sees the group, but none of an admin's controls
    await menu(bob, "#action-group-settings")
    await bob.locator("#group-members li.member").nth(2).wait_for()
    admin_row = bob.locator("li.member", has_text="Alice")
    assert await admin_row.locator(".role").inner_text() == "Admin"
    assert await bob.locator("li.member", has_text="Carol").locator(".role").count() == 0
    assert await bob.locator("#group-members .member-remove").count() == 0
    assert await bob.locator("#group-add-form").is_hidden()
    assert await bob.locator("#group-title").get_attribute("readonly") is not None
    assert await bob.locator("#group-title-hint").is_visible()
    # a direct conversation's menu has no group settings
    await open_with(carol, "alice")
    await carol.locator("#conversation-title", has_text="Alice").wait_for()
    await carol.click("#conversation-menu")
    assert await carol.locator("#action-group-settings").is_hidden()
    assert await carol.locator("#action-block").is_visible()
    await carol.keyboard.press("Escape")
    await carol.click("li.conversation >> text=Lunch crew")
    # alice (the admin) renames the group: bob sees it live, dialog and header alike
    await menu(alice, "#action-group-settings")
    await alice.fill("#group-title", "Dinner crew")
    await alice.click("#group-title-save")
    await alice.locator("#group-status", has_text="Saved").wait_for()
    await bob.locator("#conversation-title", has_text="Dinner crew").wait_for()
    await eventually(
        lambda: bob.evaluate("() => document.getElementById('group-title').value === 'Dinner crew'")
    )
    await carol.locator("li.conversation", has_text="Dinner crew").wait_for()
    # adds dave, and a wrong handle gets the server's reason
    await alice.fill("#group-add-handles", "nobody-here")
    await alice.click("#group-add")
    await alice.locator("#group-status.error").wait_for()
    assert await alice.locator("#group-status").inner_text() != ""
    await alice.fill("#group-add-handles", "@dave")
    await alice.click("#group-add")
    await bob.locator("li.member", has_text="Dave").wait_for()
    await bob.locator("#group-members-title", has_text="Members (4)").wait_for()
    await shot(alice, "group-settings.png")
    # removes carol (after confirming): she loses the group, bob sees her go
    await alice.locator("li.member", has_text="Carol").locator(".member-remove").click()
    await alice.locator("#confirm-dialog", has_text="Remove Carol?").wait_for()
    await alice.click("#confirm-ok")
    await alice.locator("#confirm-dialog").wait_for(state="hidden")
    await bob.locator("li.member", has_text="Carol").wait_for(state="detached")
    await carol.locator("li.conversation", has_text="Dinner crew").wait_for(state="detached")
    assert await carol.locator("#conversation-view").is_hidden()
    await alice.locator("li.member", has_text="Carol").wait_for(state="detached")  # live too
    # bob leaves from the dialog; Escape first closes the confirm step only
    await bob.click("#group-leave")
    await bob.locator("#confirm-dialog").wait_for()
    await bob.keyboard.press("Escape")
    await bob.locator("#confirm-dialog").wait_for(state="hidden")
    assert await bob.locator("#group-settings").is_visible()
    await bob.click("#group-leave")
    await bob.click("#confirm-ok")
    await bob.locator("#group-settings").wait_for(state="hidden")
    await bob.locator("li.conversation", has_text="Dinner crew").wait_for(state="detached")
    await alice.locator("li.member", has_text="Bob").wait_for(state="detached")
    assert errors == []


async def test_block_and_report_from_the_request_bar_and_from_the_menu(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(
        tmp_path / "data", env={"BACKCHANNEL_DM_INBOX_DEFAULT": "following"}
    )
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        mod = await person(http, "mod", "Moderator")  # the first account moderates
        alice = await person(http, "alice", "Alice")
        carol = await person(http, "carol", "Carol")
        bob = await new_page(browser, errors)
        await sign_up(bob, server.url, "bob", "Bob")
        await alice.send(await alice.direct("bob"), "cheap followers, click here")
        await bob.click('[data-folder="requests"]')
        await bob.click("li.conversation >> text=Alice")
        await bob.wait_for_selector("#request-bar", state="visible")
        await bob.click("#request-block-report")
        dialog = bob.locator("#report-dialog")
        await dialog.locator("#report-title", has_text="Block and report @alice").wait_for()
        # a reason is needed
        await bob.click("#report-submit")
        await dialog.locator("#report-error", has_text="Pick a reason").wait_for()
        await dialog.locator("label.reason", has_text="Spam").click()
        await bob.fill("#report-comment", "sells followers")
        await shot(bob, "report.png")
        await bob.click("#report-submit")
        thanks = dialog.locator("#report-thanks")
        await thanks.wait_for()
        assert await thanks.inner_text() == "Thanks — our moderators will review it."
        assert await bob.evaluate("() => document.activeElement.id") == "report-done-close"
        await bob.click("#report-done-close")
        await dialog.wait_for(state="hidden")
        await bob.locator("li.conversation", has_text="Alice").wait_for(state="detached")
        assert await bob.locator("#conversation-view").is_hidden()
        queue = (await mod.call("GET", "/moderation/reports"))["items"]
        assert len(queue) == 1
        filed = queue[0]
        assert (filed["reason"], filed["reporter"], filed["target"]["handle"]) == (
            "spam",
            "bob",
            "alice",
        )
        assert filed["comment"] == "sells followers"
        bob_api = Person(http, await token_of(bob), "bob")
        blocked = (await bob_api.call("GET", "/me/blocks"))["items"]
        assert [u["handle"] for u in blocked] == ["alice"]
        # from the conversation menu: report carol (a person), then block her after confirming
        await bob_api.call("PUT", "/users/carol/follow", 204)
        await carol.send(await carol.direct("bob"), "hey")
        await bob.click('[data-folder="primary"]')
        await bob.click("li.conversation >> text=Carol")
        await menu(bob, "#action-report")
        await dialog.locator("#report-title", has_text="Report Carol (@carol)").wait_for()
        await dialog.locator("label.reason", has_text="Harassment").click()
        await bob.click("#report-submit")
        await thanks.wait_for()
        await bob.keyboard.press("Escape")
        await dialog.wait_for(state="hidden")
        queue = (await mod.call("GET", "/moderation/reports"))["items"]
        assert {(r["target"]["handle"], r["reason"]) for r in queue} == {
            ("alice", "spam"),
            ("carol", "harassment"),
        }
        # one message, from its bubble
        hey = bob.locator("li.message.theirs", has_text="hey")
        await hey.locator(".action-report").click(force=True)
        await dialog.locator("#report-title", has_text="Report message").wait_for()
        await dialog.locator("label.reason", has_text="Something else").click()
        await bob.click("#report-submit")
        await thanks.wait_for()
        await bob.click("#report-done-close")
        queue = (await mod.call("GET", "/moderation/reports"))["items"]
        (message_report,) = [r for r in queue if r["message_id"]]
        assert (message_report["reason"], message_report["target"]["handle"]) == ("other", "carol")
        await menu(bob, "#action-block")
        confirm = bob.locator("#confirm-dialog")
        await confirm.locator("#confirm-title", has_text="Block Carol?").wait_for()
        assert (await bob_api.call("GET", "/me/blocks"))["items"][0]["handle"] == "alice"
        await bob.click("#confirm-ok")
        await confirm.locator("#confirm-text", has_text="You blocked Carol").wait_for()
        blocked = (await bob_api.call("GET", "/me/blocks"))["items"]
        assert sorted(u["handle"] for u in blocked) == ["alice", "carol"]
    assert errors == []
