"""Outbound through the API: scheduled messages (sent as the business by their author at
their time, cancelled by a reply or a teammate, failed when the author may no longer send)
and broadcasts to contacts who opted in by keyword (opt-out honoured at once, mid-broadcast
too; per-recipient statuses; paced batches; roles)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from backchannel import jobs
from backchannel.config import Settings
from backchannel.services import broadcasts
from backchannel.services.core import Core
from backchannel.store import jobs as job_db
from tests.conftest import Api, Clock, User, make_settings
from tests.test_business import B, add, become, code, events, shop_with_team, token


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # Small batches, so a broadcast to a few contacts takes several paced rounds.
    return make_settings(tmp_path, database_url, broadcast_batch_size=2)


async def run_jobs(core: Core) -> int:
    assert core.jobs is not None
    ran = await core.jobs.run_due()
    await core.jobs.drain()
    return ran


async def queued_jobs(core: Core) -> list[dict[str, Any]]:
    return await core.store.read(
        "test_jobs",
        lambda t: [dict(r) for r in job_db.list_jobs(t.conn, state=None, limit=100)],
    )


async def texts(user: User, cid: str) -> list[tuple[str, str]]:
    r = await user.get(f"/api/v1/conversations/{cid}/messages")
    assert r.status_code == 200, r.text
    return [(m["sender"]["handle"], m["text"]) for m in r.json()["items"]]


async def schedule(user: User, cid: str, send_at: str, text: str, **extra: Any) -> httpx.Response:
    return await user.post(
        f"{B}/shop/scheduled",
        json={"conversation_id": cid, "text": text, "send_at": send_at, **extra},
    )


async def item(user: User, sid: str) -> dict[str, Any]:
    r = await user.get(f"{B}/shop/scheduled/{sid}")
    assert r.status_code == 200, r.text
    return dict(r.json())


# --- scheduled messages -------------------------------------------------------------------


async def test_a_scheduled_message_goes_out_at_its_time_from_its_author(
    api: Api, core: Core, clock: Clock
) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "When do you open?")
    admin_since, customer_since = await token(admin), await token(customer)
    r = await schedule(agent, cid, clock.iso(3600), "Good morning {{customer.first_name|there}}!")
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["status"] == "pending" and r.json()["author"]["handle"] == "agnes"
    got, _ = await events(admin, admin_since)
    assert [e["type"] for e in got] == ["business.scheduled_updated"]
    assert got[0]["data"]["scheduled"]["id"] == sid
    # not before its time
    clock.advance(3500)
    assert await run_jobs(core) == 0
    assert (await item(agent, sid))["status"] == "pending"
    clock.advance(200)
    assert await run_jobs(core) == 1
    sent = await item(agent, sid)
    assert sent["status"] == "sent" and sent["message_id"] is not None
    assert (await texts(customer, cid))[-1] == ("shop", "Good morning cyd!")
    # the team sees who wrote it; the customer, the business only
    team = (await admin.get(f"{B}/shop/conversations/{cid}/messages")).json()["items"]
    assert team[-1]["id"] == sent["message_id"] and team[-1]["agent"]["handle"] == "agnes"
    got, _ = await events(customer, customer_since)
    assert [e["type"] for e in got] == ["message.created"] and "agnes" not in str(got)
    # an answer: the customer no longer waits
    state = (await admin.get(f"{B}/shop/conversations/{cid}")).json()["state"]
    assert state["waiting_since"] is None
    assert await queued_jobs(core) == []


async def test_the_customer_writing_first_cancels_those_that_asked(
    api: Api, core: Core, clock: Clock
) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "Any news?")
    first = (
        await schedule(agent, cid, clock.iso(60), "Following up!", cancel_if_customer_replies=True)
    ).json()
    second = (await schedule(agent, cid, clock.iso(120), "Reminder: sale ends today")).json()
    assert first["cancel_if_customer_replies"] and not second["cancel_if_customer_replies"]
    admin_since = await token(admin)
    await customer.send(cid, "Never mind, found it")
    got, _ = await events(admin, admin_since)
    updates = [e["data"]["scheduled"] for e in got if e["type"] == "business.scheduled_updated"]
    assert [(u["id"], u["status"], u["reason"]) for u in updates] == [
        (first["id"], "cancelled", "customer_replied")
    ]
    assert (await item(agent, second["id"]))["status"] == "pending"
    clock.advance(600)
    assert await run_jobs(core) == 1  # the cancelled one's job is gone
    assert [t for _, t in (await texts(customer, cid))][-2:] == [
        "Never mind, found it",
        "Reminder: sale ends today",
    ]
    listed = (await admin.get(f"{B}/shop/scheduled", params={"conversation_id": cid})).json()
    assert [(i["id"], i["status"]) for i in listed["items"]] == [
        (first["id"], "cancelled"),
        (second["id"], "sent"),
    ]
    pending = (await admin.get(f"{B}/shop/scheduled", params={"status": "pending"})).json()
    assert pending["items"] == []


async def test_editing_and_cancelling_and_who_may(api: Api, core: Core, clock: Clock) -> None:
    shop, admin, agent, viewer, customer = await shop_with_team(api)
    other = await api.register("otto")
    await add(shop, shop, other, "agent")
    outsider = await api.register("eve")
    cid = await customer.direct(shop)
    await customer.send(cid, "hello")
    r = await schedule(viewer, cid, clock.iso(60), "x")
    assert r.status_code == 403 and code(r) == "business_forbidden"
    r = await schedule(outsider, cid, clock.iso(60), "x")
    assert r.status_code == 404 and code(r) == "business_not_found"
    for bad in (clock.iso(-60), clock.iso(400 * 86400)):
        r = await schedule(agent, cid, bad, "x")
        assert r.status_code == 400 and code(r) == "invalid_request"
    r = await schedule(agent, cid, clock.iso(60), "Hi {{customer.nmae}}")
    assert r.status_code == 422 and code(r) == "invalid_template"
    r = await schedule(agent, "c_nope", clock.iso(60), "x")
    assert r.status_code == 404 and code(r) == "conversation_not_found"
    sid = (await schedule(agent, cid, clock.iso(60), "First draft")).json()["id"]
    # another agent may see it but not change it; owners and admins may
    assert (await item(other, sid))["text"] == "First draft"
    r = await other.patch(f"{B}/shop/scheduled/{sid}", json={"text": "mine now"})
    assert r.status_code == 403 and code(r) == "business_forbidden"
    r = await outsider.get(f"{B}/shop/scheduled/{sid}")
    assert r.status_code == 404 and code(r) == "business_not_found"
    r = await agent.patch(f"{B}/shop/scheduled/{sid}", json={})
    assert r.status_code == 400 and code(r) == "invalid_request"
    r = await agent.patch(
        f"{B}/shop/scheduled/{sid}", json={"text": "Final text", "send_at": clock.iso(600)}
    )
    assert r.status_code == 200 and r.json()["text"] == "Final text"
    # the old time passes: nothing (its job was replaced)
    clock.advance(120)
    assert await run_jobs(core) == 0
    clock.advance(600)
    assert await run_jobs(core) == 1
    assert (await texts(customer, cid))[-1] == ("shop", "Final text")
    r = await agent.delete(f"{B}/shop/scheduled/{sid}")
    assert r.status_code == 409 and code(r) == "scheduled_not_pending"
    # a cancel by an admin
    sid = (await schedule(agent, cid, clock.iso(60), "Never sent")).json()["id"]
    r = await other.delete(f"{B}/shop/scheduled/{sid}")
    assert r.status_code == 403 and code(r) == "business_forbidden"
    r = await admin.delete(f"{B}/shop/scheduled/{sid}")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["cancelled_by"]["handle"] == "ada"
    r = await admin.delete(f"{B}/shop/scheduled/{sid}")
    assert r.status_code == 409 and code(r) == "scheduled_not_pending"
    clock.advance(120)
    assert await run_jobs(core) == 0
    assert "Never sent" not in str(await texts(customer, cid))
    r = await admin.get(f"{B}/shop/scheduled/s_nothing")
    assert r.status_code == 404 and code(r) == "scheduled_not_found"
    audit = (await shop.get(f"{B}/shop/audit")).json()["items"]
    actions = [a["action"] for a in audit]
    for action in ("scheduled.created", "scheduled.updated", "scheduled.cancelled"):
        assert action in actions, action
    assert [a["actor"]["handle"] for a in audit if a["action"] == "scheduled.sent"] == ["agnes"]


async def test_narrow_agents_see_only_the_scheduled_messages_of_their_conversations(
    api: Api, core: Core, clock: Clock
) -> None:
    shop, admin, _agent, _viewer, customer = await shop_with_team(api)
    narrow = await api.register("nora")
    await add(shop, shop, narrow, "agent", scope="assigned")
    other = await api.register("olga")
    mine, theirs = await customer.direct(shop), await other.direct(shop)
    await customer.send(mine, "hi")
    await other.send(theirs, "hi")
    await admin.patch(f"{B}/shop/conversations/{mine}", json={"assignee": "nora"})
    a = (await schedule(admin, mine, clock.iso(60), "for nora's customer")).json()["id"]
    b = (await schedule(admin, theirs, clock.iso(60), "for the other")).json()["id"]
    listed = (await narrow.get(f"{B}/shop/scheduled")).json()["items"]
    assert [i["id"] for i in listed] == [a]
    r = await narrow.get(f"{B}/shop/scheduled/{b}")
    assert r.status_code == 404 and code(r) == "scheduled_not_found"
    r = await schedule(narrow, theirs, clock.iso(60), "x")
    assert r.status_code == 404 and code(r) == "conversation_not_found"
    assert len((await admin.get(f"{B}/shop/scheduled")).json()["items"]) == 2


async def test_it_fails_when_its_author_may_no_longer_send(
    api: Api, core: Core, clock: Clock
) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "hello")
    by_agent = (await schedule(agent, cid, clock.iso(60), "From agnes")).json()["id"]
    by_admin = (await schedule(admin, cid, clock.iso(60), "From ada")).json()["id"]
    r = await shop.delete(f"{B}/shop/members/agnes")
    assert r.status_code == 204, r.text
    await add(shop, shop, admin, "viewer", expect=200)  # no longer allowed to reply
    clock.advance(120)
    assert await run_jobs(core) == 2
    assert (await item(shop, by_agent))["status"] == "failed"
    assert (await item(shop, by_agent))["reason"] == "author_removed"
    failed = await item(shop, by_admin)
    assert (failed["status"], failed["reason"]) == ("failed", "author_forbidden")
    assert [t for s, t in await texts(customer, cid) if s == "shop"] == []


async def test_a_refused_send_fails_with_its_error_code(api: Api, core: Core, clock: Clock) -> None:
    shop, _admin, agent, _viewer, customer = await shop_with_team(api)
    cid = await customer.direct(shop)
    await customer.send(cid, "hello")
    sid = (await schedule(agent, cid, clock.iso(60), "Offer inside")).json()["id"]
    r = await shop.put(f"/api/v1/users/{customer.handle}/block")
    assert r.status_code == 204, r.text
    clock.advance(120)
    assert await run_jobs(core) == 1
    failed = await item(agent, sid)
    assert (failed["status"], failed["reason"]) == ("failed", "blocked_by_you")


# --- opting in and out --------------------------------------------------------------------


async def opt(customer: User, shop: User, word: str) -> str:
    cid = await customer.direct(shop)
    await customer.send(cid, word)
    return cid


async def subscribers(user: User, **params: Any) -> list[tuple[str, str]]:
    r = await user.get(f"{B}/shop/broadcasts/subscribers", params=params)
    assert r.status_code == 200, r.text
    return [(i["customer"]["handle"], i["status"]) for i in r.json()["items"]]


async def test_opting_in_by_keyword_is_an_answer_that_reopens_nothing(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    cid = await opt(customer, shop, "hello, a question first")
    await agent.post(f"{B}/shop/conversations/{cid}/messages", json={"text": "Answered!"})
    await agent.patch(f"{B}/shop/conversations/{cid}", json={"status": "resolved"})
    await customer.send(cid, "  Start! ")
    state = (await admin.get(f"{B}/shop/conversations/{cid}")).json()["state"]
    assert state["status"] == "resolved" and state["waiting_since"] is None
    reply = (await texts(customer, cid))[-1]
    assert reply[0] == "shop" and "subscribed" in reply[1] and "Reply STOP" in reply[1]
    team = (await admin.get(f"{B}/shop/conversations/{cid}/messages")).json()["items"]
    assert team[-1]["automation"] == "broadcast" and team[-1]["agent"] is None
    assert await subscribers(admin) == [("cyd", "opted_in")]
    # not a keyword: a message like any, which reopens
    await customer.send(cid, "start shipping already")
    state = (await admin.get(f"{B}/shop/conversations/{cid}")).json()["state"]
    assert state["status"] == "open" and state["waiting_since"] is not None
    await customer.send(cid, "STOP")
    assert "unsubscribed" in (await texts(customer, cid))[-1][1]
    assert await subscribers(admin) == [("cyd", "opted_out")]
    assert await subscribers(admin, status="opted_in") == []
    r = await agent.get(f"{B}/shop/broadcasts/subscribers")
    assert r.status_code == 403 and code(r) == "business_forbidden"


async def test_the_keywords_are_the_businesses_own(api: Api) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    r = await agent.get(f"{B}/shop/broadcasts/keywords")
    assert r.json() == {"opt_in": ["START", "SUBSCRIBE"], "opt_out": ["STOP", "UNSUBSCRIBE"]}
    r = await agent.put(f"{B}/shop/broadcasts/keywords", json={"opt_in": ["a"], "opt_out": ["b"]})
    assert r.status_code == 403 and code(r) == "business_forbidden"
    for body in (
        {"opt_in": ["JOIN"], "opt_out": ["join"]},
        {"opt_in": ["no way!"], "opt_out": ["LEAVE"]},
        {"opt_in": [], "opt_out": ["LEAVE"]},
    ):
        r = await admin.put(f"{B}/shop/broadcasts/keywords", json=body)
        assert r.status_code == 400 and code(r) == "invalid_request", body
    r = await admin.put(
        f"{B}/shop/broadcasts/keywords",
        json={"opt_in": ["Join", "Yes please"], "opt_out": ["LEAVE"]},
    )
    assert r.status_code == 200 and r.json()["opt_in"] == ["Join", "Yes please"]
    cid = await opt(customer, shop, "START")  # no longer a keyword: a question to answer
    state = (await admin.get(f"{B}/shop/conversations/{cid}")).json()["state"]
    assert state["waiting_since"] is not None
    await customer.send(cid, "yes PLEASE")
    assert "Reply LEAVE" in (await texts(customer, cid))[-1][1]
    assert await subscribers(admin) == [("cyd", "opted_in")]


# --- broadcasts ---------------------------------------------------------------------------


async def broadcast(user: User, expect: int = 201, **body: Any) -> Any:
    r = await user.post(f"{B}/shop/broadcasts", json=body)
    assert r.status_code == expect, r.text
    return r.json()


async def statuses(user: User, bid: str) -> dict[str, tuple[str, str | None]]:
    r = await user.get(f"{B}/shop/broadcasts/{bid}/recipients")
    assert r.status_code == 200, r.text
    return {i["customer"]["handle"]: (i["status"], i["reason"]) for i in r.json()["items"]}


async def test_a_broadcast_reaches_the_opted_in_only_in_paced_batches(
    api: Api, core: Core, clock: Clock
) -> None:
    shop, admin, agent, _viewer, _customer = await shop_with_team(api)
    fans = [await api.register(h) for h in ("fay", "finn", "flo")]
    chatty, quitter = await api.register("chad"), await api.register("quin")
    talks = {u.handle: await opt(u, shop, "START") for u in (*fans, quitter)}
    talks["chad"] = await opt(chatty, shop, "just chatting")
    await quitter.send(talks["quin"], "stop")
    r = await agent.post(f"{B}/shop/broadcasts", json={"text": "x"})
    assert r.status_code == 403 and code(r) == "business_forbidden"
    admin_since = await token(admin)
    view = await broadcast(admin, text="Sale! {{customer.first_name|friend}}, 20% off today")
    bid = view["id"]
    assert view["status"] == "sending" and view["author"]["handle"] == "ada"
    assert view["counts"] == {
        "total": 3,
        "queued": 3,
        "sent": 0,
        "skipped": 0,
        "failed": 0,
        "cancelled": 0,
    }
    assert set(await statuses(admin, bid)) == {"fay", "finn", "flo"}
    # a round sends a batch (2), then waits its pause: the third is still queued
    assert await run_jobs(core) == 1
    got = await statuses(admin, bid)
    assert sorted(s for s, _ in got.values()) == ["queued", "sent", "sent"]
    assert await run_jobs(core) == 0  # paused
    (waiting,) = [h for h, (s, _) in got.items() if s == "queued"]
    # who is still queued opts out mid-broadcast: honoured at once
    await fans[[f.handle for f in fans].index(waiting)].send(talks[waiting], "UNSUBSCRIBE")
    assert (await statuses(admin, bid))[waiting] == ("skipped", "opted_out")
    clock.advance(60)
    assert await run_jobs(core) == 1
    done = (await admin.get(f"{B}/shop/broadcasts/{bid}")).json()
    assert done["status"] == "done" and done["finished_at"] is not None
    assert (done["counts"]["sent"], done["counts"]["skipped"]) == (2, 1)
    for fan in fans:
        said = [t for s, t in await texts(fan, talks[fan.handle]) if s == "shop"]
        offers = [t for t in said if t.startswith("Sale!")]
        assert offers == ([] if fan.handle == waiting else [f"Sale! {fan.handle}, 20% off today"])
    for other in (chatty, quitter):
        assert not [t for _, t in await texts(other, talks[other.handle]) if t.startswith("Sale")]
    # the broadcast answers for nobody: nothing reopened, no one waits on the team for it
    got, _ = await events(admin, admin_since)
    kinds = {e["type"] for e in got}
    assert "business.broadcast_updated" in kinds
    last = [e for e in got if e["type"] == "business.broadcast_updated"][-1]["data"]
    assert last["broadcast"]["status"] == "done"
    listed = (await admin.get(f"{B}/shop/broadcasts")).json()["items"]
    assert [b["id"] for b in listed] == [bid]
    sent = await admin.get(f"{B}/shop/broadcasts/{bid}/recipients", params={"status": "sent"})
    assert all(i["message_id"] for i in sent.json()["items"]) and len(sent.json()["items"]) == 2
    assert await queued_jobs(core) == []


async def test_blocks_requests_and_labels_decide_who_is_reached(
    api: Api, core: Core, clock: Clock
) -> None:
    shop, admin, _agent, _viewer, _customer = await shop_with_team(api)
    banned, blocker, vip, plain = [await api.register(h) for h in ("ben", "bea", "val", "pat")]
    talks = {u.handle: await opt(u, shop, "subscribe") for u in (banned, blocker, vip, plain)}
    label = (await admin.post(f"{B}/shop/labels", json={"name": "VIP"})).json()["id"]
    await admin.put(f"{B}/shop/conversations/{talks['val']}/labels/{label}")
    r = await admin.post(f"{B}/shop/broadcasts", json={"text": "x", "audience": {"label": "l_no"}})
    assert r.status_code == 404 and code(r) == "label_not_found"
    vip_only = await broadcast(admin, text="VIP preview", audience={"label": label})
    assert vip_only["audience"]["label"]["name"] == "VIP" and vip_only["counts"]["total"] == 1
    everyone = await broadcast(admin, text="For all")
    assert everyone["counts"]["total"] == 4
    assert (await shop.put(f"/api/v1/users/{banned.handle}/block")).status_code == 204
    assert (await blocker.put(f"/api/v1/users/{shop.handle}/block")).status_code == 204
    for _ in range(3):
        await run_jobs(core)
        clock.advance(60)
    assert await statuses(admin, everyone["id"]) == {
        "ben": ("skipped", "blocked"),  # the business's own block
        "bea": ("skipped", "cannot_message"),  # theirs looks like any refusal
        "val": ("sent", None),
        "pat": ("sent", None),
    }
    assert await statuses(admin, vip_only["id"]) == {"val": ("sent", None)}
    assert [t for s, t in await texts(vip, talks["val"]) if s == "shop"][-2:] == [
        "VIP preview",
        "For all",
    ]
    assert "For all" not in str(await texts(blocker, talks["bea"]))


async def test_a_scheduled_broadcast_can_be_cancelled(api: Api, core: Core, clock: Clock) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    outsider = await api.register("eve")
    r = await admin.post(f"{B}/shop/broadcasts", json={"text": "Nobody yet"})
    assert r.status_code == 422 and code(r) == "no_recipients"
    cid = await opt(customer, shop, "START")
    later = await broadcast(admin, text="Tomorrow's news", send_at=clock.iso(86400))
    assert later["status"] == "scheduled"
    clock.advance(3600)
    assert await run_jobs(core) == 0
    for who, status, error in (
        (outsider, 404, "business_not_found"),
        (agent, 403, "business_forbidden"),
    ):
        r = await who.post(f"{B}/shop/broadcasts/{later['id']}/cancel")
        assert r.status_code == status and code(r) == error
        r = await who.get(f"{B}/shop/broadcasts/{later['id']}/recipients")
        assert r.status_code == status and code(r) == error
    r = await outsider.get(f"{B}/shop/broadcasts/{later['id']}")
    assert r.status_code == 404 and code(r) == "business_not_found"
    # the whole team sees the broadcasts (they are in its stream), not who gets them
    r = await agent.get(f"{B}/shop/broadcasts/{later['id']}")
    assert r.status_code == 200 and r.json()["status"] == "scheduled"
    assert [b["id"] for b in (await agent.get(f"{B}/shop/broadcasts")).json()["items"]] == [
        later["id"]
    ]
    r = await admin.post(f"{B}/shop/broadcasts/{later['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["counts"]["cancelled"] == 1
    assert r.json()["cancelled_by"]["handle"] == "ada"
    r = await admin.post(f"{B}/shop/broadcasts/{later['id']}/cancel")
    assert r.status_code == 409 and code(r) == "broadcast_finished"
    clock.advance(2 * 86400)
    assert await run_jobs(core) == 0
    assert "Tomorrow's news" not in str(await texts(customer, cid))
    r = await admin.get(f"{B}/shop/broadcasts/bc_nothing")
    assert r.status_code == 404 and code(r) == "broadcast_not_found"


async def test_a_broadcast_waits_for_the_limit_rather_than_failing(
    tmp_path: Path, database_url: str
) -> None:
    """With the limits on, a broadcast bigger than the business's minute goes out over
    several minutes: the job waits (`Retry`) when the limiter says so, and resumes."""
    from backchannel.app import create_app
    from backchannel.ratelimit.local import LocalLimiter
    from tests.conftest import ValidatingApp

    settings = make_settings(
        tmp_path,
        database_url,
        rate_limits=True,
        limit_messages_per_minute={"new": 4, "regular": 4, "trusted": 4},
        broadcast_rate_share=1.0,
        broadcast_batch_size=50,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=ValidatingApp(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            api = Api(http, app)
            core = api.core
            clock = Clock()
            core.store.clock = clock
            assert isinstance(core.limiter, LocalLimiter)
            core.limiter.clock = clock  # the limiter's minute passes with the store's
            shop = await api.register("shop")
            await become(shop)
            fans = [await api.register(f"fan{i}") for i in range(6)]
            talks = [await opt(fan, shop, "START") for fan in fans]
            # the business itself writes 3 messages this minute (confirmations do not count)
            for n in range(3):
                await shop.send(talks[0], f"personal note {n}")
            bid = (await broadcast(shop, text="Hello fans"))["id"]
            await run_jobs(core)
            (job,) = await queued_jobs(core)
            assert job["last_error"] == "over the business's limit"
            assert (await statuses(shop, bid))["fan0"] == ("sent", None)
            assert sorted(s for s, _ in (await statuses(shop, bid)).values()).count("sent") == 1
            rounds = 0
            while (await shop.get(f"{B}/shop/broadcasts/{bid}")).json()["status"] != "done":
                rounds += 1
                assert rounds < 20
                await run_jobs(core)
                clock.advance(20)
            counts = (await shop.get(f"{B}/shop/broadcasts/{bid}")).json()["counts"]
            assert counts["sent"] == 6 and counts["failed"] == 0
            assert rounds > 1  # 6 messages at 4 a minute cannot go in one round
            jobs = await queued_jobs(core)
            assert jobs == []


# --- the team's stream converges, and a job run twice sends once -------------------------


async def all_pages(user: User, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = await user.get(path, params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


async def test_state_at_a_token_plus_the_events_is_a_fresh_fetch(
    api: Api, core: Core, clock: Clock
) -> None:
    """For a team client: the scheduled messages and broadcasts it listed at a token, with
    `business.scheduled_updated` and `business.broadcast_updated` after it applied, equal
    what it lists afresh — for an admin, and for an agent who sees one conversation."""
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    narrow = await api.register("nora")
    await add(shop, shop, narrow, "agent", scope="assigned")
    other = await api.register("olga")
    mine, theirs = await opt(customer, shop, "START"), await opt(other, shop, "START")
    await admin.patch(f"{B}/shop/conversations/{mine}", json={"assignee": "nora"})
    early = (await schedule(agent, mine, clock.iso(60), "early")).json()["id"]
    clients = {
        "ada": (admin, True),  # sees broadcasts too
        "nora": (narrow, False),
    }
    before = {}
    for handle, (user, sees_broadcasts) in clients.items():
        scheduled = {i["id"]: i for i in await all_pages(user, f"{B}/shop/scheduled")}
        listed = await all_pages(user, f"{B}/shop/broadcasts") if sees_broadcasts else []
        before[handle] = (await token(user), scheduled, {b["id"]: b for b in listed})

    await schedule(agent, theirs, clock.iso(30), "for olga")
    await schedule(agent, mine, clock.iso(90), "asks", cancel_if_customer_replies=True)
    await agent.patch(f"{B}/shop/scheduled/{early}", json={"text": "early, edited"})
    await customer.send(mine, "a question")  # cancels "asks"
    await broadcast(admin, text="News")
    clock.advance(120)
    for _ in range(3):
        await run_jobs(core)
        clock.advance(60)
    await other.send(theirs, "stop")

    for handle, (user, sees_broadcasts) in clients.items():
        since, scheduled, listed = before[handle]
        got, _ = await events(user, since)
        for event in got:
            if event["type"] == "business.scheduled_updated":
                scheduled[event["data"]["scheduled"]["id"]] = event["data"]["scheduled"]
            elif event["type"] == "business.broadcast_updated":
                listed[event["data"]["broadcast"]["id"]] = event["data"]["broadcast"]
        fresh = {i["id"]: i for i in await all_pages(user, f"{B}/shop/scheduled")}
        assert scheduled == fresh, handle
        if sees_broadcasts:
            fresh_b = {b["id"]: b for b in await all_pages(user, f"{B}/shop/broadcasts")}
            assert listed == fresh_b and len(fresh_b) == 1, handle
    # the narrow agent saw only their conversation's, and so did the events
    assert {i["conversation_id"] for i in fresh.values()} == {mine}
    assert len(await all_pages(admin, f"{B}/shop/scheduled")) == 3


async def test_a_broadcast_job_run_twice_at_once_sends_each_message_once(
    api: Api, core: Core, clock: Clock
) -> None:
    """Jobs are delivered at least once: two runs of the same job (a lease that ran out
    while the first still worked) claim each recipient once."""
    shop = await api.register("shop")
    await become(shop)
    fans = [await api.register(f"fan{i}") for i in range(3)]
    talks = [await opt(fan, shop, "START") for fan in fans]
    bid = (await broadcast(shop, text="Once only"))["id"]
    (row,) = await queued_jobs(core)
    job = jobs.Job(int(row["id"]), row["kind"], orjson.loads(row["payload"]), 1, row["run_at"])
    for _ in range(2):  # batches of 2: two rounds of two racing runs
        await asyncio.gather(
            broadcasts.send_broadcast(core, job), broadcasts.send_broadcast(core, job)
        )
        clock.advance(60)
    counts = (await shop.get(f"{B}/shop/broadcasts/{bid}")).json()["counts"]
    assert counts["sent"] == 3 and counts["total"] == 3
    for fan, cid in zip(fans, talks, strict=True):
        assert [t for _, t in await texts(fan, cid)].count("Once only") == 1


async def test_the_inbox_a_team_client_holds_converges_through_outbound(
    api: Api, core: Core, clock: Clock
) -> None:
    """Keyword answers, their confirmations, broadcasts and scheduled sends keep a team
    client's inbox (states, messages and who wrote them) equal to a fresh fetch."""
    from tests.test_events import verify_team_action

    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    cid = await opt(customer, shop, "hello")

    async def outbound() -> None:
        await schedule(agent, cid, clock.iso(30), "Anything else?")
        clock.advance(60)
        await run_jobs(core)  # an answer: nobody waits
        await customer.send(cid, "One more question")  # the customer waits
        clock.advance(5)
        await customer.send(cid, "START")  # an answer to the automation: still waits
        clock.advance(5)
        await broadcast(admin, text="Sale!")
        await run_jobs(core)  # the broadcast answers for nobody either

    seen = await verify_team_action(
        [admin, agent],
        shop,
        outbound,
        {"business.message_sent", "business.broadcast_updated", "business.scheduled_updated"},
    )
    writers = [
        (e["data"]["agent"] or {}).get("handle") or e["data"]["automation"]
        for e in seen["ada"]
        if e["type"] == "business.message_sent"
    ]
    assert writers == ["agnes", "broadcast", "broadcast"]
    state = (await admin.get(f"{B}/shop/conversations/{cid}")).json()["state"]
    assert state["waiting_since"] is not None


async def test_a_restarted_server_resumes_a_broadcast_where_it_stopped(
    tmp_path: Path, database_url: str
) -> None:
    """Statuses are durable: a server that stops mid-broadcast (its batch sent, the rest
    queued) and starts again sends to the rest, and to nobody twice."""
    from backchannel.app import create_app
    from tests.conftest import ValidatingApp

    settings = make_settings(tmp_path, database_url, broadcast_batch_size=2)
    clock = Clock()
    first = create_app(settings)
    async with first.router.lifespan_context(first):
        transport = httpx.ASGITransport(app=ValidatingApp(first))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            api = Api(http, first)
            api.core.store.clock = clock
            shop = await api.register("shop")
            await become(shop)
            fans = [await api.register(f"fan{i}") for i in range(3)]
            talks = [await opt(fan, shop, "START") for fan in fans]
            bid = (await broadcast(shop, text="Once, after a restart too"))["id"]
            assert await run_jobs(api.core) == 1
            counts = (await shop.get(f"{B}/shop/broadcasts/{bid}")).json()["counts"]
            assert (counts["sent"], counts["queued"]) == (2, 1)
    clock.advance(60)
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=ValidatingApp(second))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            api = Api(http, second)
            api.core.store.clock = clock
            shop.http = http
            assert await run_jobs(api.core) == 1
            done = (await shop.get(f"{B}/shop/broadcasts/{bid}")).json()
            assert done["status"] == "done" and done["counts"]["sent"] == 3
            for fan, cid in zip(fans, talks, strict=True):
                fan.http = http
                said = [t for _, t in await texts(fan, cid)]
                assert said.count("Once, after a restart too") == 1
