"""Builds the shipped catalog (recteam/data/catalog.jsonl.gz) from the wikipedia-movies data,
keeping facts only (title, year, genres, cast, Wikipedia slug; no summaries, which are CC BY-SA
text), and its precomputed all-MiniLM-L6-v2 vectors (catalog.vectors.npz), so a first start
loads vectors instead of spending minutes embedding 36k films on two cores.

Popularity, the prior that orders results when nothing else does, combines how often ReDial's
crowd workers mentioned a film (movies_with_mentions.csv, CC BY 4.0) with how much Wikipedia
says of it (summary length, cast listed, a poster). The evaluation (issue 5) must not rank by it:
the mention counts include ReDial's test dialogues.

    uv run python scripts/build_catalog.py [../shared/data/wikipedia-movies] [../shared/data/redial/movies_with_mentions.csv]
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

from recteam.memory.embeddings import BUNDLED_MODEL, load_local_embedder, text_key
from recteam.memory.ingest import IngestReport, read_items
from recteam.memory.items import CatalogItem, title_key
from recteam.memory.settings import EmbeddingSettings

OUT = Path(__file__).resolve().parent.parent / "recteam" / "data"


def _mentions(path: Path) -> dict[tuple[str, int], int]:
    counts: dict[tuple[str, int], int] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            match = re.match(r"^(.*?)\s*\((\d{4})\)\s*$", row["movieName"])
            if match:
                key = (title_key(match.group(1)), int(match.group(2)))
                counts[key] = counts.get(key, 0) + int(row["nbMentions"])
    return counts


def _popularity(item: CatalogItem, raw: dict, mentions: dict[tuple[str, int], int]) -> float:
    key = title_key(item.title)
    said = max((mentions.get((key, (item.year or 0) + d), 0) for d in (-1, 0, 1)), default=0)
    words = len((raw.get("extract") or "").split())
    score = 2.0 * math.log1p(said) + 0.5 * math.log1p(words) + 0.3 * math.log1p(len(item.cast))
    return round(score + (0.3 if raw.get("thumbnail") else 0.0), 3)


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/wikipedia-movies")
    mentions_csv = Path(
        sys.argv[2] if len(sys.argv) > 2 else "../shared/data/redial/movies_with_mentions.csv"
    )
    mentions = _mentions(mentions_csv) if mentions_csv.exists() else {}
    raw_by_id: dict[str, dict] = {}
    for file in sorted(source.glob("*.json")):
        for raw in json.loads(file.read_text(encoding="utf-8")):
            if raw.get("title"):
                raw_by_id[CatalogItem(title=raw["title"], year=raw.get("year")).id] = raw
    report = IngestReport()
    items = read_items(source, report)
    facts = [
        it.model_copy(
            update={
                "description": None,
                "popularity": _popularity(it, raw_by_id.get(it.id, {}), mentions),
            }
        )
        for it in items
    ]
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
                "popularity": it.popularity,
            }
            gz.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
    print(f"wrote {catalog} ({catalog.stat().st_size / 1e6:.1f} MB)")

    texts = [it.dense_text() for it in facts]
    sidecar = OUT / "catalog.vectors.npz"
    if sidecar.exists() and "--reembed" not in sys.argv:
        with np.load(sidecar) as old:
            known = {bytes(k) for k in old["keys"]}
        if all(text_key(BUNDLED_MODEL, t) in known for t in texts):
            print(f"{sidecar} already holds every text's vector; pass --reembed to recompute")
            return
    embedder = load_local_embedder(EmbeddingSettings(model=BUNDLED_MODEL))
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
    np.savez_compressed(
        sidecar, model=np.array(BUNDLED_MODEL), keys=keys, vectors=vectors.astype(np.float16)
    )
    print(
        f"wrote {sidecar} ({sidecar.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
