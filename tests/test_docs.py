"""Docs as code: the docs name every setting, route, error code and event type, and
every route declares its schemas. A failure here means: update the docs (or `make docs`)."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Any

import pytest

from backchannel.app import create_app
from backchannel.config import Settings, load_settings
from backchannel.docgen import SECRETS, render
from backchannel.errors import CODES
from backchannel.services.events import EVENT_TYPES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ("architecture", "api", "configuration", "operations", "performance")
METHODS = ("get", "put", "post", "delete", "patch")
# Routes FastAPI serves itself, outside the OpenAPI paths.
BUILT_IN_ROUTES = {"GET /openapi.json"}

OpenApi = dict[str, Any]


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> OpenApi:
    # The schema must not depend on the environment: CI may set BACKCHANNEL_DATABASE_URL,
    # BACKCHANNEL_CONFIG (a TOML file) and the like.
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("BACKCHANNEL_")]:
            env.delenv(name)
        app = create_app(load_settings(data_dir=tmp_path_factory.mktemp("docs")))
        schema: OpenApi = app.openapi()
    return schema


@pytest.fixture(scope="module")
def api_page() -> str:
    return (DOCS / "api.md").read_text()


def operations(openapi: OpenApi) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def table_rows(page: str) -> dict[str, list[str]]:
    """Markdown table rows keyed by their first cell with the backticks removed."""
    rows = {}
    for line in page.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells
    return rows


# --- configuration ------------------------------------------------------------------


def test_configuration_page_is_generated_from_the_settings() -> None:
    page = (DOCS / "configuration.md").read_text()
    assert page == render(), "docs/configuration.md is stale: run `make docs`"


def test_configuration_page_names_every_setting() -> None:
    rows = table_rows((DOCS / "configuration.md").read_text())
    assert list(rows) == list(Settings.model_fields)
    for name, cells in rows.items():
        assert cells[1] == f"`BACKCHANNEL_{name.upper()}`", name
        assert cells[2] == f"`{name}`", name  # the TOML key
        assert Settings.model_fields[name].description, f"{name} has no description"


def test_configuration_page_names_the_serve_flags() -> None:
    import typer.main

    from backchannel.cli import app as cli
    from backchannel.docgen import CLI_FLAGS

    serve = typer.main.get_command(cli).commands["serve"]  # type: ignore[attr-defined]
    flags = {
        param.name: param.opts[0] for param in serve.params if param.name in Settings.model_fields
    }
    assert flags == CLI_FLAGS, "backchannel.docgen.CLI_FLAGS differs from `backchannel serve`"


def test_configuration_page_explains_precedence_and_secrets() -> None:
    page = (DOCS / "configuration.md").read_text()
    assert "BACKCHANNEL_CONFIG" in page
    assert "`database_url` is a **secret**" in page
    assert "database_url" in SECRETS and "redis_url" in SECRETS
    rows = table_rows(page)
    for name in SECRETS:
        assert rows[name][3].startswith("secret string"), name
    flags, env, toml, defaults = (
        page.index("**command-line flags**"),
        page.index("**environment variables**"),
        page.index("**a TOML file**"),
        page.index("**the defaults**"),
    )
    assert flags < env < toml < defaults


# --- the API reference ----------------------------------------------------------------


def test_every_route_is_documented(openapi: OpenApi, api_page: str) -> None:
    missing = [
        f"{method.upper()} {path}"
        for method, path, _ in operations(openapi)
        if f"`{method.upper()} {path}`" not in api_page
    ]
    assert missing == [], "routes missing from docs/api.md"


def test_no_documented_route_is_made_up(openapi: OpenApi, api_page: str) -> None:
    real = {f"{method.upper()} {path}" for method, path, _ in operations(openapi)}
    documented = set(re.findall(r"`((?:GET|PUT|POST|DELETE|PATCH) /[^`\s?]*)`", api_page))
    assert documented - real - BUILT_IN_ROUTES == set(), (
        "docs/api.md names routes that do not exist"
    )


def test_every_error_code_is_documented_with_its_status(api_page: str) -> None:
    section = api_page.split("## Error codes", 1)[1]
    rows = table_rows(section)
    assert [code for code in CODES if code not in rows] == [], "error codes missing"
    assert [code for code in rows if code not in CODES] == [], "documented codes that do not exist"
    wrong = [code for code, (status, _) in CODES.items() if rows[code][1] != str(status)]
    assert wrong == [], "error codes documented with the wrong status"


def test_every_event_type_is_documented(api_page: str) -> None:
    section = api_page.split("## Events", 1)[1].split("\n## ", 1)[0]
    rows = table_rows(section)
    assert [kind for kind in EVENT_TYPES if kind not in rows] == [], "event types missing"
    assert [kind for kind in rows if kind not in EVENT_TYPES] == [], "made-up event types"
    wrong = [kind for kind, (audience, _) in EVENT_TYPES.items() if rows[kind][1] != audience]
    assert wrong == [], "event types documented with the wrong audience"


def emitted_data_keys() -> dict[str, set[str]]:
    """Event type -> the keys of `data` in the `emit(...)` calls of backchannel/services,
    whether the dict is written in the call or bound to a name in the same function."""
    keys: dict[str, set[str]] = {}
    for source in sorted((ROOT / "backchannel" / "services").glob("*.py")):
        for function in ast.walk(ast.parse(source.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            bound = {
                target.id: node.value
                for node in ast.walk(function)
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for call in ast.walk(function):
                if not (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id == "emit"
                ):
                    continue
                kind, data = call.args[1], call.args[2]
                assert isinstance(kind, ast.Constant), f"{source.name}: emit with a computed type"
                if isinstance(data, ast.Name):
                    data = bound[data.id]
                assert isinstance(data, ast.Dict), f"{source.name}: {kind.value} data not a dict"
                found = {k.value for k in data.keys if isinstance(k, ast.Constant)}
                keys.setdefault(str(kind.value), set()).update(found)
    return keys


def test_every_event_type_is_emitted_and_its_data_documented(api_page: str) -> None:
    section = api_page.split("## Events", 1)[1].split("\n## ", 1)[0]
    rows = table_rows(section)
    emitted = emitted_data_keys()
    assert sorted(emitted) == sorted(EVENT_TYPES), "EVENT_TYPES and the emit(...) calls differ"
    undocumented = []
    for kind, data_keys in emitted.items():
        cell = rows[kind][3]
        same_as = re.match(r"same as `([a-z_.]+)`", cell)
        if same_as:
            cell = rows[same_as.group(1)][3]
        documented = set(re.findall(r"\w+", cell.split("—", 1)[0]))
        undocumented += [f"{kind}: {key}" for key in sorted(data_keys - documented)]
    assert undocumented == [], "event data fields missing from the events table"


def test_api_page_explains_the_contracts(api_page: str) -> None:
    for phrase in (
        "Authorization: Bearer",
        "txn_id",
        "(since, next]",
        "`limited`",
        '{"position": 4, "type": "message.created", "at": ',
        "next_cursor",
        "before_cursor",
        "after_cursor",
    ):
        assert phrase in api_page, phrase


# --- the OpenAPI schema ---------------------------------------------------------------


def test_every_operation_declares_its_response_schema(openapi: OpenApi) -> None:
    undeclared = []
    for method, path, operation in operations(openapi):
        success = [code for code in operation["responses"] if code.startswith("2")]
        if not success:
            undeclared.append(f"{method.upper()} {path}: no success response")
        for code in success:
            if code == "204" or path == "/metrics":
                continue
            content = operation["responses"][code].get("content", {})
            # JSON, or the bytes of a download (declared as a binary string)
            if not any(media.get("schema") for media in content.values()):
                undeclared.append(f"{method.upper()} {path}: {code} has no response schema")
    assert undeclared == []


def test_every_operation_with_a_body_declares_its_schema(openapi: OpenApi) -> None:
    bodiless = []
    for method, path, operation in operations(openapi):
        body = operation.get("requestBody")
        if body is None:
            if method in ("post", "put", "patch"):
                bodiless.append(f"{method.upper()} {path}")
            continue
        content = body.get("content", {})  # JSON, or an upload's multipart form
        schema = (content.get("application/json") or content.get("multipart/form-data") or {}).get(
            "schema"
        )
        assert schema, f"{method.upper()} {path} has a request body without a schema"
    # Only actions that need nothing but their path take no body.
    assert sorted(bodiless) == [
        "POST /api/v1/businesses/{handle}/broadcasts/{broadcast_id}/cancel",
        "POST /api/v1/businesses/{handle}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        "POST /api/v1/businesses/{handle}/webhooks/{webhook_id}/rotate-secret",
        "POST /api/v1/businesses/{handle}/webhooks/{webhook_id}/test",
        "POST /api/v1/conversations/{conversation_id}/accept",
        "POST /api/v1/conversations/{conversation_id}/messages/{message_id}/unsend",
        "POST /api/v1/me/exports",
        "PUT /api/v1/businesses/{handle}/approvals/restricted/{member}",
        "PUT /api/v1/businesses/{handle}/conversations/{conversation_id}/labels/{label_id}",
        "PUT /api/v1/businesses/{handle}/teams/{team_id}/members/{member}",
        "PUT /api/v1/users/{handle}/block",
        "PUT /api/v1/users/{handle}/follow",
    ]


# --- the README and links -------------------------------------------------------------


def test_readme_quick_start() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)", quick_start, re.M)
    assert commands == ["make run", "make test"]
    for page in PAGES:
        assert f"docs/{page}.md" in readme


def test_relative_links_resolve() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not (page.parent / target).exists():
                broken.append(f"{page.name}: {target}")
    assert broken == []


def test_every_stream_close_code_is_documented(api_page: str) -> None:
    from backchannel.api import fanout

    section = api_page.split("## WebSocket", 1)[1].split("\n## ", 1)[0]
    rows = table_rows(section)
    codes = {name: value for name, value in vars(fanout).items() if name.startswith("CLOSE_")}
    assert len(codes) >= 6
    missing = [f"{name} = {value}" for name, value in codes.items() if str(value) not in rows]
    assert missing == [], "close codes missing from the WebSocket section of docs/api.md"
