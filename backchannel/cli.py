"""The `backchannel` command. Each command builds settings and calls services."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from backchannel import __version__
from backchannel.config import Settings, load_settings

T = TypeVar("T")

app = typer.Typer(
    help="Backchannel: self-hostable direct messaging.",
    no_args_is_help=True,
    add_completion=False,
)
user_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
console = Console()

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Directory for the embedded database and files."),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Database URL (default: SQLite under the data dir). Env: BACKCHANNEL_DATABASE_URL.",
    ),
]


def _settings(data_dir: Path | None, database_url: str | None, **extra: Any) -> Settings:
    return load_settings(data_dir=data_dir, database_url=database_url, **extra)


def _migrate(settings: Settings) -> str:
    from backchannel.app import build_store
    from backchannel.store import migrate

    store = build_store(settings)
    engine = store.migration_engine()
    try:
        migrate.upgrade(engine)
        return migrate.head_revision()
    finally:
        engine.dispose()


def _with_core(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run `fn(core)` against the configured database, outside any server."""
    from backchannel.app import NotMigrated, build_store, check_migrated
    from backchannel.broker.local import LocalBroker
    from backchannel.observability import Metrics
    from backchannel.services.core import Core

    async def run() -> T:
        store = build_store(settings)
        try:
            check_migrated(store)
        except NotMigrated as exc:
            _fail(str(exc))
        core = Core(settings=settings, store=store, broker=LocalBroker(), metrics=Metrics())
        await store.start()
        try:
            return await fn(core)
        finally:
            await store.close()

    return asyncio.run(run())


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command()
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply database migrations (creates the SQLite database if needed)."""
    settings = _settings(data_dir, database_url)
    console.print(f"database migrated to revision {_migrate(settings)}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="Refuse to start on an unmigrated database.")
    ] = False,
) -> None:
    """Serve the HTTP API (migrating the database first unless --no-migrate)."""
    import uvicorn

    from backchannel.api.fanout import CLOSE_SERVICE_RESTART
    from backchannel.app import NotMigrated, check_migrated, create_app
    from backchannel.observability import configure_logging

    settings = _settings(data_dir, database_url, host=host, port=port)
    configure_logging(settings.log_level, settings.log_format)
    if not no_migrate:
        _migrate(settings)
    try:
        if settings.database_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        check_migrated(settings.resolved_database_url)
    except NotMigrated as exc:
        _fail(str(exc))
    application = create_app(settings)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Like uvicorn's, without re-raising the signal after shutdown:
            # SIGTERM is the normal way to stop, so it exits 0.
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            else:
                self.should_exit = True

        async def shutdown(self, sockets: Any = None) -> None:
            # Before uvicorn waits for requests in flight: long-polls return now.
            core = getattr(application.state, "core", None)
            if core is not None:
                core.shutting_down = True
                core.broker.wake_all()
                application.state.fanout.stop_all(CLOSE_SERVICE_RESTART)
            await super().shutdown(sockets)

    server = Server(
        uvicorn.Config(
            application,
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http="httptools",
            ws="websockets-sansio",
            ws_per_message_deflate=settings.stream_compression,
            ws_ping_interval=settings.stream_ping_interval_seconds,
            ws_ping_timeout=settings.stream_ping_timeout_seconds,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout_seconds),
            server_header=False,
        )
    )
    server.run()
    if not server.started:
        raise typer.Exit(3)


DEMO_PASSWORD = "demo-password"
DEMO_USERS = [
    ("alice", "Alice Liddell"),
    ("bob", "Bob Builder"),
    ("carol", "Carol Danvers"),
    ("dave", "Dave Bowman"),
]


async def seed_demo(core: Any) -> None:
    """Demo accounts, follows and conversations, made through the services."""
    from backchannel.services import accounts, conversations, messages, social
    from backchannel.services.core import Requester

    people: dict[str, Requester] = {}
    for handle, name in DEMO_USERS:
        _profile, token = await accounts.register(
            core, handle=handle, password=DEMO_PASSWORD, display_name=name, device_name="demo"
        )
        people[handle] = await accounts.authenticate(core, token)
    for a, b in [("alice", "bob"), ("bob", "alice"), ("carol", "alice"), ("dave", "bob")]:
        await social.set_follow(core, people[a], b, follow=True)
    direct, _ = await conversations.open_direct(core, people["alice"], ["bob"])
    for sender, text in [
        ("alice", "Hey Bob! Did you see the new release?"),
        ("bob", "Yes, the sync is so fast now."),
        ("alice", "Want to try the group chat?"),
    ]:
        await messages.send_message(core, people[sender], direct["id"], txn_id=None, text=text)
    group = await conversations.create_group(
        core, people["carol"], ["alice", "bob", "dave"], "Weekend plans"
    )
    for sender, text in [
        ("carol", "Hiking on Saturday?"),
        ("dave", "I'm in."),
        ("alice", "Count me in 🏔️"),
    ]:
        await messages.send_message(core, people[sender], group["id"], txn_id=None, text=text)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    keep: Annotated[bool, typer.Option(help="Keep the throw-away data dir on exit.")] = False,
) -> None:
    """Serve a throw-away SQLite database seeded with demo accounts and conversations."""
    data_dir = Path(tempfile.mkdtemp(prefix="backchannel-demo-"))
    os.environ.pop("BACKCHANNEL_DATABASE_URL", None)
    settings = load_settings(data_dir=data_dir, host=host, port=port)
    _migrate(settings)
    _with_core(settings, seed_demo)
    console.print(f"[bold]Backchannel demo[/bold] on http://{host}:{port}  (data: {data_dir})")
    console.print(
        "logins: " + ", ".join(h for h, _ in DEMO_USERS) + f" — password {DEMO_PASSWORD!r}"
    )
    try:
        serve(host=host, port=port, data_dir=data_dir, database_url=None, no_migrate=True)
    finally:
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)


@user_app.command("create")
def user_create(
    handle: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    display_name: Annotated[str | None, typer.Option(help="Shown instead of the handle.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an account."""
    from backchannel.errors import BackchannelError
    from backchannel.services import accounts

    settings = _settings(data_dir, database_url)
    try:
        profile = _with_core(
            settings,
            lambda core: accounts.create_user_admin(
                core, handle=handle, password=password, display_name=display_name
            ),
        )
    except BackchannelError as exc:
        _fail(exc.message)
    console.print(f"created @{profile['handle']} ({profile['id']})")


@user_app.command("list")
def user_list(
    all_: Annotated[bool, typer.Option("--all", help="Include deactivated accounts.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List accounts."""
    from backchannel.services import accounts

    settings = _settings(data_dir, database_url)
    users = _with_core(settings, lambda core: accounts.list_users(core, include_deactivated=all_))
    table = Table("handle", "display name", "id", "created", "status")
    for user in users:
        table.add_row(
            user["handle"] or "—",
            user["display_name"],
            user["id"],
            user["created_at"],
            "deactivated" if user["deleted"] else "active",
        )
    console.print(table)


@user_app.command("set-password")
def user_set_password(
    handle: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set an account's password and log it out everywhere."""
    from backchannel.errors import BackchannelError
    from backchannel.services import accounts

    settings = _settings(data_dir, database_url)
    try:
        _with_core(settings, lambda core: accounts.set_password_admin(core, handle, password))
    except BackchannelError as exc:
        _fail(exc.message)
    console.print(f"password changed for @{handle}; all sessions revoked")


@user_app.command("deactivate")
def user_deactivate(
    handle: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Deactivate an account: profile erased, sessions revoked, groups left."""
    from backchannel.errors import BackchannelError
    from backchannel.services import accounts

    if not yes:
        typer.confirm(f"Deactivate @{handle}? This cannot be undone", abort=True)
    settings = _settings(data_dir, database_url)
    try:
        _with_core(settings, lambda core: accounts.deactivate_by_handle(core, handle))
    except BackchannelError as exc:
        _fail(exc.message)
    console.print(f"@{handle} deactivated")


def main() -> None:
    app()
