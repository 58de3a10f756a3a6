"""Liveness, readiness and metrics for operators and load balancers."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from backchannel.api import schemas as s
from backchannel.api.deps import CoreDep
from backchannel.api.responses import json
from backchannel.errors import BackchannelError
from backchannel.store import migrate

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=s.StatusOut)
async def healthz() -> Response:
    """Liveness: the process serves requests."""
    return json({"status": "ok"})


@router.get("/readyz", response_model=s.StatusOut, responses={503: {"model": s.ErrorOut}})
async def readyz(core: CoreDep) -> Response:
    """Readiness: the database answers and its schema is current."""
    try:
        await core.store.ping()
        engine = core.store.migration_engine()
        try:
            current = await asyncio.to_thread(migrate.is_current, engine)
        finally:
            engine.dispose()
    except Exception:
        error = BackchannelError("not_ready", "The database is unreachable.")
        return json(error.body(), 503)
    if not current:
        error = BackchannelError("not_ready", "The database schema is not current; migrate.")
        return json(error.body(), 503)
    if core.shutting_down:
        return json(BackchannelError("unavailable").body(), 503)
    return json({"status": "ready"})


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, core: CoreDep) -> Response:
    """Prometheus metrics, text exposition format."""
    metrics = request.app.state.metrics
    metrics.write_batches.set(core.store.write_batches)
    metrics.writes.set(core.store.writes)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
