"""Test harness: a fresh app on a real database per test, on SQLite and PostgreSQL.

- `database_url` is parametrized: every test using it runs on SQLite (a copy
  of a migrated template) and on PostgreSQL (a fresh schema, migrated) when
  BACKCHANNEL_TEST_POSTGRES_URL is set. With BACKCHANNEL_TEST_REQUIRE_SERVICES=1
  (CI) a missing PostgreSQL fails instead of skipping.
- `api` registers users through the real ASGI app; every JSON response is
  validated against the route's declared response schema (docs as code).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import create_engine, insert, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from backchannel.api.schemas import ErrorOut
from backchannel.app import create_app
from backchannel.config import Settings, load_settings
from backchannel.services.core import Core
from backchannel.store import migrate
from backchannel.store.tables import metadata, stream_state
from tests.browser import browser  # noqa: F401 - Chromium, for the browser tests
from tests.servers import servers  # noqa: F401 - the real-server fixture, for every test

PG_URL = os.environ.get("BACKCHANNEL_TEST_POSTGRES_URL")
REQUIRE_SERVICES = os.environ.get("BACKCHANNEL_TEST_REQUIRE_SERVICES") == "1"
PASSWORD = "correct horse battery"


def pg_sqlalchemy_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def require_postgres() -> str:
    if not PG_URL:
        if REQUIRE_SERVICES:
            pytest.fail("BACKCHANNEL_TEST_POSTGRES_URL must be set in CI")
        pytest.skip("PostgreSQL tests need BACKCHANNEL_TEST_POSTGRES_URL")
    return pg_sqlalchemy_url(PG_URL)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "backchannel.db"
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    migrate.upgrade(engine)
    engine.dispose()
    return path


class PostgresSchema:
    """A throw-away schema in the test database, with a URL that selects it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.name = "t_" + secrets.token_hex(6)
        self.url = f"{base_url}?options=-csearch_path%3D{self.name}"

    def create(self, *, migrated: bool = True, by_migrations: bool = False) -> str:
        """Create the schema: empty, or at the head revision. Running every migration per
        test costs more than the test, so the schema is built from tables.py and stamped
        (tests/test_store.py proves the migrations build exactly that, `by_migrations`)."""
        engine = create_engine(self.base_url, poolclass=NullPool)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        engine.dispose()
        if migrated:
            engine = create_engine(self.url, poolclass=NullPool)
            if by_migrations:
                migrate.upgrade(engine)
            else:
                with engine.begin() as conn:
                    metadata.create_all(conn)
                    conn.execute(insert(stream_state).values(id=1, position=0))
                    conn.execute(
                        text(
                            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
                            " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                        )
                    )
                    conn.execute(
                        text("INSERT INTO alembic_version VALUES (:v)"),
                        {"v": migrate.head_revision()},
                    )
            engine.dispose()
        return self.url

    def reset(self) -> bool:
        """Empty every table, as new (ids go on counting); False if that failed."""
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                for table in reversed(metadata.sorted_tables):
                    conn.execute(table.delete())
                conn.execute(insert(stream_state).values(id=1, position=0))
                # (a test may have set another revision, to see a server refuse it)
                conn.execute(text("DELETE FROM alembic_version"))
                conn.execute(
                    text("INSERT INTO alembic_version VALUES (:v)"), {"v": migrate.head_revision()}
                )
            return True
        except Exception:  # a schema in doubt is dropped, not reused
            return False
        finally:
            engine.dispose()

    def drop(self) -> None:
        """Drop the schema. A server process still writing to it (a test's fixtures may
        tear the schema down before its servers) can make PostgreSQL pick the DROP as a
        deadlock victim: retry then."""
        engine = create_engine(self.base_url, poolclass=NullPool)
        for attempt in range(5):
            try:
                with engine.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
                break
            except OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "db" / "backchannel.db"
    target.parent.mkdir()
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


# Migrated schemas that a finished test left clean, for the next: creating ~30 tables costs
# PostgreSQL about a second here, more than most tests. A schema is reused only after a test
# that ran no server process (one might still be writing while fixtures are torn down).
_PG_POOL: list[PostgresSchema] = []


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    base = require_postgres()
    schema = _PG_POOL.pop() if _PG_POOL else None
    if schema is None:
        schema = PostgresSchema(base)
        schema.create()
    yield schema.url
    if "servers" in request.fixturenames or not schema.reset():
        schema.drop()
    else:
        _PG_POOL.append(schema)


def pytest_sessionfinish(session: pytest.Session) -> None:
    while _PG_POOL:
        _PG_POOL.pop().drop()


@pytest.fixture
def migrated_postgres_url() -> Iterator[str]:
    """A schema built by running every migration (for the tests of the migrations)."""
    schema = PostgresSchema(require_postgres())
    yield schema.create(by_migrations=True)
    schema.drop()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database: SQLite, then PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: fast password hashing, a private data dir."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "log_format": "text",
        "rate_limits": False,  # tests of the limits turn them back on (tests/test_limits.py)
        # An open deployment, so tests of other features can talk to strangers directly;
        # tests/test_requests.py runs on the product defaults (requests from strangers).
        "dm_inbox_default": "everyone",
        # Tests run due jobs themselves (`core.jobs.run_due()`, then `drain()`), with the
        # store's clock moved on: a runner polling beside them would race them for the job.
        "jobs_enabled": False,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


class ValidatingApp:
    """Wraps the ASGI app: checks each JSON response against the matched route's schema."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.checked = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        body = bytearray()
        content_type = ""

        async def capture(message: Any) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = dict(message.get("headers", [])).get(b"content-type", b"").decode()
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        if "application/json" not in content_type or not body:
            return
        if status >= 400:
            ErrorOut.model_validate_json(bytes(body))
            self.checked += 1
            return
        route = scope.get("route")
        model = _response_model(route, status)
        if model is not None:
            TypeAdapter(model).validate_json(bytes(body))
            self.checked += 1


def _response_model(route: Any, status: int) -> Any:
    responses = getattr(route, "responses", None) or {}
    declared = responses.get(status) or responses.get(str(status))
    if declared and "model" in declared:
        return declared["model"]
    model = getattr(route, "response_model", None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model
    return None


class User:
    """A registered user with an authenticated HTTP client."""

    def __init__(self, http: httpx.AsyncClient, token: str, profile: dict[str, Any]) -> None:
        self.http = http
        self.token = token
        self.profile = profile
        self.handle: str = profile["handle"]
        self.id: str = profile["id"]
        self.headers = {"Authorization": f"Bearer {token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    # conveniences used across tests
    async def direct(self, other: User) -> str:
        r = await self.post(
            "/api/v1/conversations", json={"kind": "direct", "members": [other.handle]}
        )
        assert r.status_code in (200, 201), r.text
        return str(r.json()["id"])

    async def group(self, *others: User, title: str | None = "group") -> str:
        r = await self.post(
            "/api/v1/conversations",
            json={"kind": "group", "members": [o.handle for o in others], "title": title},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def send(self, conversation_id: str, text: str, **extra: Any) -> dict[str, Any]:
        r = await self.post(
            f"/api/v1/conversations/{conversation_id}/messages", json={"text": text, **extra}
        )
        assert r.status_code in (200, 201), r.text
        return dict(r.json())

    async def sync(self, since: str | None = None, **params: Any) -> dict[str, Any]:
        query = {k: v for k, v in {"since": since, **params}.items() if v is not None}
        r = await self.get("/api/v1/sync", params=query)
        assert r.status_code == 200, r.text
        return dict(r.json())


class Api:
    def __init__(self, http: httpx.AsyncClient, app: Any) -> None:
        self.http = http
        self.app = app
        self._n = 0

    @property
    def core(self) -> Core:
        core: Core = self.app.state.core
        return core

    async def register(self, handle: str | None = None, **extra: Any) -> User:
        if handle is None:
            self._n += 1
            handle = f"user{self._n}_{secrets.token_hex(2)}"
        r = await self.http.post(
            "/api/v1/accounts", json={"handle": handle, "password": PASSWORD, **extra}
        )
        assert r.status_code == 201, r.text
        body = r.json()
        return User(self.http, body["token"], body["user"])

    async def users(self, count: int) -> list[User]:
        return [await self.register() for _ in range(count)]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=ValidatingApp(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def api(http: httpx.AsyncClient, app: Any) -> Api:
    return Api(http, app)


@pytest.fixture
def core(app: Any) -> Core:
    result: Core = app.state.core
    return result


class Clock:
    """A store clock the test moves (seconds since the epoch): `Store.clock` reads it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def iso(self, after_s: float) -> str:
        """An instant `after_s` seconds from the clock's now, ISO 8601 (for request bodies)."""
        return datetime.fromtimestamp(self.now + after_s, UTC).isoformat()


@pytest.fixture
def clock(core: Core) -> Clock:
    """The app's store on a clock the test moves (run due jobs with `core.jobs.run_due()`)."""
    value = Clock()
    core.store.clock = value
    return value
