"""Builds the shipped catalog (recteam/data/catalog.jsonl.gz) from the wikipedia-movies data,
keeping facts only (title, year, genres, cast, Wikipedia slug; no summaries, which are CC BY-SA
text), and its precomputed all-MiniLM-L6-v2 vectors (catalog.vectors.npz), so a first start
loads vectors instead of spending minutes embedding 36k films on two cores.

    uv run python scripts/build_catalog.py [../shared/data/wikipedia-movies]
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

from recteam.memory.embeddings import BUNDLED_MODEL, load_local_embedder, text_key
from recteam.memory.ingest import IngestReport, read_items
from recteam.memory.settings import EmbeddingSettings

OUT = Path(__file__).resolve().parent.parent / "recteam" / "data"


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/wikipedia-movies")
    report = IngestReport()
    items = read_items(source, report)
    facts = [it.model_copy(update={"description": None}) for it in items]
    facts.sort(key=lambda it: (it.year or 0, it.title, it.id))
    print(
        f"{len(facts)} films from {report.rows} rows ({len(report.problems)} bad, {report.duplicates} duplicates)"
    )

    catalog = OUT / "catalog.jsonl.gz"
    with gzip.GzipFile(catalog, "wb", mtime=0) as gz:  # mtime=0: same input, same bytes
        for it in facts:
            row = {
                "title": it.title,
                "year": it.year,
                "genres": it.genres,
                "cast": it.cast,
                "slug": it.slug,
            }
            gz.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
    print(f"wrote {catalog} ({catalog.stat().st_size / 1e6:.1f} MB)")

    embedder = load_local_embedder(EmbeddingSettings(model=BUNDLED_MODEL))
    texts = [it.dense_text() for it in facts]
    started = time.perf_counter()
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if done % 2048 < n:
            print(
                f"  embedded {done}/{len(texts)} ({done / (time.perf_counter() - started):.0f}/s)",
                flush=True,
            )

    vectors = embedder.embed(texts, progress=progress)
    keys = np.frombuffer(
        b"".join(text_key(BUNDLED_MODEL, t) for t in texts), dtype=np.uint8
    ).reshape(-1, 20)
    sidecar = OUT / "catalog.vectors.npz"
    np.savez_compressed(
        sidecar, model=np.array(BUNDLED_MODEL), keys=keys, vectors=vectors.astype(np.float16)
    )
    print(
        f"wrote {sidecar} ({sidecar.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
