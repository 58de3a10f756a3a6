"""`backchannel reindex`: rebuild the message search index (services/search_index.py).

Batches commit one by one with a checkpoint, so a reindex that is interrupted (killed,
the machine going down) goes on from the last committed batch when run again; servers
may keep running meanwhile."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backchannel.cli import DatabaseUrl, DataDir, _settings, _with_core, console


def reindex(
    batch: Annotated[
        int, typer.Option(min=100, max=100_000, help="Messages per committed batch.")
    ] = 5_000,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Rebuild the search index (resuming an interrupted reindex)."""
    settings = _settings(data_dir, database_url)
    done = _with_core(settings, lambda core: _reindex(core, batch))
    if done.resumed_from is not None:
        console.print(f"resumed after message id {done.resumed_from}")
    console.print(f"search index rebuilt: {done.batches} batches, up to message id {done.last_id}")


async def _reindex(core: Any, batch: int) -> Any:
    from backchannel.services import search_index

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("reindex (message ids)", total=None)

        def advance(last_id: int, highest: int) -> None:
            progress.update(task, completed=last_id, total=highest)

        return await search_index.reindex(core, batch=batch, progress=advance)
