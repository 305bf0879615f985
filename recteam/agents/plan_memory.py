"""Plan memory: a turn whose picks the user took up is remembered as a plan that worked.

When a pick is accepted ("I'll go with the second one", 👍, "loved it, thanks"), the turn that
recommended it is stored as a `plan` point: what the user asked (the situation, embedded), the
request the team searched with, the picks and the film(s) taken. The manager finds such plans by
similarity to a later situation (agents/recall.py): demonstrations for an LLM manager, a prior
for the offline one. One point per recommending turn: a second pick taken from the same turn
joins the first.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from recteam.agents.dialogue_state import DialogueState
from recteam.agents.messages import ItemRef
from recteam.agents.tracer import TurnTracer
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import MemoryRecord

__all__ = [
    "newly_taken",
    "plan_record",
    "plan_record_id",
    "recommending_episode",
    "remember_plans",
]

_PLAN_NS = uuid.UUID("0b8f3c52-1d6e-4f7a-9a41-6c2e8d5b7f10")


def plan_record_id(user_id: str, session_id: str, turn: int) -> str:
    return str(uuid.uuid5(_PLAN_NS, f"{user_id}\x00{session_id}\x00{turn}"))


def newly_taken(before: DialogueState, after: DialogueState) -> list[ItemRef]:
    """Picks shown earlier that this turn accepted or liked (and were not so before)."""
    shown = {r.id for r in before.shown}
    return [
        f.item
        for f in after.films
        if f.item.id in shown
        and f.stance in ("accepted", "liked")
        and before.stance_of(f.item.id) not in ("accepted", "liked")
    ]


def recommending_episode(episodes: list[MemoryRecord], item_id: str) -> MemoryRecord | None:
    """The latest turn that recommended `item_id` (episodes oldest first)."""
    for ep in reversed(episodes):
        if any(r.get("id") == item_id for r in ep.data.get("recommended", [])):
            return ep
    return None


def plan_record(
    user_id: str,
    session_id: str,
    episode: MemoryRecord,
    taken: list[ItemRef],
    existing: MemoryRecord | None = None,
) -> MemoryRecord:
    """The plan of `episode`'s turn, with `taken` added to what the user took from it."""
    accepted = {r["id"]: r for r in (existing.data.get("accepted", []) if existing else [])}
    accepted.update({r.id: r.model_dump() for r in taken})
    picks = [ItemRef.model_validate(r) for r in episode.data.get("recommended", [])]
    asked = str(episode.data.get("message") or "")
    request_text = str(episode.data.get("request_text") or "")
    took = ", ".join(ItemRef.model_validate(r).label for r in accepted.values())
    text = (
        f"Asked “{asked[:200]}”"
        + (f" ({request_text})" if request_text else "")
        + f"; recommended {', '.join(p.label for p in picks)}; the user took {took}."
    )
    turn = int(episode.data.get("turn", 0))
    return MemoryRecord(
        id=plan_record_id(user_id, session_id, turn),
        user_id=user_id,
        kind="plan",
        session_id=session_id,
        text=text,
        situation=episode.situation or asked,
        data={
            "act": "RECOMMEND",
            "turn": turn,
            "message": asked,
            "request": episode.data.get("request") or {},
            "request_text": request_text,
            "query": episode.data.get("query") or "",
            "picks": [p.model_dump() for p in picks],
            "accepted": list(accepted.values()),
        },
    )


async def remember_plans(
    tracer: TurnTracer,
    store: MemoryStore,
    user_id: str,
    session_id: str,
    episodes: list[MemoryRecord],
    taken: list[ItemRef],
) -> list[MemoryRecord]:
    """Stores the plan of each turn a film in `taken` came from; traced as a reflector step."""
    by_turn: dict[str, tuple[MemoryRecord, list[ItemRef]]] = {}
    for ref in taken:
        ep = recommending_episode(episodes, ref.id)
        if ep is not None:
            by_turn.setdefault(ep.id, (ep, []))[1].append(ref)
    if not by_turn:
        return []
    step = tracer.step("reflector", "remembering a plan the user took up", "offline")
    mem = store.memories
    started = time.perf_counter()
    records = []
    for ep, refs in by_turn.values():
        pid = plan_record_id(user_id, session_id, int(ep.data.get("turn", 0)))
        existing = await asyncio.to_thread(mem.get, user_id, pid)
        records.append(plan_record(user_id, session_id, ep, refs, existing))
    await asyncio.to_thread(mem.add_many, records)
    for r in records:
        step.memory(
            "write",
            "plan",
            r.text,
            collection=mem.name,
            filter=f"user_id={user_id}",
            points=1,
            ms=(time.perf_counter() - started) * 1000,
        )
    step.finish()
    return records
