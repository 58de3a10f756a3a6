"""Errors and transport rules: one error shape, 4xx never 5xx for bad input, auth, body limit,
security headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, Api, User

ONE_MIB = 1024 * 1024
FAKE_CONVERSATION = "c_AAAAAAAAAAAAAAAAAAAAAA"


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The one error shape: {"error": {"code", "message"[, "details"]}}."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


@pytest.fixture
async def alice(api: Api) -> User:
    return await api.register("alice")


# --- request bodies -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b'{"handle": ',
        b"{handle: 'alice'}",
        b'{"handle": "alice", "password": "x",}',
        b"\xff\xfe\x00",
        b"",
        b"null",
        b"[]",
        b'"a string"',
        b"42",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
async def test_malformed_json_is_400(api: Api, content: bytes) -> None:
    r = await api.http.post(
        "/api/v1/accounts", content=content, headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        {"handle": 123, "password": PASSWORD},
        {"handle": ["alice"], "password": PASSWORD},
        {"handle": "alice", "password": None},
        {"handle": "alice", "password": {"a": 1}},
        {"handle": "alice", "password": PASSWORD, "display_name": False},
    ],
)
async def test_wrong_types_are_400(api: Api, body: dict[str, Any]) -> None:
    r = await api.http.post("/api/v1/accounts", json=body)
    error = assert_error(r, 400, "invalid_request")
    assert error["details"]["fields"]


@pytest.mark.parametrize("body", [{}, {"handle": "alice"}, {"password": PASSWORD}])
async def test_missing_fields_are_400(api: Api, body: dict[str, Any]) -> None:
    r = await api.http.post("/api/v1/accounts", json=body)
    error = assert_error(r, 400, "invalid_request")
    assert any(f["type"] == "missing" for f in error["details"]["fields"])


async def test_unknown_fields_are_400(api: Api) -> None:
    r = await api.http.post(
        "/api/v1/accounts", json={"handle": "alice", "password": PASSWORD, "is_admin": True}
    )
    error = assert_error(r, 400, "invalid_request")
    assert "is_admin" in error["message"]
    # and nothing was created
    assert (
        await api.http.post("/api/v1/sessions", json={"handle": "alice", "password": PASSWORD})
    ).status_code == 401


async def test_wrong_shapes_on_authenticated_routes_are_400(alice: User, api: Api) -> None:
    bob = await api.register("bob")
    cid = await alice.direct(bob)
    for method, path, body in (
        ("POST", "/api/v1/conversations", {"kind": "channel", "members": ["bob"]}),
        ("POST", "/api/v1/conversations", {"kind": "group", "members": "bob"}),
        ("POST", f"/api/v1/conversations/{cid}/messages", {"text": ["hi"]}),
        ("POST", f"/api/v1/conversations/{cid}/messages", {"text": "hi", "extra": 1}),
        ("POST", f"/api/v1/conversations/{cid}/read", {"up_to": 7}),
        ("PATCH", "/api/v1/me", {"bio": 1.5}),
        ("PUT", "/api/v1/me/password", {"new_password": "whatever you like"}),
    ):
        r = await alice.request(method, path, json=body)
        assert_error(r, 400, "invalid_request")
    assert (await alice.get(f"/api/v1/conversations/{cid}/messages")).json()["items"] == []


@pytest.mark.parametrize(
    "content",
    [
        b'{"handle": "alice", "password": 1' + b"0" * 5000 + b"}",
        b'{"handle": "alice", "password": 1e999999}',
        b'{"handle": "alice", "password": -1' + b"0" * 400 + b"}",
    ],
)
async def test_huge_numbers_in_bodies_are_400(api: Api, content: bytes) -> None:
    r = await api.http.post(
        "/api/v1/accounts", content=content, headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400, "invalid_request")


async def test_huge_numbers_in_queries_are_400(alice: User) -> None:
    huge = "9" * 40
    for path in (
        f"/api/v1/conversations?limit={huge}",
        f"/api/v1/users/alice/followers?limit={huge}",
        f"/api/v1/sync?timeout={huge}",
        f"/api/v1/sync?since=1&limit={huge}",
    ):
        assert_error(await alice.get(path), 400, "invalid_request")
    assert_error(await alice.get(f"/api/v1/sync?since={huge}"), 400, "invalid_token")


async def test_non_json_content_type_is_400(api: Api) -> None:
    r = await api.http.post(
        "/api/v1/accounts",
        content=b"handle=alice&password=correct+horse",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(r, 400, "invalid_request")


# --- ids that can never exist ---------------------------------------------------------


async def test_ids_with_impossible_characters_are_404_not_500(alice: User, api: Api) -> None:
    """NUL and friends must not reach the database (PostgreSQL refuses NUL in text)."""
    bob = await api.register("bob")
    cid = await alice.direct(bob)
    sent = await alice.send(cid, "hi")
    for path, code in (
        ("/api/v1/conversations/c_%00x", "conversation_not_found"),
        ("/api/v1/conversations/%F0%9F%98%80", "conversation_not_found"),
        (f"/api/v1/conversations/{cid}/messages/m_%00x", "message_not_found"),
        (f"/api/v1/conversations/{cid}/messages/{'x' * 500}", "message_not_found"),
    ):
        assert_error(await alice.get(path), 404, code)
    assert_error(await alice.delete("/api/v1/sessions/s_%00x"), 404, "session_not_found")
    base = f"/api/v1/conversations/{cid}"
    for path, body, code in (
        (f"{base}/messages", {"text": "x", "reply_to": "m_\x00"}, "message_not_found"),
        (f"{base}/read", {"up_to": "m_\x00"}, "message_not_found"),
        (
            f"{base}/messages/{sent['id']}/forward",
            {"conversation_ids": ["c_\x00"]},
            "conversation_not_found",
        ),
    ):
        assert_error(await alice.post(path, json=body), 404, code)
    # text-ish fields refuse NUL with a 4xx too
    assert_error(
        await alice.patch("/api/v1/me", json={"display_name": "a\x00"}), 400, "invalid_request"
    )
    assert_error(
        await api.http.post(
            "/api/v1/sessions",
            json={"handle": "alice", "password": PASSWORD, "device_name": "\x00"},
        ),
        400,
        "invalid_request",
    )
    assert_error(
        await api.http.post("/api/v1/sessions", json={"handle": "a\x00", "password": "x\x00"}),
        401,
        "invalid_credentials",
    )


# --- routing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v2/me", "/nope", "/api/v1/conversations/x/y/z"]
)
async def test_unknown_route_is_404(alice: User, path: str) -> None:
    assert_error(await alice.get(path), 404, "not_found")
    assert_error(await alice.http.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/v1/me"),
        ("PUT", "/api/v1/accounts"),
        ("GET", "/api/v1/me/deactivate"),
        ("PATCH", "/api/v1/sessions"),
        ("POST", "/healthz"),
    ],
)
async def test_wrong_method_is_405(alice: User, method: str, path: str) -> None:
    r = await alice.request(method, path)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers.get("allow")


# --- authentication ---------------------------------------------------------------------

AUTHENTICATED = [
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/sessions"),
    ("GET", "/api/v1/conversations"),
    ("GET", f"/api/v1/conversations/{FAKE_CONVERSATION}/messages"),
    ("GET", "/api/v1/users/alice"),
    ("PUT", "/api/v1/users/alice/follow"),
    ("GET", "/api/v1/sync"),
    ("DELETE", "/api/v1/sessions/current"),
]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer garbage",
        "Bearer bc_" + "A" * 43,
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Token xyz",
    ],
)
async def test_missing_or_bad_bearer_is_401(
    api: Api, alice: User, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in AUTHENTICATED:
        r = await api.http.request(method, path, headers=headers)
        assert_error(r, 401, "unauthenticated")


async def test_token_is_not_accepted_in_another_scheme_or_place(api: Api, alice: User) -> None:
    assert (await alice.get("/api/v1/me")).status_code == 200
    r = await api.http.get("/api/v1/me", headers={"Authorization": f"Basic {alice.token}"})
    assert_error(r, 401, "unauthenticated")
    r = await api.http.get("/api/v1/me", params={"access_token": alice.token})
    assert_error(r, 401, "unauthenticated")
    r = await api.http.get("/api/v1/me", headers={"Authorization": f"bearer {alice.token}"})
    assert r.status_code == 200  # the scheme name is case-insensitive (RFC 7235)


# --- body size --------------------------------------------------------------------------


async def test_body_over_one_mib_is_413(api: Api) -> None:
    body = b'{"handle": "alice", "password": "' + b"x" * ONE_MIB + b'"}'
    r = await api.http.post(
        "/api/v1/accounts", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(r, 413, "request_too_large")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers.get("x-request-id")


async def test_streamed_body_over_one_mib_is_413(api: Api) -> None:
    """No Content-Length (chunked): the limit still holds."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"handle": "alice", "password": "'
        for _ in range(20):
            yield b"x" * 64 * 1024
        yield b'"}'

    r = await api.http.post(
        "/api/v1/accounts", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "request_too_large")
    assert (
        await api.http.post("/api/v1/sessions", json={"handle": "alice", "password": PASSWORD})
    ).status_code == 401


async def test_body_just_under_one_mib_is_accepted(api: Api) -> None:
    start = b'{"handle": "alice", "password": "' + PASSWORD.encode() + b'"'
    body = start + b" " * (ONE_MIB - len(start) - 1) + b"}"
    assert len(body) == ONE_MIB
    r = await api.http.post(
        "/api/v1/accounts", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"handle": "bob", "password": "' + PASSWORD.encode() + b'"'
        for _ in range(15):
            yield b" " * 64 * 1024
        yield b"}"

    r = await api.http.post(
        "/api/v1/accounts", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text


# --- headers ----------------------------------------------------------------------------


async def test_security_headers_on_api_responses(api: Api, alice: User) -> None:
    responses = [
        await alice.get("/api/v1/me"),  # 200
        await alice.get("/api/v1/users/nobody_here"),  # 404 from a service
        await api.http.get("/api/v1/me"),  # 401, no token
        await api.http.get("/api/v1/nope"),  # unknown route
        await api.http.post("/api/v1/accounts", content=b"{"),  # 400
        await alice.delete("/api/v1/sessions/s_unknown"),  # 404
    ]
    for r in responses:
        assert r.headers["x-content-type-options"] == "nosniff", r.request.url
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store", r.request.url
        assert re.fullmatch(r"[0-9a-f]{16}", r.headers["x-request-id"])
    # 204 responses carry them too
    r = await alice.delete("/api/v1/sessions/current")
    assert r.status_code == 204
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_request_ids_are_echoed_when_sane(api: Api) -> None:
    for sane in ("abc-123", "A.b_C-9", "x" * 64):
        r = await api.http.get("/healthz", headers={"X-Request-ID": sane})
        assert r.headers["x-request-id"] == sane
    for insane in (b"has space", b"x" * 65, b'quote"d', b"back\\slash", b"caf\xc3\xa9", b"<b>"):
        r = await api.http.get("/healthz", headers={b"X-Request-ID": insane})
        assert r.status_code == 200
        echoed = r.headers["x-request-id"]
        assert echoed.encode() != insane
        assert re.fullmatch(r"[0-9a-f]{16}", echoed)
    first = (await api.http.get("/healthz")).headers["x-request-id"]
    second = (await api.http.get("/healthz")).headers["x-request-id"]
    assert first != second


async def test_error_request_id_matches_the_header(api: Api) -> None:
    r = await api.http.get("/api/v1/me", headers={"X-Request-ID": "trace-me-42"})
    assert_error(r, 401, "unauthenticated")
    assert r.headers["x-request-id"] == "trace-me-42"
