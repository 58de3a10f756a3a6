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
    dm_inbox_default: Literal["everyone", "following", "nobody"] = Field(
        "following",
        description="Whom a user who never chose lets straight into their inbox: `everyone`, "
        "`following` (people they follow) or `nobody` new. Everyone else may send a request.",
    )
    dm_requests_default: Literal["everyone", "followers", "nobody"] = Field(
        "everyone",
        description="Who may send a message request to a user who never chose: `everyone`, "
        "`followers` (people who follow them) or `nobody`.",
    )
    dm_min_age: int = Field(
        16,
        ge=0,
        le=30,
        description="Below this age (from the account's birth date) only people a user follows "
        "and who follow them back can message them, and they receive no requests.",
    )
    request_message_limit: int = Field(
        1,
        ge=1,
        le=20,
        description="Messages (text only) someone may send in a message request before the "
        "recipient accepts it.",
    )
    request_ttl_seconds: float = Field(
        30 * 86400,
        gt=0,
        description="A request nobody answered for this long (30 days) expires: it leaves the "
        "recipient's Requests folder, and the sender may ask again.",
    )
    request_cooldown_seconds: float = Field(
        30 * 86400,
        ge=0,
        description="After a recipient deletes a request, how long (30 days) before the same "
        "sender's messages reach them as a new request. The sender is not told either way.",
    )

    # --- rate limits and trust tiers --------------------------------------------
    rate_limits: bool = Field(
        True,
        description="Enforce the per-sender and per-IP limits below. Off only for load tests "
        "and closed deployments. Each limit lets a burst of its size through, then refills "
        "evenly over its period; past it, requests get `429 rate_limited` with `Retry-After`. "
        "With `redis_url` set, all nodes share each budget.",
    )
    trust_new_days: float = Field(
        7.0,
        ge=0,
        description='Accounts younger than this (days) are in the "new" trust tier.',
    )
    trust_trusted_days: float = Field(
        90.0,
        ge=0,
        description='Accounts at least this old (days) with a clean record are "trusted"; '
        'in between they are "regular". A poor record (requests often declined, reports, '
        "a moderator warning) drops an account one tier. At least `trust_new_days`.",
    )
    limit_new_conversations_per_day: dict[str, int] = Field(
        default_factory=lambda: {"new": 20, "regular": 50, "trusted": 100},
        description="New conversations and message requests one sender may start per day, "
        'by trust tier: an object with the keys "new", "regular" and "trusted", each ≥ 1 '
        '(a JSON object in the environment: `{"new": 20, "regular": 50, "trusted": 100}`).',
    )
    limit_messages_per_minute: dict[str, int] = Field(
        default_factory=lambda: {"new": 30, "regular": 60, "trusted": 120},
        description="Messages one sender may send per minute, by trust tier (keys and "
        "format as above).",
    )
    limit_forwards_per_action: dict[str, int] = Field(
        default_factory=lambda: {"new": 5, "regular": 5, "trusted": 5},
        description="Conversations one forward may send to, by trust tier (keys and format "
        "as above); never more than `max_forward_targets`.",
    )
    limit_group_size: dict[str, int] = Field(
        default_factory=lambda: {"new": 32, "regular": 128, "trusted": 250},
        description="Most members a group may reach when its creator or the member adding "
        "people is of this trust tier (keys and format as above); never more than "
        "`max_group_size`.",
    )
    limit_group_creations_per_day: dict[str, int] = Field(
        default_factory=lambda: {"new": 5, "regular": 20, "trusted": 50},
        description="Groups one account may create per day, by trust tier (keys and format "
        "as above).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        description="Networks (CIDR, e.g. `10.0.0.0/8`) of the reverse proxies whose "
        "`X-Forwarded-For` header is believed. A request from anywhere else is identified by "
        "its peer address, whatever headers it sends. Empty: no proxy is believed.",
    )
    limit_accounts_per_ip_per_hour: int = Field(
        10,
        ge=1,
        description="Account creations attempted from one client IP per hour (an IPv6 client "
        "counts by its /64), whether or not they succeed.",
    )
    limit_logins_per_ip_per_minute: int = Field(
        20,
        ge=1,
        description="Login attempts from one client IP per minute (IPv6: per /64), "
        "successful and failed alike.",
    )
    limit_logins_per_handle_per_minute: int = Field(
        10,
        ge=1,
        description="Login attempts naming one handle per minute, from anywhere, successful "
        "and failed alike: slows password guessing spread over many addresses. While it is "
        "exceeded, the account's owner cannot log in either.",
    )

    @field_validator(
        "limit_new_conversations_per_day",
        "limit_messages_per_minute",
        "limit_forwards_per_action",
        "limit_group_size",
        "limit_group_creations_per_day",
    )
    @classmethod
    def _per_tier(cls, value: dict[str, int], info: Any) -> dict[str, int]:
        tiers = ("new", "regular", "trusted")
        if sorted(value) != sorted(tiers):
            raise ValueError(
                f"{info.field_name} needs exactly the keys new, regular and trusted; "
                f"got {', '.join(sorted(value)) or 'none'}"
            )
        low = [f"{tier}={value[tier]}" for tier in tiers if value[tier] < 1]
        if low:
            raise ValueError(f"{info.field_name}: each limit must be ≥ 1; got {', '.join(low)}")
        return {tier: value[tier] for tier in tiers}

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        import ipaddress  # here, not at the top: this section's settings keep to themselves

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=True)
            except ValueError as exc:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not a network in CIDR notation "
                    f"(expected e.g. 10.0.0.0/8, 192.0.2.7/32 or 2001:db8::/32): {exc}"
                ) from None
        return value

    @field_validator("trust_trusted_days")
    @classmethod
    def _trusted_after_new(cls, value: float, info: Any) -> float:
        new_days = info.data.get("trust_new_days")
        if new_days is not None and value < new_days:
            raise ValueError(
                f"trust_trusted_days ({value}) must be at least trust_new_days ({new_days})"
            )
        return value

    # --- spam and phishing filtering -------------------------------------------
    spam_filter: bool = Field(
        True, description="Run the spam and phishing checks on every message and request."
    )
    spam_blocked_domains: list[str] = Field(
        default_factory=list,
        description="Domains (e.g. `evil.example`) whose links are refused; a blocked domain "
        "also blocks its subdomains.",
    )
    spam_hide_score: int = Field(
        40,
        ge=1,
        le=100,
        description="Spam score (0 to 100) from which a request goes to Hidden Requests and a "
        "message is hidden behind a warning. A recipient's hidden words reach it on their own.",
    )
    spam_hold_score: int = Field(
        70,
        ge=1,
        le=100,
        description="Spam score from which a message is held for a moderator before delivery.",
    )
    spam_reject_score: int = Field(
        90,
        ge=1,
        le=100,
        description="Spam score from which a message is refused, with the reasons, to its sender.",
    )
    spam_hooks: list[str] = Field(
        default_factory=list,
        description="Dotted paths `module:function` of extra checks, each called with the "
        "message context and its links and returning signals (see `backchannel.domain.spam`). "
        "A hook that raises is skipped with a warning.",
    )

    # --- moderation ----------------------------------------------------------------

    # --- media: kinds and limits --------------------------------------------------
    media_max_image_bytes: int = Field(
        20_000_000,
        ge=1,
        description="Largest still image (JPEG, PNG, WebP) one upload may be, in bytes.",
    )
    media_max_gif_bytes: int = Field(
        20_000_000,
        ge=1,
        description="Largest GIF, or animated WebP or PNG (they count as GIFs), in bytes.",
    )
    media_max_video_bytes: int = Field(
        100_000_000, ge=1, description="Largest video (MP4, WebM), in bytes."
    )
    media_max_audio_bytes: int = Field(
        50_000_000,
        ge=1,
        description="Largest audio file (MP3, AAC, M4A, Ogg Opus or Vorbis, WAV, WebM audio), "
        "in bytes.",
    )
    media_max_voice_bytes: int = Field(
        20_000_000,
        ge=1,
        description="Largest voice note (audio the client sends as a voice note), in bytes.",
    )
    media_max_document_bytes: int = Field(
        100_000_000,
        ge=1,
        description="Largest document (PDF, text, CSV, Office, OpenDocument, ZIP, or any "
        "accepted file sent as a document), in bytes. The largest of these six limits is where "
        "an upload is cut off, before its type is known.",
    )
    media_max_image_pixels: int = Field(
        50_000_000,
        ge=1,
        description="Most pixels (width x height) an image may have; for an animated WebP or "
        "PNG, all its frames together. More is refused as a decompression bomb (`media_bomb`). "
        "Pillow's own ceiling, about 89 million pixels, applies above this.",
    )
    media_max_gif_frames: int = Field(
        1000,
        ge=1,
        description="Most frames an animated image (GIF, WebP, PNG) may have; more is refused "
        "as a decompression bomb (`media_bomb`).",
    )
    media_thumbnail_size: int = Field(
        320,
        ge=16,
        le=4096,
        description="Longer side, in pixels, of the thumbnails made of images, GIFs (their first "
        "frame) and video posters; smaller pictures are not enlarged.",
    )

    # --- media storage ---------------------------------------------------------------
    media_backend: Literal["local", "s3"] = Field(
        "local",
        description="Where uploaded media is kept. `local`: files under `<data_dir>/media/`, "
        "for one node (or nodes sharing that directory); `s3`: objects in `s3_bucket` of an "
        "S3-compatible store (AWS S3, MinIO, Ceph…), shared by every node.",
    )
    s3_bucket: str | None = Field(
        None,
        validate_default=True,
        description="With `media_backend = s3`: the bucket media is kept in (it must exist). "
        "Required then; unused otherwise.",
    )
    s3_endpoint_url: str | None = Field(
        None,
        description="URL of an S3-compatible server (`http://minio:9000`), addressed "
        "path-style. Empty: AWS S3 in `s3_region`.",
    )
    s3_region: str = Field(
        "us-east-1",
        description="Region of the bucket, used to sign requests; most S3-compatible "
        "servers accept any.",
    )
    s3_access_key_id: str | None = Field(
        None,
        description="Access key id for S3, paired with `s3_secret_access_key`. Empty (both): "
        "boto3's usual chain — `AWS_*` environment variables, `~/.aws`, an instance or pod "
        "role.",
    )
    s3_secret_access_key: SecretStr | None = Field(
        None,
        validate_default=True,
        description="The secret of `s3_access_key_id`: set both or neither.",
    )
    s3_prefix: str = Field(
        "",
        description="Prefix of every object key (`backchannel/`; a missing trailing `/` is "
        "added), to share a bucket. Empty: keys at the bucket's root.",
    )

    @field_validator(
        "s3_bucket", "s3_endpoint_url", "s3_access_key_id", "s3_secret_access_key", mode="before"
    )
    @classmethod
    def _s3_empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("s3_bucket")
    @classmethod
    def _s3_bucket_for_s3(cls, value: str | None, info: Any) -> str | None:
        if value is None and info.data.get("media_backend") == "s3":
            raise ValueError(
                "media_backend is s3, so s3_bucket must name the bucket (BACKCHANNEL_S3_BUCKET)"
            )
        return value

    @field_validator("s3_secret_access_key")
    @classmethod
    def _s3_key_pair(cls, value: SecretStr | None, info: Any) -> SecretStr | None:
        if (value is None) != (info.data.get("s3_access_key_id") is None):
            raise ValueError(
                "s3_access_key_id and s3_secret_access_key go together: set both or neither"
            )
        return value

    limit_uploads_per_hour: int = Field(
        200,
        ge=1,
        description="Uploads one account may make in an hour (with `rate_limits` on): what "
        "keeps a script from filling the media store.",
    )
    media_url_secret: SecretStr | None = Field(
        None,
        description="Key that signs short-lived media links (for `<img>` and players that "
        "cannot send a bearer token). Empty: a key kept in `<data_dir>/media-url.key`, "
        "shared by the processes of one data directory; set it on multi-node deployments.",
    )
    media_unattached_ttl_seconds: float = Field(
        86400.0,
        gt=0,
        description="Uploads never attached to a message are deleted after this long.",
    )
    media_sweep_seconds: float = Field(
        600.0,
        gt=0,
        description="How often each node looks for uploads to delete.",
    )

    # --- account erasure and retention (issue 8) -----------------------------------------
    account_erasure_messages: Literal["erase", "keep"] = Field(
        "erase",
        description='What "Delete my account" does to the person\'s messages: `erase` turns '
        "each into a content-free tombstone for everyone; `keep` leaves them, shown as from "
        'a "Deleted user" (no handle, no name).',
    )
    erased_handle_hold_days: int = Field(
        30,
        ge=0,
        description="Days before the handle of a deleted account may be registered again (so "
        "nobody takes it over at once to pass as the person who left); 0: at once.",
    )
    message_retention_days: int = Field(
        0,
        ge=0,
        description="Messages older than this many days are erased for everyone (tombstones, "
        "media removed) by a periodic job; 0: kept for ever.",
    )
    retention_check_seconds: float = Field(
        3600.0,
        gt=0,
        description="How often the retention job looks for messages past `message_retention_days`.",
    )
    erasure_batch_size: int = Field(
        500,
        ge=1,
        le=10000,
        description="Messages or uploads an account erasure or the retention purge handles "
        "per transaction (each batch commits on its own, so an interrupted one goes on).",
    )

    # --- data exports (issue 8) ---------------------------------------------------------
    export_retention_seconds: float = Field(
        7 * 86400.0,
        gt=0,
        description="How long a finished data export (a person's, or an operator's) is kept "
        "for download; then its ZIP is deleted.",
    )
    export_link_seconds: float = Field(
        3600.0,
        gt=0,
        description="How long a signed download link of a person's export stays valid (never "
        "past the export's own expiry).",
    )
    export_min_interval_seconds: float = Field(
        86400.0,
        ge=0,
        description="How soon after asking for an export a person may ask for another (one is "
        "built at a time in any case).",
    )

    # --- jobs ---------------------------------------------------------------------------
    jobs_enabled: bool = Field(
        True,
        description="Run due jobs (snooze endings, webhook deliveries, scheduled sends) in "
        "this process. At scale, any number of nodes may run them; turn it off on nodes that "
        "should only serve requests.",
    )
    jobs_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="How often a node looks for due jobs that another node enqueued (its own "
        "wake it at once).",
    )
    jobs_concurrency: int = Field(
        8, ge=1, description="How many jobs one node runs at once (webhook deliveries wait)."
    )
    jobs_lease_seconds: float = Field(
        120.0,
        gt=0,
        description="How long a node holds a job it took; if it dies, another node runs the "
        "job after this.",
    )
    broadcast_batch_size: int = Field(
        50,
        ge=1,
        le=1000,
        description="Most messages a business's broadcast sends in one go before it pauses "
        "(the pace also keeps within `broadcast_rate_share` of the business's limit).",
    )
    broadcast_rate_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Share of a business's messages-a-minute limit (`limit_messages_per_"
        "minute`, by its trust tier) a broadcast may use, so the team can still reply.",
    )
    jobs_max_attempts: int = Field(
        10,
        ge=1,
        description="Attempts before a failing job is kept as failed (retried with "
        "exponential backoff and jitter in between, from 5 s up to 6 h).",
    )

    # --- webhooks and API tokens (issue 7) ---------------------------------------------
    webhook_allow_http: bool = Field(
        False,
        description="Allow business webhooks to plain `http://` URLs (their deliveries are "
        "signed but not encrypted). Off: `https://` only.",
    )
    webhook_allowed_networks: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR, e.g. `127.0.0.1/32`) that webhooks may be delivered to "
        "although they are internal. For tests and closed networks only: a business's admin "
        "can make the server POST to any address there.",
    )
    webhook_connect_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a webhook delivery waits to connect to its endpoint."
    )
    webhook_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="How long one webhook delivery attempt may take in all (name lookup, "
        "connection, request and response); slower counts as a failed attempt.",
    )
    webhook_disable_after: int = Field(
        25,
        ge=1,
        description="Failed delivery attempts in a row (any of the endpoint's deliveries) after "
        "which a webhook is turned off and the business's owners and admins are told.",
    )
    webhook_log_days: float = Field(
        30.0,
        gt=0,
        description="How long finished webhook deliveries stay in the delivery log.",
    )

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _webhook_cidrs(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=True)
            except ValueError as exc:
                raise ValueError(
                    f"webhook_allowed_networks: {entry!r} is not a network in CIDR notation "
                    f"(expected e.g. 127.0.0.1/32 or 10.0.0.0/8): {exc}"
                ) from None
        return value

    # --- link previews ---------------------------------------------------------------
    link_previews: bool = Field(
        True,
        description="Show a preview (title, description, site name, image) of the first link "
        "of a message, fetched by the server. Off: no preview is fetched, nothing leaves the "
        "server. Previews never fetch from private, loopback, link-local, cloud metadata or "
        "other internal addresses, nor from ports other than 80 and 443.",
    )
    preview_allowed_networks: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR, e.g. `127.0.0.1/32`) that previews may fetch from although "
        "they are internal, on any port. For tests and closed networks only: anyone who can "
        "send a message can make the server request any URL there. Logged as a warning.",
    )
    preview_connect_timeout_seconds: float = Field(
        3.0, gt=0, description="How long a link preview waits to connect to a site."
    )
    preview_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="How long fetching one link preview (or its image) may take in all: "
        "name lookups, connections, redirects and reading.",
    )
    preview_max_page_bytes: int = Field(
        512 * 1024,
        ge=1024,
        description="Most bytes of a page read for its preview; the rest is not downloaded.",
    )
    preview_cache_seconds: float = Field(
        3600.0, ge=0, description="How long a fetched link preview is reused."
    )
    preview_failure_cache_seconds: float = Field(
        300.0,
        ge=0,
        description="How long a link that gave no preview (refused, failed, no metadata) is "
        "not fetched again.",
    )
    preview_cache_entries: int = Field(
        1000, ge=0, description="Most link previews (and failures) kept in each node's cache."
    )

    @field_validator("preview_allowed_networks")
    @classmethod
    def _preview_cidrs(cls, value: list[str]) -> list[str]:
        import ipaddress  # here, not at the top: this section's settings keep to themselves

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=True)
            except ValueError as exc:
                raise ValueError(
                    f"preview_allowed_networks: {entry!r} is not a network in CIDR notation "
                    f"(expected e.g. 127.0.0.1/32 or 10.0.0.0/8): {exc}"
                ) from None
        return value

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
