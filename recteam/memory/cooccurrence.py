"""Item-to-item co-mention counts: how often two items were named in the same conversation.

Built from dialogues (each a set of item ids), queried by the items a user liked or named: the
items most often named alongside them come first, weighted so that an item everybody names does
not top every list (counts over the seed's own count, lifted by each partner's count to the power
`damping`). Also holds per-item mention counts, a popularity prior from the same dialogues.

On disk two ways: `save`/`load`, plain JSON of the rows; `save_compact`/`load_compact`, gzip JSON
with each film named once and each unordered pair once (the shipped cold-start table,
data/redial_comentions.json.gz, built by scripts/build_colike_table.py).
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["CoMentionTable"]


class CoMentionTable:
    def __init__(self, damping: float = 0.0) -> None:
        self.damping = damping
        self.mentions: Counter[str] = Counter()  # dialogues naming the item
        self.pairs: dict[str, Counter[str]] = defaultdict(Counter)

    @classmethod
    def from_dialogues(
        cls, dialogues: Iterable[Iterable[str]], damping: float = 0.0
    ) -> CoMentionTable:
        table = cls(damping)
        for items in dialogues:
            table.add(items)
        return table

    def add(self, items: Iterable[str]) -> None:
        """Counts one dialogue: each item once, each unordered pair once."""
        unique = sorted(set(items))
        self.mentions.update(unique)
        for a in unique:
            row = self.pairs[a]
            for b in unique:
                if b != a:
                    row[b] += 1

    def __len__(self) -> int:
        return len(self.mentions)

    def related(
        self, seeds: Sequence[str], limit: int = 100, exclude: Iterable[str] = ()
    ) -> list[tuple[str, float]]:
        """Items named with `seeds`, best first, as (item id, score). Later seeds (the most
        recent in a conversation) weigh a little more; the seeds themselves are left out."""
        skip = set(seeds) | set(exclude)
        scores: dict[str, float] = defaultdict(float)
        for position, seed in enumerate(seeds):
            row = self.pairs.get(seed)
            if not row:
                continue
            recency = 1.0 + 0.25 * position / max(len(seeds) - 1, 1)
            # at least 1: a table fused from rows read for these seeds (CoMentionTable.plus)
            # may lack a partner's own count
            norm = recency / math.sqrt(max(self.mentions[seed], 1))
            for other, n in row.items():
                if other not in skip:
                    scores[other] += norm * n / max(self.mentions[other], 1) ** self.damping
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[:limit]

    def plus(self, other: CoMentionTable, pair_weight: int = 1) -> CoMentionTable:
        """This table with `other`'s counts added, its pair counts times `pair_weight`; for
        reading only (rows `other` lacks are this table's own objects, shared)."""
        out = CoMentionTable(self.damping)
        out.mentions = self.mentions + other.mentions
        out.pairs = defaultdict(Counter, self.pairs)
        for item, row in other.pairs.items():
            merged = Counter(self.pairs.get(item, {}))
            for partner, n in row.items():
                merged[partner] += n * pair_weight
            out.pairs[item] = merged
        return out

    def popular(self, limit: int = 100, exclude: Iterable[str] = ()) -> list[tuple[str, int]]:
        skip = set(exclude)
        ranked = sorted(self.mentions.items(), key=lambda kv: (-kv[1], kv[0]))
        return [kv for kv in ranked if kv[0] not in skip][:limit]

    # a table on disk, for the product: {"mentions": {...}, "pairs": {"a": {"b": n}}} -----------
    def save(self, path: Path) -> None:
        data = {
            "mentions": dict(self.mentions),
            "pairs": {k: dict(v) for k, v in self.pairs.items()},
        }
        path.write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, path: Path, damping: float = 0.0) -> CoMentionTable:
        data = json.loads(path.read_text(encoding="utf-8"))
        table = cls(damping)
        table.mentions.update(data.get("mentions", {}))
        for k, row in data.get("pairs", {}).items():
            table.pairs[k].update(row)
        return table

    # compact, for shipping: each film once, each unordered pair once, gzip ---------------------
    def save_compact(self, path: Path, about: dict[str, Any] | None = None) -> None:
        """{"about": {...}, "items": [id, ...], "mentions": [n, ...], "pairs": [[i, j, n], ...]}
        with i < j indexes into items; pairs sorted, so a rebuild gives the same bytes."""
        items = sorted(self.mentions)
        index = {item: n for n, item in enumerate(items)}
        pairs = sorted(
            (index[a], index[b], n)
            for a, row in self.pairs.items()
            for b, n in row.items()
            if n > 0 and a in index and b in index and index[a] < index[b]
        )
        data = {
            "about": about or {},
            "items": items,
            "mentions": [self.mentions[i] for i in items],
            "pairs": [list(p) for p in pairs],
        }
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as fh:
            fh.write(text.encode("utf-8"))

    @classmethod
    def load_compact(cls, path: Path, damping: float = 0.0) -> CoMentionTable:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        items: list[str] = data["items"]
        table = cls(damping)
        table.mentions.update(dict(zip(items, data["mentions"], strict=True)))
        for i, j, n in data["pairs"]:
            a, b = items[i], items[j]
            table.pairs[a][b] += n
            table.pairs[b][a] += n
        return table
