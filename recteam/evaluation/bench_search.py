"""Search latency on the full shipped catalog, query embedding included.

    uv run python -m recteam.evaluation.bench_search [--queries 300] [--compare-local 20]

Builds a fresh embedded store in a temporary folder (timing the first-start ingest and a restart),
then runs distinct filtered searches through ItemCatalog.search - the function the searcher agent
and `recteam search` call - and prints p50 / p95 per kind. --compare-local runs the same searches
on qdrant-client's in-process mode, in the same run, for a ratio that does not depend on how busy
this machine is. Each table gives the machine's load average (os.getloadavg, 1 minute) before and
after its searches: on a shared machine the figures mean little without it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path

from recteam.memory.catalog import SearchRequest
from recteam.memory.embeddings import load_local_embedder
from recteam.memory.ingest import ingest_path
from recteam.memory.settings import EmbeddingSettings, MemorySettings
from recteam.memory.store import MemoryStore, open_store

PHRASES = [
    "space exploration",
    "a heist that goes wrong",
    "haunted house",
    "coming of age summer",
    "detective in a rainy city",
    "talking animals adventure",
    "courtroom drama",
    "road trip friends",
    "alien invasion",
    "boxing underdog",
    "musical romance in New York",
    "war pilots",
    "time travel",
    "serial killer investigation",
    "high school comedy",
    "cowboys and outlaws",
    "robot uprising",
    "family holiday chaos",
    "political conspiracy",
    "small town secrets",
    "martial arts revenge",
    "shipwreck survival",
    "superhero origin",
    "vampires",
    "spy thriller in Europe",
    "gangsters",
]
GENRES = [
    "Drama",
    "Comedy",
    "Science Fiction",
    "Horror",
    "Thriller",
    "Action",
    "Romance",
    "Crime",
    None,
]
LIKES = [
    "Heat",
    "Arrival",
    "The Matrix",
    "Toy Story",
    "Alien",
    "Casablanca",
    "Jaws",
    "Groundhog Day",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def requests(n: int, seed: int = 7) -> list[tuple[str, SearchRequest]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        # Distinct text every time, so no query embedding is served from the cache.
        phrase = f"{rng.choice(PHRASES)} {rng.choice(['', 'dark', 'funny', 'slow', 'classic', 'recent'])} {i}"
        genre = rng.choice(GENRES)
        lo = rng.choice([None, 1950, 1980, 2000])
        kind = ["filtered hybrid", "filtered hybrid + like"][i % 2]
        like = [rng.choice(LIKES)] if kind.endswith("like") else []
        out.append(
            (
                kind,
                SearchRequest(
                    query=phrase, genres=[genre] if genre else [], year_min=lo, like=like, limit=10
                ),
            )
        )
    return out


def load() -> float:
    """The 1-minute load average (0.0 where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def run(
    store: MemoryStore, reqs: list[tuple[str, SearchRequest]], embeddings: int = 100
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    store.catalog.search(SearchRequest(query="warm-up"))
    start_load = load()
    for kind, req in reqs:
        t = time.perf_counter()
        store.catalog.search(req)
        timings.setdefault(kind, []).append((time.perf_counter() - t) * 1000)
    emb = []
    for i in range(embeddings):
        t = time.perf_counter()
        store.embedder.embed_query(f"query embedding alone {i}")
        emb.append((time.perf_counter() - t) * 1000)
    timings["query embedding alone"] = emb
    timings["load"] = [start_load, load()]
    return timings


def summarize(timings: dict[str, list[float]]) -> dict[str, tuple[int, float, float]]:
    """kind -> (n, p50 ms, p95 ms)."""
    return {
        kind: (len(values), statistics.median(values), percentile(values, 0.95))
        for kind, values in timings.items()
        if kind != "load"
    }


def report(title: str, timings: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    if "load" in timings:
        before, after = timings["load"]
        print(f"  load average (1 min) {before:.2f} before the searches, {after:.2f} after")
    print(f"  {'kind':28} {'n':>5} {'p50 ms':>9} {'p95 ms':>9}")
    for kind, (n, p50, p95) in summarize(timings).items():
        print(f"  {kind:28} {n:5d} {p50:9.2f} {p95:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--compare-local",
        type=int,
        default=0,
        metavar="N",
        help="also run N searches on qdrant-client's in-process mode",
    )
    parser.add_argument(
        "--catalog",
        type=Path,
        default=Path(str(resources.files("recteam.data") / "catalog.jsonl.gz")),
    )
    args = parser.parse_args()

    embedder = load_local_embedder(EmbeddingSettings())
    reqs = requests(args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        settings = MemorySettings(backend="embedded", path=Path(tmp))
        t = time.perf_counter()
        with open_store(settings, embedder) as store:
            rep = ingest_path(store, args.catalog)
        print(
            f"first start: ingested {rep.items:,} items in {time.perf_counter() - t:.1f} s "
            f"({rep.items_per_second:,.0f} items/s, vectors from the shipped sidecar when present)"
        )
        t = time.perf_counter()
        store = open_store(settings, embedder)
        store.catalog.search(SearchRequest(query="restart", limit=5))
        print(f"restart: store opened and first search answered in {time.perf_counter() - t:.2f} s")
        embedded = run(store, reqs)
        store.close()
        report(f"embedded backend (qdrant-edge), {rep.catalog_size:,} items", embedded)

        if args.compare_local:
            local = MemorySettings(backend="server", url=":memory:", path=Path(tmp) / "local")
            with open_store(local, embedder) as lstore:
                t = time.perf_counter()
                ingest_path(lstore, args.catalog)
                print(f"\nqdrant-client local mode: ingest {time.perf_counter() - t:.1f} s")
                timings = run(lstore, reqs[: args.compare_local])
            report("qdrant-client local mode (:memory:), same searches", timings)
            for kind in ("filtered hybrid", "filtered hybrid + like"):
                if kind in timings:
                    ratio = statistics.median(timings[kind]) / statistics.median(embedded[kind])
                    print(f"  {kind}: local mode p50 is {ratio:.0f}x the embedded backend's")


if __name__ == "__main__":
    main()
