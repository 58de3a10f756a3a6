"""`backchannel export`: one person's data on a legal request, at the command line.

Registered on the typer app in cli.py. The export is built here, in the foreground, with a
progress bar; every finished step is recorded in the database, so running the same command
again after an interruption goes on where the last run stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from backchannel.cli import DatabaseUrl, DataDir


def export(
    user: Annotated[str, typer.Argument(help="The handle of the person whose data to export.")],
    reason: Annotated[
        str, typer.Option("--reason", help="The legal request (required; in the audit log).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the ZIP.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export one person's data on a legal request (logged; a re-run resumes)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from backchannel import cli
    from backchannel.media import build_media_store
    from backchannel.services import exports

    if not reason.strip():
        cli._fail("--reason must say why (the legal request)")
    settings = cli._settings(data_dir, database_url)
    progress = Progress(
        TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), console=cli.console
    )
    task = progress.add_task("steps", total=None)

    def started(view: dict[str, Any], resumed: bool) -> None:
        done, total = view["progress"]["done"], view["progress"]["total"]
        if resumed:
            cli.console.print(f"resuming export {view['id']} at step {done} of {total}")
        else:
            cli.console.print(f"export {view['id']}: {total} steps (logged)")
        progress.update(task, completed=done, total=total)

    def stepped(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    async def run(core: Any, me: Any) -> tuple[dict[str, Any], int]:
        core.media = build_media_store(settings)
        try:
            with progress:
                view = await exports.legal_export_at_terminal(
                    core, me, user, reason, on_start=started, on_step=stepped
                )
            return view, await exports.copy_to(core, view["id"], out)
        finally:
            await core.media.close()

    view, size = cli._moderate(settings, run)
    cli.console.print(f"wrote {out} ({size} bytes); kept until {view['expires_at']}")
