"""Shared helpers for the team tests: run a turn, read the trace."""

from __future__ import annotations

from recteam.agents.trace import StepFinished, StepStarted, TraceEvent, TurnFinished
from recteam.orchestration.session import Recommender


async def turn(rec: Recommender, user: str, message: str, session: str = "s1") -> list[TraceEvent]:
    return [e async for e in rec.run_turn(user, message, session)]


def finished(events: list[TraceEvent]) -> TurnFinished:
    done = events[-1]
    assert isinstance(done, TurnFinished), done
    return done


def agents_in_order(events: list[TraceEvent]) -> list[str]:
    return [e.agent for e in events if isinstance(e, StepStarted)]


def steps(events: list[TraceEvent]) -> list[StepFinished]:
    return [e for e in events if isinstance(e, StepFinished)]


def of(events: list[TraceEvent], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]
