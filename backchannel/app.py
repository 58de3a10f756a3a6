"""create_app(settings) -> the ASGI app. Everything is built here, nothing at import."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from backchannel import __version__
from backchannel.api import errors, gateway
from backchannel.api.client_ip import parse_networks
from backchannel.api.fanout import CLOSE_SERVICE_RESTART, Fanout
from backchannel.api.middleware import RequestMiddleware
from backchannel.api.routes import (
    accounts,
    automation,
    bot,
    business,
    conversations,
    health,
    media,
    messages,
    moderation,
    outbound,
    presence,
    reports,
    safety,
    scheduled,
    search,
    sync,
    users,
    web,
    webhooks,
)
from backchannel.api.routes import erasure as erasure_routes
from backchannel.api.routes import exports as exports_routes
from backchannel.api.schemas import ErrorOut
from backchannel.broker.local import LocalBroker
from backchannel.broker.redis import RedisBroker
from backchannel.config import Settings
from backchannel.domain import media as media_rules
from backchannel.jobs.runner import JobRunner
from backchannel.media import build_media_store
from backchannel.observability import Metrics
from backchannel.previews import PreviewFetcher
from backchannel.ratelimit import build_limiter
from backchannel.services import erasure as erasure_service
from backchannel.services import media as media_service
from backchannel.services.core import Core
from backchannel.store import events as event_db
from backchannel.store import migrate
from backchannel.store.database import Store

log = logging.getLogger(__name__)


class NotMigrated(RuntimeError):
    pass


def build_store(settings: Settings) -> Store:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Store(
        settings.resolved_database_url,
        read_pool_size=settings.read_pool_size,
        group_commit_max=settings.group_commit_max,
        sqlite_synchronous=settings.sqlite_synchronous,
    )


def check_migrated(store: Store | str) -> None:
    """Raise NotMigrated unless the database (a Store or a URL) is at the head revision."""
    url = store if isinstance(store, str) else store.url
    engine = create_engine(url, poolclass=NullPool)
    try:
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    if current != head:
        raise NotMigrated(
            f"The database is at schema revision {current or 'none'}, this server needs "
            f"{head}. Run `backchannel migrate` (or start `backchannel serve` without "
            "--no-migrate)."
        )


async def _sweep_media(core: Core) -> None:
    """Delete uploads never attached, every `media_sweep_seconds`, for as long as the app
    runs (a failed round is logged and retried at the next)."""
    while True:
        await asyncio.sleep(core.settings.media_sweep_seconds)
        try:
            swept = await media_service.sweep(core)
        except Exception:
            log.warning("media sweep failed", exc_info=True)
            continue
        if swept:
            log.info("swept unattached uploads", extra={"fields": {"count": swept}})


def create_app(settings: Settings) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = build_store(settings)
        await asyncio.to_thread(check_migrated, store)
        broker = (
            RedisBroker(settings.redis_url.get_secret_value())
            if settings.redis_url is not None
            else LocalBroker()
        )
        await broker.start()
        limiter = build_limiter(settings, registry=metrics.registry)
        core = Core(settings=settings, store=store, broker=broker, metrics=metrics, limiter=limiter)
        core.media = build_media_store(settings)
        core.previews = PreviewFetcher(settings)
        position = await store.read("current_position", lambda t: event_db.current_position(t.conn))
        core.broker.publish_position(position)
        await store.start()
        fanout = Fanout(core, position)
        if store.is_sqlite:  # one writer for the database: its commits are all there is
            store.prefetch = fanout.prefetch
            store.on_prefetched = fanout.offer
        fanout.start()
        sweeper = asyncio.get_running_loop().create_task(_sweep_media(core))
        runner = JobRunner(core)
        core.jobs = runner
        if settings.jobs_enabled:
            runner.start()
        await erasure_service.schedule_retention(core)
        metrics.stream_sockets.set_function(lambda: fanout.connections)
        app.state.core = core
        app.state.fanout = fanout
        # Everything built so far lives as long as the process: keep the cyclic garbage
        # collector from re-scanning it on every collection (measured: -17 % CPU per REST
        # send).
        gc.freeze()
        gc.set_threshold(10_000, 20, 20)
        log.info("backchannel started", extra={"fields": {"version": __version__}})
        try:
            yield
        finally:
            core.shutting_down = True
            core.broker.wake_all()
            await fanout.close(CLOSE_SERVICE_RESTART)
            sweeper.cancel()
            await runner.close()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            if core.background:
                await asyncio.gather(*core.background, return_exceptions=True)
            await store.close()
            await broker.close()
            await limiter.close()
            await core.media.close()
            await core.previews.close()
            log.info("backchannel stopped")

    app = FastAPI(
        title="Backchannel",
        version=__version__,
        description="Self-hostable direct messaging. All errors: "
        '`{"error": {"code": "...", "message": "..."}}`.',
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.trusted_proxies = parse_networks(settings.trusted_proxies)  # for client_ip
    errors.install(app)
    # Routes are matched in order: the hot ones first (sends, sync). No two patterns
    # overlap, so the order changes nothing else (tests/test_authorization.py walks them all).
    for module in (
        messages,
        sync,
        gateway,
        conversations,
        accounts,
        erasure_routes,
        users,
        safety,
        moderation,
        exports_routes,
        media,
        presence,
        scheduled,
        search,
        business,
        reports,
        webhooks,
        automation,
        bot,
        outbound,
        health,
    ):
        app.include_router(module.router)
    # The web client: its page at the app's top level (like /openapi.json), its files below.
    app.add_api_route("/", web.index, methods=["GET"], include_in_schema=False)
    app.mount("/static", web.assets(), name="static")
    app.add_middleware(
        RequestMiddleware,
        metrics=metrics,
        upload_max_bytes=media_rules.max_upload_bytes(settings),
    )
    _describe_errors(app)
    return app


def _describe_errors(app: FastAPI) -> None:
    """Make /openapi.json tell the truth about errors: validation is `400` with our error
    body (not FastAPI's `422 HTTPValidationError`), and every operation may answer with
    an error body whose `code` is one of docs/api.md's."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        defs = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(defs.pop("$defs", {}))
        components["ErrorOut"] = defs
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation["responses"]
                if responses.pop("422", None) is not None:
                    responses["400"] = {"description": "Invalid request", "content": error}
                responses.setdefault(
                    "default", {"description": "An error with a stable code", "content": error}
                )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
