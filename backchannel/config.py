"""Every setting, declared once.

Each field carries its type, default and help text; environment variables
(`BACKCHANNEL_<NAME>`), the optional TOML file, the CLI flags and
docs/configuration.md all derive from this declaration. Build one with
`load_settings()`; nothing here runs at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "BACKCHANNEL_CONFIG"


class Settings(BaseSettings):
    """Backchannel's configuration. Frozen: build a new one instead of mutating."""

    model_config = SettingsConfigDict(env_prefix="BACKCHANNEL_", frozen=True, extra="forbid")

    # --- server -------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Interface the HTTP server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port the HTTP server listens on.")
    data_dir: Path = Field(
        Path("var"),
        description="Directory for the embedded SQLite database and local files.",
    )
    database_url: SecretStr | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the database. Empty: SQLite at `<data_dir>/backchannel.db`. "
            "PostgreSQL: `postgresql://user:pass@host:5432/db`."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Minimum level of log records written."
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="`json`: one JSON object per line; `text`: human-readable lines."
    )
    shutdown_timeout_seconds: float = Field(
        10.0, gt=0, description="How long a graceful shutdown waits for requests in flight."
    )

    redis_url: SecretStr | None = Field(
        None,
        description="Redis URL (`redis://host:6379/0`) shared by the nodes of one deployment: "
        "commits on one node wake readers on all. Empty: in-process only (one node).",
    )
    sync_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="On a shared database, how often a waiting reader re-reads the log even "
        "without a wake-up: the safety net for other nodes' commits (and lost broker messages).",
    )

    # --- store --------------------------------------------------------------
    read_pool_size: int = Field(
        2,
        ge=1,
        le=64,
        description="Database connections (and threads) used for reads. Reads are mostly "
        "Python work under the GIL, so more threads rarely help on SQLite.",
    )
    auth_cache_seconds: float = Field(
        10.0,
        ge=0,
        description="How long a node remembers a valid bearer token. A logout or revocation "
        "takes effect at once on the node that handled it and within this time on others.",
    )
    group_commit_max: int = Field(
        512,
        ge=1,
        description="Most write operations committed together in one transaction (group commit).",
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL",
        description="SQLite `synchronous` pragma. FULL: an acknowledged write survives power loss.",
    )

    # --- accounts -----------------------------------------------------------
    argon2_time_cost: int = Field(3, ge=1, description="argon2id passes per password hash.")
    argon2_memory_kib: int = Field(
        65536, ge=8, description="argon2id memory per password hash, in KiB."
    )
    argon2_parallelism: int = Field(1, ge=1, description="argon2id lanes per password hash.")
    min_password_length: int = Field(8, ge=6, description="Shortest password accepted.")

    # --- messaging ----------------------------------------------------------
    max_message_length: int = Field(
        4096, ge=1, le=65536, description="Longest message text, in Unicode code points."
    )
    edit_window_seconds: int = Field(
        900, ge=0, description="How long after sending its sender may edit a message."
    )
    max_group_size: int = Field(
        250, ge=2, description="Most members a group conversation may have, creator included."
    )
    max_forward_targets: int = Field(
        5, ge=1, description="Most conversations one forward action may send to."
    )
    max_reactions_per_user: int = Field(
        3, ge=1, description="Most distinct emoji one person may put on one message."
    )

    # --- sync ---------------------------------------------------------------
    sync_max_timeout_ms: int = Field(
        30000, ge=0, description="Longest a `GET /api/v1/sync` long-poll waits for new events."
    )
    stream_auth_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="How long a new WebSocket at /api/v1/stream may take to authenticate.",
    )
    stream_queue_size: int = Field(
        256,
        ge=1,
        description="Frames a WebSocket may have waiting to be sent; a client that falls "
        "further behind is closed with code 4008 (resync from your last position).",
    )
    stream_stall_seconds: float = Field(
        10.0,
        gt=0,
        description="How long a WebSocket replaying a backlog may take to accept the next "
        "frames before it is closed with code 4008 (resync from your last position).",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins (e.g. `https://chat.example.com`) allowed to open the "
        "WebSocket, besides the server's own. Clients that send no Origin are not browsers "
        "and are allowed.",
    )
    sync_batch_limit: int = Field(
        500, ge=1, description="Most events returned by one sync response."
    )
    stream_heartbeat_seconds: float = Field(
        30.0,
        gt=0,
        description='How often a WebSocket client should send a frame (`{"op": "ping"}` '
        "will do) when it has nothing else to send; told to clients in the `ready` frame.",
    )
    stream_idle_timeout_seconds: float = Field(
        75.0,
        gt=0,
        description="A WebSocket whose client sends no frame for this long is closed with "
        "code 4009 (reconnect and resume): it is gone, or too far away to be useful.",
    )
    stream_compression: bool = Field(
        False,
        description="Offer permessage-deflate on WebSockets. Off: chat frames are small, and "
        "each compressed socket keeps zlib state (tens of KiB) and costs CPU per frame.",
    )
    stream_ping_interval_seconds: float = Field(
        20.0,
        gt=0,
        description="How often the server sends a WebSocket protocol ping to every socket.",
    )
    stream_ping_timeout_seconds: float = Field(
        20.0,
        gt=0,
        description="A socket that does not answer a protocol ping within this time is closed "
        "(a dead peer or a half-open TCP connection).",
    )

    # --- presence -----------------------------------------------------------
    presence_grace_seconds: float = Field(
        5.0,
        ge=0,
        description="How long after someone's last WebSocket closes before they are shown "
        "inactive: a client that reconnects within it does not flicker.",
    )
    presence_refresh_seconds: float = Field(
        60.0,
        gt=0,
        description='How often each node records "last active" for the users connected to '
        'it (one batched write): after a crash, "last active" is behind by at most this.',
    )

    # --- who may reach whom ---------------------------------------------------

    # --- rate limits and trust tiers --------------------------------------------

    # --- spam and phishing filtering -------------------------------------------

    # --- moderation ----------------------------------------------------------------

    @field_validator("database_url", "redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        """The database URL with the embedded default filled in and the driver chosen."""
        if self.database_url is None:
            return f"sqlite:///{(self.data_dir / 'backchannel.db').resolve()}"
        url = self.database_url.get_secret_value()
        for prefix in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url


def load_settings(**overrides: Any) -> Settings:
    """Settings from init overrides, then `BACKCHANNEL_*` env vars, then the TOML file."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
