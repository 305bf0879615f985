"""Emits a turn's trace events as they happen: one TurnTracer per turn, one StepTrace per agent
step. Counters (sequence, tokens, cost) live here so roles only say what happened."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel

from recteam.agents.messages import Role
from recteam.agents.trace import (
    MemoryAccess,
    ModelCalled,
    ModelNotice,
    ReplyChunk,
    StepFinished,
    StepOutput,
    StepStarted,
    StepThought,
    ToolCalled,
    ToolReturned,
    TraceEvent,
)

__all__ = ["StepTrace", "TurnTracer", "current_step"]

Sink = Callable[[TraceEvent], None]

# The step running in this asyncio task: model clients report retries and fallbacks through a
# callback that knows nothing of steps, and concurrent steps each see their own value here.
current_step: ContextVar[StepTrace | None] = ContextVar("current_step", default=None)


class TurnTracer:
    def __init__(self, session_id: str, turn: int, sink: Sink) -> None:
        self.session_id = session_id
        self.turn = turn
        self._sink = sink
        self._seq = itertools.count()
        self.steps: list[StepTrace] = []

    def event(self, event_type: type[Any], **fields: Any) -> Any:
        """A numbered event of this turn, not yet sent anywhere (the session yields it itself)."""
        return event_type(session_id=self.session_id, turn=self.turn, seq=next(self._seq), **fields)

    def emit(self, event_type: type[Any], **fields: Any) -> Any:
        event = self.event(event_type, **fields)
        self._sink(event)
        return event

    def step(self, agent: Role, title: str, model: str) -> StepTrace:
        step = StepTrace(self, agent, title, model)
        self.steps.append(step)
        return step

    def totals(self) -> dict[str, float]:
        return {
            "llm_calls": sum(s.llm_calls for s in self.steps),
            "prompt_tokens": sum(s.prompt_tokens for s in self.steps),
            "completion_tokens": sum(s.completion_tokens for s in self.steps),
            "cost": sum(s.cost for s in self.steps),
        }


class StepTrace:
    def __init__(self, tracer: TurnTracer, agent: Role, title: str, model: str) -> None:
        self.tracer = tracer
        self.agent = agent
        self.step_id = uuid.uuid4().hex[:12]
        self.model = model
        self.llm_calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost = 0.0
        self._started = time.perf_counter()
        tracer.emit(StepStarted, agent=agent, step_id=self.step_id, title=title, model=model)

    def _emit(self, event_type: type[Any], **fields: Any) -> None:
        self.tracer.emit(event_type, agent=self.agent, step_id=self.step_id, **fields)

    def thought(self, content: str) -> None:
        self._emit(StepThought, content=content)

    def tool_called(self, tool: str, arguments: dict[str, Any]) -> float:
        self._emit(ToolCalled, tool=tool, arguments=arguments)
        return time.perf_counter()

    def tool_returned(self, tool: str, result: Any, started: float) -> None:
        self._emit(
            ToolReturned,
            tool=tool,
            result=result,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def memory(
        self,
        op: str,
        kind: str,
        summary: str,
        *,
        collection: str = "",
        filter: str = "",
        points: int | None = None,
        ms: float | None = None,
    ) -> None:
        self._emit(
            MemoryAccess,
            op=op,
            kind=kind,
            summary=summary,
            collection=collection,
            filter=filter,
            points=points,
            ms=ms,
        )

    def notice(self, kind: str, detail: str) -> None:
        self._emit(ModelNotice, kind=kind, detail=detail)

    def model_called(self, **fields: Any) -> None:
        self._emit(ModelCalled, **fields)

    def reply_chunk(self, text: str) -> None:
        self._emit(ReplyChunk, text=text)

    def usage(self, prompt_tokens: int, completion_tokens: int, cost: float, model: str) -> None:
        self.llm_calls += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost += cost
        self.model = model

    def output(self, payload: BaseModel) -> None:
        self._emit(
            StepOutput, payload_type=type(payload).__name__, payload=payload.model_dump(mode="json")
        )

    def finish(self, status: str = "done") -> None:
        self._emit(
            StepFinished,
            status=status,
            duration_ms=(time.perf_counter() - self._started) * 1000,
            llm_calls=self.llm_calls,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost=self.cost,
            model=self.model,
        )
