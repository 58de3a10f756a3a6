"""Browser-test support: Debian's Chromium driven by Playwright (no browser download).

Skipped when no Chromium is installed, unless BACKCHANNEL_TEST_REQUIRE_BROWSER is set (CI
sets it, and installs Chromium). Screenshots of the main screens go to docs/screenshots/
only when BACKCHANNEL_SCREENSHOTS is set (`make screenshots`), so a test run leaves the
tree as it found it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CHROMIUM = os.environ.get("BACKCHANNEL_TEST_CHROMIUM") or shutil.which("chromium")
# Chromium as this machine can run it: no sandbox as root, no GPU, and none of the
# background connections a closed network refuses.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A fake microphone (a beeping tone) that needs no prompt, for recorded voice notes.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("BACKCHANNEL_TEST_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (apt install chromium)")
        pytest.skip("no Chromium installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def sign_up(page: Any, url: str, handle: str, name: str) -> None:
    await page.goto(url)
    await page.fill("#handle", handle)
    await page.fill("#password", "a good long passphrase")
    await page.fill("#display-name", name)
    await page.click("#auth-submit")
    await page.wait_for_selector("#app", state="visible")


async def open_with(page: Any, handle: str) -> None:
    await page.fill("#new-handle", handle)
    await page.click("#new-open")
    await page.wait_for_selector("#composer", state="visible")


async def send(page: Any, text: str) -> None:
    await page.fill("#composer", text)
    await page.click("#send")


async def shot(page: Any, name: str) -> None:
    """Save a screenshot for the docs (only when asked: BACKCHANNEL_SCREENSHOTS)."""
    if os.environ.get("BACKCHANNEL_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / name))
    else:
        await page.screenshot()  # still rendered: a page that cannot paint fails here
