"""A turn's trace events in batches for the browser: each batch is one redraw of the chat.

Redrawing the chat for every step start and end sends the whole conversation through Gradio a
dozen times a turn; with many people at once that, not the team, is where the server's time went.
`batches` lets a redraw out at most every `gap` seconds, and only when something visible changed
(a step started or ended, a notice, more of the streamed reply); the end of the turn is never
held back. A change is also never held longer than `gap`: while the team waits for a model, the
step it waits in is shown. `gap` may be a function, read at each decision: the web app widens it
while many turns run at once (`redraw_gap`), so redraws back off when the server is busiest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from recteam.agents.trace import (
    ModelNotice,
    ReplyChunk,
    StepFinished,
    StepStarted,
    TraceEvent,
    TurnFinished,
    TurnStarted,
)

__all__ = ["VISIBLE_CHANGES", "batches", "redraw_gap"]

VISIBLE_CHANGES = (TurnStarted, StepStarted, StepFinished, ModelNotice, ReplyChunk)


def redraw_gap(base: float, running: int, calm: int) -> float:
    """The gap between redraws with `running` turns at once: `base` up to `calm` turns, then
    growing with their number, so the redraws of all turns together stay about as frequent as
    those of `calm` turns (each redraw costs the server the same, whoever it is for)."""
    return base * max(1.0, running / calm)


async def batches(
    events: AsyncIterator[TraceEvent], gap: float | Callable[[], float]
) -> AsyncIterator[list[TraceEvent]]:
    """`events` grouped: a group goes out once it holds a visible change and `gap` seconds have
    passed since the last one went out (at once for the first, and for the turn's end)."""

    def gap_now() -> float:
        return gap() if callable(gap) else gap

    source = events.__aiter__()
    batch: list[TraceEvent] = []
    sent = -float("inf")  # the first visible change goes out at once
    pending: asyncio.Future[TraceEvent] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(source.__anext__())
            visible = any(isinstance(e, VISIBLE_CHANGES) for e in batch)
            wait = max(0.0, sent + gap_now() - time.monotonic()) if visible else None
            done, _ = await asyncio.wait({pending}, timeout=wait)
            if not done:  # a change has waited `gap` while the team works: show it now
                yield batch
                batch, sent = [], time.monotonic()
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                break
            finally:
                pending = None
            batch.append(event)
            due = time.monotonic() - sent >= gap_now() and isinstance(event, VISIBLE_CHANGES)
            if isinstance(event, TurnFinished) or due:
                yield batch
                batch, sent = [], time.monotonic()
        if batch:
            yield batch
    finally:
        if pending is not None:  # the page went away mid-turn: stop waiting for the next event
            pending.cancel()
