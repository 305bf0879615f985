"""Turn latency and LLM calls per turn, on the full shipped catalog.

    uv run python -m recteam.evaluation.bench_turn [--turns 60]

Runs the real team (AutoGen graph, memory, search) twice over the same conversations: with the
offline policy, and with a zero-latency scripted model behind every LLM role (answers computed
instantly from the prompt's data block), so the time measured is all orchestration: graph,
memory reads and writes, search, validation. Prints p50 / p95 per kind, mean time per agent, and
LLM calls per RECOMMEND turn (in all, and on the critical path: the manager and the user analyst
run concurrently, everything after them in sequence).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from autogen_core import CancellationToken
from autogen_core.models import CreateResult, LLMMessage, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

from recteam.agents.llm import prompt_data
from recteam.agents.messages import ROLES
from recteam.agents.settings import TeamSettings
from recteam.agents.trace import StepFinished, TraceEvent, TurnFinished
from recteam.memory.embeddings import load_local_embedder
from recteam.memory.ingest import ingest_path
from recteam.memory.settings import EmbeddingSettings, MemorySettings
from recteam.memory.store import MemoryStore, open_store
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender
from recteam.orchestration.team import RoleClients

CONVERSATIONS = [
    [
        "hi!",
        "something like Arrival but lighter, nothing before 2000, no horror",
        "more like that please",
    ],
    ["I want a scary movie from the 80s", "no, something else", "I loved The Thing"],
    ["any good Tom Hanks movies?", "what is Forrest Gump about?", "thanks!"],
    ["recommend a funny animated film for kids", "another one", "something from the 90s"],
    [
        "I loved The Dark Knight and Inception",
        "something mind-bending",
        "not Interstellar, I've seen it",
    ],
    ["a heist movie", "with Robert De Niro", "older, before 1990"],
]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def instant_answer(role: str, data: dict[str, Any]) -> dict[str, Any]:
    """A valid answer for `role`, computed at once from its prompt's <data> block: what a
    zero-latency model says (InstantModel here, StubLLMServer over HTTP)."""
    if role == "manager":
        return {"act": "RECOMMEND", "rationale": "benchmark"}
    if role == "user_analyst":
        return {"wants": ["light"]}
    if role == "item_analyst":
        cands = [c["item"]["id"] for c in data.get("candidates", [])]
        return {
            "analyses": [
                {"item_id": c, "fit": 1 - i / 100, "pros": ["fits"]} for i, c in enumerate(cands)
            ]
        }
    if role == "reflector":
        return {"verdict": "APPROVE"}
    if role == "responder":
        return {
            "act": "RECOMMEND",
            "text": "Here you go.",
            "items": [
                {"id": i["id"], "title": i["title"], "reason": "fits"}
                for i in data.get("items", [])
            ],
        }
    return {"query": "films"}


class InstantModel(ReplayChatCompletionClient):
    """A zero-latency model for one role: it reads the prompt's <data> block and answers with
    valid JSON at once, so a benchmark measures the team and not a model."""

    def __init__(self, role: str) -> None:
        super().__init__([])
        self.role = role

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        cancellation_token: CancellationToken | None = None,
        **kwargs: Any,
    ) -> CreateResult:
        text = str(messages[-1].content)
        content = json.dumps(instant_answer(self.role, prompt_data(text)))
        return CreateResult(
            finish_reason="stop",
            content=content,
            usage=RequestUsage(prompt_tokens=len(text) // 4, completion_tokens=len(content) // 4),
            cached=False,
        )

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        cancellation_token: CancellationToken | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[str | CreateResult, None]:
        """The same answer, streamed in pieces of a few characters, then the whole result."""
        result = await self.create(messages, cancellation_token=cancellation_token)
        content = str(result.content)
        for start in range(0, len(content), 8):
            yield content[start : start + 8]
        yield result


async def run(
    rec: Recommender, label: str, rounds: int
) -> tuple[list[float], list[list[TraceEvent]]]:
    durations: list[float] = []
    turns: list[list[TraceEvent]] = []
    n = 0
    while n < rounds:
        for c, conversation in enumerate(CONVERSATIONS):
            for message in conversation:
                events = [
                    e async for e in rec.run_turn(f"{label}-{n}-{c}", message, f"{label}-{n}-{c}")
                ]
                done = events[-1]
                assert isinstance(done, TurnFinished) and done.error is None, done
                durations.append(done.duration_ms)
                turns.append(events)
                n += 1
                if n >= rounds:
                    return durations, turns
    return durations, turns


def critical_path_calls(steps: Sequence[StepFinished]) -> int:
    """Model calls a turn waits for: the manager and the user analyst run concurrently (the larger
    of the two counts), every other step runs after them, one at a time."""
    first = [s.llm_calls for s in steps if s.agent in ("manager", "user_analyst")]
    rest = [s.llm_calls for s in steps if s.agent not in ("manager", "user_analyst")]
    return max(first, default=0) + sum(rest)


@dataclass
class TurnStats:
    """What a run of turns measured: the figures `report` prints and `recteam bench` tabulates."""

    turns: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    # mean milliseconds per turn spent in each agent (0 when it did not run), in ROLES order
    agent_ms_per_turn: dict[str, float]
    # mean milliseconds per step of each agent that ran, and its number of steps
    agent_ms_per_step: dict[str, float]
    agent_steps: dict[str, int]
    llm_calls_per_turn: float
    prompt_tokens_per_turn: float
    completion_tokens_per_turn: float
    # LLM calls per RECOMMEND turn (max in all, max on the critical path); None without LLM calls
    recommend_calls_max: int | None = None
    recommend_calls_critical_max: int | None = None


def summarize(durations: list[float], turns: list[list[TraceEvent]]) -> TurnStats:
    per_agent: dict[str, list[float]] = defaultdict(list)
    for events in turns:
        for e in events:
            if isinstance(e, StepFinished):
                per_agent[e.agent].append(e.duration_ms)
    n = max(1, len(turns))
    finished = [ev[-1] for ev in turns if isinstance(ev[-1], TurnFinished)]
    stats = TurnStats(
        turns=len(durations),
        p50_ms=statistics.median(durations),
        p95_ms=percentile(durations, 0.95),
        mean_ms=statistics.mean(durations),
        agent_ms_per_turn={a: sum(per_agent[a]) / n for a in ROLES},
        agent_ms_per_step={a: statistics.mean(per_agent[a]) for a in ROLES if per_agent[a]},
        agent_steps={a: len(per_agent[a]) for a in ROLES if per_agent[a]},
        llm_calls_per_turn=sum(f.llm_calls for f in finished) / n,
        prompt_tokens_per_turn=sum(f.prompt_tokens for f in finished) / n,
        completion_tokens_per_turn=sum(f.completion_tokens for f in finished) / n,
    )
    recommend = [
        ev for ev in turns if isinstance(ev[-1], TurnFinished) and ev[-1].act == "RECOMMEND"
    ]
    if recommend and any(isinstance(e, StepFinished) and e.llm_calls for e in recommend[0]):
        totals, critical = [], []
        for events in recommend:
            steps = [e for e in events if isinstance(e, StepFinished)]
            totals.append(sum(s.llm_calls for s in steps))
            critical.append(critical_path_calls(steps))
        stats.recommend_calls_max = max(totals)
        stats.recommend_calls_critical_max = max(critical)
    return stats


def report(title: str, durations: list[float], turns: list[list[TraceEvent]]) -> None:
    stats = summarize(durations, turns)
    print(f"\n{title}: {stats.turns} turns")
    print(f"  turn time        p50 {stats.p50_ms:7.1f} ms   p95 {stats.p95_ms:7.1f} ms")
    for agent, mean in stats.agent_ms_per_step.items():
        print(f"  {agent:14} mean {mean:6.1f} ms over {stats.agent_steps[agent]} steps")
    if stats.recommend_calls_max is not None:
        print(
            f"  LLM calls per RECOMMEND turn: max {stats.recommend_calls_max} in all, "
            f"max {stats.recommend_calls_critical_max} on the critical path"
        )


def scripted_clients() -> RoleClients:
    """A zero-latency InstantModel behind every LLM role; the searcher stays offline, as by
    default (its query is built in code)."""
    clients: RoleClients = {role: (InstantModel(role), f"instant/{role}") for role in ROLES}
    clients["searcher"] = (None, "offline")
    return clients


@contextmanager
def shipped_store() -> Iterator[MemoryStore]:
    """A temporary embedded store holding the full shipped catalog: what the benchmarks run on."""
    embedder = load_local_embedder(EmbeddingSettings())
    catalog = Path(str(resources.files("recteam.data") / "catalog.jsonl.gz"))
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_store(MemorySettings(path=Path(tmp)), embedder) as store,
    ):
        ingest_path(store, catalog)
        yield store


async def main_async(turns: int) -> None:
    with shipped_store() as store:
        t = time.perf_counter()
        offline = Recommender(store, LLMSettings(), TeamSettings(colike=False))
        print(
            f"{store.catalog.count():,} items; team ready (entity index built) in {time.perf_counter() - t:.1f} s"
        )
        await run(offline, "warmup", 6)
        report("offline policy", *await run(offline, "offline", turns))
        scripted = Recommender(
            store, LLMSettings(), TeamSettings(colike=False), clients=scripted_clients()
        )
        report(
            "zero-latency scripted model (all time is orchestration)",
            *await run(scripted, "scripted", turns),
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=60)
    asyncio.run(main_async(parser.parse_args().turns))


if __name__ == "__main__":
    main()
