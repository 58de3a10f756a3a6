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
moderation_app = typer.Typer(
    help="Reports and moderation: the queue, actions, the audit log.", no_args_is_help=True
)
app.add_typer(moderation_app, name="moderation")
jobs_app = typer.Typer(
    help="The job queue: webhook deliveries, scheduled sends, snoozes.", no_args_is_help=True
)
app.add_typer(jobs_app, name="jobs")
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


def _with_core(
    settings: Settings, fn: Callable[[Any], Awaitable[T]], *, tell_servers: bool = False
) -> T:
    """Run `fn(core)` against the configured database, outside any server.

    `tell_servers`: with `redis_url` set, use the Redis broker, so that running servers
    hear of what `fn` did at once (a suspension closes the person's live sockets)."""
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
        broker = await _cli_broker(settings) if tell_servers else LocalBroker()
        core = Core(settings=settings, store=store, broker=broker, metrics=Metrics())
        await store.start()
        try:
            return await fn(core)
        finally:
            await store.close()
            await broker.close()  # a Redis broker sends what it has queued first

    return asyncio.run(run())


async def _cli_broker(settings: Settings) -> Any:
    """The Redis broker when configured and reachable within a couple of seconds, else a
    local one (then servers learn of the change only as they would of any other)."""
    from backchannel.broker.local import LocalBroker
    from backchannel.broker.redis import RedisBroker

    if settings.redis_url is None:
        return LocalBroker()
    broker = RedisBroker(settings.redis_url.get_secret_value())
    await broker.start()
    for _ in range(40):
        if broker.connected:
            return broker
        await asyncio.sleep(0.05)
    console.print("[yellow]warning:[/yellow] Redis unreachable; running servers are not told")
    return broker


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
            # The app resolves client addresses itself, by `trusted_proxies`
            # (api/client_ip.py); uvicorn's own rewrite would trust any local peer.
            proxy_headers=False,
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


@user_app.command("set-role")
def user_set_role(
    handle: str,
    role: Annotated[str, typer.Argument(help="admin (a moderator) or user.")],
    note: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make an account a moderator (admin) or a plain user again; audit-logged."""
    from backchannel.services import moderation

    settings = _settings(data_dir, database_url)
    user = _moderate(
        settings, lambda core, me: moderation.set_role(core, me, handle, role, note=note)
    )
    console.print(f"@{user['handle']} is now {user['role']}")


def _moderate(
    settings: Settings, fn: Callable[[Any, Any], Awaitable[T]], *, tell_servers: bool = False
) -> T:
    """Run a moderation service as the operator at this terminal (audit log: `cli:<user>`)."""
    import getpass

    from backchannel.errors import BackchannelError
    from backchannel.services import moderation

    try:
        os_user: str | None = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (as in some containers)
        os_user = None
    me = moderation.operator(os_user)
    try:
        return _with_core(settings, lambda core: fn(core, me), tell_servers=tell_servers)
    except BackchannelError as exc:
        _fail(exc.message)
        raise AssertionError("unreachable") from exc


def _who(user: dict[str, Any] | None) -> str:
    if user is None:
        return "—"
    return f"@{user['handle']}" if user["handle"] else str(user["display_name"])


def _target(report: dict[str, Any]) -> str:
    target = report["target"]
    if target is None:
        return "—"
    name = _who(target)
    flags = [f"{target['reports_received']} reports", f"{target['warnings']} warnings"]
    if target["suspended"]:
        flags.insert(0, "suspended")
    return f"{name} ({', '.join(flags)})"


@moderation_app.command("queue")
def moderation_queue(
    status: Annotated[str, typer.Option(help="open (oldest first) or closed.")] = "open",
    source: Annotated[
        str | None, typer.Option(help="report (by people) or filter (flags).")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many (at most 100).")] = 20,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List reports: the open ones oldest first."""
    from backchannel.services import moderation

    settings = _settings(data_dir, database_url)
    page = _moderate(
        settings,
        lambda core, me: moderation.queue(core, me, status=status, source=source, limit=limit),
    )
    table = Table("id", "filed", "source", "reason", "kind", "about", "reporter", "preview")
    for item in page["items"]:
        table.add_row(
            item["id"],
            item["created_at"],
            item["source"] + (f" ({item['score']})" if item["score"] is not None else ""),
            item["reason"],
            item["kind"],
            _target(item),
            f"@{item['reporter']}" if item["reporter"] else "—",
            item["preview"],
        )
    console.print(table)
    if page["next_cursor"]:
        console.print(f"(more: raise --limit, up to 100; showing {len(page['items'])})")


@moderation_app.command("show")
def moderation_show(
    report_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None
) -> None:
    """Show a report: what it is about, its evidence and its log entries."""
    import orjson

    from backchannel.services import moderation

    settings = _settings(data_dir, database_url)
    report = _moderate(settings, lambda core, me: moderation.get_report(core, me, report_id))
    console.print(f"[bold]{report['id']}[/bold] {report['status']}"
                  + (f" ({report['resolution']})" if report["resolution"] else ""))  # fmt: skip
    for label, value in [
        ("filed", report["created_at"]),
        ("source", report["source"] + (f", score {report['score']}" if report["score"] else "")),
        ("reason", report["reason"]),
        ("kind", report["kind"]),
        ("about", _target(report)),
        ("reporter", f"@{report['reporter']}" if report["reporter"] else "—"),
        ("conversation", report["conversation_id"] or "—"),
        ("message", report["message_id"] or "—"),
        ("comment", report["comment"] or "—"),
    ]:
        console.print(f"{label:>12}: {value}", markup=False, highlight=False)
    console.print("evidence:")
    console.print_json(orjson.dumps(report["evidence"]).decode())
    for entry in report["log"]:
        console.print(
            f"log: {entry['created_at']} {entry['actor']} {entry['action']} {entry['note']}",
            markup=False,
            highlight=False,
        )


@moderation_app.command("act")
def moderation_act(
    report_id: str,
    action: Annotated[
        str, typer.Argument(help="dismiss, remove_message, warn, suspend or unsuspend.")
    ],
    note: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Resolve an open report with an action; it is closed and audit-logged."""
    from backchannel.services import moderation

    settings = _settings(data_dir, database_url)
    report = _moderate(
        settings,
        lambda core, me: moderation.act_on_report(core, me, report_id, action, note=note),
        tell_servers=True,
    )
    console.print(f"{report['id']} closed: {report['resolution']}")


@moderation_app.command("suspend")
def moderation_suspend(
    handle: str,
    note: Annotated[str, typer.Option(help="Why, for the audit log (required).")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Suspend an account: it is logged out everywhere and cannot log in."""
    from backchannel.services import moderation

    settings = _settings(data_dir, database_url)
    _moderate(
        settings,
        lambda core, me: moderation.act_on_user(core, me, handle, "suspend", note=note),
        tell_servers=True,
    )
    console.print(f"@{handle} suspended; all sessions revoked")


@moderation_app.command("unsuspend")
def moderation_unsuspend(
    handle: str,
    note: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Lift a suspension: the account can log in again."""
    from backchannel.services import moderation

    settings = _settings(data_dir, database_url)
    _moderate(
        settings, lambda core, me: moderation.act_on_user(core, me, handle, "unsuspend", note=note)
    )
    console.print(f"@{handle} unsuspended")


@moderation_app.command("log")
def moderation_log(
    user: Annotated[str | None, typer.Option(help="Only the entries about this handle.")] = None,
    limit: Annotated[int, typer.Option(help="How many (at most 100).")] = 50,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The moderation audit log, newest first."""
    from backchannel.services import moderation

    settings = _settings(data_dir, database_url)
    page = _moderate(
        settings, lambda core, me: moderation.audit_log(core, me, user=user, limit=limit)
    )
    table = Table("when", "actor", "action", "about", "report", "note")
    for entry in page["items"]:
        table.add_row(
            entry["created_at"], entry["actor"], entry["action"], _who(entry["target"]),
            entry["report_id"] or "—", entry["note"],
        )  # fmt: skip
    console.print(table)


@jobs_app.command("list")
def jobs_list(
    state: Annotated[
        str | None, typer.Option(help="Only `queued` or `failed` jobs (default: both).")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many (at most 500).")] = 50,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Jobs waiting to run or failed for good, by due time, and the counts."""
    from backchannel.services import jobs

    if state not in (None, "queued", "failed"):
        _fail(f"--state is queued or failed, not {state!r}")
    settings = _settings(data_dir, database_url)
    page = _with_core(settings, lambda core: jobs.list_jobs(core, state=state, limit=limit))
    table = Table("id", "kind", "state", "due", "attempts", "last error")
    for job in page["items"]:
        table.add_row(
            str(job["id"]), job["kind"], job["state"] + (" (running)" if job["leased"] else ""),
            job["run_at"], str(job["attempts"]), job["last_error"] or "—",
        )  # fmt: skip
    console.print(table)
    counts = page["counts"]
    console.print(f"queued: {counts.get('queued', 0)}, failed: {counts.get('failed', 0)}")


@jobs_app.command("retry")
def jobs_retry(
    job_id: Annotated[int | None, typer.Argument(help="The failed job's id.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every failed job.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Queue a failed job (or all of them) again, due now, its attempts counted afresh."""
    from backchannel.services import jobs

    if (job_id is None) == (not all_):
        _fail("name one job id, or pass --all")
    settings = _settings(data_dir, database_url)
    count = _with_core(settings, lambda core: jobs.retry_failed(core, job_id=job_id))
    if job_id is not None and count == 0:
        _fail(f"no failed job {job_id}")
    console.print(f"queued again: {count}")


# Commands in modules of their own, registered once the helpers they use exist.
from backchannel.cli_export import export  # noqa: E402
from backchannel.cli_purge import purge  # noqa: E402
from backchannel.cli_search import reindex  # noqa: E402

app.command()(purge)
app.command()(export)
app.command()(reindex)


def main() -> None:
    app()
