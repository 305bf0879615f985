"""The browser's redraws of a turn in progress (ui/pacing.py): few, prompt, and never hiding the
step the team is waiting in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from recteam.agents.trace import StepStarted, StepThought, TraceEvent, TurnFinished, TurnStarted
from recteam.ui.pacing import batches, redraw_gap

S = {"session_id": "s", "turn": 1}


def started(n: int) -> StepStarted:
    return StepStarted(**S, agent="searcher", step_id=f"s{n}", title="search", model="offline")


def thought(n: int) -> StepThought:
    return StepThought(**S, agent="searcher", step_id=f"s{n}", content="hm")


FINISHED = TurnFinished(**S, act="CHAT", reply="hi", duration_ms=1.0)


async def timed(script: list[tuple[float, TraceEvent]]) -> AsyncIterator[TraceEvent]:
    for pause, event in script:
        await asyncio.sleep(pause)
        yield event


async def collect(
    script: list[tuple[float, TraceEvent]], gap: float | Callable[[], float]
) -> list[tuple[float, list]]:
    t0 = time.monotonic()
    return [(time.monotonic() - t0, b) async for b in batches(timed(script), gap)]


async def test_a_quick_turn_is_drawn_at_its_start_and_its_end_only() -> None:
    script = [(0.0, TurnStarted(**S, user_id="u", message="hi"))]
    script += [(0.0, e) for n in range(6) for e in (started(n), thought(n))]
    script += [(0.0, FINISHED)]
    out = await collect(script, gap=0.5)
    assert [len(b) for _, b in out] == [1, 13]  # the message at once, then the whole turn
    assert isinstance(out[-1][1][-1], TurnFinished)
    assert sum(len(b) for _, b in out) == len(script)  # nothing lost, nothing repeated


async def test_a_step_waiting_for_a_model_is_shown_within_the_gap() -> None:
    script = [
        (0.0, TurnStarted(**S, user_id="u", message="hi")),
        (0.01, started(1)),  # then the team waits 0.6 s for a model
        (0.6, thought(1)),
        (0.0, FINISHED),
    ]
    out = await collect(script, gap=0.15)
    shown_at = next(at for at, b in out if any(isinstance(e, StepStarted) for e in b))
    assert shown_at < 0.4, f"the waiting step was shown only after {shown_at:.2f} s"
    assert [type(e) for _, b in out for e in b] == [type(e) for _, e in script]


async def test_thoughts_alone_cause_no_redraw() -> None:
    script = [(0.0, started(1))] + [(0.05, thought(1)) for _ in range(6)] + [(0.0, FINISHED)]
    out = await collect(script, gap=0.1)
    assert [len(b) for _, b in out] == [1, 7]  # the step at once; the thoughts with the end


async def test_a_gap_given_as_a_function_is_read_at_each_redraw() -> None:
    # Six steps 0.1 s apart: redrawn with each at a 0.05 s gap, but once the gap widens to
    # 10 s (many turns at once, from 0.25 s on) the rest wait for the end of the turn.
    script = [(0.0, TurnStarted(**S, user_id="u", message="hi"))]
    script += [(0.1, started(n)) for n in range(6)] + [(0.0, FINISHED)]
    t0 = time.monotonic()

    def gap() -> float:
        return 0.05 if time.monotonic() - t0 < 0.25 else 10.0

    out = await collect(script, gap=gap)
    assert 2 < len(out) < 8 and len(out[-1][1]) > 2
    assert sum(len(b) for _, b in out) == len(script)


def test_the_redraw_gap_widens_with_the_turns_running_beyond_the_calm_ones() -> None:
    assert redraw_gap(0.25, 0, 3) == redraw_gap(0.25, 3, 3) == 0.25
    assert redraw_gap(0.25, 6, 3) == 0.5 and redraw_gap(0.25, 12, 3) == 1.0
