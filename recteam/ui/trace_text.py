"""Trace events as compact terminal lines (pure: events in, rich markup out)."""

from __future__ import annotations

import json
from typing import Any

from recteam.agents.trace import (
    MemoryAccess,
    ModelCalled,
    ModelNotice,
    StepFinished,
    StepStarted,
    StepThought,
    ToolCalled,
    ToolReturned,
    TraceEvent,
    TurnFinished,
)

__all__ = ["event_line", "event_summary", "turn_footer"]

_COLOURS = {
    "manager": "magenta",
    "user_analyst": "cyan",
    "searcher": "blue",
    "item_analyst": "green",
    "reflector": "yellow",
    "responder": "bright_white",
}


def _short(value: Any, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_line(event: TraceEvent, verbose: bool = False) -> str | None:
    """One line for the events worth a line; None for the rest (verbose shows more)."""
    agent = getattr(event, "agent", None)
    tag = f"[{_COLOURS.get(agent or '', 'white')}]{agent}[/]" if agent else ""
    if isinstance(event, StepStarted):
        return f"  {tag} · {event.title}" if verbose else None
    if isinstance(event, StepFinished):
        cost = (
            f", {event.prompt_tokens}+{event.completion_tokens} tok, ${event.cost:.4f}"
            if event.llm_calls
            else ""
        )
        status = "" if event.status == "done" else " [red]failed[/]"
        return f"  {tag} [dim]{event.model} {event.duration_ms:.0f} ms{cost}[/]{status}"
    if isinstance(event, ModelNotice):
        return f"  {tag} [red]{event.kind}[/]: {_short(event.detail, 160)}"
    if not verbose:
        return None
    if isinstance(event, StepThought):
        return f"    [dim]thought:[/] {_short(event.content, 160)}"
    if isinstance(event, ToolCalled):
        return f"    [dim]call:[/] {event.tool}({_short(event.arguments, 140)})"
    if isinstance(event, ToolReturned):
        return f"    [dim]result ({event.duration_ms:.0f} ms):[/] {_short(event.result, 140)}"
    if isinstance(event, MemoryAccess):
        where = f" [dim]({event.where()})[/]" if event.where() else ""
        return f"    [dim]memory {event.op} {event.kind}:[/] {_short(event.summary, 140)}{where}"
    if isinstance(event, ModelCalled):
        why = f" · reasoning: {_short(event.reasoning, 120)}" if event.reasoning else ""
        return (
            f"    [dim]model {event.model}: {event.prompt_tokens}+{event.completion_tokens} tok, "
            f"{event.latency_ms:.0f} ms[/]{why}"
        )
    return None


def event_summary(event: TraceEvent) -> dict[str, Any]:
    """The --json form of a step event: agent, kind, and the event's own fields."""
    data = event.model_dump(mode="json", exclude={"session_id", "turn", "ts"})
    kind = data.pop("type")
    if "kind" in data:  # a model notice's own kind ("retry", "offline_fallback") keeps its name
        data["notice"] = data.pop("kind")
    return {"agent": data.pop("agent", None), "kind": kind, **data}


def turn_footer(event: TurnFinished) -> str:
    cost = f", {event.llm_calls} LLM calls, ${event.cost:.4f}" if event.llm_calls else ""
    return f"[dim]{event.act} in {event.duration_ms:.0f} ms{cost}[/]"
