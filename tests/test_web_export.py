"""The web client's "Download your data" in real Chromium against a real server process:
ask for an export, watch it become ready (the server's own job runner makes it), download
the ZIP from the link, and find the conversation in it, its hostile text escaped."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import sign_up
from tests.servers import Servers
from tests.test_web_panels import VIEWPORT, person

pytestmark = pytest.mark.server

HOSTILE = "<img src=x onerror=alert(1)> hi"


async def test_download_your_data_from_settings(
    browser: Any, servers: Servers, tmp_path: Path
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    context = await browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    alice = await context.new_page()
    alice.on("pageerror", lambda exc: errors.append(str(exc)))
    alice.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    await sign_up(alice, server.url, "alice", "Alice")
    async with httpx.AsyncClient(base_url=server.url) as http:
        bob = await person(http, "bob", "Bob")
        await bob.send(await bob.direct("alice"), HOSTILE)

    await alice.click("#settings-open")
    link = alice.locator("#settings-export-link")
    assert await link.is_hidden()
    await alice.click("#settings-export-request")
    # made in the background; the page hears of it by `export.updated` and shows the link
    await link.wait_for(state="visible", timeout=20_000)
    assert "Ready" in await alice.locator("#settings-export-status").inner_text()
    assert await alice.locator("#settings-export-request").is_disabled() is False

    async with alice.expect_download() as waiting:
        await link.click()
    download = await waiting.value
    path = await download.path()
    archive = zipfile.ZipFile(str(path))
    pages = [n for n in archive.namelist() if n.startswith("conversations/") and n.endswith("html")]
    assert len(pages) == 1
    page = archive.read(pages[0]).decode()
    assert "&lt;img src=x onerror=alert(1)&gt; hi" in page and "<img" not in page

    # asked again at once: the server's reason shows, the link stays
    await alice.click("#settings-export-request")
    status = alice.locator("#settings-export-status")
    await alice.wait_for_function(
        "() => document.querySelector('#settings-export-status').classList.contains('error')"
    )
    assert "recently" in await status.inner_text()
    assert errors == []
