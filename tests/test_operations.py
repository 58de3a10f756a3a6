"""Operations: health, readiness, metrics, OpenAPI, logs that keep secrets out."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from backchannel.app import NotMigrated, create_app
from tests.conftest import Api, make_settings


async def test_healthz_and_readyz(api: Api) -> None:
    r = await api.http.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await api.http.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}


async def test_readyz_fails_when_schema_is_behind(api: Api, database_url: str) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    engine.dispose()
    r = await api.http.get("/readyz")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "not_ready"


async def test_server_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(settings)
    with pytest.raises(NotMigrated, match="backchannel migrate"):
        async with app.router.lifespan_context(app):
            pass


async def test_metrics_count_requests_and_messages(api: Api) -> None:
    alice, bob = await api.register(), await api.register()
    conversation = await alice.direct(bob)
    for i in range(3):
        await alice.send(conversation, f"m{i}")
    r = await api.http.get("/metrics")
    assert r.status_code == 200
    body = r.text
    assert "backchannel_messages_sent_total 3.0" in body
    assert (
        'backchannel_http_requests_total{method="POST",'
        'route="/api/v1/conversations/{conversation_id}/messages",status="201"} 3.0'
    ) in body
    assert "backchannel_http_request_seconds_bucket" in body
    assert "backchannel_connected_clients 0.0" in body
    assert "backchannel_store_writes" in body


async def test_openapi_describes_the_api(api: Api) -> None:
    r = await api.http.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert "/api/v1/conversations/{conversation_id}/messages" in spec["paths"]
    send = spec["paths"]["/api/v1/conversations/{conversation_id}/messages"]["post"]
    assert "requestBody" in send and "201" in send["responses"]


async def test_security_headers_and_request_id(api: Api) -> None:
    user = await api.register()
    r = await user.get("/api/v1/me", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-frame-options"] == "DENY"
    r = await user.get("/api/v1/me", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"


async def test_logs_never_carry_tokens_passwords_or_bodies(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice, bob = await api.register(), await api.register()
    conversation = await alice.direct(bob)
    secret_text = "the launch code is 0000"
    await alice.send(conversation, secret_text)
    await api.http.post(
        "/api/v1/sessions", json={"handle": alice.handle, "password": "wrong password!"}
    )
    await bob.get("/api/v1/sync", params={"since": "0"})
    logged = "\n".join(
        f"{record.getMessage()} {getattr(record, 'fields', '')}" for record in caplog.records
    )
    assert "request" in logged  # the access log did run
    for secret in (alice.token, bob.token, "correct horse battery", "wrong password!", secret_text):
        assert secret not in logged


async def test_unexpected_errors_are_500_with_a_code(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await api.register()

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("backchannel.services.accounts.get_me", broken)
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/api/v1/me", headers=user.headers)
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert r.headers["x-request-id"] and r.headers["cache-control"] == "no-store"
