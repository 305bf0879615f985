"""Typed trace events: what each agent read, thought, called and returned during a turn, with
time, tokens and cost. session.run_turn streams them; the UI renders them; a session exports them
as JSON lines and a turn replays from that export. No AutoGen types here, so the UI and the export
format do not depend on the orchestration framework."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from recteam.agents.messages import Act, ItemRef, RecommendedItem, Role

__all__ = [
    "MemoryAccess",
    "ModelCalled",
    "ModelNotice",
    "ReplyChunk",
    "StepFinished",
    "StepOutput",
    "StepStarted",
    "StepThought",
    "ToolCalled",
    "ToolReturned",
    "TraceEvent",
    "TurnFinished",
    "TurnStarted",
    "dump_jsonl",
    "load_jsonl",
]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str
    turn: int
    seq: int = 0
    ts: float = Field(default_factory=time.time)


class TurnStarted(_Event):
    type: Literal["turn_started"] = "turn_started"
    user_id: str
    message: str


class StepStarted(_Event):
    type: Literal["step_started"] = "step_started"
    agent: Role
    step_id: str
    title: str
    model: str


class StepThought(_Event):
    type: Literal["step_thought"] = "step_thought"
    agent: Role
    step_id: str
    content: str


class ToolCalled(_Event):
    type: Literal["tool_called"] = "tool_called"
    agent: Role
    step_id: str
    tool: str
    arguments: dict[str, Any]


class ToolReturned(_Event):
    type: Literal["tool_returned"] = "tool_returned"
    agent: Role
    step_id: str
    tool: str
    result: Any
    duration_ms: float


class MemoryAccess(_Event):
    type: Literal["memory_access"] = "memory_access"
    agent: Role
    step_id: str
    op: Literal["read", "write", "delete"]
    kind: str
    summary: str
    # Where and how much: the Qdrant collection, the filter in words, points read or written,
    # and the time the engine took (absent in traces recorded before these were kept).
    collection: str = ""
    filter: str = ""
    points: int | None = None
    ms: float | None = None

    def where(self) -> str:
        """'recteam-memories · kind=reflection, user · 3 points · 2 ms', or '' if not recorded."""
        parts = [self.collection, self.filter]
        if self.points is not None:
            parts.append(f"{self.points} point{'s' if self.points != 1 else ''}")
        if self.ms is not None:
            parts.append(f"{self.ms:.0f} ms")
        return " · ".join(p for p in parts if p)


class ModelNotice(_Event):
    """A retry, a fallback to another model, a repaired output, or a role falling back to the
    offline policy: what went wrong and what the team did instead."""

    type: Literal["model_notice"] = "model_notice"
    agent: Role
    step_id: str
    kind: Literal["retry", "fallback", "cooldown", "repair", "offline_fallback", "error"]
    detail: str


class ReplyChunk(_Event):
    """A piece of the reply as the responder's model writes it (streamed); the turn's final
    reply (TurnFinished) replaces the pieces, repaired or not."""

    type: Literal["reply_chunk"] = "reply_chunk"
    agent: Role
    step_id: str
    text: str


class ModelCalled(_Event):
    """One model call of a step, as it was made: the rendered messages, what came back (and
    the model's reasoning when the provider returns it), which model answered, its cost."""

    type: Literal["model_called"] = "model_called"
    agent: Role
    step_id: str
    model: str = Field(description="The model that answered (a fallback, if the primary failed).")
    messages: list[dict[str, str]] = Field(description="role and content, as sent")
    reply: str
    reasoning: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0
    failed_attempts: int = Field(
        default=0, description="Failed attempts (retries, fallbacks) before this answer."
    )


class StepOutput(_Event):
    type: Literal["step_output"] = "step_output"
    agent: Role
    step_id: str
    payload_type: str
    payload: dict[str, Any]


class StepFinished(_Event):
    type: Literal["step_finished"] = "step_finished"
    agent: Role
    step_id: str
    status: Literal["done", "failed"]
    duration_ms: float
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    model: str = "offline"


class TurnFinished(_Event):
    type: Literal["turn_finished"] = "turn_finished"
    act: Act
    reply: str
    items: list[RecommendedItem] = Field(default_factory=list)
    candidates: list[ItemRef] = Field(default_factory=list)
    duration_ms: float
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    error: str | None = None
    # roles whose model failed this turn, the offline policy answering for them; with every
    # model-driven role in it, the reply is the offline policy's alone
    fell_back: list[str] = Field(default_factory=list)
    offline_only: bool = False


TraceEvent = Annotated[
    TurnStarted
    | StepStarted
    | StepThought
    | ToolCalled
    | ToolReturned
    | MemoryAccess
    | ModelNotice
    | ModelCalled
    | ReplyChunk
    | StepOutput
    | StepFinished
    | TurnFinished,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[TraceEvent] = TypeAdapter(TraceEvent)


def dump_jsonl(events: Iterable[BaseModel], path: Path) -> int:
    """Writes events as JSON lines (to a temporary file first, so a crash leaves no half file)."""
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for event in events:
            fh.write(event.model_dump_json() + "\n")
            n += 1
    tmp.replace(path)
    return n


def parse_event(line: str | dict[str, Any]) -> TraceEvent:
    data = json.loads(line) if isinstance(line, str) else line
    return _ADAPTER.validate_python(data)


_KINDS = sorted(str(t.model_fields["type"].default) for t in get_args(get_args(TraceEvent)[0]))


def _what_is_wrong(exc: ValidationError | json.JSONDecodeError, data: Any) -> str:
    """A validation error in words: what the line lacks or holds, not pydantic's internals."""
    if isinstance(exc, json.JSONDecodeError):
        return f"it is not JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(data, dict):
        return "it is not a JSON object"
    kind = data.get("type")
    if kind not in _KINDS:
        return (
            f"its type {kind!r} is no trace event" if kind else "it has no 'type'"
        ) + f" (expected one of: {', '.join(_KINDS)})"
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first["loc"][1:]) or "the event"
    return f"in a {kind} event, {where}: {first['msg'].lower()}"


def load_jsonl(path: Path) -> Iterator[TraceEvent]:
    """Events from an exported trace; a bad line raises ValueError naming the line and what is
    wrong with it in words."""
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            data: Any = None
            try:
                data = json.loads(line)
                yield _ADAPTER.validate_python(data)
            except (ValidationError, json.JSONDecodeError) as exc:
                raise ValueError(f"line {n}: {_what_is_wrong(exc, data)}") from None
