"""Docs as code: the docs name every setting, route, error code and event type."""

from __future__ import annotations

from pathlib import Path

import pytest

from backchannel.app import create_app
from backchannel.config import Settings, load_settings
from backchannel.docgen import render
from backchannel.errors import CODES
from backchannel.services.events import EVENT_TYPES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    app = create_app(load_settings(data_dir=tmp_path_factory.mktemp("docs")))
    return app.openapi()


def test_configuration_page_is_generated_from_the_settings() -> None:
    page = (DOCS / "configuration.md").read_text()
    assert page == render(), "docs/configuration.md is stale: run `make docs`"
    for name in Settings.model_fields:
        assert f"`BACKCHANNEL_{name.upper()}`" in page


def test_every_route_is_documented(openapi: dict) -> None:  # type: ignore[type-arg]
    page = (DOCS / "api.md").read_text()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in openapi["paths"].items()
        for method in operations
        if f"`{method.upper()} {path}`" not in page
    ]
    assert missing == []


def test_every_error_code_and_event_type_is_documented() -> None:
    page = (DOCS / "api.md").read_text()
    assert [code for code in CODES if f"`{code}` | {CODES[code][0]}" not in page] == []
    assert [kind for kind in EVENT_TYPES if f"| `{kind}` |" not in page] == []


def test_every_operation_declares_its_schemas(openapi: dict) -> None:  # type: ignore[type-arg]
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            success = [code for code in operation["responses"] if code.startswith("2")]
            assert success, where
            for code in success:
                if code == "204" or path in ("/metrics", "/openapi.json"):
                    continue
                content = operation["responses"][code].get("content", {})
                schema = content.get("application/json", {}).get("schema")
                assert schema, f"{where} {code} has no response schema"
            if method in ("post", "put", "patch") and "requestBody" not in operation:
                # only bodiless actions: unsend, follow
                assert path.endswith(("/unsend", "/follow")), f"{where} has no request body"


def test_readme_quick_start() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    for page in ("architecture", "api", "configuration", "operations", "performance"):
        assert (DOCS / f"{page}.md").exists()
        assert f"docs/{page}.md" in readme
