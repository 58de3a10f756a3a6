"""The store: migrations match the declared schema, group commit, query-count pins."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from backchannel.errors import BackchannelError
from backchannel.store import events as event_db
from backchannel.store import migrate
from backchannel.store.database import Store, WriteTxn
from backchannel.store.search import kept_apart
from backchannel.store.tables import events, metadata, stream_state, users
from tests.conftest import Api


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrations_match_tables(request: pytest.FixtureRequest, backend: str) -> None:
    """The migrated database has exactly the schema tables.py declares (the SQLite
    template is migrated; so is this PostgreSQL schema, unlike the other tests')."""
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "migrated_postgres_url")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            # (the search index has parts tables.py cannot declare: store/search.py)
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_object": lambda _obj, name, kind, _reflected, _other: (
                        not kept_apart(str(name), kind)
                    ),
                },
            )
            with warnings.catch_warnings():
                # (SQLite cannot reflect PostgreSQL's expression index, so it is not compared)
                warnings.filterwarnings("ignore", "autogenerate skipping .*ix_messages_text_search")
                diff = compare_metadata(context, metadata)
        assert diff == []
        assert migrate.is_current(engine)
    finally:
        engine.dispose()


def test_downgrade_and_upgrade_again(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url, poolclass=NullPool)
    try:
        migrate.upgrade(engine, "head")
        from alembic import command

        config = migrate._config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.is_current(engine)
    finally:
        engine.dispose()


async def _store(url: str) -> Store:
    store = Store(url, read_pool_size=2)
    await store.start()
    return store


async def test_group_commit_isolates_a_failing_write(database_url: str) -> None:
    """Concurrent writes share commits; one that raises rolls back alone."""
    store = await _store(database_url)
    try:

        def insert(n: int):  # type: ignore[no-untyped-def]
            def txn(t: WriteTxn) -> int:
                position = t.next_position()
                event_db.append(t.conn, position=position, type="test", payload="{}", now=0)
                if n == 7:
                    raise BackchannelError("invalid_request", "seven is refused")
                return position

            return txn

        results = await asyncio.gather(
            *(store.write(f"w{n}", insert(n)) for n in range(40)), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        positions = [r for r in results if isinstance(r, int)]
        assert len(failures) == 1 and isinstance(failures[0], BackchannelError)
        assert len(positions) == 39 and len(set(positions)) == 39
        assert store.write_batches < store.writes  # some writes shared a commit

        def read(t):  # type: ignore[no-untyped-def]
            current = event_db.current_position(t.conn)
            stored = t.conn.execute(select(events.c.position).order_by(events.c.position)).scalars()
            return current, list(stored)

        current, stored = await store.read("check", read)
        assert stored == sorted(positions)  # the refused write left nothing behind
        # The refused write's position is skipped, never reused: the counter may pass it.
        assert max(positions) <= current <= max(positions) + 1
    finally:
        await store.close()


async def test_write_error_from_database_reaches_only_its_caller(database_url: str) -> None:
    store = await _store(database_url)
    try:

        def duplicate(t: WriteTxn) -> None:
            for _ in range(2):
                t.conn.execute(
                    users.insert().values(pid="u_dup", handle="dup", display_name="d", created_at=0)
                )

        def fine(t: WriteTxn) -> int:
            return int(t.conn.execute(select(stream_state.c.position)).scalar_one())

        results = await asyncio.gather(
            store.write("dup", duplicate), store.write("fine", fine), return_exceptions=True
        )
        assert isinstance(results[0], Exception)
        assert isinstance(results[1], int)
    finally:
        await store.close()


async def test_a_statement_failing_late_fails_only_its_write(database_url: str) -> None:
    """On PostgreSQL, plain inserts travel later, with the next query (prepared.deferring):
    an insert that breaks a constraint fails when it arrives. Its write alone must fail,
    with SQLAlchemy's IntegrityError, and leave nothing behind; the others commit."""
    store = await _store(database_url)
    try:
        taken = await store.write(
            "first",
            lambda t: (
                event_db.append(
                    t.conn, position=(p := t.next_position()), type="test", payload="{}", now=0
                )
                or p
            ),
        )

        def append(n: int):  # type: ignore[no-untyped-def]
            def txn(t: WriteTxn) -> int:
                position = t.next_position()
                event_db.append(t.conn, position=position, type="test", payload="{}", now=0)
                if n == 5:  # then a second event at a position that is taken
                    event_db.append(t.conn, position=taken, type="dup", payload="{}", now=0)
                # a query of its own after the inserts, as real writes make
                event_db.current_position(t.conn)
                return position

            return txn

        results = await asyncio.gather(
            *(store.write(f"w{n}", append(n)) for n in range(20)), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert len(failures) == 1 and isinstance(failures[0], IntegrityError), failures
        positions = sorted(r for r in results if isinstance(r, int))
        assert len(positions) == 19

        def read(t):  # type: ignore[no-untyped-def]
            rows = t.conn.execute(select(events.c.position, events.c.type)).all()
            return sorted((int(p), k) for p, k in rows)

        assert await store.read("check", read) == [(p, "test") for p in [taken, *positions]]
    finally:
        await store.close()


async def test_closed_store_refuses_writes(sqlite_url: str) -> None:
    store = await _store(sqlite_url)
    await store.close()
    with pytest.raises(BackchannelError) as info:
        await store.write("late", lambda t: None)
    assert info.value.code == "unavailable"


def _size(path: Path) -> int:
    return path.stat().st_size


async def test_a_large_wal_is_truncated_at_the_next_checkpoint(sqlite_url: str) -> None:
    """PASSIVE checkpoints never wait, so under writes without a pause the WAL never starts
    over; one past `wal_truncate_bytes` is emptied by a checkpoint that waits its turn."""
    store = await _store(sqlite_url)
    try:
        store.wal_truncate_bytes = 256 * 1024
        await store.write("scratch", lambda t: t.conn.execute(text("CREATE TABLE s (b BLOB)")))
        for _ in range(20):
            await store.write(
                "fill", lambda t: t.conn.execute(text("INSERT INTO s VALUES (randomblob(65536))"))
            )
        wal = Path(sqlite_url.removeprefix("sqlite:///") + "-wal")
        assert _size(wal) > 1024 * 1024
        await asyncio.get_running_loop().run_in_executor(None, store._checkpoint)
        assert _size(wal) == 0
        # and the database goes on as before, the log started over
        await store.write("more", lambda t: t.conn.execute(text("INSERT INTO s VALUES (x'00')")))
        count = await store.read(
            "n", lambda t: t.conn.execute(text("SELECT count(*) FROM s")).scalar_one()
        )
        assert count == 21
    finally:
        await store.close()


# --- query-count pins: an N+1 on a hot path fails here ------------------------------


def _reset(api: Api) -> dict[str, int]:
    api.core.store.queries.totals.clear()
    return api.core.store.queries.totals


async def test_send_message_statement_count(api: Api) -> None:
    alice, bob = await api.register(), await api.register()
    conversation = await alice.direct(bob)
    first = await alice.send(conversation, "warm up")
    totals = _reset(api)
    await alice.send(conversation, "hello", txn_id="pin-1")
    # access, txn_id lookup, insert message, append event, update conversation
    assert totals["send_message"] == 5
    assert "authenticate" not in totals  # the token was cached by the earlier requests
    totals.clear()
    await alice.send(conversation, "a reply", txn_id="pin-2", reply_to=first["id"])
    assert totals["send_message"] == 6  # + the quoted message


async def test_a_message_in_a_business_conversation_statement_count(api: Api) -> None:
    """What the business inbox adds to a send, with nothing configured: the working state,
    the welcome/away check, and each part's look at its own settings (reports' cycle,
    opt-in keywords, the bot, scheduled messages, webhooks, rules). A part that starts
    reading more per message fails here."""
    shop, cyd = await api.register(), await api.register()
    assert (await shop.post("/api/v1/me/business", json={})).status_code == 201
    conversation = await cyd.direct(shop)
    await cyd.send(conversation, "warm up")
    await shop.send(conversation, "an answer")
    totals = _reset(api)
    await cyd.send(conversation, "a question", txn_id="pin-b1")
    assert totals["send_message"] == 21  # 5 of any send, 16 of the inbox
    totals.clear()
    await shop.send(conversation, "an answer", txn_id="pin-b2")
    assert totals["send_message"] == 13


async def test_team_inbox_statement_count_does_not_grow_with_conversations(api: Api) -> None:
    """A page of a business's inbox — conversations, states with customers, assignees,
    teams and labels, the last message's agent — costs the same for 2 rows as for 6."""
    shop, agent = await api.register(), await api.register()
    assert (await shop.post("/api/v1/me/business", json={})).status_code == 201
    r = await shop.put(
        f"/api/v1/businesses/{shop.handle}/members/{agent.handle}", json={"role": "agent"}
    )
    assert r.status_code == 201, r.text
    team = (
        await shop.post(f"/api/v1/businesses/{shop.handle}/teams", json={"name": "Support"})
    ).json()
    label = (
        await shop.post(f"/api/v1/businesses/{shop.handle}/labels", json={"name": "VIP"})
    ).json()
    base = f"/api/v1/businesses/{shop.handle}"
    customers = await api.users(6)
    counts = []
    for batch in (customers[:2], customers[2:]):
        for customer in batch:
            cid = await customer.direct(shop)
            await customer.send(cid, "hello?")
            r = await agent.post(f"{base}/conversations/{cid}/messages", json={"text": "hi!"})
            assert r.status_code == 201, r.text
            r = await agent.patch(
                f"{base}/conversations/{cid}",
                json={"assignee": agent.handle, "team": team["id"]},
            )
            assert r.status_code == 200, r.text
            assert (
                await agent.put(f"{base}/conversations/{cid}/labels/{label['id']}")
            ).status_code == 200
        totals = _reset(api)
        r = await agent.get(f"{base}/conversations")
        assert r.status_code == 200
        counts.append(totals["business_inbox"])
    items = r.json()["items"]
    assert len(items) == 6
    assert all(i["conversation"]["last_message"]["agent"]["handle"] == agent.handle for i in items)
    assert all(i["state"]["team"]["name"] == "Support" for i in items)
    assert counts[0] == counts[1] == 14, counts  # whatever the length of the page


async def test_inbox_statement_count_does_not_grow_with_conversations(api: Api) -> None:
    me = await api.register()
    others = await api.users(6)
    counts = []
    for batch in (others[:2], others[2:]):
        for other in batch:
            conversation = await me.direct(other)
            message = await other.send(conversation, "hi")
            await other.put(
                f"/api/v1/conversations/{conversation}/messages/{message['id']}/reactions",
                json={"emoji": "👍"},
            )
        totals = _reset(api)
        r = await me.get("/api/v1/conversations")
        assert r.status_code == 200
        counts.append(totals["inbox"])
    assert len(r.json()["items"]) == 6
    assert counts[0] == counts[1] == 4


async def test_history_and_sync_statement_counts(api: Api) -> None:
    alice, bob = await api.register(), await api.register()
    conversation = await alice.direct(bob)
    token = (await bob.sync())["next"]
    for i in range(30):
        await alice.send(conversation, f"m{i}")
    totals = _reset(api)
    page = (await bob.get(f"/api/v1/conversations/{conversation}/messages")).json()
    assert len(page["items"]) == 30
    assert totals["history"] == 3  # access, page, reactions
    batch = await bob.sync(token)
    assert len(batch["events"]) == 30
    assert totals["sync"] == 2  # committed position, events


def test_hot_log_queries_use_indexes(sqlite_url: str) -> None:
    """The fan-out's audience and a user's sync read only the rows they need: no table
    scan of member_spans, which grows with every user and every group (EXPLAIN on SQLite)."""
    from backchannel.store.events import _AUDIENCE, _FOR_USER

    engine = create_engine(sqlite_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            for statement in (_AUDIENCE, _FOR_USER):
                sql = statement._compiled(conn)[0]
                params = (1,) * sql.count("?")
                plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
                # (the union's own rows, ordered for the LIMIT, are no table: "SCAN visible")
                scans = [s for s in plan if s.startswith("SCAN") and s != "SCAN visible"]
                assert scans == [], (statement.name, plan)
    finally:
        engine.dispose()
