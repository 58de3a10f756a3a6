"""Concurrency: sync stays gap-free, sends stay idempotent and group commit isolates failures,
with many concurrent writers — in one process, and on PostgreSQL across two nodes (two apps,
two stores, one database).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from backchannel.app import create_app
from backchannel.errors import BackchannelError
from backchannel.services.events import emit
from backchannel.store import events as event_db
from backchannel.store.database import ReadTxn, Store, WriteTxn
from backchannel.store.tables import conversations, users
from tests.conftest import PASSWORD, ValidatingApp, make_settings

DEADLINE_S = 90


@asynccontextmanager
async def nodes(
    tmp_path: Path, url: str, count: int
) -> AsyncIterator[tuple[list[httpx.AsyncClient], list[FastAPI]]]:
    """`count` apps on one database, each with its own store (a "node") and HTTP client."""
    async with AsyncExitStack() as stack:
        clients: list[httpx.AsyncClient] = []
        apps: list[FastAPI] = []
        for n in range(count):
            app = create_app(make_settings(tmp_path / f"node{n}", url))
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=ValidatingApp(app))
            client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            clients.append(await stack.enter_async_context(client))
            apps.append(app)
        yield clients, apps


@dataclass
class Person:
    handle: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register(http: httpx.AsyncClient, handle: str) -> Person:
    r = await http.post("/api/v1/accounts", json={"handle": handle, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return Person(handle, r.json()["token"])


async def open_conversation(
    http: httpx.AsyncClient, creator: Person, others: list[Person], *, group: bool
) -> str:
    body: dict[str, Any] = {
        "kind": "group" if group else "direct",
        "members": [o.handle for o in others],
    }
    if group:
        body["title"] = "g"
    r = await http.post("/api/v1/conversations", json=body, headers=creator.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def send_path(conversation: str) -> str:
    return f"/api/v1/conversations/{conversation}/messages"


async def sync(
    http: httpx.AsyncClient, person: Person, since: int | None, **params: Any
) -> dict[str, Any]:
    query = {k: v for k, v in {"since": since, **params}.items() if v is not None}
    r = await http.get("/api/v1/sync", params=query, headers=person.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def drain(http: httpx.AsyncClient, person: Person, since: int) -> list[dict[str, Any]]:
    """Every event after `since`, reading until caught up."""
    events: list[dict[str, Any]] = []
    token = since
    while True:
        body = await sync(http, person, token)
        events.extend(body["events"])
        token = int(body["next"])
        if not body["limited"]:
            return events


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


# --- many senders, many readers -----------------------------------------------------------


@dataclass
class Reader:
    person: int
    start: int
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class World:
    people: list[Person]
    members: dict[str, set[int]]  # conversation id -> indexes into people
    sent: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[int, set[int]] = field(default_factory=dict)  # person -> every token seen

    def conversations_of(self, person: int) -> set[str]:
        return {c for c, members in self.members.items() if person in members}

    def expected(self, person: int, since: int) -> list[str]:
        """Ids of the messages `person` must receive after `since`, in position order."""
        mine = self.conversations_of(person)
        return [
            m["id"]
            for m in sorted(self.sent, key=lambda m: m["position"])
            if m["conversation_id"] in mine and m["position"] > since
        ]


async def build_world(http: httpx.AsyncClient) -> World:
    tag = secrets.token_hex(2)
    people = [await register(http, f"p{n}_{tag}") for n in range(8)]
    members: dict[str, set[int]] = {}
    for group in ([0, 1, 2, 3, 4], [3, 4, 5, 6, 7], [0, 2, 4, 6]):
        creator, *others = group
        pid = await open_conversation(
            http, people[creator], [people[o] for o in others], group=True
        )
        members[pid] = set(group)
    for a, b in ((0, 1), (2, 3), (5, 6), (7, 0), (1, 6)):
        members[await open_conversation(http, people[a], [people[b]], group=False)] = {a, b}
    return World(people, members)


def check_events(world: World, person: int, since: int, events: list[dict[str, Any]]) -> None:
    """`events` are exactly what `person` must see after `since`: none missing, none twice,
    none foreign, positions strictly increasing."""
    positions = [e["position"] for e in events]
    assert all(a < b for a, b in itertools.pairwise(positions)), positions
    assert all(p > since for p in positions)
    assert {e["type"] for e in events} <= {"message.created"}
    mine = world.conversations_of(person)
    foreign = [e for e in events if e["data"]["message"]["conversation_id"] not in mine]
    assert foreign == []
    got = [e["data"]["message"]["id"] for e in events]
    expected = world.expected(person, since)
    assert len(got) == len(set(got)), "an event arrived twice"
    assert set(expected) - set(got) == set(), f"missing after {since}"
    assert got == expected


async def run_senders_and_readers(
    clients: list[httpx.AsyncClient], *, messages: int, seed: int, extra_readers: int = 24
) -> World:
    rng = random.Random(seed)
    world = await build_world(clients[0])
    people = world.people
    readers: list[Reader] = []
    tasks: list[asyncio.Task[None]] = []
    stop = asyncio.Event()
    spawn_budget = [extra_readers]

    async def read_loop(reader: Reader) -> None:
        person = people[reader.person]
        seen = world.tokens.setdefault(reader.person, set())
        seen.add(reader.start)
        token = reader.start
        calls = 0
        while True:
            finished = stop.is_set()  # read before the request: all sends had committed
            http = clients[calls % len(clients)]  # alternate between nodes
            calls += 1
            body = await sync(
                http, person, token, limit=rng.choice([None, 3, 17]), timeout=rng.choice([0, 20])
            )
            next_token = int(body["next"])
            assert next_token >= token
            if body["events"]:
                assert next_token >= body["events"][-1]["position"]
            reader.events.extend(body["events"])
            token = next_token
            seen.add(token)
            if calls % 7 == 0 and spawn_budget[0] > 0:
                spawn_budget[0] -= 1
                start(Reader(rng.randrange(len(people)), token if rng.random() < 0.5 else 0))
            if not body["events"] and not body["limited"]:
                if finished:
                    return
                await asyncio.sleep(0.002)

    def start(reader: Reader) -> None:
        if reader.start == 0 and world.tokens.get(reader.person):
            # a token this person was really handed, not necessarily theirs-now
            reader.start = rng.choice(sorted(world.tokens[reader.person]))
        readers.append(reader)
        tasks.append(asyncio.create_task(read_loop(reader)))

    for n, person in enumerate(people):
        body = await sync(clients[n % len(clients)], person, None)
        start(Reader(n, int(body["next"])))

    conversations_by_person = {n: sorted(world.conversations_of(n)) for n in range(len(people))}

    async def send_one(n: int, i: int) -> None:
        conversation = rng.choice(conversations_by_person[n])
        http = rng.choice(clients)
        r = await http.post(
            send_path(conversation),
            json={"text": f"m{n}.{i}", "txn_id": f"t{n}.{i}"},
            headers=people[n].headers,
        )
        assert r.status_code == 201, r.text
        world.sent.append(r.json())

    async def sender(n: int, count: int) -> None:
        i = 0
        while i < count:
            burst = min(rng.randint(1, 8), count - i)
            await asyncio.gather(*(send_one(n, i + k) for k in range(burst)))
            i += burst
            await asyncio.sleep(rng.random() * 0.005)

    per_person = messages // len(people)
    async with asyncio.timeout(DEADLINE_S):
        await asyncio.gather(*(sender(n, per_person) for n in range(len(people))))
        stop.set()
        while pending := [t for t in tasks if not t.done()]:
            await asyncio.wait(pending)
        for task in tasks:
            task.result()  # re-raise a reader's failure

    assert len(world.sent) == per_person * len(people)
    assert len({m["id"] for m in world.sent}) == len(world.sent)
    assert len({m["position"] for m in world.sent}) == len(world.sent)
    assert len(readers) == len(people) + extra_readers

    # What every reader collected while the writers ran...
    for reader in readers:
        check_events(world, reader.person, reader.start, reader.events)

    # ...and what a client resuming from any token ever handed out gets now.
    limit = asyncio.Semaphore(8)

    async def reread(person: int, token: int, http: httpx.AsyncClient) -> None:
        async with limit:
            check_events(world, person, token, await drain(http, people[person], token))

    async with asyncio.timeout(DEADLINE_S):
        await asyncio.gather(
            *(
                reread(person, token, clients[token % len(clients)])
                for person, tokens in world.tokens.items()
                for token in tokens
            )
        )
    return world


async def test_concurrent_senders_and_readers_are_gap_free(
    tmp_path: Path, database_url: str
) -> None:
    async with nodes(tmp_path, database_url, 1) as (clients, _apps):
        world = await run_senders_and_readers(clients, messages=400, seed=1)
    # the readers really overlapped with the writers: they were handed many tokens
    assert sum(len(t) for t in world.tokens.values()) > 3 * len(world.people)


async def test_two_nodes_on_postgres_are_gap_free(tmp_path: Path, postgres_url: str) -> None:
    async with nodes(tmp_path, postgres_url, 2) as (clients, apps):
        world = await run_senders_and_readers(clients, messages=400, seed=2)
        stores = [app.state.core.store for app in apps]
        assert all(store.writes > 50 for store in stores)  # both nodes really wrote
    assert sum(len(t) for t in world.tokens.values()) > 3 * len(world.people)


# --- the store itself: two writers, one reader ---------------------------------------------


async def test_two_stores_never_expose_a_hole(database_url: str) -> None:
    """Two stores (two nodes) write concurrently; a reader polling "current position, then
    my events up to it" must never see a position that a lower, later-committing one
    would precede: whatever is at or below an observed position never grows afterwards."""
    stores = [Store(database_url, read_pool_size=2) for _ in range(2)]
    for store in stores:
        await store.start()
    try:

        def add_user(t: WriteTxn) -> int:
            return int(
                t.conn.execute(
                    users.insert()
                    .values(
                        pid="u_" + secrets.token_hex(4),
                        handle="reader",
                        display_name="r",
                        created_at=0,
                    )
                    .returning(users.c.id)
                ).scalar_one()
            )

        user_id = await stores[0].write("add_user", add_user)
        rng = random.Random(3)

        def write(n: int, events: int, pause: float, fail: bool) -> Callable[[WriteTxn], list[int]]:
            def txn(t: WriteTxn) -> list[int]:
                positions = [
                    emit(t, "read.updated", {"n": n, "k": k}, user_id=user_id)
                    for k in range(events)
                ]
                if pause:
                    time.sleep(pause)  # hold the transaction open: a wide window for holes
                if fail:
                    raise BackchannelError("invalid_request", "refused")
                return positions

            return txn

        committed: list[int] = []
        refused = 0

        async def writer(store: Store, base: int) -> None:
            nonlocal refused
            for wave in range(30):
                ops = []
                for k in range(rng.randint(1, 6)):
                    n = base + wave * 10 + k
                    ops.append(
                        store.write(
                            f"w{n}",
                            write(n, rng.randint(1, 3), rng.choice([0, 0, 0.002]), n % 11 == 0),
                        )
                    )
                for result in await asyncio.gather(*ops, return_exceptions=True):
                    if isinstance(result, BackchannelError):
                        refused += 1
                    elif isinstance(result, BaseException):
                        raise result
                    else:
                        committed.extend(result)

        def observe(t: ReadTxn) -> tuple[int, list[int]]:
            upto = event_db.current_position(t.conn)
            rows = event_db.events_for_user(
                t.conn, user_id, since=0, upto=upto, limit=10**6, now=t.now_ms
            )
            return upto, [row[0] for row in rows]

        observations: list[tuple[int, list[int]]] = []
        done = asyncio.Event()

        async def reader() -> None:
            n = 0
            while not done.is_set():
                observations.append(await stores[n % 2].read("observe", observe))
                n += 1

        async with asyncio.timeout(DEADLINE_S):
            reading = asyncio.create_task(reader())
            await asyncio.gather(writer(stores[0], 0), writer(stores[1], 100_000))
            done.set()
            await reading
            final_upto, final = await stores[0].read("observe", observe)

        assert refused > 0 and len(committed) > 200
        assert sorted(final) == sorted(committed)  # acknowledged = present; refused = absent
        assert len(set(final)) == len(final)
        assert len(observations) > 20
        uptos = [upto for upto, _ in observations]
        assert uptos == sorted(uptos)  # the committed position never goes backwards
        assert len(set(uptos)) > 5  # the reader saw the log grow
        for upto, seen in observations:
            assert seen == [p for p in final if p <= upto], f"hole below {upto}"
        assert final_upto >= max(final)
    finally:
        for store in stores:
            await store.close()


# --- idempotent retries --------------------------------------------------------------------


async def concurrent_retries(clients: list[httpx.AsyncClient]) -> None:
    tag = secrets.token_hex(2)
    alice = await register(clients[0], f"alice_{tag}")
    bob = await register(clients[0], f"bob_{tag}")
    conversation = await open_conversation(clients[0], alice, [bob], group=False)
    start = int((await sync(clients[0], bob, None))["next"])

    responses = await asyncio.gather(
        *(
            clients[n % len(clients)].post(
                send_path(conversation),
                json={"text": "exactly once", "txn_id": "retry-me"},
                headers=alice.headers,
            )
            for n in range(20)
        )
    )
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1, statuses
    assert statuses.count(200) == 19, statuses
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.json()["position"] for r in responses}) == 1

    for http in clients:
        history = await http.get(send_path(conversation), headers=bob.headers)
        assert [m["text"] for m in history.json()["items"]] == ["exactly once"]
        events = await drain(http, bob, start)
        assert [e["data"]["message"]["id"] for e in events] == [responses[0].json()["id"]]


async def test_concurrent_retries_create_one_message(tmp_path: Path, database_url: str) -> None:
    async with nodes(tmp_path, database_url, 1) as (clients, _apps):
        await concurrent_retries(clients)


async def test_concurrent_retries_across_two_nodes(tmp_path: Path, postgres_url: str) -> None:
    async with nodes(tmp_path, postgres_url, 2) as (clients, _apps):
        await concurrent_retries(clients)


# --- group commit --------------------------------------------------------------------------


async def test_group_commit_shares_commits_and_isolates_a_failure(
    tmp_path: Path, database_url: str
) -> None:
    async with nodes(tmp_path, database_url, 1) as ((http,), (app,)):
        store: Store = app.state.core.store
        tag = secrets.token_hex(2)
        alice, bob, carol = [await register(http, f"{n}_{tag}") for n in ("a", "b", "c")]
        ours = await open_conversation(http, alice, [bob], group=False)
        theirs = await open_conversation(http, bob, [carol], group=False)  # alice is not in it
        start = int((await sync(http, bob, None))["next"])

        async def send(who: Person, conversation: str, text: str) -> httpx.Response:
            return await http.post(
                send_path(conversation), json={"text": text}, headers=who.headers
            )

        # Concurrent sends share commits.
        batches, writes = store.write_batches, store.writes
        results = await asyncio.gather(*(send(alice, ours, f"c{n}") for n in range(60)))
        assert [r.status_code for r in results] == [201] * 60
        assert store.writes - writes == 60
        assert store.write_batches - batches < 60

        # Deterministically in one batch: hold the writer while valid sends, a send to a
        # conversation alice is not in, and a write that fails after appending an event queue.
        our_id = await store.read(
            "lookup",
            lambda t: t.conn.execute(
                select(conversations.c.id).where(conversations.c.pid == ours)
            ).scalar_one(),
        )

        def doomed(t: WriteTxn) -> None:
            emit(t, "message.created", {"message": {"id": "m_doomed"}}, conversation_id=our_id)
            raise BackchannelError("invalid_request", "refused after writing")

        gate = threading.Event()
        batches = store.write_batches
        hold = asyncio.create_task(store.write("hold", lambda t: gate.wait(10)))
        try:
            await wait_until(lambda: store.write_batches == batches + 1, "the holding batch")
            writes = store.writes
            valid = [asyncio.create_task(send(alice, ours, f"v{n}")) for n in range(20)]
            forbidden = asyncio.create_task(send(alice, theirs, "not a member"))
            failing = asyncio.create_task(store.write("doomed", doomed))
            queue = store._queue  # peeking: everything is queued behind the held batch
            assert queue is not None
            await wait_until(lambda: queue.qsize() == 22, "22 queued writes")
        finally:
            gate.set()
        assert await hold is True
        valid_results = await asyncio.gather(*valid)
        forbidden_result = await forbidden
        failure = await asyncio.gather(failing, return_exceptions=True)

        assert store.write_batches == batches + 2  # the hold, then everything else at once
        assert store.writes == writes + 22
        assert [r.status_code for r in valid_results] == [201] * 20
        assert forbidden_result.status_code == 404
        assert forbidden_result.json()["error"]["code"] == "conversation_not_found"
        assert isinstance(failure[0], BackchannelError)

        sent = sorted((r.json() for r in results + valid_results), key=lambda m: m["position"])
        events = await drain(http, bob, start)
        assert [e["data"]["message"]["id"] for e in events] == [m["id"] for m in sent]
        assert await drain(http, carol, start) == []
        history = await http.get(send_path(theirs), headers=carol.headers, params={"limit": 100})
        assert history.json()["items"] == []
