"""Saved views of a business's inbox: one's own and the team's shared ones, checked like
the inbox's filters, applied by `?view=`, and private to their owner."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, User
from tests.test_business import B, code, shop_with_team


async def make_view(user: User, shop: User, expect: int = 201, **body: Any) -> Any:
    r = await user.post(f"{B}/{shop.handle}/views", json=body)
    assert r.status_code == expect, r.text
    return r.json()


async def listed(user: User, shop: User, **params: Any) -> list[str]:
    r = await user.get(f"{B}/{shop.handle}/conversations", params=params)
    assert r.status_code == 200, r.text
    return [item["state"]["customer"]["handle"] for item in r.json()["items"]]


async def test_views_filter_the_inbox_and_belong_to_their_owner(api: Api) -> None:
    shop, admin, agent, viewer, customer = await shop_with_team(api)
    other = await api.register("olga")
    first = await customer.direct(shop)
    await customer.send(first, "My order is late")
    second = await other.direct(shop)
    await other.send(second, "Do you ship abroad?")
    r = await admin.post(f"{B}/shop/labels", json={"name": "VIP", "color": "#aa0000"})
    vip = r.json()["id"]
    await admin.put(f"{B}/shop/conversations/{first}/labels/{vip}")
    await admin.patch(f"{B}/shop/conversations/{second}", json={"assignee": agent.handle})

    # an agent's own view; an admin's shared one
    mine = await make_view(
        agent, shop, name="  Mine,   open ", filters={"assignee": "me", "status": "open"}
    )
    assert mine["name"] == "Mine, open" and mine["shared"] is False
    assert mine["filters"] == {"assignee": "me", "status": "open"}
    team_view = await make_view(admin, shop, name="VIP", filters={"label": vip}, shared=True)
    # what each sees: the shared view first, then their own; not a teammate's own
    names = [v["name"] for v in (await agent.get(f"{B}/shop/views")).json()["items"]]
    assert names == ["VIP", "Mine, open"]
    names = [v["name"] for v in (await viewer.get(f"{B}/shop/views")).json()["items"]]
    assert names == ["VIP"]
    # applied to the inbox
    assert await listed(agent, shop, view=mine["id"]) == ["olga"]
    assert await listed(viewer, shop, view=team_view["id"]) == [customer.handle]
    # a filter given beside the view wins over the view's
    assert await listed(agent, shop, view=mine["id"], status="resolved") == []
    # someone else's own view is not there for you (nor for the business's owner)
    for who in (viewer, shop):
        r = await who.get(f"{B}/shop/conversations", params={"view": mine["id"]})
        assert r.status_code == 404 and code(r) == "view_not_found"
        r = await who.patch(f"{B}/shop/views/{mine['id']}", json={"name": "taken"})
        assert r.status_code == 404 and code(r) == "view_not_found"
    # only owners and admins share, or change shared views
    r = await agent.post(f"{B}/shop/views", json={"name": "x", "filters": {}, "shared": True})
    assert r.status_code == 403 and code(r) == "business_forbidden"
    r = await agent.patch(f"{B}/shop/views/{team_view['id']}", json={"name": "mine now"})
    assert r.status_code == 403 and code(r) == "business_forbidden"
    r = await agent.delete(f"{B}/shop/views/{team_view['id']}")
    assert r.status_code == 403
    # the owner of a view changes it; filters are replaced, not merged
    r = await agent.patch(f"{B}/shop/views/{mine['id']}", json={"filters": {"priority": "high"}})
    assert r.status_code == 200 and r.json()["filters"] == {"priority": "high"}
    assert await listed(agent, shop, view=mine["id"]) == []
    r = await agent.delete(f"{B}/shop/views/{mine['id']}")
    assert r.status_code == 204
    r = await agent.get(f"{B}/shop/conversations", params={"view": mine["id"]})
    assert r.status_code == 404 and code(r) == "view_not_found"
    # every write is in the audit log
    actions = [e["action"] for e in (await shop.get(f"{B}/shop/audit")).json()["items"]]
    assert actions.count("view.created") == 2 and "view.deleted" in actions
    assert "view.updated" in actions


async def test_a_view_s_filters_are_checked_when_saved(api: Api) -> None:
    _shop, admin, _agent, _viewer, _customer = await shop_with_team(api)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"status": "closed"}, "invalid_request"),
        ({"priority": "whenever"}, "invalid_request"),
        ({"waiting_minutes": -1}, "invalid_request"),
        ({"colour": "red"}, "invalid_request"),
        ({"label": "l_nope"}, "label_not_found"),
    ]
    for filters, expected in cases:
        r = await admin.post(f"{B}/shop/views", json={"name": "bad", "filters": filters})
        assert r.status_code in (400, 404) and code(r) == expected, (filters, r.text)
    r = await admin.post(f"{B}/shop/views", json={"name": "   ", "filters": {}})
    assert r.status_code == 400 and code(r) == "invalid_request"
    assert (await admin.get(f"{B}/shop/views")).json()["items"] == []  # nothing half-saved
    # outsiders learn nothing
    stranger = await api.register("stranger")
    r = await stranger.get(f"{B}/shop/views")
    assert r.status_code == 404 and code(r) == "business_not_found"
