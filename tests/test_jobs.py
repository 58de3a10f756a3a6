"""The job queue (backchannel/jobs): durable, leased, retried with backoff and jitter, kept
when it fails for good, shared by nodes without running a job twice — and the first job
kind, a snoozed conversation opening again at its time."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from backchannel import jobs
from backchannel.app import create_app
from backchannel.jobs import Job
from backchannel.jobs.kinds import HANDLERS
from backchannel.jobs.runner import BACKOFF_BASE_S, backoff_seconds
from backchannel.services.core import Core
from backchannel.store import jobs as job_db
from backchannel.store.database import Store
from tests.conftest import Api, Clock, make_settings
from tests.test_business import B, become, shop_with_team


async def rows(core: Core) -> list[dict[str, Any]]:
    return await core.store.read(
        "test_jobs", lambda t: [dict(r) for r in job_db.list_jobs(t.conn, state=None, limit=100)]
    )


async def run(core: Core) -> int:
    assert core.jobs is not None
    ran = await core.jobs.run_due()
    await core.jobs.drain()
    return ran


async def enqueue(core: Core, kind: str, payload: dict[str, Any], **kw: Any) -> int:
    return await core.store.write("test_enqueue", lambda t: jobs.enqueue(t, kind, payload, **kw))


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt in range(1, 30):
        ceiling = min(6 * 3600.0, BACKOFF_BASE_S * 2 ** (attempt - 1))
        waits = [backoff_seconds(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits), attempt
        assert len(set(waits)) > 1  # jittered, not one value
    assert backoff_seconds(40, rng) <= 6 * 3600.0


async def test_a_failing_job_is_retried_later_then_done(
    core: Core, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, dict[str, Any]]] = []

    async def flaky(_core: Core, job: Job) -> None:
        seen.append((job.attempt, job.payload))
        if job.attempt < 3:
            raise ConnectionError("receiver down")

    monkeypatch.setitem(HANDLERS, "test.flaky", flaky)
    await enqueue(core, "test.flaky", {"n": 1})
    assert await run(core) == 1
    (row,) = await rows(core)
    assert row["attempts"] == 1 and row["state"] == "queued"
    assert row["last_error"] == "ConnectionError: receiver down"
    wait_ms = row["run_at"] - int(clock.now * 1000)
    assert BACKOFF_BASE_S * 500 <= wait_ms <= BACKOFF_BASE_S * 1000
    assert await run(core) == 0  # not due yet: nothing runs
    clock.advance(wait_ms / 1000)
    assert await run(core) == 1
    (row,) = await rows(core)
    assert row["attempts"] == 2
    assert (
        2 * BACKOFF_BASE_S * 500
        <= row["run_at"] - int(clock.now * 1000)
        <= 2 * BACKOFF_BASE_S * 1000
    )
    clock.advance(3600)
    assert await run(core) == 1
    assert await rows(core) == []  # done: gone
    assert seen == [(1, {"n": 1}), (2, {"n": 1}), (3, {"n": 1})]


async def test_a_job_failing_every_attempt_is_kept_as_failed(
    core: Core, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(_core: Core, _job: Job) -> None:
        raise ValueError("bad payload")

    async def hopeless(_core: Core, _job: Job) -> None:
        raise jobs.GiveUp("the endpoint was deleted")

    monkeypatch.setitem(HANDLERS, "test.broken", broken)
    monkeypatch.setitem(HANDLERS, "test.hopeless", hopeless)
    await enqueue(core, "test.broken", {}, key="broken:1")
    await enqueue(core, "test.hopeless", {})
    for _ in range(core.settings.jobs_max_attempts):
        await run(core)
        clock.advance(7 * 3600)
    by_kind = {row["kind"]: row for row in await rows(core)}
    assert by_kind["test.broken"]["state"] == "failed"
    assert by_kind["test.broken"]["attempts"] == core.settings.jobs_max_attempts
    assert by_kind["test.broken"]["last_error"] == "ValueError: bad payload"
    assert by_kind["test.broken"]["key"] is None  # a new job of that name may be queued
    assert by_kind["test.hopeless"]["state"] == "failed"
    assert by_kind["test.hopeless"]["attempts"] == 1  # GiveUp: no retries
    assert by_kind["test.hopeless"]["last_error"] == "the endpoint was deleted"
    assert await run(core) == 0  # failed jobs are not run again by themselves
    # an operator queues them again (backchannel jobs retry)
    again = await core.store.write(
        "t", lambda t: job_db.requeue_failed(t.conn, job_id=None, now=t.now_ms)
    )
    assert again == 2
    assert {row["state"] for row in await rows(core)} == {"queued"}


async def test_retry_asks_for_an_exact_delay(
    core: Core, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def later(_core: Core, job: Job) -> None:
        if job.attempt == 1:
            raise jobs.Retry("rate limited", after_s=90)

    monkeypatch.setitem(HANDLERS, "test.later", later)
    await enqueue(core, "test.later", {})
    await run(core)
    (row,) = await rows(core)
    assert row["run_at"] == int(clock.now * 1000) + 90_000
    assert row["last_error"] == "rate limited"
    clock.advance(90)
    await run(core)
    assert await rows(core) == []


async def test_a_key_names_one_job_and_cancel_drops_it(core: Core, clock: Clock) -> None:
    now = int(clock.now * 1000)
    payload = {"business_id": 1, "conversation_id": 1, "until": now}
    await enqueue(core, "business.snooze_end", payload, run_at=now + 60_000, key="k")
    await enqueue(core, "business.snooze_end", payload, run_at=now + 120_000, key="k")
    (row,) = await rows(core)
    assert row["run_at"] == now + 120_000
    assert await core.store.write("t", lambda t: jobs.cancel(t, "k")) is True
    assert await core.store.write("t", lambda t: jobs.cancel(t, "k")) is False
    assert await rows(core) == []


async def test_a_rolled_back_transaction_enqueues_nothing(core: Core) -> None:
    def txn(t: Any) -> None:
        jobs.enqueue(t, "business.snooze_end", {"business_id": 0, "conversation_id": 0})
        raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError):
        await core.store.write("t", txn)
    assert await rows(core) == []


async def test_a_lease_that_runs_out_lets_the_job_run_again(core: Core, clock: Clock) -> None:
    """A node that died mid-job: its lease runs out and the job runs again (at least once)."""
    await enqueue(core, "business.snooze_end", {"business_id": 0, "conversation_id": 0})
    now = int(clock.now * 1000)
    first = await core.store.write(
        "t", lambda t: job_db.claim(t.conn, now=t.now_ms, lease_ms=30_000, limit=5)
    )
    assert [r["attempts"] for r in first] == [1]
    again = await core.store.write(
        "t", lambda t: job_db.claim(t.conn, now=t.now_ms, lease_ms=30_000, limit=5)
    )
    assert again == []  # leased: nobody else takes it
    due = await core.store.read("t", lambda t: job_db.next_due(t.conn))
    assert due == now + 30_000
    clock.advance(31)
    later = await core.store.write(
        "t", lambda t: job_db.claim(t.conn, now=t.now_ms, lease_ms=30_000, limit=5)
    )
    assert [r["attempts"] for r in later] == [2]
    # the first node, back, finishing late, does not delete the second run's job
    await core.store.write("t", lambda t: job_db.finish(t.conn, first[0]["id"], 1))
    assert len(await rows(core)) == 1


async def test_the_runner_wakes_for_a_job_enqueued_by_a_commit(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the test calling run_due: the app's own runner, woken by the commit, runs a
    job at once (the poll is an hour), and one due later at its time."""
    ran: list[float] = []

    async def ping(_core: Core, _job: Job) -> None:
        ran.append(time.monotonic())

    monkeypatch.setitem(HANDLERS, "test.ping", ping)
    settings = make_settings(tmp_path, database_url, jobs_enabled=True, jobs_poll_seconds=3600)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        core: Core = app.state.core
        start = time.monotonic()
        await enqueue(core, "test.ping", {})
        await enqueue(core, "test.ping", {}, run_at=core.store.now_ms() + 300)
        for _ in range(200):
            if len(ran) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(ran) == 2  # both ran within 10 s, though the poll is an hour
        assert ran[1] - start >= 0.29  # and the later one not before its time


@pytest.fixture
async def two_nodes(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database, as two nodes have."""
    settings = make_settings(tmp_path, database_url)
    app = create_app(settings)  # migrates nothing: the fixture's database is current
    stores = [Store(settings.resolved_database_url) for _ in range(2)]
    for store in stores:
        await store.start()
    try:
        yield stores[0], stores[1]
    finally:
        for store in stores:
            await store.close()
        del app


async def test_two_nodes_never_take_the_same_job(two_nodes: tuple[Store, Store]) -> None:
    first, second = two_nodes

    def fill(t: Any) -> None:
        for n in range(40):
            job_db.insert_job(t.conn, kind="test.n", payload={"n": n}, run_at=0, key=None, now=0)

    await first.write("fill", fill)

    def claim(t: Any) -> list[int]:
        return [int(r["id"]) for r in job_db.claim(t.conn, now=t.now_ms, lease_ms=60_000, limit=3)]

    taken: list[list[int]] = []
    for _ in range(10):
        batches = await asyncio.gather(
            *(store.write("claim", claim) for store in (first, second, first, second))
        )
        taken.extend(batches)
    ids = [i for batch in taken for i in batch]
    assert len(ids) == 40 and len(set(ids)) == 40


# --- snoozes end by themselves ------------------------------------------------------------


async def test_a_snoozed_conversation_opens_again_at_its_time(
    api: Api, core: Core, clock: Clock
) -> None:
    shop, _admin, agent, _viewer, customer = await shop_with_team(api)
    conversation = await customer.direct(shop)
    await customer.send(conversation, "Where is my parcel?")
    path = f"{B}/{shop.handle}/conversations/{conversation}"
    since = str((await agent.sync())["next"])
    until = clock.now + 3600
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until))
    r = await agent.patch(path, json={"status": "snoozed", "snoozed_until": iso})
    assert r.status_code == 200, r.text
    assert await run(core) == 0  # not yet
    clock.advance(1800)
    assert await run(core) == 0
    clock.advance(1801)
    assert await run(core) == 1
    state = (await agent.get(path)).json()["state"]
    assert state["status"] == "open" and state["snoozed_until"] is None
    updates = [
        e["data"]
        for e in (await agent.sync(since))["events"]
        if e["type"] == "business.conversation_updated"
    ]
    assert [u["reason"] for u in updates] == [None, "snooze_ended"]
    assert updates[0]["by"]["handle"] == agent.handle and updates[1]["by"] is None
    assert await rows(core) == []


async def test_a_snooze_changed_or_ended_early_leaves_no_job_behind(
    api: Api, core: Core, clock: Clock
) -> None:
    shop, _admin, agent, _viewer, customer = await shop_with_team(api)
    conversation = await customer.direct(shop)
    await customer.send(conversation, "Hello?")
    path = f"{B}/{shop.handle}/conversations/{conversation}"

    def at(seconds: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now + seconds))

    await agent.patch(path, json={"status": "snoozed", "snoozed_until": at(3600)})
    await agent.patch(path, json={"status": "snoozed", "snoozed_until": at(7200)})
    (job,) = await rows(core)  # re-snoozing replaced the job
    assert job["run_at"] == (int(clock.now) + 7200) * 1000
    await agent.patch(path, json={"status": "open"})
    assert await rows(core) == []  # woken by hand: no job
    await agent.patch(path, json={"status": "snoozed", "snoozed_until": at(600)})
    await customer.send(conversation, "Anyone?")  # the customer wakes it
    state = (await agent.get(path)).json()["state"]
    assert state["status"] == "open"
    assert await rows(core) == []
    clock.advance(700)
    assert await run(core) == 0


async def test_a_job_survives_a_restart(tmp_path: Path, database_url: str) -> None:
    """Acknowledged is durable: a snooze set before a restart ends after it."""
    settings = make_settings(tmp_path, database_url, jobs_enabled=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        import httpx

        from tests.conftest import Api as ApiClass

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            api = ApiClass(http, app)
            shop = await api.register("shop")
            await become(shop, timezone="UTC")
            customer = await api.register("cyd")
            conversation = await customer.direct(shop)
            await customer.send(conversation, "Hi")
            until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
            r = await shop.patch(
                f"{B}/shop/conversations/{conversation}",
                json={"status": "snoozed", "snoozed_until": until},
            )
            assert r.status_code == 200
    app = create_app(make_settings(tmp_path, database_url))
    async with app.router.lifespan_context(app):
        core: Core = app.state.core
        (job,) = await rows(core)
        assert job["kind"] == "business.snooze_end"
        core.store.clock = lambda: time.time() + 61
        await run(core)
        assert await rows(core) == []
