"""Where the time goes when `recteam ingest` adds a few rows to the full shipped catalog.

Each run writes ROWS new films (new titles and descriptions, so nothing comes from the embedding
cache), then does what the command does after Python has started, timing each step: load the
embedding model and open the store, open the live catalog (the engine loads its segment; every
command that reads the catalog pays this), then ingest_path split into reading the file,
embedding the rows, the one write into the live catalog and its flush, and closing the store.
Prints the median of each step over the runs (first run excluded: a cold page cache).

    .venv/bin/python scripts/bench_incremental_ingest.py [--store DIR] [--runs 7] [--rows 3]
                                                         [--blas-threads N]

Without --store a temporary store is prepared with the shipped catalog first (~20-40 s); with it,
that store is used as it is (it must hold the catalog already, e.g. one `recteam` prepared).
--blas-threads sets OPENBLAS_NUM_THREADS before numpy loads (the embedder's matrix products).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="a store holding the shipped catalog")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rows", type=int, default=3)
    parser.add_argument("--blas-threads", type=int)
    return parser.parse_args()


ARGS = _args()
if ARGS.blas_threads:
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(ARGS.blas_threads)

from recteam.memory.ingest import ingest_path  # noqa: E402
from recteam.memory.settings import EmbeddingSettings, MemorySettings  # noqa: E402
from recteam.memory.store import open_store  # noqa: E402
from recteam.orchestration.model_clients import build_embedder  # noqa: E402
from recteam.ui.cli import shipped_catalog  # noqa: E402

STEPS = (
    "model + open store",
    "open live catalog",
    "read file",
    "embed rows",
    "write (one upsert)",
    "flush",
    "rest of ingest_path",
    "close store",
)


def _timed(totals: dict[str, float], step: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[step] += time.perf_counter() - started

    return run


def _rows(path: Path, n: int, tag: str) -> None:
    lines = ["title,year,description"]
    lines += [
        f"Bench Film {tag} {i},{1990 + i % 30},A story {tag} {i}: a crew plans one last job in Lyon."
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def one_run(store_path: Path, folder: Path, run: int) -> tuple[dict[str, float], int]:
    import recteam.memory.ingest as ingest

    settings = MemorySettings(backend="embedded", path=store_path)
    t: dict[str, float] = defaultdict(float)
    rows = folder / f"rows-{run}-{time.time_ns()}.csv"
    _rows(rows, ARGS.rows, f"{run}-{time.time_ns()}")

    started = time.perf_counter()
    store = open_store(settings, build_embedder(EmbeddingSettings()))
    t["model + open store"] = time.perf_counter() - started
    started = time.perf_counter()
    store.catalog.count()
    t["open live catalog"] = time.perf_counter() - started

    store.embedder.embed = _timed(t, "embed rows", store.embedder.embed)  # type: ignore[method-assign]
    store.backend.upsert = _timed(t, "write (one upsert)", store.backend.upsert)  # type: ignore[method-assign]
    store.backend.flush = _timed(t, "flush", store.backend.flush)  # type: ignore[method-assign]
    read_items = ingest.read_items
    ingest.read_items = _timed(t, "read file", read_items)
    try:
        started = time.perf_counter()
        report = ingest_path(store, rows)
        whole = time.perf_counter() - started
    finally:
        ingest.read_items = read_items
    inner = sum(t[s] for s in ("read file", "embed rows", "write (one upsert)", "flush"))
    t["rest of ingest_path"] = whole - inner
    t["ingest_path"] = whole
    started = time.perf_counter()
    store.close()
    t["close store"] = time.perf_counter() - started
    assert report.new_items == ARGS.rows, report
    return t, report.catalog_size


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="recteam-bench-ingest-") as tmp:
        folder = Path(tmp)
        store_path = ARGS.store
        if store_path is None:
            store_path = folder / "store"
            print("preparing a store with the shipped catalog...", file=sys.stderr, flush=True)
            store = open_store(
                MemorySettings(backend="embedded", path=store_path),
                build_embedder(EmbeddingSettings()),
            )
            ingest_path(store, shipped_catalog())
            store.close()
        runs: dict[str, list[float]] = defaultdict(list)
        size = 0
        for run in range(ARGS.runs + 1):
            t, size = one_run(store_path, folder, run)
            if run:  # the first run reads the store into the page cache
                for step, seconds in t.items():
                    runs[step].append(seconds)
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(
        f"{ARGS.rows} new rows into a catalog of {size - ARGS.rows:,} items; median of "
        f"{ARGS.runs} runs (ms); BLAS threads: {threads}; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    for step in STEPS:
        print(f"  {step:<22} {statistics.median(runs[step]) * 1000:8.1f}")
    print(f"  {'ingest_path in all':<22} {statistics.median(runs['ingest_path']) * 1000:8.1f}")
    total = statistics.median(sum(runs[s][i] for s in STEPS) for i in range(ARGS.runs))
    print(f"  {'all after start-up':<22} {total * 1000:8.1f}")


if __name__ == "__main__":
    main()
