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
    console: Console, description: str, unit: str = "items"
) -> Iterator[tuple[Callable[..., None], Callable[[int], None]]]:
    """Yields (start(total, unit=None), advance(n)) callbacks driving one bar; each start counts,
    and measures the rate, anew, in `unit`s a second ("3.4 turns/s"; a new unit may be named at
    a start). The bar appears at the first call, so work that fails before it starts (a file that
    cannot be read) leaves no empty bar above its error."""
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
            shown = f"{speed:,.1f}" if speed and speed < 100 else f"{speed or 0:,.0f}"
            return Text(
                f"{shown} {task.fields.get('unit', unit)}/s" if speed else "",
                style="progress.data.speed",
            )

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

    first_unit = unit

    def start(total: int | None, unit: str | None = None) -> None:
        if not tasks:
            progress.start()
            tasks.append(progress.add_task(description, total=total, unit=unit or first_unit))
        else:  # a new stage: its own count and rate
            now = str(progress.tasks[0].fields.get("unit", first_unit))
            progress.reset(tasks[0], total=total, unit=unit or now)

    def advance(n: int) -> None:
        if not tasks:
            start(None)
        progress.advance(tasks[0], n)

    try:
        yield start, advance
    finally:
        if tasks:
            progress.stop()
