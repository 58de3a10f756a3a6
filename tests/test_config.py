"""Settings: declared once, read from init values, env vars and a TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from backchannel.config import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BACKCHANNEL_CONFIG", "BACKCHANNEL_DATABASE_URL", "BACKCHANNEL_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.port == 8000 and settings.host == "127.0.0.1"
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'backchannel.db')}"
    assert settings.sqlite_synchronous == "FULL"


def test_toml_file_then_env_then_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "backchannel.toml"
    config.write_text('port = 9001\nmax_group_size = 42\nlog_format = "text"\n')
    monkeypatch.setenv("BACKCHANNEL_CONFIG", str(config))
    settings = load_settings()
    assert (settings.port, settings.max_group_size, settings.log_format) == (9001, 42, "text")
    monkeypatch.setenv("BACKCHANNEL_PORT", "9002")
    assert load_settings().port == 9002  # env beats the file
    assert load_settings(port=9003).port == 9003  # flags beat both


def test_bad_values_are_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKCHANNEL_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="port"):
        load_settings()


def test_unknown_keys_in_the_file_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "backchannel.toml"
    config.write_text("prot = 1\n")
    monkeypatch.setenv("BACKCHANNEL_CONFIG", str(config))
    with pytest.raises(ValidationError, match="prot"):
        load_settings()


def test_database_url_is_secret_and_postgres_gets_its_driver() -> None:
    settings = load_settings(database_url="postgresql://app:hunter2@db:5432/chat")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert settings.resolved_database_url == "postgresql+psycopg://app:hunter2@db:5432/chat"


def test_every_setting_has_help_text() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} needs a description"
