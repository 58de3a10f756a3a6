"""The business view's tools in real Chromium, against a real server: saved replies in the
team composer (`/` and the button, keys and mouse) and managed in the business settings,
the settings themselves (hours, holidays, automatic messages, errors by their field), the
customer's contact, and a customer's photo shown to the team."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.browser import shot
from tests.media_files import jpeg
from tests.servers import Servers
from tests.test_web_business import PHONE, account, page_of, row, signed_in

pytestmark = pytest.mark.server

API = "/api/v1"


async def shop_and_customer(
    http: httpx.AsyncClient, customer_text: str = "Hello, when do you ship?"
) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str], str]:
    """A business `shop` (UTC) with an agent and a viewer, and a customer who wrote to it:
    (shop, agnes, vera, carla) tokens as headers, and the conversation's id."""
    headers = {}
    for handle, name in (
        ("shop", "Shop"),
        ("agnes", "Agnes Agent"),
        ("vera", "Vera"),
        ("carla", "Carla Customer"),
    ):
        headers[handle] = {"authorization": f"Bearer {await account(http, handle, name)}"}
    shop = headers["shop"]
    r = await http.post(f"{API}/me/business", json={"timezone": "UTC"}, headers=shop)
    assert r.status_code == 201, r.text
    r = await http.patch(f"{API}/me/settings", json={"dm_inbox": "everyone"}, headers=shop)
    assert r.status_code == 200, r.text
    for member, role in (("agnes", "agent"), ("vera", "viewer")):
        r = await http.put(
            f"{API}/businesses/shop/members/{member}", json={"role": role}, headers=shop
        )
        assert r.status_code == 201, r.text
    carla = headers["carla"]
    r = await http.post(
        f"{API}/conversations", json={"kind": "direct", "members": ["shop"]}, headers=carla
    )
    conv = r.json()["id"]
    r = await http.post(
        f"{API}/conversations/{conv}/messages",
        json={"txn_id": "t1", "text": customer_text},
        headers=carla,
    )
    assert r.status_code == 201, r.text
    return shop, headers["agnes"], headers["vera"], carla, conv


def token(headers: dict[str, str]) -> str:
    return headers["authorization"].removeprefix("Bearer ")


async def open_settings(page: Any) -> None:
    await page.select_option("#workspace", "shop")
    await page.click("#business-settings-open")
    await page.locator("#bset-open-now").wait_for()


async def test_saved_replies_are_managed_in_settings_and_used_in_the_composer(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, vera, carla, conv = await shop_and_customer(http)

    # The owner adds saved replies in the settings; an unknown variable is named
    owner = await page_of(browser, errors)
    await signed_in(owner, server.url, token(shop))
    await open_settings(owner)
    await owner.locator("#bset-replies", has_text="No saved replies yet").wait_for()
    await owner.fill("#bset-reply-shortcut", "hi")
    await owner.fill("#bset-reply-title", "Greeting")
    await owner.fill("#bset-reply-text", "Hi {{customer.first_name|there}}, {{agent.nme}} here.")
    await owner.click("#bset-reply-save")
    error = owner.locator("#bset-reply-error")
    await error.locator("text=Unknown variable: {{agent.nme}}").wait_for()
    assert await owner.locator("#bset-replies .bset-reply").count() == 0
    await owner.fill(
        "#bset-reply-text",
        "Hi {{customer.first_name|there}}, {{agent.first_name}} here from {{business.name}}.",
    )
    await owner.click("#bset-reply-save")
    await owner.locator("#bset-replies .bset-reply[data-shortcut=hi]").wait_for()
    assert await error.text_content() == ""
    for shortcut, title, text in (
        ("ship", "Shipping", "We ship in 2 days."),
        ("bye", "Goodbye", "Bye!"),
    ):
        await owner.fill("#bset-reply-shortcut", shortcut)
        await owner.fill("#bset-reply-title", title)
        await owner.fill("#bset-reply-text", text)
        await owner.click("#bset-reply-save")
        await owner.locator(f"#bset-replies .bset-reply[data-shortcut={shortcut}]").wait_for()
    # edit one, delete another (after a confirmation)
    await owner.click("#bset-replies [aria-label='Edit /ship']")
    assert await owner.locator("#bset-reply-title").input_value() == "Shipping"
    await owner.fill("#bset-reply-title", "Shipping times")
    await owner.click("#bset-reply-save")
    await owner.locator(".bset-reply[data-shortcut=ship]", has_text="Shipping times").wait_for()
    await owner.click("#bset-replies [aria-label='Delete /bye']")
    await owner.click("#confirm-ok")
    await owner.locator(".bset-reply[data-shortcut=bye]").wait_for(state="detached")
    async with httpx.AsyncClient(base_url=server.url) as http:
        stored = (await http.get(f"{API}/businesses/shop/saved-replies", headers=shop)).json()[
            "items"
        ]
    assert [(r["shortcut"], r["title"]) for r in stored] == [
        ("hi", "Greeting"),
        ("ship", "Shipping times"),
    ]
    await shot(owner, "business-settings-replies.png")
    await owner.keyboard.press("Escape")

    # The agent types "/" in the composer: the list, filtered, by keys
    agent = await page_of(browser, errors)
    await signed_in(agent, server.url, token(agnes))
    await agent.select_option("#workspace", "shop")
    await row(agent, "Carla Customer").click()
    await agent.locator("#bconv-messages li", has_text="when do you ship").wait_for()
    box = agent.locator("#bconv-text")
    await box.focus()
    await agent.keyboard.type("/")
    options = agent.locator("#bconv-replies-list [role=option]")
    await agent.locator("#bconv-replies-list [role=option]", has_text="/ship").wait_for()
    assert await options.all_text_contents() == ["/hiGreeting", "/shipShipping times"]
    assert await box.get_attribute("aria-expanded") == "true"
    await agent.keyboard.type("sh")
    await options.filter(has_text="/hi").wait_for(state="detached")
    assert await options.count() == 1
    await agent.keyboard.press("Escape")
    await agent.locator("#bconv-replies").wait_for(state="hidden")
    assert await box.input_value() == "/sh"
    await box.fill("")
    await agent.keyboard.type("/")
    await options.filter(has_text="/ship").wait_for()
    assert await options.nth(0).get_attribute("aria-selected") == "true"
    await agent.keyboard.press("ArrowDown")
    assert await options.nth(1).get_attribute("aria-selected") == "true"
    assert await box.get_attribute("aria-activedescendant") == await options.nth(1).get_attribute(
        "id"
    )
    await agent.keyboard.press("ArrowUp")
    await agent.keyboard.press("Enter")  # chooses /hi: filled in, not sent
    await expect(agent.locator("#bconv-text")).to_have_value("Hi Carla, Agnes here from Shop.")
    assert await agent.locator("#bconv-replies").is_hidden()
    assert await agent.evaluate("document.activeElement.id") == "bconv-text"
    assert await agent.locator("#bconv-messages li").count() == 1
    await agent.keyboard.type(" Thanks!")
    await agent.keyboard.press("Enter")  # now a send
    await agent.locator("#bconv-messages li", has_text="here from Shop. Thanks!").wait_for()

    # The "Saved replies" button: a filter box, and a click on an option
    await agent.click("#bconv-replies-open")
    assert await agent.evaluate("document.activeElement.id") == "bconv-replies-filter"
    await agent.keyboard.type("times")
    assert await options.all_text_contents() == ["/shipShipping times"]
    await shot(agent, "business-saved-replies.png")
    await options.first.click()
    await expect(agent.locator("#bconv-text")).to_have_value("We ship in 2 days.")
    assert await agent.locator("#bconv-replies").is_hidden()
    async with httpx.AsyncClient(base_url=server.url) as http:
        history = (await http.get(f"{API}/conversations/{conv}/messages", headers=carla)).json()[
            "items"
        ]
    assert [m["text"] for m in history] == [
        "Hello, when do you ship?",
        "Hi Carla, Agnes here from Shop. Thanks!",
    ]

    # A viewer reads the saved replies, and may change nothing
    viewer = await page_of(browser, errors)
    await signed_in(viewer, server.url, token(vera))
    await open_settings(viewer)
    await viewer.locator(".bset-reply[data-shortcut=hi]").wait_for()
    assert await viewer.locator("#bset-reply-form").count() == 0
    assert await viewer.locator(".bset-reply-edit").count() == 0
    for control in ("#bset-timezone", "#bset-always-open", "#bset-welcome", "#bset-holiday-add"):
        assert await viewer.locator(control).is_disabled(), control
    assert await viewer.locator("#bset-save").is_hidden()
    assert (
        "Only owners and admins" in await viewer.locator("#business-settings-status").text_content()
    )
    assert errors == []


async def test_business_settings_hours_holidays_and_messages(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, *_ = await shop_and_customer(http)
    owner = await page_of(browser, errors)
    await signed_in(owner, server.url, token(shop))
    await open_settings(owner)
    assert "always open" in await owner.locator("#bset-open-now").text_content()
    assert await owner.locator("#bset-always-open").is_checked()
    assert await owner.locator("#bset-week").is_hidden()
    # weekly hours: Monday two ranges, Tuesday a range that ends before it starts
    await owner.select_option("#bset-timezone", "Europe/Paris")
    await owner.uncheck("#bset-always-open")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        assert await owner.locator(f"#bset-{day}-closed").is_checked()
    await owner.uncheck("#bset-mon-closed")
    monday = owner.locator("#bset-mon")
    assert await monday.locator(".bset-from").input_value() == "09:00"
    await monday.locator(".bset-to").fill("12:00")
    await owner.click("[aria-label='Add hours on Monday']")
    assert await monday.locator(".bset-range").count() == 2
    assert (
        await owner.evaluate("document.activeElement.getAttribute('aria-label')")
        == "Monday, hours 2: from"
    )
    await monday.locator(".bset-from").nth(1).fill("13:00")
    await monday.locator(".bset-to").nth(1).fill("18:00")
    await owner.uncheck("#bset-tue-closed")
    await owner.locator("#bset-tue .bset-from").fill("17:00")
    await owner.locator("#bset-tue .bset-to").fill("08:00")
    await owner.fill("#bset-holiday-date", "2026-12-25")
    await owner.click("#bset-holiday-add")
    await owner.fill("#bset-holiday-date", "2026-12-24")
    await owner.click("#bset-holiday-add")
    assert await owner.locator("#bset-holidays li").evaluate_all(
        "els => els.map(e => e.dataset.date)"
    ) == [
        "2026-12-24",
        "2026-12-25",
    ]
    await owner.click("[aria-label='Remove the holiday 2026-12-24']")
    await owner.fill("#bset-welcome", "Thanks for writing! We answer within the day.")
    await owner.fill("#bset-away", "We're closed now; back soon.")
    await owner.click("#bset-save")
    # the error is Tuesday's, next to Tuesday, and nothing was saved
    await owner.locator("#bset-tue-error", has_text="end comes after the start").wait_for()
    assert await owner.locator("#bset-mon-error").text_content() == ""
    async with httpx.AsyncClient(base_url=server.url) as http:
        before = (await http.get(f"{API}/businesses/shop/settings", headers=shop)).json()
    assert before["hours"] is None and before["welcome_message"] is None
    await owner.locator("#bset-tue .bset-to").fill("20:00")
    await owner.click("#bset-save")
    await owner.locator("#business-settings-status", has_text="Saved.").wait_for()
    assert await owner.locator("#bset-tue-error").text_content() == ""
    async with httpx.AsyncClient(base_url=server.url) as http:
        saved = (await http.get(f"{API}/businesses/shop/settings", headers=shop)).json()
    assert saved["timezone"] == "Europe/Paris"
    assert saved["hours"]["week"]["mon"] == [["09:00", "12:00"], ["13:00", "18:00"]]
    assert saved["hours"]["week"]["tue"] == [["17:00", "20:00"]]
    assert not saved["hours"]["week"].get("wed")
    assert saved["hours"]["holidays"] == ["2026-12-25"]
    assert saved["welcome_message"] == "Thanks for writing! We answer within the day."
    assert saved["away_message"] == "We're closed now; back soon."
    # "open now / next opening" follows the server's answer
    shown = await owner.locator("#bset-open-now").text_content()
    assert shown.startswith("Open now") if saved["open_now"] else "Next opening" in shown, shown
    await owner.locator("#bset-hours-title").scroll_into_view_if_needed()
    await owner.evaluate("document.querySelector('#business-settings').scrollTop = 0")
    await shot(owner, "business-settings.png")
    # opened again, the form shows what is stored; a server refusal shows by its field
    await owner.keyboard.press("Escape")
    await owner.click("#business-settings-open")
    await owner.locator("#bset-mon .bset-range").nth(1).wait_for()
    assert not await owner.locator("#bset-always-open").is_checked()
    assert await owner.locator("#bset-welcome").input_value() == saved["welcome_message"]
    await owner.evaluate(
        "() => { const s = document.querySelector('#bset-timezone');"
        " s.append(new Option('Mars/Olympus', 'Mars/Olympus')); s.value = 'Mars/Olympus'; }"
    )
    await owner.click("#bset-save")
    await owner.locator("#bset-timezone-error", has_text="Unknown time zone").wait_for()
    assert await owner.evaluate("document.activeElement.id") == "bset-timezone"
    # back to always open
    await owner.select_option("#bset-timezone", "UTC")
    await owner.check("#bset-always-open")
    await owner.click("#bset-save")
    await owner.locator("#bset-open-now", has_text="always open").wait_for()
    assert await owner.locator("#bset-timezone-error").text_content() == ""
    assert errors == []


async def test_the_contact_and_a_customers_photo_for_the_team(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, vera, carla, conv = await shop_and_customer(http, "Here is the broken part")
        r = await http.post(
            f"{API}/media",
            files={"file": ("part.jpg", jpeg((64, 48)), "image/jpeg")},
            headers=carla,
        )
        assert r.status_code == 201, r.text
        r = await http.post(
            f"{API}/conversations/{conv}/messages",
            json={"txn_id": "t2", "text": "see?", "media": [r.json()["id"]]},
            headers=carla,
        )
        assert r.status_code == 201, r.text
        r = await http.post(
            f"{API}/businesses/shop/saved-replies",
            json={
                "shortcut": "plan",
                "title": "Plan",
                "text": "Your plan: {{customer.attributes.plan|none}}.",
            },
            headers=shop,
        )
        assert r.status_code == 201, r.text
    agent = await page_of(browser, errors)
    await signed_in(agent, server.url, token(agnes))
    await agent.select_option("#workspace", "shop")
    await row(agent, "Carla Customer").click()
    # the photo shows for the agent, loaded through the team's signed link
    photo = agent.locator("#bconv-messages .team-media img")
    await photo.wait_for()
    await expect(photo).to_have_js_property("complete", True)
    assert await photo.evaluate("img => img.naturalWidth") == 64
    assert await photo.get_attribute("alt") == "Photo"
    assert "/api/v1/media/" in await agent.locator(".team-media-link").get_attribute("href")

    # the contact: a name of the business's own, notes, attributes
    await agent.click("#bconv-contact-open")
    await agent.locator("#bcontact-name").wait_for()
    assert await agent.locator("#bcontact-attributes li").count() == 0
    await agent.locator("#bcontact-conversations li", has_text="this one").wait_for()
    await agent.fill("#bcontact-name", "Carla from Lyon")
    await agent.fill("#bcontact-notes", "Prefers email follow-ups.")
    await agent.click("#bcontact-attribute-add")
    assert await agent.evaluate("document.activeElement.className") == "bcontact-key"
    await agent.keyboard.type("Plan!")
    await agent.locator(".bcontact-value").fill("gold")
    await agent.click("#bcontact-save")
    await agent.locator("#bcontact-error", has_text="a key is 1-40 characters").wait_for()
    await agent.locator(".bcontact-key").fill("plan")
    await agent.click("#bcontact-attribute-add")
    await agent.locator(".bcontact-key").nth(1).fill("city")
    await agent.locator(".bcontact-value").nth(1).fill("Lyon")
    await agent.click("#bcontact-save")
    await agent.locator("#business-contact-status", has_text="Saved.").wait_for()
    assert await agent.locator("#business-contact-title").text_content() == "Carla from Lyon"
    async with httpx.AsyncClient(base_url=server.url) as http:
        contact = (await http.get(f"{API}/businesses/shop/contacts/carla", headers=shop)).json()
    assert contact["name"] == "Carla from Lyon" and contact["notes"] == "Prefers email follow-ups."
    assert contact["attributes"] == {"plan": "gold", "city": "Lyon"}
    await shot(agent, "business-contact.png")
    # removing one sends it as removed
    await agent.click("[aria-label='Remove the attribute city']")
    await agent.click("#bcontact-save")
    await agent.locator(".bcontact-attribute[data-key=city]").wait_for(state="detached")
    async with httpx.AsyncClient(base_url=server.url) as http:
        contact = (await http.get(f"{API}/businesses/shop/contacts/carla", headers=shop)).json()
    assert contact["attributes"] == {"plan": "gold"}
    await agent.keyboard.press("Escape")
    assert await agent.evaluate("document.activeElement.id") == "bconv-contact-open"
    # the dialog's close event comes a task later: it must not take the focus back from
    # where the person put it meanwhile (a race that once ate the keys typed next)
    await agent.click("#bconv-contact-open")
    await agent.locator("#bcontact-name").wait_for()
    await agent.evaluate(
        """() => { document.getElementById("business-contact").close();
                   document.getElementById("bconv-text").focus(); }"""
    )
    await agent.evaluate("() => new Promise((done) => setTimeout(done, 50))")
    assert await agent.evaluate("document.activeElement.id") == "bconv-text"
    # a saved reply uses the contact: its name for the customer, its attributes
    await agent.locator("#bconv-text").focus()
    await agent.keyboard.type("/plan")
    # chosen once the list shows it (an Enter before the list loads is the composer test's)
    await agent.locator("#bconv-replies-list [role=option]", has_text="/plan").wait_for()
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#bconv-text")).to_have_value("Your plan: gold.")

    # a viewer reads the contact and sees the photo, and changes nothing
    viewer = await page_of(browser, errors)
    await signed_in(viewer, server.url, token(vera))
    await viewer.select_option("#workspace", "shop")
    await row(viewer, "Carla").click()
    await viewer.locator("#bconv-messages .team-media img").wait_for()
    await viewer.click("#bconv-contact-open")
    await viewer.locator(".bcontact-attribute[data-key=plan]").wait_for()
    assert await viewer.locator("#bcontact-name").is_disabled()
    assert await viewer.locator("#bcontact-save").is_hidden()
    assert await viewer.locator(".bcontact-remove").count() == 0
    assert errors == []


async def test_the_reports_page_with_tiles_charts_and_csv(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, vera, carla, conv = await shop_and_customer(http)
        biz = f"{API}/businesses/shop"
        r = await http.patch(f"{biz}/reports/settings", json={"csat_enabled": True}, headers=shop)
        assert r.status_code == 200, r.text
        r = await http.post(
            f"{biz}/conversations/{conv}/messages",
            json={"txn_id": "a1", "text": "Tomorrow!"},
            headers=agnes,
        )
        assert r.status_code == 201, r.text
        r = await http.patch(
            f"{biz}/conversations/{conv}", json={"status": "resolved"}, headers=agnes
        )
        assert r.status_code == 200, r.text
        # the survey comes as the business; the customer's "5" rates the conversation
        for _ in range(100):
            history = (await http.get(f"{API}/conversations/{conv}/messages", headers=carla)).json()
            if any("How did we do" in (m["text"] or "") for m in history["items"]):
                break
            await asyncio.sleep(0.05)
        r = await http.post(
            f"{API}/conversations/{conv}/messages",
            json={"txn_id": "c2", "text": "5"},
            headers=carla,
        )
        assert r.status_code == 201, r.text
        for _ in range(100):
            report = (await http.get(f"{biz}/reports", headers=shop)).json()
            if report["total"]["csat"]["count"] == 1:
                break
            await asyncio.sleep(0.05)
        assert report["total"]["csat"]["distribution"]["5"] == 1
        answered = report["total"]["first_response"]["count"]
        assert answered == 1
    # an agent has no reports
    agent = await page_of(browser, errors)
    await signed_in(agent, server.url, token(agnes))
    await agent.select_option("#workspace", "shop")
    await agent.locator("#business-role", has_text="Agent").wait_for()
    assert await agent.locator("#business-reports-open").is_hidden()

    owner = await page_of(browser, errors)
    await signed_in(owner, server.url, token(shop))
    await owner.select_option("#workspace", "shop")
    await owner.click("#business-reports-open")
    await owner.locator("#business-reports-status", has_text="(UTC)").wait_for()
    assert await owner.locator("#breports-preset").input_value() == "30"
    assert await owner.evaluate("document.activeElement.id") == "breports-from"
    tiles = owner.locator("#breports-tiles .report-tile")
    assert await tiles.count() == 5
    conversations = tiles.filter(has_text="Conversations")
    assert await conversations.locator(".tile-value").text_content() == "1"
    csat = tiles.filter(has_text="CSAT")
    assert await csat.locator(".tile-value").text_content() == "5.0 / 5"
    assert "100% satisfied" in await csat.locator(".tile-note").text_content()
    first = tiles.filter(has_text="First response (median)")
    assert (await first.locator(".tile-value").text_content()).endswith(" s")
    # three charts, each an image labelled by its title, each with its numbers as a table
    charts = owner.locator("#breports-charts figure")
    assert await charts.count() == 3
    for i in range(3):
        svg = charts.nth(i).locator("svg")
        assert await svg.get_attribute("role") == "img"
        title_id = await svg.get_attribute("aria-labelledby")
        assert await owner.locator(f"#{title_id}").text_content()
    csat_rows = owner.locator("#breports-csat tbody tr")
    cells = "rows => rows.map(r => [...r.cells].map(c => c.textContent).join(' '))"
    assert await csat_rows.evaluate_all(cells) == ["1 0", "2 0", "3 0", "4 0", "5 1"]
    assert await owner.locator("#breports-csat .bar").count() == 5
    volume = await owner.locator("#breports-volume tbody tr td").all_text_contents()
    assert len(volume) == 24 and sum(int(v) for v in volume) == 1
    days = await owner.locator("#breports-response tbody tr").count()
    assert days == 30
    assert await owner.locator("#breports-response circle").count() >= 2  # median and p90 today
    await shot(owner, "business-reports.png")
    # the CSV downloads with the page's session
    async with owner.expect_download() as waiting:
        await owner.click("#breports-csv")
    download = await waiting.value
    assert download.suggested_filename.startswith(
        "report-"
    ) and download.suggested_filename.endswith(".csv")
    csv = await asyncio.to_thread(Path(await download.path()).read_text)
    assert csv.splitlines()[1].split(",")[0] in ("all", '"all"')
    # a range that ends before it starts is refused here; a custom one reloads
    await owner.fill("#breports-from", "2026-12-10")
    await owner.fill("#breports-to", "2026-12-01")
    await owner.click("#breports-apply")
    await owner.locator("#breports-error", has_text="on or after the first").wait_for()
    assert await owner.locator("#breports-preset").input_value() == ""
    await owner.select_option("#breports-preset", "7")
    await expect(owner.locator("#breports-response tbody tr")).to_have_count(7)
    assert await owner.locator("#breports-error").text_content() == ""

    # a viewer reads the reports too
    viewer = await page_of(browser, errors)
    await signed_in(viewer, server.url, token(vera))
    await viewer.select_option("#workspace", "shop")
    await viewer.click("#business-reports-open")
    await viewer.locator("#breports-tiles .report-tile").first.wait_for()
    assert errors == []


async def test_saved_replies_at_phone_width(tmp_path: Path, servers: Servers, browser: Any) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, *_ = await shop_and_customer(http)
        r = await http.post(
            f"{API}/businesses/shop/saved-replies",
            json={"shortcut": "hours", "title": "Opening hours", "text": "We open at nine."},
            headers=shop,
        )
        assert r.status_code == 201, r.text
    phone = await page_of(browser, errors, PHONE)
    await signed_in(phone, server.url, token(agnes))
    await phone.select_option("#workspace", "shop")
    await row(phone, "Carla Customer").click()
    await phone.locator("#bconv-messages li", has_text="when do you ship").wait_for()
    await phone.locator("#bconv-text").focus()
    await phone.keyboard.type("/ho")
    option = phone.locator("#bconv-replies-list [role=option]", has_text="/hours")
    await option.wait_for()
    # the list opens above the composer, inside the screen
    box = await phone.locator("#bconv-replies").bounding_box()
    text_box = await phone.locator("#bconv-text").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= text_box["y"]
    await option.click()
    await expect(phone.locator("#bconv-text")).to_have_value("We open at nine.")
    assert errors == []
