"""More of the business view in real Chromium, against a real server: who else on the team
is in a conversation (viewing, typing a reply, gone), saved views of the inbox (own and
shared, pick, rename, delete), and the approvals queue (a restricted agent's reply waits,
is approved — as written or edited — or rejected with a comment, and the author hears it
live)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import shot
from tests.conftest import PASSWORD
from tests.servers import Servers
from tests.test_web_business import account, page_of, row, signed_in

pytestmark = pytest.mark.server

API = "/api/v1"


async def shop_with_customers(
    http: httpx.AsyncClient, *customers: tuple[str, str, str]
) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
    """A business `shop` (UTC) with an agent `agnes`, another `otto`, and a viewer `vera`;
    each `(handle, name, text)` customer wrote to it. Returns the team's tokens (headers)
    and the conversation ids by customer handle."""
    headers = {}
    for handle, name in (
        ("shop", "Shop"),
        ("agnes", "Agnes Agent"),
        ("otto", "Otto"),
        ("vera", "Vera"),
    ):
        headers[handle] = {"authorization": f"Bearer {await account(http, handle, name)}"}
    shop = headers["shop"]
    r = await http.post(f"{API}/me/business", json={"timezone": "UTC"}, headers=shop)
    assert r.status_code == 201, r.text
    r = await http.patch(f"{API}/me/settings", json={"dm_inbox": "everyone"}, headers=shop)
    assert r.status_code == 200, r.text
    for member, role in (("agnes", "agent"), ("otto", "agent"), ("vera", "viewer")):
        r = await http.put(
            f"{API}/businesses/shop/members/{member}", json={"role": role}, headers=shop
        )
        assert r.status_code == 201, r.text
    convs = {}
    for handle, name, text in customers:
        them = {"authorization": f"Bearer {await account(http, handle, name)}"}
        r = await http.post(
            f"{API}/conversations", json={"kind": "direct", "members": ["shop"]}, headers=them
        )
        assert r.status_code == 201, r.text
        convs[handle] = r.json()["id"]
        r = await http.post(
            f"{API}/conversations/{convs[handle]}/messages",
            json={"txn_id": "t1", "text": text},
            headers=them,
        )
        assert r.status_code == 201, r.text
    return shop, headers["agnes"], headers["otto"], convs


def token(headers: dict[str, str]) -> str:
    return headers["authorization"].removeprefix("Bearer ")


async def test_teammates_see_who_else_is_viewing_and_typing(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        _, agnes, otto, _ = await shop_with_customers(
            http, ("carla", "Carla Customer", "Where is my parcel?")
        )
    first = await page_of(browser, errors)
    await signed_in(first, server.url, token(agnes))
    second = await page_of(browser, errors)
    await signed_in(second, server.url, token(otto))
    for page in (first, second):
        await page.select_option("#workspace", "shop")
    await row(first, "Carla Customer").click()
    await first.locator("#bconv-messages li", has_text="my parcel").wait_for()
    line_1 = first.locator("#bconv-presence")
    line_2 = second.locator("#bconv-presence")
    assert await line_1.text_content() == ""  # nobody else yet
    assert await line_1.get_attribute("aria-live") == "polite"

    # Otto opens it: each learns of the other (Agnes by Otto's `viewing`, Otto by her answer)
    await row(second, "Carla Customer").click()
    await line_1.locator("text=Otto is viewing").wait_for()
    await line_2.locator("text=Agnes Agent is viewing").wait_for()

    # Otto types: Agnes sees it; he stops (and clears the box): back to viewing
    await second.locator("#bconv-text").press_sequentially("On its w", delay=20)
    await line_1.locator("text=Otto is typing a reply…").wait_for()
    await shot(first, "business-presence.png")
    await second.fill("#bconv-text", "")
    await line_1.locator("text=Otto is viewing").wait_for()
    # typing that just stops (the text kept) also turns back into viewing, a few seconds on
    await second.locator("#bconv-text").press_sequentially("Tomorrow", delay=20)
    await line_1.locator("text=Otto is typing a reply…").wait_for()
    await line_1.locator("text=Otto is viewing").wait_for(timeout=8000)

    # Otto goes to his own messages: he is gone from Agnes's pane at once
    await second.select_option("#workspace", "")
    await line_1.locator("text=Otto").wait_for(state="detached")
    assert await line_1.text_content() == ""
    # and a closed tab (its socket gone) ends its announcements too
    await second.select_option("#workspace", "shop")
    await row(second, "Carla Customer").click()
    await line_1.locator("text=Otto is viewing").wait_for()
    await second.context.close()
    await line_1.locator("text=Otto").wait_for(state="detached")
    assert errors == []


async def test_saved_views_are_picked_saved_shared_renamed_and_deleted(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, _, convs = await shop_with_customers(
            http,
            ("carla", "Carla Customer", "Where is my parcel?"),
            ("dora", "Dora", "Do you sell gift cards?"),
        )
        r = await http.patch(
            f"{API}/businesses/shop/conversations/{convs['dora']}",
            json={"priority": "urgent"},
            headers=shop,
        )
        assert r.status_code == 200, r.text
        # a view of Agnes's own, made through the API: no other teammate sees it
        r = await http.post(
            f"{API}/businesses/shop/views",
            json={"name": "Mine only", "filters": {"assignee": "me"}},
            headers=agnes,
        )
        assert r.status_code == 201, r.text

    # The owner narrows the inbox to urgent ones and saves that, shared with the team
    owner = await page_of(browser, errors)
    await signed_in(owner, server.url, token(shop))
    await owner.select_option("#workspace", "shop")
    await row(owner, "Carla Customer").wait_for()
    assert await owner.locator("#bview-select option").all_text_contents() == ["No view"]
    await owner.select_option("#business-filter-priority", "urgent")
    await row(owner, "Carla Customer").wait_for(state="detached")
    await owner.click("#bview-save")
    assert await owner.locator("#bview-save").get_attribute("aria-expanded") == "true"
    assert await owner.evaluate("document.activeElement.id") == "bview-name"
    await owner.click("#bview-submit")  # no name yet
    await owner.locator("#bview-error", has_text="Name the view first").wait_for()
    await owner.get_by_label("Name", exact=True).fill("Urgent")
    await owner.check("#bview-shared")
    await owner.click("#bview-submit")
    await owner.locator("#bview-status", has_text="shared with the team").wait_for()
    assert await owner.locator("#bview-form").is_hidden()
    assert await owner.locator("#bview-select").input_value() != ""
    async with httpx.AsyncClient(base_url=server.url) as http:
        stored = (await http.get(f"{API}/businesses/shop/views", headers=shop)).json()["items"]
    assert [(v["name"], v["shared"], v["filters"]) for v in stored] == [
        ("Urgent", True, {"status": "open", "priority": "urgent"})
    ]

    # An agent sees the shared view first, then her own; picking one lists with it
    agent = await page_of(browser, errors)
    await signed_in(agent, server.url, token(agnes))
    await agent.select_option("#workspace", "shop")
    await row(agent, "Carla Customer").wait_for()
    groups = agent.locator("#bview-select optgroup")
    await groups.first.wait_for(state="attached")
    assert await groups.evaluate_all(
        "gs => gs.map(g => [g.label, [...g.children].map(o => o.text)])"
    ) == [
        ["Shared with the team", ["Urgent"]],
        ["My views", ["Mine only"]],
    ]
    async with agent.expect_request(lambda r: "view=" in r.url) as listed:
        await agent.select_option("#bview-select", label="Urgent")
    assert f"view={stored[0]['id']}" in (await listed.value).url
    await row(agent, "Carla Customer").wait_for(state="detached")
    await row(agent, "Dora").wait_for()
    assert await agent.locator("#business-filter-priority").input_value() == "urgent"
    # a shared view is not hers to change; touching a filter leaves the view
    assert await agent.locator("#bview-rename").is_hidden()
    assert await agent.locator("#bview-delete").is_hidden()
    await agent.select_option("#business-filter-priority", "")
    await row(agent, "Carla Customer").wait_for()
    assert await agent.locator("#bview-select").input_value() == ""
    # her own: nobody is assigned to her yet, so nothing shows; she renames it
    await agent.select_option("#bview-select", label="Mine only")
    await agent.locator("#business-status", has_text="No conversations here.").wait_for()
    assert await agent.locator("#business-filter-assignee").input_value() == "me"
    await agent.click("#bview-rename")
    assert await agent.locator("#bview-name").input_value() == "Mine only"
    assert await agent.locator("#bview-shared-row").is_hidden()
    await agent.fill("#bview-name", "Assigned to me")
    await agent.keyboard.press("Enter")
    await agent.locator("#bview-select option", has_text="Assigned to me").wait_for(
        state="attached"
    )
    await shot(agent, "business-views.png")
    # Escape closes the form without saving, the focus back on the views
    await agent.click("#bview-rename")
    await agent.fill("#bview-name", "Never saved")
    await agent.keyboard.press("Escape")
    assert await agent.locator("#bview-form").is_hidden()
    assert await agent.evaluate("document.activeElement.id") == "bview-select"

    # The owner deletes the shared view, after confirming
    await owner.click("#bview-delete")
    await owner.click("#confirm-ok")
    await owner.locator("#bview-status", has_text="Deleted the view").wait_for()
    assert await owner.locator("#bview-select option").all_text_contents() == ["No view"]
    async with httpx.AsyncClient(base_url=server.url) as http:
        left = (await http.get(f"{API}/businesses/shop/views", headers=agnes)).json()["items"]
    assert [(v["name"], v["shared"]) for v in left] == [("Assigned to me", False)]
    assert errors == []


async def customer_texts(http: httpx.AsyncClient, headers: dict[str, str], conv: str) -> list[str]:
    r = await http.get(f"{API}/conversations/{conv}/messages", headers=headers)
    assert r.status_code == 200, r.text
    return [m["text"] for m in r.json()["items"]]


async def test_a_restricted_agents_replies_wait_for_the_approvals_queue(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, _, convs = await shop_with_customers(
            http, ("carla", "Carla Customer", "Where is my parcel?")
        )
        r = await http.put(f"{API}/businesses/shop/approvals/restricted/agnes", headers=shop)
        assert r.status_code == 200, r.text
        carla = {
            "authorization": "Bearer "
            + (
                await http.post(f"{API}/sessions", json={"handle": "carla", "password": PASSWORD})
            ).json()["token"]
        }
    conv = convs["carla"]
    owner = await page_of(browser, errors)
    await signed_in(owner, server.url, token(shop))
    await owner.select_option("#workspace", "shop")
    queue_button = owner.locator("#business-approvals-open")
    await queue_button.wait_for()
    assert await queue_button.get_attribute("aria-label") == "Approvals"
    agent = await page_of(browser, errors)
    await signed_in(agent, server.url, token(agnes))
    await agent.select_option("#workspace", "shop")
    assert await agent.locator("#business-approvals-open").is_hidden()  # agents don't approve
    await row(agent, "Carla Customer").click()
    await agent.locator("#bconv-messages li", has_text="my parcel").wait_for()

    # The agent's reply is held: waiting in her pane, counted on the owner's button live
    await agent.fill("#bconv-text", "We refund you today")
    await agent.click("#bconv-send")
    held = agent.locator("#bconv-held li", has_text="We refund you today")
    await held.locator(".held-state", has_text="Waiting for approval").wait_for()
    assert await agent.locator("#bconv-text").input_value() == ""
    assert await agent.locator("#bconv-messages li", has_text="refund").count() == 0
    await owner.locator("#business-approvals-count", has_text="1").wait_for()
    assert await queue_button.get_attribute("aria-label") == "Approvals, 1 waiting"
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert await customer_texts(http, carla, conv) == ["Where is my parcel?"]
    # still waiting after a reload (fetched: GET …/approvals lists her own)
    await agent.reload()
    await agent.select_option("#workspace", "shop")
    await row(agent, "Carla Customer").click()
    await held.locator(".held-state", has_text="Waiting for approval").wait_for()

    # The owner approves it as written: sent, attributed to her; her pane shows it live
    await queue_button.click()
    item = owner.locator("#bapprovals-list li.approval", has_text="We refund you today")
    await item.locator(".approval-author", has_text="Agnes Agent").wait_for()
    await item.locator(".approval-head", has_text="to Carla Customer").wait_for()
    assert await owner.evaluate("document.activeElement.textContent") == "Approve"
    await shot(owner, "business-approvals.png")
    await item.get_by_role("button", name="Approve Agnes Agent's reply", exact=True).click()
    await owner.locator(
        "#business-approvals-status", has_text="Sent Agnes Agent's reply."
    ).wait_for()
    await owner.locator("#bapprovals-list", has_text="No replies are waiting").wait_for()
    assert await owner.locator("#business-approvals-count").text_content() == ""
    await held.wait_for(state="detached")
    sent = agent.locator("#bconv-messages li", has_text="We refund you today")
    await sent.locator(".sender", has_text="Agnes Agent · as Shop").wait_for()

    # Edit and approve: the customer gets the edited text, never the first
    await agent.fill("#bconv-text", "It ships tomorow")
    await agent.keyboard.press("Enter")
    await agent.locator("#bconv-held li", has_text="It ships tomorow").wait_for()
    item = owner.locator("#bapprovals-list li.approval", has_text="It ships tomorow")
    await item.get_by_role("button", name="Edit and approve Agnes Agent's reply").click()
    text_box = item.get_by_label("The reply, as it will be sent")
    assert await text_box.input_value() == "It ships tomorow"
    assert await owner.evaluate("document.activeElement.tagName") == "TEXTAREA"
    await text_box.fill("It ships tomorrow")
    await item.get_by_role("button", name="Approve edited", exact=True).click()
    await owner.locator("#business-approvals-status", has_text="(edited)").wait_for()
    await agent.locator("#bconv-messages li", has_text="It ships tomorrow").wait_for()
    await agent.locator("#bconv-held li").wait_for(state="detached")

    # Reject with a comment (one is required); Escape first backs out of it
    await agent.fill("#bconv-text", "Not our problem")
    await agent.click("#bconv-send")
    await agent.locator("#bconv-held li", has_text="Not our problem").wait_for()
    item = owner.locator("#bapprovals-list li.approval", has_text="Not our problem")
    await item.get_by_role("button", name="Reject Agnes Agent's reply").click()
    await owner.keyboard.press("Escape")
    await item.get_by_role("button", name="Reject Agnes Agent's reply").wait_for()
    assert await owner.locator("#business-approvals").is_visible()  # Escape left only the form
    await item.get_by_role("button", name="Reject Agnes Agent's reply").click()
    await item.get_by_role("button", name="Reject reply").click()
    await item.locator(".form-error", has_text="Say why").wait_for()
    await item.get_by_label("Why not? (Agnes Agent sees this)").fill("Please be kinder")
    await item.get_by_role("button", name="Reject reply").click()
    await owner.locator(
        "#business-approvals-status", has_text="Rejected Agnes Agent's reply."
    ).wait_for()
    rejected = agent.locator("#bconv-held li.rejected", has_text="Not our problem")
    await rejected.locator(
        ".held-state", has_text="Not sent: rejected by Shop — “Please be kinder”"
    ).wait_for()
    await shot(agent, "business-held-reply.png")
    await rejected.get_by_role("button", name="Dismiss the rejected reply").click()
    await rejected.wait_for(state="detached")
    assert await agent.locator("#bconv-held").is_hidden()
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert await customer_texts(http, carla, conv) == [
            "Where is my parcel?",
            "We refund you today",
            "It ships tomorrow",
        ]
    await owner.keyboard.press("Escape")
    await owner.locator("#business-approvals").wait_for(state="hidden")
    assert await owner.evaluate("document.activeElement.id") == "business-approvals-open"
    # the audit log says who decided what
    await owner.click("#business-audit-open")
    await owner.locator("#business-audit-list li", has_text="Shop rejected a reply").wait_for()
    assert (
        await owner.locator("#business-audit-list li", has_text="Shop approved a reply").count()
        == 2
    )
    assert errors == []


async def test_the_rules_editor_lists_orders_checks_and_tries_rules(
    tmp_path: Path, servers: Servers, browser: Any
) -> None:
    server = await servers.serve(tmp_path / "data")
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=server.url) as http:
        shop, agnes, _, _ = await shop_with_customers(http)
        r = await http.post(
            f"{API}/businesses/shop/labels", json={"name": "VIP", "color": "#e8590c"}, headers=shop
        )
        assert r.status_code == 201, r.text
        vip = r.json()["id"]
        for name in ("First", "Second"):
            r = await http.post(
                f"{API}/businesses/shop/rules",
                json={
                    "name": name,
                    "trigger": {"type": "message_received"},
                    "actions": [{"type": "priority", "priority": "high"}],
                },
                headers=shop,
            )
            assert r.status_code == 201, r.text

        async def stored() -> list[dict[str, Any]]:
            r = await http.get(f"{API}/businesses/shop/rules", headers=shop)
            assert r.status_code == 200, r.text
            return list(r.json()["items"])

        agent = await page_of(browser, errors)
        await signed_in(agent, server.url, token(agnes))
        await agent.select_option("#workspace", "shop")
        await agent.locator("#business-role", has_text="Agent").wait_for()
        assert await agent.locator("#business-rules-open").is_hidden()  # owners and admins only

        owner = await page_of(browser, errors)
        await signed_in(owner, server.url, token(shop))
        await owner.select_option("#workspace", "shop")
        await owner.click("#business-rules-open")
        names = owner.locator("#brules-list .rule-name")
        await names.first.wait_for()
        assert await names.all_text_contents() == ["First", "Second"]
        assert "A customer writes" in await owner.locator("#brules-list li").first.inner_text()

        # Turn one off, and move it first (the focus stays on what was used)
        await owner.get_by_role("checkbox", name="Enabled").nth(1).uncheck()
        await owner.locator("#business-rules-status", has_text="“Second” is off").wait_for()
        assert [(x["name"], x["enabled"]) for x in await stored()] == [
            ("First", True),
            ("Second", False),
        ]
        await owner.get_by_role("button", name="Move Second up").click()
        await owner.locator("#business-rules-status", has_text="to place 1").wait_for()
        assert await names.all_text_contents() == ["Second", "First"]
        assert [x["name"] for x in await stored()] == ["Second", "First"]
        assert await owner.evaluate("document.activeElement.getAttribute('aria-label')") == (
            "Edit Second"  # "up" is disabled at the top: the focus moves to its Edit
        )

        # A new rule with mistakes: each is shown next to its field
        await owner.click("#brules-new")
        assert await owner.evaluate("document.activeElement.id") == "brule-name"
        await owner.select_option("#brule-trigger-type", "idle")
        await owner.get_by_label("For (minutes)").wait_for()
        await owner.click("#brule-add-conditions")
        await owner.get_by_label("Words or phrases (comma-separated)").fill("refund, money back")
        await owner.click("#brule-add-conditions")
        await owner.select_option("#brule-conditions-1-type", "regex")
        await owner.get_by_label("Regular expression").fill("(order")
        await owner.select_option("#brule-actions-0-label_id", vip)
        await owner.click("#brule-add-actions")
        await owner.select_option("#brule-actions-1-type", "priority")
        await owner.select_option("#brule-actions-1-priority", "urgent")
        await owner.click("#brule-save")
        await owner.locator("#brule-name-error", has_text="expected 1 to 80 characters").wait_for()
        await owner.locator("#brule-trigger-minutes-error", has_text="whole minutes").wait_for()
        await owner.locator(
            "#brule-conditions-1-pattern-error", has_text="not a valid regular expression"
        ).wait_for()
        assert await owner.locator("#brule-name").get_attribute("aria-invalid") == "true"
        assert await owner.evaluate("document.activeElement.id") == "brule-name"
        await shot(owner, "business-rule-errors.png")
        assert len(await stored()) == 2

        # Fixed, it is tried on sample messages before it is saved
        await owner.fill("#brule-name", "Refunds")
        await owner.select_option("#brule-trigger-type", "message_received")
        await owner.get_by_label("Regular expression").fill(r"order\s*#?\d+")
        await owner.fill("#brule-sample", "I want my money back for order #123")
        await owner.click("#brule-try")
        result = owner.locator("#brule-result")
        await result.locator(".rule-verdict", has_text="It matches.").wait_for()
        assert await result.locator(".rule-conditions li").all_text_contents() == [
            "✓ The message has words — found: money back",
            "✓ The message matches a pattern — matched at 25-35",
        ]
        assert await result.locator(".rule-actions li").all_text_contents() == [
            "Add the label “VIP”",
            "Set the priority to Urgent",
        ]
        await owner.fill("#brule-sample", "Where is order 7?")
        await owner.click("#brule-try")
        await result.locator(".rule-verdict", has_text="does not match").wait_for()
        assert await result.locator(".rule-conditions .unmatched").all_text_contents() == [
            "✗ The message has words — none of refund, money back"
        ]
        assert await result.locator(".rule-actions").count() == 0
        await shot(owner, "business-rules.png")
        await owner.click("#brule-save")
        await owner.locator("#business-rules-status", has_text="Saved “Refunds”").wait_for()
        assert await names.all_text_contents() == ["Second", "First", "Refunds"]
        made = (await stored())[2]
        assert (made["trigger"], made["conditions"], made["actions"]) == (
            {"type": "message_received"},
            [
                {"type": "keywords", "words": ["refund", "money back"], "match": "any"},
                {"type": "regex", "pattern": r"order\s*#?\d+", "case_sensitive": False},
            ],
            [{"type": "label", "label_id": vip}, {"type": "priority", "priority": "urgent"}],
        )

        # Edit it: Escape leaves the form unsaved; then delete one, after confirming
        await owner.get_by_role("button", name="Edit Refunds").click()
        assert await owner.locator("#brule-name").input_value() == "Refunds"
        await owner.fill("#brule-name", "Never saved")
        await owner.keyboard.press("Escape")
        await names.first.wait_for()
        assert await names.all_text_contents() == ["Second", "First", "Refunds"]
        assert await owner.locator("#business-rules").is_visible()
        await owner.get_by_role("button", name="Delete First").click()
        await owner.click("#confirm-ok")
        await owner.locator("#business-rules-status", has_text="Deleted “First”").wait_for()
        assert [x["name"] for x in await stored()] == ["Second", "Refunds"]
    assert errors == []
