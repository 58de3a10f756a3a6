"""The web client's "Delete your account" in real Chromium against a real server process:
the settings say what it does on this server before, the password and a ticked box are
asked for, and then the app closes, the sign-in screen says so, the account cannot log in,
and the person's messages become tombstones for the people they wrote to."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import open_with, send, shot, sign_up
from tests.servers import Servers
from tests.test_web_panels import VIEWPORT, person

pytestmark = pytest.mark.server


async def test_delete_your_account_from_settings(
    browser: Any, servers: Servers, tmp_path: Path
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    alice = await (await browser.new_context(viewport=VIEWPORT)).new_page()
    alice.on("pageerror", lambda exc: errors.append(str(exc)))
    alice.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    await sign_up(alice, server.url, "alice", "Alice")
    async with httpx.AsyncClient(base_url=server.url) as http:
        bob = await person(http, "bob", "Bob")
        await open_with(alice, "bob")
        await send(alice, "my last words")
        conversation = await bob.direct("alice")

        await alice.click("#settings-open")
        what = alice.locator("#settings-delete-what")
        await what.filter(has_text="erased for everyone").wait_for()
        assert "Nobody can register your handle for 30 days" in await what.inner_text()
        error = alice.locator("#settings-delete-error")
        await alice.click("#settings-delete-submit")
        await error.filter(has_text="Enter your password").wait_for()
        assert await alice.evaluate("document.activeElement.id") == "settings-delete-password"
        await alice.fill("#settings-delete-password", "not my password at all")
        await alice.click("#settings-delete-submit")
        await error.filter(has_text="Tick the box").wait_for()
        await alice.check("#settings-delete-confirm")
        await alice.click("#settings-delete-submit")
        await error.filter(has_text="password").wait_for()  # the server's wrong_password
        await alice.locator("#settings-delete-title").scroll_into_view_if_needed()
        await shot(alice, "settings-delete.png")
        assert await alice.locator("#app").is_visible()
        history = await bob.call("GET", f"/conversations/{conversation}/messages")
        assert [m["text"] for m in history["items"]] == ["my last words"]  # nothing happened

        await alice.fill("#settings-delete-password", "a good long passphrase")
        await alice.click("#settings-delete-submit")
        await alice.locator("#auth-screen").wait_for(state="visible")
        assert await alice.locator("#auth-error").inner_text() == "Your account was deleted."
        r = await http.post(
            "/api/v1/sessions", json={"handle": "alice", "password": "a good long passphrase"}
        )
        assert r.status_code == 401, r.text
        # the server's job erases the messages in the background, for everyone
        for _ in range(100):
            history = await bob.call("GET", f"/conversations/{conversation}/messages")
            if history["items"][0]["unsent"]:
                break
            await asyncio.sleep(0.1)
        assert [(m["text"], m["unsent"]) for m in history["items"]] == [(None, True)]
    assert errors == []
