"""Builds recteam/data/redial_comentions.json.gz: films people name together, for a cold start.

Before anyone has liked anything in an installation, the searcher's item-to-item signal comes
from this table: for each pair of catalog films, how often ReDial dialogues (Li et al. 2018,
CC BY 4.0; see recteam/data/NOTICE.md) named both.

- Each dialogue counts once per film and once per pair, its ReDial movie ids joined to the
  shipped catalog (recteam.evaluation.redial_profile.join_to_catalog: normalised title, year
  +-1), so two ReDial ids of one film count once.
- A pair counts LIKED_BOTH (2) when the seeker's questionnaire says they liked both films, else
  1. A co-like from a user of recteam is exactly that (one person liked both), so the live
  statistics (recteam/memory/colike.py) add each co-like on this scale. Measured on ReDial dev,
  5 folds, the table built from four folds ranking the fifth's recommender turns on its own
  (co-mentions, then popularity): R@50 (new) .258 with the weight 2, .257 with plain counts;
  with the pruning below, .249 against .206: the weight keeps the pairs that carry the signal.
- Pruned: a pair stays when its weight is at least MIN_WEIGHT (2): named together in two
  dialogues, or in one whose seeker liked both. A film stays when it is in a pair kept.

The table is built from the dialogues the ReDial evaluation scores, so that evaluation never
reads it (it builds its own per fold, from the other folds).

    .venv/bin/python scripts/build_colike_table.py [--dialogues FILE] [--movies FILE]
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path

from recteam.evaluation.redial_data import load_movies
from recteam.evaluation.redial_profile import join_to_catalog
from recteam.memory.cooccurrence import CoMentionTable
from recteam.memory.items import CatalogItem

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "recteam" / "data"
REDIAL = ROOT.parent / "shared" / "data" / "redial"
OUT = DATA / "redial_comentions.json.gz"
LIKED_BOTH = 2
MIN_WEIGHT = 2


def catalog_items(path: Path) -> list[CatalogItem]:
    """The shipped catalog's titles and years (ids as ingest derives them)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [
            CatalogItem.model_validate(
                {k: v for k, v in json.loads(line).items() if k in ("title", "year")}
            )
            for line in fh
            if line.strip()
        ]


def dialogues(path: Path) -> list[tuple[list[str], set[str]]]:
    """(movie ids named, in order; ids the seeker said they liked) of each ReDial dialogue."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            raw = json.loads(line)
            named = [str(k) for k in raw.get("movieMentions") or {}]
            answers = raw.get("initiatorQuestions") or {}
            liked = {
                str(k) for k, v in answers.items() if isinstance(v, dict) and v.get("liked") == 1
            }
            out.append((named, liked))
    return out


def build(
    named_liked: list[tuple[list[str], set[str]]], to_catalog: dict[str, str]
) -> CoMentionTable:
    table = CoMentionTable()
    for named, liked in named_liked:
        films = sorted({to_catalog[m] for m in named if m in to_catalog})
        loved = {to_catalog[m] for m in liked if m in to_catalog}
        table.mentions.update(films)
        for a in films:
            for b in films:
                if a != b:
                    table.pairs[a][b] += LIKED_BOTH if a in loved and b in loved else 1
    kept = CoMentionTable()
    for a, row in table.pairs.items():
        strong = Counter({b: n for b, n in row.items() if n >= MIN_WEIGHT})
        if strong:
            kept.pairs[a] = strong
    kept.mentions.update({a: table.mentions[a] for a in kept.pairs})
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dialogues", type=Path, default=REDIAL / "dev_dialogues.jsonl")
    parser.add_argument("--movies", type=Path, default=REDIAL / "movies_with_mentions.csv")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    movies = load_movies(args.movies)
    named_liked = dialogues(args.dialogues)
    wanted = {m for named, _ in named_liked for m in named}
    to_catalog = join_to_catalog(movies, catalog_items(DATA / "catalog.jsonl.gz"), wanted)
    table = build(named_liked, to_catalog)
    pairs = sum(len(row) for row in table.pairs.values()) // 2
    about = {
        "source": "ReDial (Li et al. 2018, Towards Deep Conversational Recommendations), "
        f"{args.dialogues.name}, redialdata.github.io",
        "licence": "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
        "built_by": "scripts/build_colike_table.py",
        "dialogues": len(named_liked),
        "movies_joined": f"{len(to_catalog)} of {len(wanted)}",
        "weights": f"a pair once per dialogue naming both, {LIKED_BOTH} when the seeker liked "
        f"both; pairs below {MIN_WEIGHT} left out",
    }
    table.save_compact(args.out, about)
    print(
        f"{args.out}: {len(table)} films, {pairs} pairs from {len(named_liked)} dialogues "
        f"({len(to_catalog)} of {len(wanted)} movies joined to the catalog), "
        f"{args.out.stat().st_size:,} bytes"
    )


if __name__ == "__main__":
    main()
