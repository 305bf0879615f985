"""Rich progress bars for long work (ingest, embedding), with a rate column. rich.progress is
imported when a bar is made, not with the module (`recteam --help` imports this one)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(
    console: Console, description: str
) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """Yields (start(total), advance(n)) callbacks driving one bar. The bar appears at the first
    call, so work that fails before it starts (a file that cannot be read) leaves no empty bar
    above its error."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} items/s" if speed else "", style="progress.data.speed")

    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    tasks: list[TaskID] = []

    def start(total: int | None) -> None:
        if not tasks:
            progress.start()
            tasks.append(progress.add_task(description, total=total))
        else:
            progress.update(tasks[0], total=total, completed=0)

    def advance(n: int) -> None:
        if not tasks:
            start(None)
        progress.advance(tasks[0], n)

    try:
        yield start, advance
    finally:
        if tasks:
            progress.stop()
