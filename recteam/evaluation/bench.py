"""`recteam bench`: latency, LLM use and memory growth of the team, in one run.

Reuses bench_search (the searches and their timing) and bench_turn (the conversations, the
zero-latency InstantModel and the per-turn summary); adds catalog subsets (search p50 / p95 at
1k, 10k and the full catalog), memory growth per turn and a PNG plot.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from recteam.agents.messages import ROLES
from recteam.agents.settings import TeamSettings
from recteam.agents.trace import TurnFinished
from recteam.evaluation import bench_search, bench_turn
from recteam.memory.embeddings import Embedder, load_local_embedder
from recteam.memory.ingest import ingest_path, vectors_sidecar
from recteam.memory.settings import EmbeddingSettings, MemorySettings
from recteam.memory.store import MemoryStore, open_store
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender

__all__ = [
    "FULL_SIZES",
    "QUICK_SIZES",
    "BenchResult",
    "GrowthPoint",
    "SearchPoint",
    "matplotlib_available",
    "plot",
    "run_bench",
    "shipped_catalog",
    "subset_catalog",
]

FULL_SIZES: tuple[int | None, ...] = (1_000, 10_000, None)  # None: the whole shipped catalog
QUICK_SIZES: tuple[int | None, ...] = (300, 1_000)
SEARCH_KINDS = ("filtered hybrid", "filtered hybrid + like")


def shipped_catalog() -> Path:
    return Path(str(resources.files("recteam.data") / "catalog.jsonl.gz"))


@dataclass
class SearchPoint:
    size: int
    ingest_s: float
    n: int
    p50_ms: float
    p95_ms: float
    kinds: dict[str, tuple[int, float, float]]  # kind -> (n, p50 ms, p95 ms)


@dataclass
class GrowthPoint:
    turn: int
    points: int  # points in the memories collection
    bytes: int  # bytes on disk of the store folder


@dataclass
class BenchResult:
    search: list[SearchPoint]
    turn_catalog_size: int
    offline: bench_turn.TurnStats
    scripted: bench_turn.TurnStats
    growth: list[GrowthPoint] = field(default_factory=list)


def subset_catalog(
    source: Path,
    size: int,
    folder: Path,
    keep: Sequence[str] = bench_search.LIKES,
    seed: int = 7,
) -> Path:
    """A seeded random sample of `size` rows of `source` as `folder/catalog-<size>.jsonl`, with
    the films titled as in `keep` always in (the searches' "like" titles must resolve), and the
    source's vectors sidecar linked beside it under the matching name, so the ingest embeds
    nothing (the rows are the same, so are the texts and their cache keys)."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt", encoding="utf-8") as f:
        rows = [line for line in f if line.strip()]
    wanted = {t.casefold() for t in keep}
    kept = [
        i for i, r in enumerate(rows) if str(json.loads(r).get("title", "")).casefold() in wanted
    ]
    rest = sorted(set(range(len(rows))) - set(kept))
    fill = random.Random(seed).sample(rest, max(0, min(size - len(kept), len(rest))))
    chosen = sorted([*kept, *fill])
    path = folder / f"catalog-{size}.jsonl"
    path.write_text("".join(rows[i] for i in chosen), encoding="utf-8")
    sidecar = vectors_sidecar(source)
    if sidecar.exists():
        target = vectors_sidecar(path)
        try:
            os.symlink(sidecar.resolve(), target)
        except OSError:
            shutil.copyfile(sidecar, target)
    return path


def dir_bytes(path: Path) -> int:
    """Bytes allocated on disk under `path` (the store preallocates sparse files, so their
    apparent size says little); the apparent size where the OS reports no blocks."""
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            blocks = getattr(st, "st_blocks", None)
            total += st.st_size if blocks is None else blocks * 512
    return total


def _search_point(store: MemoryStore, size: int, ingest_s: float, queries: int) -> SearchPoint:
    timings = bench_search.run(store, bench_search.requests(queries), min(100, queries))
    searches = [v for kind in SEARCH_KINDS for v in timings.get(kind, [])]
    return SearchPoint(
        size=size,
        ingest_s=ingest_s,
        n=len(searches),
        p50_ms=bench_search.percentile(searches, 0.5),
        p95_ms=bench_search.percentile(searches, 0.95),
        kinds=bench_search.summarize(timings),
    )


async def memory_growth(
    rec: Recommender, store: MemoryStore, folder: Path, turns: int
) -> list[GrowthPoint]:
    """One user talks for `turns` turns (bench_turn's conversations, one session each); after
    each turn, the points in the memories collection and the store folder's bytes on disk."""

    def measure(turn: int) -> GrowthPoint:
        store.backend.flush()
        return GrowthPoint(turn, store.backend.count(store.memories.name), dir_bytes(folder))

    points = [measure(0)]
    messages = [
        (c, m) for c, conversation in enumerate(bench_turn.CONVERSATIONS) for m in conversation
    ]
    for n in range(turns):
        c, message = messages[n % len(messages)]
        round_ = n // len(messages)
        events = [e async for e in rec.run_turn("bench-growth", message, f"growth-{round_}-{c}")]
        done = events[-1]
        assert isinstance(done, TurnFinished) and done.error is None, done
        points.append(measure(n + 1))
    return points


async def run_bench(
    sizes: Sequence[int | None] = FULL_SIZES,
    queries: int = 300,
    turns: int = 60,
    catalog: Path | None = None,
    embedder: Embedder | None = None,
    log: Callable[[str], None] = print,
) -> BenchResult:
    """Search latency on each catalog size (None: the whole catalog), then, on the largest, turn
    latency (offline policy and zero-latency scripted model) and memory growth per turn."""
    catalog = catalog or shipped_catalog()
    embedder = embedder or load_local_embedder(EmbeddingSettings())
    points: list[SearchPoint] = []
    with tempfile.TemporaryDirectory(prefix="recteam-bench-") as tmp:
        root = Path(tmp)
        for i, size in enumerate(sizes):
            source = catalog if size is None else subset_catalog(catalog, size, root)
            folder = root / f"store-{size or 'full'}"
            store = open_store(MemorySettings(backend="embedded", path=folder), embedder)
            try:
                t = time.perf_counter()
                rep = ingest_path(store, source)
                ingest_s = time.perf_counter() - t
                log(f"ingested {rep.catalog_size:,} items in {ingest_s:.1f} s; {queries} searches")
                points.append(_search_point(store, rep.catalog_size, ingest_s, queries))
                if i < len(sizes) - 1:
                    continue
                log(f"turns on {rep.catalog_size:,} items: building the team")
                offline = Recommender(store, LLMSettings(), TeamSettings(colike=False))
                log(f"memory growth: {turns} turns of one user (offline policy)")
                growth = await memory_growth(offline, store, folder, turns)
                await bench_turn.run(offline, "warmup", 6)
                log(f"offline policy: {turns} turns")
                offline_stats = bench_turn.summarize(*await bench_turn.run(offline, "off", turns))
                scripted = Recommender(
                    store,
                    LLMSettings(),
                    TeamSettings(colike=False),
                    clients=bench_turn.scripted_clients(),
                )
                log(f"zero-latency scripted model: {turns} turns")
                scripted_stats = bench_turn.summarize(
                    *await bench_turn.run(scripted, "scripted", turns)
                )
                return BenchResult(points, rep.catalog_size, offline_stats, scripted_stats, growth)
            finally:
                store.close()
    raise ValueError("no catalog sizes to benchmark")


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot(result: BenchResult, path: Path) -> Path | None:
    """Saves the PNG (search p50 / p95 vs catalog size, per-agent stacked latency per turn,
    memory growth); None when matplotlib is not installed."""
    if not matplotlib_available():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_search, ax_agents, ax_growth) = plt.subplots(1, 3, figsize=(16, 5))
    sizes = [p.size for p in result.search]
    ax_search.plot(sizes, [p.p50_ms for p in result.search], "o-", label="p50")
    ax_search.plot(sizes, [p.p95_ms for p in result.search], "s--", label="p95")
    ax_search.set_xscale("log")
    ax_search.set_xlabel("catalog size (items)")
    ax_search.set_ylabel("search latency (ms, query embedding included)")
    ax_search.set_title("Search latency vs catalog size")
    ax_search.set_ylim(bottom=0)
    ax_search.grid(True, alpha=0.3)
    ax_search.legend()

    labels = ["offline policy", "zero-latency\nscripted model"]
    stats = [result.offline, result.scripted]
    bottom = [0.0, 0.0]
    for agent in ROLES:
        values = [s.agent_ms_per_turn.get(agent, 0.0) for s in stats]
        ax_agents.bar(labels, values, bottom=bottom, label=agent)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    # Outside agent steps: graph, memory writes, validation (the manager and the user analyst
    # overlap, so the agents' sum can also exceed the turn's mean).
    other = [max(0.0, s.mean_ms - b) for s, b in zip(stats, bottom, strict=True)]
    ax_agents.bar(labels, other, bottom=bottom, label="outside agent steps", color="lightgrey")
    ax_agents.plot(labels, [s.p50_ms for s in stats], "k_", markersize=40, label="turn p50")
    ax_agents.set_ylabel("mean ms per turn (stack: turn mean)")
    ax_agents.set_title(f"Time per agent per turn ({result.turn_catalog_size:,} items)")
    ax_agents.legend(fontsize=8)

    turns = [g.turn for g in result.growth]
    ax_growth.plot(turns, [g.points for g in result.growth], "o-", color="tab:green")
    ax_growth.set_xlabel("turn")
    ax_growth.set_ylabel("points in the memories collection", color="tab:green")
    ax_bytes = ax_growth.twinx()
    base = result.growth[0].bytes if result.growth else 0
    ax_bytes.plot(
        turns, [(g.bytes - base) / 1024 for g in result.growth], "s--", color="tab:purple"
    )
    ax_bytes.set_ylabel("store folder growth on disk (KiB)", color="tab:purple")
    ax_growth.set_title("Memory growth per turn (one user)")

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
