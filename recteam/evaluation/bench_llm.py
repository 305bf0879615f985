"""Model calls, tokens and orchestration overhead per recommendation, through litellm's real HTTP
path against a zero-latency local server.

    python -m recteam.evaluation.bench_llm [--turns 20] [--revise] [--catalog FILE]
    recteam bench --llm [--turns 20]

Starts StubLLMServer (an OpenAI-compatible server in a thread of this process, answering every
role at once with valid JSON), configures every LLM role on it as `openai/bench-<role>` with a
placeholder key in $BENCH_STUB_API_KEY (the searcher builds its query in code, as by default),
and runs recommendation turns on the shipped catalog in a temporary store (your own memory is
not touched) after two warm-up turns. Prints model calls per turn (in all and on the critical
path), prompt and completion tokens per role, turn wall time, the time spent inside
litellm.acompletion, and the orchestration overhead (turn time minus that time, concurrent calls
counted once) with its ratio to the litellm time, beside the machine's load.
`--revise`: the stub's reflector sends every first draft back, so each turn takes a revise round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from recteam.agents.messages import ROLES
from recteam.agents.settings import TeamSettings
from recteam.agents.trace import StepFinished, StepOutput, TraceEvent, TurnFinished
from recteam.evaluation.bench_turn import critical_path_calls, instant_answer, percentile
from recteam.evaluation.stub_server import MODEL_PREFIX, Answer, StubLLMServer
from recteam.memory.embeddings import load_local_embedder
from recteam.memory.ingest import ingest_path
from recteam.memory.settings import EmbeddingSettings, MemorySettings
from recteam.memory.store import MemoryStore, open_store
from recteam.orchestration.llm_settings import AgentModelOverride, LLMSettings
from recteam.orchestration.session import Recommender

__all__ = ["LLMBenchResult", "TurnSample", "report", "run_llm_bench"]

KEY_ENV = "BENCH_STUB_API_KEY"  # not RECTEAM_*: those are read as settings
WARMUP_TURNS = 2  # litellm's import and first client, the tokenizer: not what a turn costs
TARGET_CRITICAL, TARGET_TOTAL, TARGET_OVERHEAD_P95_MS = 4, 7, 150.0

# Recommendation requests and follow-ups, a conversation per session.
CONVERSATIONS = [
    ["something like Arrival but lighter, nothing before 2000", "more like that please"],
    ["I want a scary movie from the 80s", "I loved The Thing, more like it"],
    ["any good Tom Hanks movies?", "something funnier"],
    ["recommend a funny animated film for kids", "another one", "something from the 90s"],
    ["I loved The Dark Knight and Inception", "something mind-bending"],
    ["a heist movie", "with Robert De Niro", "older, before 1990"],
    ["a romantic comedy set in New York", "no Meg Ryan please"],
    ["a war film that isn't too violent", "something from the 60s"],
]


@dataclass
class TurnSample:
    """One turn as measured: wall time, time inside litellm, calls and tokens."""

    wall_ms: float
    cpu_ms: float  # CPU time of this process in the turn, every thread (the stub's too)
    litellm_ms: float  # wall time with at least one litellm call in flight
    litellm_sum_ms: float  # the calls' times added up (the concurrent two counted twice)
    litellm_calls: int
    steps_ms: (
        float  # the steps on the critical path (the manager or the user analyst, then the rest)
    )
    search_ms: float  # the searcher's steps
    llm_calls: int  # as the turn's trace counts them (TurnFinished.llm_calls)
    critical_calls: int
    revise_rounds: int
    act: str
    tokens: dict[str, tuple[int, int]] = field(default_factory=dict)  # role: (prompt, completion)

    @property
    def overhead_ms(self) -> float:
        return self.wall_ms - self.litellm_ms


@dataclass
class LLMBenchResult:
    samples: list[TurnSample]
    catalog_items: int
    api_base: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    revise: bool = False


@contextmanager
def timed_litellm() -> Iterator[list[tuple[float, float]]]:
    """Records (start, end) of every litellm.acompletion call while open; a streamed answer ends
    at its last chunk. The harness wraps the library function; product code is untouched."""
    import litellm

    intervals: list[tuple[float, float]] = []
    original = litellm.acompletion

    async def streamed(stream: Any, started: float) -> AsyncIterator[Any]:
        try:
            async for chunk in stream:
                yield chunk
        finally:
            intervals.append((started, time.perf_counter()))

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = await original(*args, **kwargs)
        except BaseException:
            intervals.append((started, time.perf_counter()))
            raise
        if kwargs.get("stream"):
            return streamed(result, started)
        intervals.append((started, time.perf_counter()))
        return result

    litellm.acompletion = timed
    try:
        yield intervals
    finally:
        litellm.acompletion = original


def covered_ms(intervals: list[tuple[float, float]]) -> float:
    """Milliseconds covered by at least one interval: concurrent calls count once."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total * 1000


def stub_settings(api_base: str) -> LLMSettings:
    """Every LLM role at the stub, under a model name that tells the stub which role asks."""
    return LLMSettings(
        model=f"openai/{MODEL_PREFIX}default",
        api_base=api_base,
        api_key_env=KEY_ENV,
        agents={
            role: AgentModelOverride(model=f"openai/{MODEL_PREFIX}{role}")
            for role in ROLES
            if role != "searcher"  # in code unless set on purpose, as a user's config would
        },
    )


def revising_answer(role: str, data: dict[str, Any]) -> dict[str, Any]:
    """instant_answer, but the reflector sends the draft back (striking its first pick)."""
    draft = data.get("draft") or []
    if role == "reflector" and draft:
        first = draft[0]["item"]["id"]
        issue = {"kind": "diversity", "item_id": first, "detail": "benchmark: one more round"}
        return {"verdict": "REVISE", "issues": [issue]}
    return instant_answer(role, data)


def _sample(
    events: list[TraceEvent], wall_ms: float, cpu_ms: float, calls: list[tuple[float, float]]
) -> TurnSample:
    done = events[-1]
    assert isinstance(done, TurnFinished), done
    if done.error is not None:
        raise RuntimeError(f"a benchmark turn failed: {done.error}")
    steps = [e for e in events if isinstance(e, StepFinished)]
    tokens: dict[str, tuple[int, int]] = {}
    for s in steps:
        if s.llm_calls:
            p, c = tokens.get(s.agent, (0, 0))
            tokens[s.agent] = (p + s.prompt_tokens, c + s.completion_tokens)
    rounds = sum(
        1
        for e in events
        if isinstance(e, StepOutput) and e.agent == "reflector" and e.payload["verdict"] == "REVISE"
    )
    first = [s.duration_ms for s in steps if s.agent in ("manager", "user_analyst")]
    rest = [s.duration_ms for s in steps if s.agent not in ("manager", "user_analyst")]
    return TurnSample(
        steps_ms=max(first, default=0.0) + sum(rest),
        search_ms=sum(s.duration_ms for s in steps if s.agent == "searcher"),
        wall_ms=wall_ms,
        cpu_ms=cpu_ms,
        litellm_ms=covered_ms(calls),
        litellm_sum_ms=sum(b - a for a, b in calls) * 1000,
        litellm_calls=len(calls),
        llm_calls=done.llm_calls,
        critical_calls=critical_path_calls(steps),
        revise_rounds=rounds,
        act=done.act,
        tokens=tokens,
    )


async def run_llm_bench(
    store: MemoryStore,
    turns: int = 20,
    *,
    revise: bool = False,
    warmup: int = WARMUP_TURNS,
    log: Callable[[str], None] = lambda _: None,
) -> LLMBenchResult:
    """`turns` recommendation turns on `store`'s catalog, every LLM role at a local stub."""
    os.environ.setdefault(KEY_ENV, "stub-key")  # a placeholder the stub never reads
    answer: Answer = revising_answer if revise else instant_answer
    with StubLLMServer(answer) as stub, timed_litellm() as calls:
        api_base = stub.api_base
        rec = Recommender(store, stub_settings(stub.api_base), TeamSettings(colike=False))
        samples: list[TurnSample] = []
        load_before = os.getloadavg()
        n = 0
        while len(samples) < turns:
            conversation = CONVERSATIONS[n % len(CONVERSATIONS)]
            session = f"bench-{n}"
            for message in conversation:
                if len(samples) >= turns:
                    break
                first = len(calls)
                started, cpu = time.perf_counter(), time.process_time()
                events = [e async for e in rec.run_turn(session, message, session)]
                wall_ms = (time.perf_counter() - started) * 1000
                cpu_ms = (time.process_time() - cpu) * 1000
                sample = _sample(events, wall_ms, cpu_ms, calls[first:])
                if warmup > 0:
                    warmup -= 1
                    continue
                samples.append(sample)
                log(f"turn {len(samples)}/{turns}: {wall_ms:.0f} ms")
            n += 1
        load_after = os.getloadavg()
    return LLMBenchResult(
        samples=samples,
        catalog_items=store.catalog.count(),
        api_base=api_base,
        load_before=load_before,
        load_after=load_after,
        revise=revise,
    )


def _row(label: str, values: list[float]) -> str:
    median, p95 = statistics.median(values), percentile(values, 0.95)
    return f"  {label:34} p50 {median:7.1f} ms   p95 {p95:7.1f} ms"


def _ok(met: bool) -> str:
    return "ok" if met else "MISSED"


def report(result: LLMBenchResult) -> list[str]:
    """The figures, a line each."""
    s = result.samples
    calls = [x.llm_calls for x in s]
    critical = [x.critical_calls for x in s]
    overhead = [x.overhead_ms for x in s]
    raw = [x.litellm_ms for x in s]
    per_role: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for x in s:
        for role, t in x.tokens.items():
            per_role[role].append(t)
    load = [" ".join(f"{v:.2f}" for v in la) for la in (result.load_before, result.load_after)]
    recommend = sum(1 for x in s if x.act == "RECOMMEND")
    lines = [
        f"{len(s)} turns ({recommend} RECOMMEND) on {result.catalog_items:,} films; every LLM role "
        "through litellm HTTP at a zero-latency stub"
        + (" (its reflector sends each first draft back)" if result.revise else ""),
        f"machine: {os.cpu_count()} cores, load average (1, 5, 15 min) {load[0]} before, "
        f"{load[1]} after",
        f"model calls per turn: max {max(calls)}, mean {statistics.mean(calls):.2f}; "
        f"on the critical path: max {max(critical)}, mean {statistics.mean(critical):.2f}",
        f"  litellm requests {sum(x.litellm_calls for x in s)}, revise rounds per turn "
        f"{statistics.mean(x.revise_rounds for x in s):.2f}",
        "tokens by role, mean per turn, prompt / completion (counted as for gpt-4o-mini):",
    ]
    for role in ROLES:
        if per_role[role]:
            p = statistics.mean(t[0] for t in per_role[role])
            c = statistics.mean(t[1] for t in per_role[role])
            lines.append(f"  {role:13} {p:6.0f} / {c:4.0f}   ({len(per_role[role])} turns)")
    lines += [
        "time per turn:",
        _row("turn (wall)", [x.wall_ms for x in s]),
        _row("turn CPU, all threads (stub's too)", [x.cpu_ms for x in s]),
        _row("inside litellm calls", raw),
        _row("orchestration overhead", overhead),
        _row("  the searcher's steps", [x.search_ms for x in s]),
        _row("  other steps, beyond litellm", [x.steps_ms - x.search_ms - x.litellm_ms for x in s]),
        _row("  outside steps (memory, graph)", [x.wall_ms - x.steps_ms for x in s]),
        f"  litellm time counts concurrent calls once (added up: p50 "
        f"{statistics.median(x.litellm_sum_ms for x in s):.1f} ms)",
        f"overhead / litellm time: {sum(overhead) / max(sum(raw), 1e-9):.2f} "
        f"(run totals {sum(overhead):.0f} ms / {sum(raw):.0f} ms)",
        f"targets: critical path <= {TARGET_CRITICAL} calls {_ok(max(critical) <= TARGET_CRITICAL)}"
        f", <= {TARGET_TOTAL} in all {_ok(max(calls) <= TARGET_TOTAL)}, overhead p95 <= "
        f"{TARGET_OVERHEAD_P95_MS:.0f} ms "
        f"{_ok(percentile(overhead, 0.95) <= TARGET_OVERHEAD_P95_MS)}",
    ]
    return lines


async def main_async(
    turns: int,
    *,
    revise: bool = False,
    catalog: Path | None = None,
    log: Callable[[str], None] = print,
) -> LLMBenchResult:
    """The benchmark on `catalog` (the shipped one by default) in a temporary store."""
    path = catalog or Path(str(resources.files("recteam.data") / "catalog.jsonl.gz"))
    embedder = load_local_embedder(EmbeddingSettings())
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_store(MemorySettings(path=Path(tmp)), embedder) as store,
    ):
        started = time.perf_counter()
        ingest_path(store, path)
        log(
            f"{path.name}: {store.catalog.count():,} films in {time.perf_counter() - started:.1f} s"
        )
        return await run_llm_bench(store, turns, revise=revise, log=log)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=20, help="measured turns (default 20)")
    parser.add_argument("--revise", action="store_true", help="a revise round in every turn")
    parser.add_argument(
        "--catalog", type=Path, help="a catalog file instead of the shipped one (JSONL)"
    )
    args = parser.parse_args()
    result = asyncio.run(main_async(args.turns, revise=args.revise, catalog=args.catalog))
    print("\n".join(report(result)))


if __name__ == "__main__":
    main()
