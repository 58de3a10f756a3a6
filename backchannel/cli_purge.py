"""`backchannel purge`: the retention purge and pending account erasures, now.

Both work in batches that commit one by one and record where they got to (the retention
position, each erasure's queued job), so a purge that is interrupted — killed, or the
machine going down — goes on from there the next time, and one that runs beside servers
whose jobs do the same work erases nothing twice."""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from backchannel.cli import DatabaseUrl, DataDir, _settings, _with_core, console


def purge(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Erase what the retention policy and pending account deletions say, now."""
    settings = _settings(data_dir, database_url)
    totals = _with_core(settings, _purge)
    console.print(
        f"retention: {totals['retention']} messages erased; accounts: {totals['accounts']} erased"
    )


async def _purge(core: Any) -> dict[str, int]:
    from backchannel.services import erasure

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    totals = {"retention": 0, "accounts": 0}
    with Progress(*columns, console=console, transient=False) as progress:
        if core.settings.message_retention_days > 0:
            task = progress.add_task("retention", total=None)
            more = True
            while more:
                count, more = await erasure.purge_retention_batch(core)
                totals["retention"] += count
                progress.advance(task, count)
            progress.update(task, total=totals["retention"])
        for user_id, phase, after in await erasure.pending_erasures(core):
            messages, uploads = await erasure.erasure_progress(core, user_id)
            left = (messages if phase == "messages" else 0) + uploads
            task = progress.add_task(f"account {user_id}", total=left)
            step: tuple[str, int] | None = (phase, after)
            while step is not None:
                before = step[0]
                step = await erasure.erase_step(core, user_id, *step)
                if before != "reactions":
                    progress.advance(task, core.settings.erasure_batch_size)
            progress.update(task, completed=left)
            totals["accounts"] += 1
    return totals
