"""Business reports through the API, against hand-computed fixtures: conversations driven
through the real inbox at exact instants (the store's clock), then first and next response
times, resolution per open→resolved cycle, rates, business-hours durations, CSAT, the bot's
share, grouping, the time series, volume by hour, the CSV export and who may read them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from backchannel.config import Settings
from backchannel.services import inbox_state
from backchannel.store import accounts as user_db
from backchannel.store import conversations as conv_db
from backchannel.store.database import WriteTxn
from tests.conftest import Api, User, make_settings

B = "/api/v1/businesses"
MONDAY = datetime(2027, 1, 4, tzinfo=UTC)  # a Monday; the shop keeps UTC unless told


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


class Clock:
    """The store's clock, set to exact instants."""

    def __init__(self, api: Api) -> None:
        self.now = MONDAY
        api.core.store.clock = lambda: self.now.timestamp()

    def at(self, hhmm: str, day: int = 0) -> None:
        hour, minute = (int(x) for x in hhmm.split(":"))
        self.now = MONDAY + timedelta(days=day, hours=hour, minutes=minute)


@pytest.fixture
def clock(api: Api) -> Clock:
    return Clock(api)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # a webhook to a local address may be registered (none is delivered here)
    return make_settings(
        tmp_path,
        database_url,
        webhook_allow_http=True,
        webhook_allowed_networks=["127.0.0.1/32"],
    )


async def add(owner: User, member: User, role: str) -> None:
    r = await owner.put(f"{B}/{owner.handle}/members/{member.handle}", json={"role": role})
    assert r.status_code == 201, r.text


async def shop_with_team(api: Api, timezone: str = "UTC") -> tuple[User, User, User, User]:
    """A business `shop` (its owner), an admin `ada`, an agent `agnes` and a viewer `vic`."""
    shop = await api.register("shop")
    r = await shop.post("/api/v1/me/business", json={"timezone": timezone})
    assert r.status_code == 201, r.text
    admin, agent, viewer = [await api.register(h) for h in ("ada", "agnes", "vic")]
    await add(shop, admin, "admin")
    await add(shop, agent, "agent")
    await add(shop, viewer, "viewer")
    return shop, admin, agent, viewer


async def reply(member: User, cid: str, text: str = "On it!") -> None:
    r = await member.post(f"{B}/shop/conversations/{cid}/messages", json={"text": text})
    assert r.status_code == 201, r.text


async def triage(member: User, cid: str, **changes: Any) -> dict[str, Any]:
    r = await member.patch(f"{B}/shop/conversations/{cid}", json=changes)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def report(member: User, **params: Any) -> dict[str, Any]:
    params = {"from": "2027-01-04", "to": "2027-01-05", **params}
    params = {name: value for name, value in params.items() if value is not None}
    r = await member.get(f"{B}/shop/reports", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def texts_seen_by(customer: User, cid: str) -> list[tuple[str, str]]:
    items = (await customer.get(f"/api/v1/conversations/{cid}/messages")).json()["items"]
    return [(m["sender"]["handle"], m["text"]) for m in items]


async def two_conversations(api: Api, clock: Clock) -> tuple[User, User, User, str, str]:
    """The fixture the numbers below are computed from (Monday, UTC):

    A (cyd): 09:00 asks, 09:01 agnes answers (first response 60 s), 09:10 asks again, 09:15
    agnes answers (next response 300 s), 09:20 resolved (1200 s); 10:00 cyd writes again
    (a new cycle), 10:02 ada answers (first response 120 s), 10:30 resolved (1800 s).
    B (dee): 09:30 asks, 09:40 agnes answers (600 s); still open.
    """
    shop, admin, agent, viewer = await shop_with_team(api)
    cyd, dee = await api.register("cyd"), await api.register("dee")
    clock.at("09:00")
    a = await cyd.direct(shop)
    await cyd.send(a, "Where is my order?")
    clock.at("09:01")
    await reply(agent, a)
    clock.at("09:10")
    await cyd.send(a, "Any news?")
    clock.at("09:15")
    await reply(agent, a, "Shipped today.")
    clock.at("09:20")
    await triage(agent, a, status="resolved")
    await triage(agent, a, priority="high")  # still resolved: the same cycle
    clock.at("09:30")
    b = await dee.direct(shop)
    await dee.send(b, "Do you ship to Norway?")
    clock.at("09:40")
    await reply(agent, b, "We do.")
    clock.at("10:00")
    await cyd.send(a, "It did not come")
    clock.at("10:02")
    await reply(admin, a, "Sending another.")
    clock.at("10:30")
    await triage(admin, a, status="resolved")
    clock.at("12:00")
    return shop, admin, viewer, a, b


async def test_response_and_resolution_times_per_cycle(api: Api, clock: Clock) -> None:
    shop, _admin, _viewer, _a, _b = await two_conversations(api, clock)
    body = await report(shop)
    assert (body["from"], body["to"]) == ("2027-01-04T00:00:00.000Z", "2027-01-05T00:00:00.000Z")
    total = body["total"]
    assert total["conversations"] == 3  # A's two cycles and B's
    assert total["resolved"] == 2 and total["resolution_rate"] == 0.6667
    # first responses 60, 120, 600: median 120; p90 at rank 1.8 = 120 + 0.8 * 480
    assert total["first_response"] == {"count": 3, "median_s": 120, "p90_s": 504, "mean_s": 260}
    assert total["next_response"] == {"count": 1, "median_s": 300, "p90_s": 300, "mean_s": 300}
    # reopening starts a new cycle: 1200 s and 1800 s, not one of 5400 s
    assert total["resolution"] == {"count": 2, "median_s": 1500, "p90_s": 1740, "mean_s": 1500}
    assert total["messages_per_resolution"] == 3  # (2 + 2) and (1 + 1) over two
    assert total["bot_conversations"] == 0 and total["bot_resolution_rate"] is None
    assert total["csat"]["count"] == 0
    assert body["groups"] == [
        {"group": {"kind": "business", "id": shop.id, "name": "shop"}, **total}
    ]
    # another day: nothing
    empty = (await report(shop, **{"from": "2027-01-05", "to": "2027-01-06"}))["total"]
    assert empty["conversations"] == 0 and empty["first_response"]["median_s"] is None


async def test_grouped_per_agent(api: Api, clock: Clock) -> None:
    shop, *_ = await two_conversations(api, clock)
    groups = {row["group"]["name"]: row for row in (await report(shop, group_by="agent"))["groups"]}
    assert sorted(groups) == ["ada", "agnes"]
    agnes, ada = groups["agnes"], groups["ada"]
    # agnes answered first in A's first cycle and in B; ada in A's second
    assert (agnes["conversations"], agnes["resolved"]) == (2, 1)
    assert agnes["first_response"] == {"count": 2, "median_s": 330, "p90_s": 546, "mean_s": 330}
    assert agnes["next_response"]["count"] == 1 and agnes["resolution"]["median_s"] == 1200
    assert (ada["conversations"], ada["resolved"]) == (1, 1)
    assert ada["first_response"]["median_s"] == 120 and ada["resolution"]["median_s"] == 1800


async def test_grouped_per_team_and_label_with_assignees(api: Api, clock: Clock) -> None:
    shop, admin, agent, _viewer = await shop_with_team(api)
    cyd, dee = await api.register("cyd"), await api.register("dee")
    returns = (await admin.post(f"{B}/shop/teams", json={"name": "Returns"})).json()
    vip = (await admin.post(f"{B}/shop/labels", json={"name": "VIP", "color": "#ff0000"})).json()
    clock.at("09:00")
    a = await cyd.direct(shop)
    await cyd.send(a, "Return this please")
    await triage(admin, a, team=returns["id"], assignee="ada")
    assert (await agent.put(f"{B}/shop/conversations/{a}/labels/{vip['id']}")).status_code == 200
    clock.at("09:05")
    await reply(agent, a)  # agnes answers, but the conversation is ada's
    clock.at("09:10")
    await triage(agent, a, status="resolved")
    clock.at("09:20")
    b = await dee.direct(shop)
    await dee.send(b, "hi")
    clock.at("09:30")
    await reply(agent, b)
    clock.at("12:00")
    by_team = (await report(shop, group_by="team"))["groups"]
    assert [(g["group"], g["conversations"], g["resolved"]) for g in by_team] == [
        ({"kind": "team", "id": returns["id"], "name": "Returns"}, 1, 1),
        (None, 1, 0),  # no team
    ]
    assert by_team[0]["resolution"]["median_s"] == 600
    assert by_team[0]["first_response"]["median_s"] == 300
    by_label = (await report(shop, group_by="label"))["groups"]
    assert [(g["group"] and g["group"]["name"], g["conversations"]) for g in by_label] == [
        ("VIP", 1),
        (None, 1),
    ]
    # a cycle is its assignee's; a response is whoever answered
    by_agent = {g["group"]["name"]: g for g in (await report(shop, group_by="agent"))["groups"]}
    assert (by_agent["ada"]["conversations"], by_agent["ada"]["resolved"]) == (1, 1)
    assert by_agent["ada"]["first_response"]["count"] == 0
    assert (by_agent["agnes"]["conversations"], by_agent["agnes"]["first_response"]["count"]) == (
        1,
        2,
    )


async def test_business_hours_count_only_open_time(api: Api, clock: Clock) -> None:
    shop, _admin, agent, _viewer = await shop_with_team(api)
    weekdays = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    r = await shop.patch(f"{B}/shop/settings", json={"hours": {"week": weekdays}})
    assert r.status_code == 200, r.text
    cyd = await api.register("cyd")
    clock.at("16:30")
    cid = await cyd.direct(shop)
    await cyd.send(cid, "Late question")
    clock.at("09:30", day=1)  # the next morning
    await reply(agent, cid)
    clock.at("10:00", day=1)
    await triage(agent, cid, status="resolved")
    clock.at("12:00", day=1)
    span = {"from": "2027-01-04", "to": "2027-01-06"}
    wall = (await report(shop, **span))["total"]
    assert wall["first_response"]["median_s"] == 17 * 3600
    assert wall["resolution"]["median_s"] == 17.5 * 3600
    open_time = await report(shop, business_hours="true", **span)
    assert open_time["business_hours"] is True
    assert open_time["total"]["first_response"]["median_s"] == 3600  # 16:30-17:00, 09:00-09:30
    assert open_time["total"]["resolution"]["median_s"] == 5400


async def test_csat_survey_rating_and_other_answers(api: Api, clock: Clock) -> None:
    shop, admin, agent, viewer = await shop_with_team(api)
    r = await agent.patch(f"{B}/shop/reports/settings", json={"csat_enabled": True})
    assert r.status_code == 403 and code(r) == "business_forbidden"
    r = await admin.patch(
        f"{B}/shop/reports/settings", json={"csat_enabled": True, "csat_thanks": "Merci!"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "csat_enabled": True,
        "csat_question": "How did we do? Reply 1 (bad) to 5 (great).",
        "csat_thanks": "Merci!",
    }
    assert (await viewer.get(f"{B}/shop/reports/settings")).json()["csat_enabled"] is True
    r = await admin.patch(f"{B}/shop/reports/settings", json={"csat_question": "x" * 501})
    assert r.status_code == 400 and code(r) == "invalid_request"
    r = await admin.patch(f"{B}/shop/reports/settings", json={})
    assert r.status_code == 400 and code(r) == "invalid_request"
    cyd, dee = await api.register("cyd"), await api.register("dee")
    clock.at("09:00")
    a = await cyd.direct(shop)
    await cyd.send(a, "Help")
    clock.at("09:02")
    await reply(agent, a)
    clock.at("09:05")
    await triage(agent, a, status="resolved")
    assert (await texts_seen_by(cyd, a))[-1] == (
        "shop",
        "How did we do? Reply 1 (bad) to 5 (great).",
    )
    clock.at("09:06")
    await cyd.send(a, " 5 ")
    assert (await texts_seen_by(cyd, a))[-1] == ("shop", "Merci!")
    state = (await agent.get(f"{B}/shop/conversations/{a}")).json()["state"]
    assert state["status"] == "resolved" and state["waiting_since"] is None  # not reopened
    # a second rating is just a message: it reopens
    clock.at("09:07")
    await cyd.send(a, "4")
    assert (await agent.get(f"{B}/shop/conversations/{a}")).json()["state"]["status"] == "open"
    # anything else than a rating reopens, and drops the survey
    clock.at("10:00")
    b = await dee.direct(shop)
    await dee.send(b, "Question")
    clock.at("10:01")
    await reply(agent, b)
    clock.at("10:02")
    await triage(agent, b, status="resolved")
    clock.at("10:03")
    await dee.send(b, "hello?")
    assert (await agent.get(f"{B}/shop/conversations/{b}")).json()["state"]["status"] == "open"
    clock.at("10:04")
    await dee.send(b, "3")
    assert (await texts_seen_by(dee, b))[-1] == ("dee", "3")  # no thanks: not a rating
    clock.at("12:00")
    csat = (await report(viewer, group_by="agent"))["groups"]
    agnes = next(g for g in csat if g["group"] and g["group"]["name"] == "agnes")
    assert agnes["csat"] == {
        "count": 1,
        "mean": 5.0,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1},
        "satisfied_rate": 1.0,
    }
    # the survey and the thanks are no answers: B's reopened cycle still waits for one
    total = (await report(viewer))["total"]
    assert total["first_response"]["count"] == 2 and total["conversations"] == 4


async def test_no_survey_when_csat_is_off_or_late_ratings(api: Api, clock: Clock) -> None:
    shop, admin, agent, _viewer = await shop_with_team(api)
    cyd = await api.register("cyd")
    clock.at("09:00")
    cid = await cyd.direct(shop)
    await cyd.send(cid, "Help")
    await triage(agent, cid, status="resolved")
    assert (await texts_seen_by(cyd, cid))[-1] == ("cyd", "Help")  # CSAT is off by default
    r = await admin.patch(f"{B}/shop/reports/settings", json={"csat_enabled": True})
    assert r.status_code == 200
    await cyd.send(cid, "again")
    await triage(agent, cid, status="resolved")
    assert (await texts_seen_by(cyd, cid))[-1][1].startswith("How did we do?")
    clock.at("09:01", day=8)  # more than a week later: not a rating any more
    await cyd.send(cid, "5")
    assert (await agent.get(f"{B}/shop/conversations/{cid}")).json()["state"]["status"] == "open"
    assert (await texts_seen_by(cyd, cid))[-1] == ("cyd", "5")


def _bot_says(api: Api, cid: str, text: str) -> Any:
    """What the FAQ bot's code does: send as the business, automation `bot`."""

    def txn(t: WriteTxn) -> None:
        shop = user_db.user_by_handle(t.conn, "shop")
        assert shop is not None
        conversation = conv_db.conversation_for_member(t.conn, cid, int(shop["id"]))
        assert conversation is not None
        inbox_state.send_as_business_in_txn(
            t, int(shop["id"]), conversation, text, automation="bot"
        )

    return api.core.store.write("test_bot_says", txn)


async def test_bot_resolutions_and_handoffs(api: Api, clock: Clock) -> None:
    shop, _admin, agent, _viewer = await shop_with_team(api)
    cyd, dee = await api.register("cyd"), await api.register("dee")
    clock.at("09:00")
    a = await cyd.direct(shop)
    await cyd.send(a, "Opening hours?")
    clock.at("09:00")
    await _bot_says(api, a, "We open at 9.")
    clock.at("09:05")
    await triage(shop, a, status="resolved")  # the bot's answer did it
    b = await dee.direct(shop)
    await dee.send(b, "Refund?")
    await _bot_says(api, b, "See our refund policy.")
    clock.at("09:10")
    await reply(agent, b, "Let me take this over.")  # hand-off
    clock.at("09:15")
    await triage(agent, b, status="resolved")
    clock.at("12:00")
    total = (await report(shop))["total"]
    assert total["bot_conversations"] == 2
    assert total["bot_resolution_rate"] == 0.5 and total["handoff_rate"] == 0.5
    # the bot's message answers no wait: only agnes's reply is a first response (5 min)
    assert total["first_response"] == {"count": 1, "median_s": 300, "p90_s": 300, "mean_s": 300}
    assert total["messages_per_resolution"] == 2.5  # (1 + 1) and (1 + 1 + 1)


async def test_series_and_volume_by_hour(api: Api, clock: Clock) -> None:
    shop, _admin, agent, _viewer = await shop_with_team(api, timezone="Europe/Paris")
    cyd, dee = await api.register("cyd"), await api.register("dee")
    clock.at("08:15")  # 09:15 in Paris, Monday
    a = await cyd.direct(shop)
    await cyd.send(a, "hi")
    clock.at("08:20")
    await reply(agent, a)
    clock.at("13:40", day=1)  # Tuesday 14:40 in Paris
    b = await dee.direct(shop)
    await dee.send(b, "hello")
    clock.at("14:00", day=1)
    await reply(agent, b)
    await triage(agent, b, status="resolved")
    clock.at("12:00", day=3)
    span = {"from": "2027-01-04", "to": "2027-01-07"}
    r = await shop.get(f"{B}/shop/reports/series", params={**span, "interval": "day"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timezone"] == "Europe/Paris" and body["from"] == "2027-01-03T23:00:00.000Z"
    points = [(p["start"], p["conversations"], p["resolved"]) for p in body["points"]]
    assert points == [("2027-01-04", 1, 0), ("2027-01-05", 1, 1), ("2027-01-06", 0, 0)]
    assert [p["first_response"]["median_s"] for p in body["points"]] == [300, 1200, None]
    r = await shop.get(f"{B}/shop/reports/series", params={**span, "interval": "week"})
    assert [(p["start"], p["conversations"]) for p in r.json()["points"]] == [("2027-01-04", 2)]
    r = await shop.get(f"{B}/shop/reports/volume", params=span)
    assert r.status_code == 200, r.text
    volume = r.json()
    assert volume["days"][0] == "mon" and len(volume["counts"]) == 7
    hot = {(d, h): n for d, row in enumerate(volume["counts"]) for h, n in enumerate(row) if n}
    assert hot == {(0, 9): 1, (1, 14): 1}


async def test_csv_export(api: Api, clock: Clock) -> None:
    shop, admin, agent, _viewer = await shop_with_team(api)
    cyd = await api.register("cyd")
    evil = '=HYPERLINK("http://x")'
    label = (await admin.post(f"{B}/shop/labels", json={"name": evil, "color": "#ff0000"})).json()
    clock.at("09:00")
    cid = await cyd.direct(shop)
    await cyd.send(cid, "hi")
    await agent.put(f"{B}/shop/conversations/{cid}/labels/{label['id']}")
    clock.at("09:01")
    await reply(agent, cid)
    clock.at("09:04")
    await triage(agent, cid, status="resolved")
    clock.at("12:00")
    params = {"from": "2027-01-04", "to": "2027-01-05", "group_by": "label"}
    r = await shop.get(f"{B}/shop/reports.csv", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "report-2027-01-04-2027-01-05.csv" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["group_kind"], row["group_name"]) for row in rows] == [
        ("all", ""),
        ("label", "'" + evil),  # a spreadsheet shows it, does not run it
    ]
    for row in rows:
        assert row["conversations"] == "1" and row["resolved"] == "1"
        assert float(row["first_response_median_s"]) == 60
        assert float(row["resolution_median_s"]) == 240
        assert row["resolution_rate"] == "1.0" and row["csat_count"] == "0"
        assert row["csat_mean"] == "" and row["from"] == "2027-01-04T00:00:00.000Z"
    assert rows[1]["group_id"] == label["id"]
    audit = (await shop.get(f"{B}/shop/audit")).json()["items"]
    assert audit[0]["action"] == "reports.exported"
    assert audit[0]["detail"] == {"start": "2027-01-04", "end": "2027-01-05", "group_by": "label"}


@pytest.mark.parametrize(
    "path", ["/reports", "/reports.csv", "/reports/series", "/reports/volume", "/reports/settings"]
)
async def test_who_reads_reports(api: Api, clock: Clock, path: str) -> None:
    shop, admin, agent, viewer = await shop_with_team(api)
    stranger = await api.register("stranger")
    for member in (shop, admin, viewer):
        r = await member.get(f"{B}/shop{path}")
        assert r.status_code == 200, (member.handle, r.text)
    r = await agent.get(f"{B}/shop{path}")
    assert r.status_code == 403 and code(r) == "business_forbidden"
    for outsider, handle in ((stranger, "shop"), (viewer, "no_such_shop")):
        r = await outsider.get(f"{B}/{handle}{path}")
        assert r.status_code == 404 and code(r) == "business_not_found"
    assert (await shop.delete(f"{B}/shop/members/vic")).status_code == 204
    r = await viewer.get(f"{B}/shop{path}")
    assert r.status_code == 404 and code(r) == "business_not_found"


async def test_reads_are_audited_and_ranges_checked(api: Api, clock: Clock) -> None:
    shop, _admin, _agent, viewer = await shop_with_team(api)
    clock.at("12:00")
    body = await report(viewer, **{"from": None, "to": None})  # the last 30 days
    assert body["to"] == "2027-01-04T12:00:00.000Z" and body["from"] == "2026-12-05T12:00:00.000Z"
    audit = (await shop.get(f"{B}/shop/audit", params={"actor": "vic"})).json()["items"]
    assert [(e["action"], e["detail"]) for e in audit] == [
        ("reports.read", {"group_by": "business"})
    ]
    bad = [
        {"from": "2027-01-05", "to": "2027-01-04"},
        {"from": "2027-01-04", "to": "2027-01-04"},
        {"from": "2025-01-01", "to": "2027-01-04"},
        {"from": "yesterday"},
        {"from": "2027-02-30"},
    ]
    for params in bad:
        r = await viewer.get(f"{B}/shop/reports", params=params)
        assert r.status_code == 422 and code(r) == "invalid_range", (params, r.text)
    r = await viewer.get(f"{B}/shop/reports", params={"group_by": "planet"})
    assert r.status_code == 400 and code(r) == "invalid_request"
    r = await viewer.get(f"{B}/shop/reports/series", params={"interval": "year"})
    assert r.status_code == 400 and code(r) == "invalid_request"
    # instants: with an offset as given, without one in the business's time zone
    r = await viewer.get(
        f"{B}/shop/reports", params={"from": "2027-01-04T10:00:00+01:00", "to": "2027-01-04T12:00"}
    )
    assert r.status_code == 200 and r.json()["from"] == "2027-01-04T09:00:00.000Z"
    assert r.json()["to"] == "2027-01-04T12:00:00.000Z"


async def test_a_rating_goes_to_the_webhooks(api: Api, clock: Clock) -> None:
    shop, admin, agent, _viewer = await shop_with_team(api)
    r = await admin.post(
        f"{B}/shop/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["csat.received"]}
    )
    assert r.status_code == 201, r.text
    hook = r.json()["id"]
    await admin.patch(f"{B}/shop/reports/settings", json={"csat_enabled": True})
    cyd = await api.register("cyd")
    clock.at("09:00")
    cid = await cyd.direct(shop)
    await cyd.send(cid, "Help")
    await reply(agent, cid)
    await triage(agent, cid, status="resolved")
    clock.at("09:01")
    await cyd.send(cid, "⭐⭐⭐⭐")
    r = await admin.get(f"{B}/shop/webhooks/{hook}/deliveries")
    assert r.status_code == 200, r.text
    (entry,) = r.json()["items"]
    assert entry["type"] == "csat.received"
    data = entry["payload"]["data"]
    assert (data["conversation_id"], data["score"]) == (cid, 4)
    assert data["agent"]["handle"] == "agnes" and data["rated_at"] == "2027-01-04T09:01:00.000Z"
