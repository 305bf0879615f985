"""Fits the searcher's ranking weights (data/ranking.toml) to an evaluation's recorded pools.

`recteam eval redial --signals-out FILE` records, for every scored turn, the searcher's whole
candidate pool with each film's signals before weighting, and the turn's targets (gzip'd JSON
lines). `recteam eval fit-ranking FILE` then searches the weights one at a time (coordinate
search: each weight moved by a few steps, a move kept when Recall@10 + Recall@50 improves) and
prints them as TOML. Targets outside the pool count as misses, so the recall printed is what the
searcher's order reaches; the figures are in-sample: a held-out check is `--holdout`.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recteam.agents.relevance import Scored

__all__ = ["FitResult", "PoolWriter", "Pools", "fit_weights", "load_pools", "recall"]

STEPS = (-0.2, -0.1, -0.05, 0.05, 0.1, 0.2)


class PoolWriter:
    """Appends one line per scored turn; safe to call from several threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = gzip.open(path, "wt", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()

    def write(
        self, key: str, targets: Sequence[str], mentioned: Sequence[str], pool: list[Scored]
    ) -> None:
        line = {
            "key": key,
            "targets": list(targets),
            "mentioned": sorted(mentioned),
            "pool": [[r.item.id, {k: round(v, 4) for k, v in r.raw.items()}] for r in pool],
        }
        with self._lock:
            self._fh.write(json.dumps(line, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._fh.close()


@dataclass
class Pools:
    """Per turn: a signal matrix (films x signals) and the rows of its new targets (-1: not in
    the pool)."""

    signals: list[str]
    matrices: list[np.ndarray]
    targets: list[list[int]]

    def __len__(self) -> int:
        return len(self.matrices)


def load_pools(path: Path) -> Pools:
    rows: list[dict[str, Any]] = []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    if line.endswith("\n"):
                        raise ValueError(f"{path}:{n}: not a JSON line ({exc.msg})") from None
    except EOFError:  # an interrupted run: every complete line before the cut still counts
        pass
    except gzip.BadGzipFile:
        raise ValueError(f"{path} is not a gzip file written by --signals-out") from None
    if not rows:
        raise ValueError(f"{path} holds no recorded turns")
    names = sorted({k for r in rows for _, sig in r["pool"] for k in sig})
    index = {k: i for i, k in enumerate(names)}
    matrices, targets = [], []
    for r in rows:
        mentioned = set(r["mentioned"])
        new = [t for t in r["targets"] if t not in mentioned]
        if not new:
            continue
        m = np.zeros((len(r["pool"]), len(names)), dtype=np.float32)
        rows_of = {}
        for i, (item_id, sig) in enumerate(r["pool"]):
            rows_of[item_id] = i
            for k, v in sig.items():
                m[i, index[k]] = v
        matrices.append(m)
        targets.append([rows_of.get(t, -1) for t in new])
    return Pools(names, matrices, targets)


def recall(pools: Pools, weights: np.ndarray, picks: np.ndarray | None = None) -> dict[int, float]:
    """Recall@1/10/50 of ranking each pool by `weights` (over the turns `picks`, default all);
    ties count against the target."""
    hits = dict.fromkeys((1, 10, 50), 0)
    total = 0
    for n in range(len(pools)) if picks is None else picks:
        scores = pools.matrices[n] @ weights
        for row in pools.targets[n]:
            total += 1
            if row < 0:
                continue
            place = int((scores > scores[row]).sum() + (scores == scores[row]).sum() - 1)
            for k in hits:
                hits[k] += place < k
    return {k: v / max(total, 1) for k, v in hits.items()}


@dataclass
class FitResult:
    weights: dict[str, float]
    before: dict[int, float]
    after: dict[int, float]
    held_out: tuple[dict[int, float], dict[int, float]] | None = None  # (before, after)


def fit_weights(
    pools: Pools,
    start: Mapping[str, float],
    rounds: int = 3,
    holdout: bool = False,
    on_round: Callable[[int, dict[int, float]], None] = lambda *_: None,
) -> FitResult:
    """Coordinate search from `start` on Recall@10 + Recall@50. With `holdout`, fits on the even
    turns and also reports the odd ones, before and after."""
    start_w = np.array([start.get(k, 0.0) for k in pools.signals], dtype=np.float32)
    w = start_w.copy()
    every = np.arange(len(pools))
    fit_on = every[::2] if holdout else every

    def objective(r: dict[int, float]) -> float:
        return r[10] + r[50]

    before = recall(pools, w)
    best = recall(pools, w, fit_on)
    for n in range(rounds):
        moved = False
        for j in range(len(w)):
            for step in STEPS:
                trial = w.copy()
                trial[j] = round(float(trial[j]) + step, 3)
                r = recall(pools, trial, fit_on)
                if objective(r) > objective(best) + 1e-9:
                    best, w, moved = r, trial, True
        on_round(n + 1, best)
        if not moved:
            break
    held = None
    if holdout:
        odd = every[1::2]
        held = (recall(pools, start_w, odd), recall(pools, w, odd))
    return FitResult(
        {k: round(float(v), 3) for k, v in zip(pools.signals, w, strict=True)},
        before,
        recall(pools, w),
        held,
    )
