"""Recall@k for the turn-level ReDial protocol.

Each movie a recommender message mentions is one target; Recall@k is the share of targets found
in the top k of the ranking made for that message. "new" variants drop targets already mentioned
earlier in the dialogue and remove those movies from the ranking before cutting it at k.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["KS", "RecallCounter", "hits_at"]

KS = (1, 10, 50)


def hits_at(
    ranking: Sequence[str], targets: Iterable[str], ks: Sequence[int] = KS
) -> dict[int, int]:
    """How many of `targets` are in the top k of `ranking`, for each k."""
    first: dict[str, int] = {}
    for i, item in enumerate(ranking):
        first.setdefault(item, i)
    return {k: sum(1 for t in targets if first.get(t, k) < k) for k in ks}


@dataclass
class RecallCounter:
    """Accumulates hits over targets for one system, in both protocols."""

    ks: tuple[int, ...] = KS
    targets: int = 0
    new_targets: int = 0
    hits: dict[int, int] = field(default_factory=dict)
    new_hits: dict[int, int] = field(default_factory=dict)

    def add(self, ranking: Sequence[str], targets: Sequence[str], mentioned: set[str]) -> None:
        """`targets`: the movies of one recommender message; `mentioned`: movies named earlier."""
        for k, n in hits_at(ranking, targets, self.ks).items():
            self.hits[k] = self.hits.get(k, 0) + n
        self.targets += len(targets)
        new = [t for t in targets if t not in mentioned]
        fresh = [i for i in ranking if i not in mentioned]
        for k, n in hits_at(fresh, new, self.ks).items():
            self.new_hits[k] = self.new_hits.get(k, 0) + n
        self.new_targets += len(new)

    def merge(self, other: RecallCounter) -> None:
        self.targets += other.targets
        self.new_targets += other.new_targets
        for k in self.ks:
            self.hits[k] = self.hits.get(k, 0) + other.hits.get(k, 0)
            self.new_hits[k] = self.new_hits.get(k, 0) + other.new_hits.get(k, 0)

    def recall(self, new: bool = False) -> dict[str, float]:
        hits, total = (self.new_hits, self.new_targets) if new else (self.hits, self.targets)
        return {f"R@{k}": (hits.get(k, 0) / total if total else 0.0) for k in self.ks}

    def summary(self) -> dict[str, object]:
        return {
            "all": self.recall(),
            "new": self.recall(new=True),
            "targets": self.targets,
            "new_targets": self.new_targets,
        }
