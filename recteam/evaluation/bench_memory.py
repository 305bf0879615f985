"""What the shared memory costs a turn, and how fast it grows.

    uv run python -m recteam.evaluation.bench_memory [--turns 60] [--growth-turns 1000]

On the full shipped catalog, with a memories collection holding 100 users, one of them with
10,000 points (synthetic points: random unit vectors, payloads shaped like the real kinds), it
prints:

- the manager's recall (embed the situation, then lessons, plans and earlier turns by
  similarity, each filtered to the user's tenant) on its own, p50 / p95 over distinct
  situations;
- whole offline turns of that user with recall on and off, interleaved so both see the same
  machine load: p50 / p95 and the difference, which is what memory retrieval adds to a turn;
- the growth of a fresh user over --growth-turns real turns (a new session every third turn):
  points and bytes (payload JSON plus the 384-float vector) per turn and in all.

The machine's load average is printed beside the figures: this machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid

import numpy as np

from recteam.agents.recall import recall
from recteam.agents.settings import TeamSettings
from recteam.agents.trace import MemoryAccess, TurnFinished
from recteam.agents.tracer import TurnTracer
from recteam.evaluation.bench_turn import CONVERSATIONS, percentile, shipped_store
from recteam.memory.backend import PointData
from recteam.memory.store import MemoryStore
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender

MEASURED = "bench-user"
KINDS = (
    ("episode", 0.6),
    ("feedback", 0.2),
    ("reflection", 0.08),
    ("plan", 0.07),
    ("dialogue", 0.05),
)
SITUATIONS = [
    "a smart heist movie, nothing violent (wants: smart; avoids: violent; about: heist)",
    "something scary from the 80s (genres: horror; years 1980-1989)",
    "a funny film for the whole family tonight (wants: funny)",
    "space films like Interstellar (like Interstellar (2014))",
    "a slow-burn thriller with a twist (genres: thriller; wants: slow burn)",
    "a romantic comedy set in Paris (genres: comedy, romance; about: paris)",
    "more like The Dark Knight but lighter (wants: lighter)",
    "an animated film about friendship (genres: animated; about: friendship)",
]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} (1 / 5 min, {os.cpu_count()} cores)"


def populate(store: MemoryStore, users: int, user_points: int, other_points: int) -> float:
    """Synthetic memory points, written straight to the engine (no embedding)."""
    rng = np.random.default_rng(7)
    dim = store.embedder.dim
    kinds = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    started = time.perf_counter()
    for u in range(users):
        user = MEASURED if u == 0 else f"other-{u}"
        n = user_points if u == 0 else other_points
        batch: list[PointData] = []
        for i in range(n):
            kind = str(rng.choice(kinds, p=weights))
            v = rng.standard_normal(dim).astype(np.float32)
            payload = {
                "user_id": user,
                "kind": kind,
                "text": f"{kind} {i} of {user}: something about films and a request",
                "session_id": f"past-{i // 12}",
                "created_at": time.time() - (n - i) * 60,
                "data": {"turn": i % 12, "recommended": [], "request": {"genres": ["drama"]}}
                if kind in ("episode", "plan")
                else {"advice": "diversify"}
                if kind == "reflection"
                else {},
            }
            batch.append(PointData(str(uuid.uuid4()), payload, {"text": v / np.linalg.norm(v)}))
            if len(batch) == 2000:
                store.backend.upsert(store.memories.name, batch)
                batch = []
        store.backend.upsert(store.memories.name, batch)
    store.backend.flush()
    return time.perf_counter() - started


def bench_recall(store: MemoryStore, rounds: int) -> list[float]:
    settings = TeamSettings()
    times = []
    for i in range(rounds):
        step = TurnTracer("bench", 1, lambda e: None).step("manager", "recall", "offline")
        situation = f"{SITUATIONS[i % len(SITUATIONS)]} #{i}"  # distinct: no query-cache hits
        t = time.perf_counter()
        recall(store, MEASURED, "now", situation, settings, step)
        times.append((time.perf_counter() - t) * 1000)
    return times


async def turn_ms(rec: Recommender, user: str, message: str, session: str) -> tuple[float, float]:
    """(turn time, engine time of the manager's memory reads) in ms."""
    t = time.perf_counter()
    reads = 0.0
    async for event in rec.run_turn(user, message, session):
        if isinstance(event, MemoryAccess) and event.agent == "manager" and event.ms:
            reads += event.ms
        if isinstance(event, TurnFinished) and event.error:
            raise RuntimeError(event.error)
    return (time.perf_counter() - t) * 1000, reads


async def compare_turns(store: MemoryStore, turns: int) -> None:
    on = Recommender(store, LLMSettings(), TeamSettings(colike=False))
    off = Recommender(
        store,
        LLMSettings(),
        TeamSettings(
            colike=False, lessons=0, recall_plans=0, recall_episodes=0, welcome_back=False
        ),
    )
    with_recall, without, reads = [], [], []
    n = 0
    while n < turns + 6:
        for c, conversation in enumerate(CONVERSATIONS):
            for message in conversation:
                a, r = await turn_ms(on, MEASURED, message, f"on-{n}-{c}")
                b, _ = await turn_ms(off, MEASURED, message, f"off-{n}-{c}")
                if n >= 6:  # the first turns warm caches
                    with_recall.append(a)
                    without.append(b)
                    reads.append(r)
                n += 1
    print(f"\nwhole offline turns of the 10,000-point user ({len(with_recall)} each, interleaved):")
    for name, values in (("recall on ", with_recall), ("recall off", without)):
        print(
            f"  {name}  p50 {percentile(values, 0.5):7.1f} ms   p95 {percentile(values, 0.95):7.1f} ms"
        )
    added = percentile(with_recall, 0.95) - percentile(without, 0.95)
    print(f"  added by memory retrieval at p95: {added:+.1f} ms")
    print(
        f"  the manager's memory reads inside a turn (engine time): p50 {percentile(reads, 0.5):.1f} ms, "
        f"p95 {percentile(reads, 0.95):.1f} ms"
    )


def logical_bytes(store: MemoryStore, user: str) -> tuple[int, int]:
    records = store.memories.all(user)
    vector = 4 * store.embedder.dim
    return len(records), sum(
        len(json.dumps(r.model_dump(mode="json", exclude={"id", "score"}))) + vector
        for r in records
    )


async def growth(store: MemoryStore, turns: int) -> None:
    rec = Recommender(store, LLMSettings(), TeamSettings(colike=False))
    user = f"grower-{uuid.uuid4().hex[:6]}"
    messages = [m for c in CONVERSATIONS for m in c]
    marks = {10, 100, turns}
    started = time.perf_counter()
    print(f"\ngrowth of a fresh user over {turns} turns (a new session every 3 turns):")
    for i in range(1, turns + 1):
        await turn_ms(rec, user, messages[i % len(messages)], f"g-{i // 3}")
        if i in marks:
            points, size = logical_bytes(store, user)
            print(
                f"  after {i:5} turns: {points:6} points, {size / 1e6:6.2f} MB "
                f"({points / i:.2f} points and {size / i / 1e3:.1f} kB per turn)"
            )
    print(f"  ({time.perf_counter() - started:.0f} s; target for 1,000 turns: under 5 MB)")


async def main_async(args: argparse.Namespace) -> None:
    print(load())
    with shipped_store() as store:
        took = populate(store, args.users, args.user_points, args.other_points)
        total = store.backend.count(store.memories.name)
        print(
            f"{store.catalog.count():,} films; {total:,} memory points for {args.users} users "
            f"({args.user_points:,} for the measured user) written in {took:.0f} s"
        )
        bench_recall(store, 10)  # warm the model and the engine
        times = bench_recall(store, args.recall_rounds)
        print(
            f"\nrecall alone ({len(times)} distinct situations; embedding + 3 filtered queries + "
            f"this session's lesson): p50 {percentile(times, 0.5):.1f} ms, "
            f"p95 {percentile(times, 0.95):.1f} ms   [{load()}]"
        )
        await compare_turns(store, args.turns)
        print(f"  [{load()}]")
        if args.growth_turns:
            await growth(store, args.growth_turns)
            print(f"  [{load()}]")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=60, help="turns with recall on (and off)")
    parser.add_argument("--recall-rounds", type=int, default=200)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--user-points", type=int, default=10_000)
    parser.add_argument("--other-points", type=int, default=1_000)
    parser.add_argument("--growth-turns", type=int, default=1_000, help="0 to skip")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
