"""Webhooks per business: managed by owners and admins, signed (the documented recipe),
delivered from the job queue to a real local receiver that fails, retried with backoff
(or the receiver's Retry-After), logged, turned off after repeated failure with a notice
to owners and admins, and never sent to an internal address unless allowed."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backchannel.app import create_app
from backchannel.config import Settings
from backchannel.domain import webhooks as rules
from backchannel.jobs.runner import BACKOFF_BASE_S
from backchannel.services import webhook_sender, webhooks
from backchannel.services.core import Core
from backchannel.store import accounts as user_db
from tests.conftest import Api, Clock, User, ValidatingApp, make_settings
from tests.test_business import B, code, shop_with_team
from tests.test_previews import make_tls

EVENTS = ["conversation.created", "message.received", "message.sent"]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The receiver listens on 127.0.0.1 over plain http: allowed here, and only here.
    return make_settings(
        tmp_path,
        database_url,
        webhook_allow_http=True,
        webhook_allowed_networks=["127.0.0.1/32"],
        webhook_disable_after=4,
        webhook_timeout_seconds=5,
    )


class Receiver:
    """A real HTTP server on 127.0.0.1 (in a thread) that answers each POST with the next
    of `statuses` (then 200), recording what came."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.statuses: list[int | tuple[int, dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                answer = receiver.statuses.pop(0) if receiver.statuses else 200
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"http://127.0.0.1:{self.port}/hooks/bc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float) -> dict[str, Any]:
    """The verification example of docs/api.md ("Webhooks and API tokens"), verbatim."""
    msg_id = headers["Webhook-Id"]
    timestamp = headers["Webhook-Timestamp"]
    if abs(now - int(timestamp)) > 300:
        raise ValueError("too old (or from the future): a replay?")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers["Webhook-Signature"]):
        raise ValueError("bad signature")
    event: dict[str, Any] = json.loads(body)
    return event


async def run(core: Core) -> int:
    assert core.jobs is not None
    ran = await core.jobs.run_due()
    await core.jobs.drain()
    return ran


async def make_hook(owner: User, shop: User, url: str, events: list[str] | None = None) -> Any:
    r = await owner.post(
        f"{B}/{shop.handle}/webhooks", json={"url": url, "events": events or EVENTS}
    )
    assert r.status_code == 201, r.text
    return r.json()


async def log_of(owner: User, shop: User, hook_id: str) -> list[dict[str, Any]]:
    r = await owner.get(f"{B}/{shop.handle}/webhooks/{hook_id}/deliveries")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_the_signature_is_hmac_sha256_over_id_timestamp_and_body() -> None:
    body = b'{"id":"dlv_1","type":"webhook.ping"}'
    expected = hmac.new(b"whsec_k", b"dlv_1.1700000000." + body, hashlib.sha256).hexdigest()
    assert rules.signature("whsec_k", "dlv_1", 1700000000, body) == "v1=" + expected
    # each part counts
    assert rules.signature("whsec_k", "dlv_2", 1700000000, body) != "v1=" + expected
    assert rules.signature("whsec_k", "dlv_1", 1700000001, body) != "v1=" + expected
    assert rules.signature("whsec_x", "dlv_1", 1700000000, body) != "v1=" + expected
    assert rules.retry_after_seconds("120", cap=3600) == 120
    assert rules.retry_after_seconds("99999", cap=3600) == 3600
    assert rules.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", cap=3600) is None


async def test_a_failing_receiver_gets_the_delivery_again_with_backoff_then_it_is_delivered(
    api: Api, core: Core, clock: Clock, receiver: Receiver
) -> None:
    shop, admin, _agent, _viewer, customer = await shop_with_team(api)
    hook = await make_hook(admin, shop, receiver.url, ["message.received"])
    assert hook["secret"].startswith("whsec_") and hook["enabled"] is True
    cid = await customer.direct(shop)
    sent = await customer.send(cid, "Is the blue one in stock?")
    receiver.statuses = [500, 502]

    assert await run(core) == 1
    (entry,) = await log_of(admin, shop, hook["id"])
    assert entry["state"] == "pending" and entry["type"] == "message.received"
    assert [(a["attempt"], a["status_code"], a["error"]) for a in entry["attempts"]] == [
        (1, 500, "status 500")
    ]
    wait = _iso_ms(entry["next_attempt_at"]) - int(clock.now * 1000)
    assert BACKOFF_BASE_S * 500 - 1 <= wait <= BACKOFF_BASE_S * 1000
    assert await run(core) == 0  # not due yet
    clock.advance(wait / 1000)
    assert await run(core) == 1
    (entry,) = await log_of(admin, shop, hook["id"])
    assert entry["state"] == "pending" and len(entry["attempts"]) == 2
    wait = _iso_ms(entry["next_attempt_at"]) - int(clock.now * 1000)
    assert 2 * BACKOFF_BASE_S * 500 - 1 <= wait <= 2 * BACKOFF_BASE_S * 1000  # grows
    hooks = (await admin.get(f"{B}/shop/webhooks")).json()["items"]
    assert hooks[0]["failures"] == 2 and "secret" not in hooks[0]
    clock.advance(wait / 1000)
    assert await run(core) == 1
    (entry,) = await log_of(admin, shop, hook["id"])
    assert entry["state"] == "delivered" and entry["next_attempt_at"] is None
    assert [a["status_code"] for a in entry["attempts"]] == [500, 502, 200]
    assert all(a["latency_ms"] is not None for a in entry["attempts"])
    assert (await admin.get(f"{B}/shop/webhooks")).json()["items"][0]["failures"] == 0

    # three requests, one delivery: the same id and body, each signed at its own time
    assert len(receiver.requests) == 3
    assert {r["headers"]["Webhook-Id"] for r in receiver.requests} == {entry["id"]}
    assert len({r["body"] for r in receiver.requests}) == 1
    stamps = [int(r["headers"]["Webhook-Timestamp"]) for r in receiver.requests]
    assert stamps == sorted(stamps) and stamps[0] < stamps[2]
    last = receiver.requests[-1]
    assert last["path"] == "/hooks/bc"
    assert last["headers"]["Content-Type"] == "application/json"
    event = verify(hook["secret"], last["headers"], last["body"], now=clock.now)
    assert event["id"] == entry["id"] and event["type"] == "message.received"
    assert event["business"] == {"id": shop.id, "handle": "shop"}
    assert event["data"]["conversation_id"] == cid
    assert event["data"]["message"]["id"] == sent["id"]
    assert event["data"]["message"]["text"] == "Is the blue one in stock?"
    assert event == entry["payload"]
    # a tampered body, or another secret, does not verify
    with pytest.raises(ValueError, match="bad signature"):
        verify(hook["secret"], last["headers"], last["body"] + b" ", now=clock.now)
    with pytest.raises(ValueError, match="bad signature"):
        verify("whsec_other", last["headers"], last["body"], now=clock.now)
    with pytest.raises(ValueError, match="replay"):
        verify(hook["secret"], last["headers"], last["body"], now=clock.now + 3600)


def _iso_ms(value: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


async def test_retry_after_and_redirects(
    api: Api, core: Core, clock: Clock, receiver: Receiver
) -> None:
    shop, admin, _agent, _viewer, customer = await shop_with_team(api)
    hook = await make_hook(admin, shop, receiver.url, ["message.received"])
    cid = await customer.direct(shop)
    await customer.send(cid, "hello")
    receiver.statuses = [(503, {"Retry-After": "120"}), (302, {"Location": "http://10.0.0.1/"})]
    await run(core)
    (entry,) = await log_of(admin, shop, hook["id"])
    assert _iso_ms(entry["next_attempt_at"]) == int(clock.now * 1000) + 120_000
    clock.advance(119)
    assert await run(core) == 0  # the receiver asked for two minutes
    clock.advance(1)
    assert await run(core) == 1
    (entry,) = await log_of(admin, shop, hook["id"])
    assert entry["attempts"][-1]["status_code"] == 302
    assert entry["attempts"][-1]["error"] == "status 302 (redirects are not followed)"
    assert len(receiver.requests) == 2  # nothing went to the redirect's target


async def test_a_webhook_failing_too_often_is_turned_off_and_owners_and_admins_told(
    api: Api, core: Core, clock: Clock, receiver: Receiver
) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    hook = await make_hook(admin, shop, receiver.url, ["message.received"])
    since = {u.handle: str((await u.sync())["next"]) for u in (shop, admin, agent)}
    held = {h["id"]: h for h in (await admin.get(f"{B}/shop/webhooks")).json()["items"]}
    cid = await customer.direct(shop)
    await customer.send(cid, "one")
    receiver.statuses = [500] * 10
    for _ in range(4):  # webhook_disable_after = 4
        assert await run(core) == 1
        clock.advance(3600)
    assert await run(core) == 0  # no more attempts: the delivery failed with it
    (entry,) = await log_of(admin, shop, hook["id"])
    assert entry["state"] == "failed" and len(entry["attempts"]) == 4
    (listed,) = (await admin.get(f"{B}/shop/webhooks")).json()["items"]
    assert listed["enabled"] is False and listed["failures"] == 4
    assert "4 failed delivery attempts in a row" in listed["disabled_reason"]
    for user in (shop, admin):
        got = (await user.sync(since[user.handle]))["events"]
        notices = [e for e in got if e["type"] == "business.webhook_disabled"]
        assert len(notices) == 1, user.handle
        assert notices[0]["data"]["webhook"]["id"] == hook["id"]
        assert notices[0]["data"]["business"] == "shop" and notices[0]["data"]["failures"] == 4
        assert "secret" not in notices[0]["data"]["webhook"]
    # an owner's client holding the list converges: the list at the token + the notice
    held[notices[0]["data"]["webhook"]["id"]] = notices[0]["data"]["webhook"]
    assert held == {h["id"]: h for h in (await admin.get(f"{B}/shop/webhooks")).json()["items"]}
    got = (await agent.sync(since[agent.handle]))["events"]
    assert not [e for e in got if e["type"] == "business.webhook_disabled"]
    # off: nothing more is queued for it
    await customer.send(cid, "two")
    assert len(await log_of(admin, shop, hook["id"])) == 1
    # on again: the count starts afresh, and events flow again
    r = await admin.patch(f"{B}/shop/webhooks/{hook['id']}", json={"enabled": True})
    assert r.status_code == 200 and r.json()["failures"] == 0
    assert r.json()["disabled_reason"] is None
    await customer.send(cid, "three")
    receiver.statuses = []
    clock.advance(1)
    assert await run(core) == 1
    entries = await log_of(admin, shop, hook["id"])
    assert entries[0]["state"] == "delivered"
    assert entries[0]["payload"]["data"]["message"]["text"] == "three"


async def test_the_inbox_events_and_their_payloads(
    api: Api, core: Core, clock: Clock, receiver: Receiver
) -> None:
    shop, admin, agent, _viewer, customer = await shop_with_team(api)
    friend = await api.register("friend")
    everything = list(rules.EVENTS)
    hook = await make_hook(admin, shop, receiver.url, everything)
    assert hook["events"] == everything
    cid = await customer.direct(shop)
    await customer.send(cid, "Where is my order?")
    r = await agent.post(f"{B}/shop/conversations/{cid}/messages", json={"text": "On its way!"})
    assert r.status_code == 201, r.text
    r = await agent.patch(
        f"{B}/shop/conversations/{cid}", json={"status": "pending", "assignee": agent.handle}
    )
    assert r.status_code == 200, r.text
    # conversations that are not the business's never reach its webhooks
    await customer.send(await customer.direct(friend), "a private matter")
    await agent.send(await agent.direct(friend), "a private matter")
    entries = list(reversed(await log_of(admin, shop, hook["id"])))
    assert [e["type"] for e in entries] == [
        "conversation.created",
        "message.received",
        "message.sent",
        "conversation.status_changed",
        "conversation.assigned",
    ]
    data = [e["payload"]["data"] for e in entries]
    assert data[0]["conversation_id"] == cid and data[0]["state"]["status"] == "open"
    assert data[0]["state"]["customer"]["handle"] == "cyd"
    assert data[1]["message"]["sender"]["handle"] == "cyd"
    assert data[2]["message"]["text"] == "On its way!"
    assert data[2]["message"]["sender"]["handle"] == "shop"
    assert data[2]["message"]["agent"]["handle"] == "agnes" and data[2]["automation"] is None
    assert data[3]["status"] == "pending" and data[3]["previous_status"] == "open"
    assert data[3]["by"]["handle"] == "agnes"
    assert data[4]["assignee"]["handle"] == "agnes" and data[4]["previous_assignee"] is None
    assert data[4]["state"]["assignee"]["handle"] == "agnes"
    assert "a private matter" not in json.dumps([e["payload"] for e in entries])
    # all of them reach the receiver, each verifiable
    for _ in range(3):
        await run(core)
    assert len(receiver.requests) == 5
    for request in receiver.requests:
        verify(hook["secret"], request["headers"], request["body"], now=clock.now)


async def test_managing_webhooks_is_for_owners_and_admins(
    api: Api, core: Core, clock: Clock, receiver: Receiver
) -> None:
    shop, admin, agent, viewer, _customer = await shop_with_team(api)
    stranger = await api.register("stranger")
    body = {"url": receiver.url, "events": ["message.sent"]}
    for user, status, error in (
        (agent, 403, "business_forbidden"),
        (viewer, 403, "business_forbidden"),
        (stranger, 404, "business_not_found"),
    ):
        r = await user.post(f"{B}/shop/webhooks", json=body)
        assert (r.status_code, code(r)) == (status, error), user.handle
        r = await user.get(f"{B}/shop/webhooks")
        assert (r.status_code, code(r)) == (status, error), user.handle
    for events in ([], ["message.deleted"]):
        r = await admin.post(f"{B}/shop/webhooks", json={**body, "events": events})
        assert r.status_code == 400 and code(r) == "invalid_request", events
    hook = await make_hook(shop, shop, receiver.url, ["message.sent"])
    # another business's webhook is no webhook of this one
    other = await api.register("othershop")
    assert (await other.post("/api/v1/me/business", json={})).status_code == 201
    r = await other.patch(f"{B}/othershop/webhooks/{hook['id']}", json={"enabled": False})
    assert r.status_code == 404 and code(r) == "webhook_not_found"
    r = await admin.patch(
        f"{B}/shop/webhooks/{hook['id']}",
        json={"events": ["message.received", "conversation.created"], "description": "CRM"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["events"] == ["conversation.created", "message.received"]
    assert r.json()["description"] == "CRM" and "secret" not in r.json()
    # a rotated secret signs what follows
    r = await admin.post(f"{B}/shop/webhooks/{hook['id']}/rotate-secret")
    assert r.status_code == 200 and r.json()["secret"] not in (hook["secret"], None)
    secret = r.json()["secret"]
    r = await admin.post(f"{B}/shop/webhooks/{hook['id']}/test")
    assert r.status_code == 202 and r.json()["type"] == "webhook.ping"
    assert r.json()["state"] == "pending" and r.json()["attempts"] == []
    assert await run(core) == 1
    (request,) = receiver.requests
    event = verify(secret, request["headers"], request["body"], now=clock.now)
    assert event["type"] == "webhook.ping" and event["data"] == {"webhook_id": hook["id"]}
    with pytest.raises(ValueError):
        verify(hook["secret"], request["headers"], request["body"], now=clock.now)
    # redelivering sends the same delivery again
    r = await admin.post(f"{B}/shop/webhooks/{hook['id']}/deliveries/{event['id']}/redeliver")
    assert r.status_code == 202 and r.json()["state"] == "pending"
    assert await run(core) == 1
    assert [rq["headers"]["Webhook-Id"] for rq in receiver.requests] == [event["id"]] * 2
    (entry,) = await log_of(admin, shop, hook["id"])
    assert entry["state"] == "delivered" and len(entry["attempts"]) == 2
    r = await admin.post(f"{B}/shop/webhooks/{hook['id']}/deliveries/dlv_nope/redeliver")
    assert r.status_code == 404 and code(r) == "delivery_not_found"
    # it is all in the audit log
    actions = [e["action"] for e in (await shop.get(f"{B}/shop/audit")).json()["items"]]
    for action in (
        "webhook.created",
        "webhook.updated",
        "webhook.secret_rotated",
        "webhook.pinged",
        "webhook.redelivered",
    ):
        assert action in actions
    # deleting drops what is still queued for it
    await admin.post(f"{B}/shop/webhooks/{hook['id']}/test")
    r = await admin.delete(f"{B}/shop/webhooks/{hook['id']}")
    assert r.status_code == 204
    assert await run(core) == 1  # the job runs, finds nothing, and ends
    assert len(receiver.requests) == 2
    assert (await admin.get(f"{B}/shop/webhooks")).json()["items"] == []
    r = await admin.get(f"{B}/shop/webhooks/{hook['id']}/deliveries")
    assert r.status_code == 404 and code(r) == "webhook_not_found"


# --- internal addresses -------------------------------------------------------------------


@pytest.fixture
async def strict(tmp_path: Path, database_url: str) -> Any:
    """An app on the product defaults: https only, no internal network allowed."""
    app = create_app(make_settings(tmp_path, database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=ValidatingApp(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Api(http, app)


async def test_internal_addresses_are_refused(
    strict: Api, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    shop, admin, _agent, _viewer, customer = await shop_with_team(strict)
    answers: dict[str, list[str]] = {
        "hooks.example.com": ["93.184.215.14"],
        "rebind.example.com": ["93.184.215.14"],
        "inside.example.com": ["93.184.215.14", "10.0.0.7"],
    }

    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(-2, "Name or service not known")
        return answers[host]

    monkeypatch.setattr(webhook_sender, "resolver", resolve)
    for url in (
        receiver.url.replace("http://", "https://"),  # loopback, even over https
        "https://127.0.0.1/",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://localhost/",
        "https://inside.example.com/",  # any internal address refuses the name
        "https://nowhere.example.com/",
        "http://hooks.example.com/",  # http is not allowed here
        "https://user:pw@hooks.example.com/",
        "ftp://hooks.example.com/",
    ):
        r = await admin.post(
            f"{B}/shop/webhooks", json={"url": url, "events": ["message.received"]}
        )
        assert r.status_code == 422 and code(r) == "invalid_webhook_url", (url, r.text)
    good = await make_hook(admin, shop, "https://hooks.example.com/bc", ["message.received"])
    assert good["url"] == "https://hooks.example.com/bc"
    rebind = await make_hook(admin, shop, "https://rebind.example.com/bc", ["message.received"])
    # the name now points inside (DNS rebinding): checked at every attempt, refused
    answers["rebind.example.com"] = ["169.254.169.254"]
    answers["hooks.example.com"] = ["127.0.0.1"]
    cid = await customer.direct(shop)
    await customer.send(cid, "hi")
    core = strict.core
    assert core.jobs is not None
    await core.jobs.run_due()
    await core.jobs.drain()
    (entry,) = await log_of(admin, shop, rebind["id"])
    assert entry["state"] == "pending" and entry["attempts"][0]["status_code"] is None
    assert "refused" in entry["attempts"][0]["error"]
    assert "cloud metadata" in entry["attempts"][0]["error"]
    (entry,) = await log_of(admin, shop, good["id"])
    assert "loopback" in entry["attempts"][0]["error"]
    assert receiver.requests == []  # nothing reached the local receiver


async def test_other_parts_queue_their_events_for_the_subscribed_endpoints(
    api: Api, core: Core, clock: Clock, receiver: Receiver
) -> None:
    """`queue` is how reports (`csat.received`) and rules (`rule.webhook`) reach webhooks."""
    shop, admin, _agent, _viewer, _customer = await shop_with_team(api)
    csat = await make_hook(admin, shop, receiver.url, ["csat.received"])
    rule = await make_hook(admin, shop, receiver.url, ["rule.webhook"])
    account = await core.store.read("test_shop", lambda t: user_db.user_by_handle(t.conn, "shop"))
    assert account is not None
    data = {"conversation_id": "c_x", "score": 5, "agent": None, "rated_at": "2026-12-02T00:00Z"}
    await core.store.write(
        "test_queue", lambda t: webhooks.queue(t, int(account["id"]), "csat.received", data)
    )
    (entry,) = await log_of(admin, shop, csat["id"])
    assert entry["type"] == "csat.received" and entry["payload"]["data"] == data
    assert await log_of(admin, shop, rule["id"]) == []
    with pytest.raises(AssertionError):
        await core.store.write(
            "test_queue", lambda t: webhooks.queue(t, int(account["id"]), "made.up", {})
        )
    # nothing was queued by the refused call; the one delivery goes out
    assert await run(core) == 1
    (request,) = receiver.requests
    event = verify(csat["secret"], request["headers"], request["body"], now=clock.now)
    assert event["type"] == "csat.received" and event["data"]["score"] == 5


async def test_https_names_the_host_and_checks_its_certificate(
    api: Api, core: Core, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_context, client_context = make_tls(tmp_path, "hooks.test")
    names: list[str | None] = []
    server_context.sni_callback = lambda _s, name, _c: names.append(name)
    tls = Receiver(server_context)
    try:

        async def resolve(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]  # both names: the same server, allowed in these tests

        monkeypatch.setattr(webhook_sender, "resolver", resolve)
        monkeypatch.setattr(webhook_sender, "_tls", lambda: client_context)
        shop, admin, _agent, _viewer, customer = await shop_with_team(api)
        good = await make_hook(
            admin, shop, f"https://hooks.test:{tls.port}/in", ["message.received"]
        )
        other = await make_hook(
            admin, shop, f"https://other.test:{tls.port}/in", ["message.received"]
        )
        await customer.send(await customer.direct(shop), "over TLS")
        assert await run(core) == 2
        (entry,) = await log_of(admin, shop, good["id"])
        assert entry["state"] == "delivered", entry
        (request,) = tls.requests  # the other name's certificate check failed: no request
        assert request["headers"]["Host"] == f"hooks.test:{tls.port}"
        verify(good["secret"], request["headers"], request["body"], now=clock.now)
        (entry,) = await log_of(admin, shop, other["id"])
        assert entry["state"] == "pending" and entry["attempts"][0]["status_code"] is None
        assert "certificate" in entry["attempts"][0]["error"].lower()
        assert sorted(n or "" for n in names) == ["hooks.test", "other.test"]
    finally:
        tls.close()
