"""Fits the searcher's ranking weights (data/ranking.toml) to an evaluation's recorded pools.

`recteam eval redial --signals-out FILE` records, for every scored turn, the searcher's whole
candidate pool with each film's signals before weighting, and the turn's targets (gzip'd JSON
lines). `recteam eval fit-ranking FILE` then searches the weights one at a time (coordinate
search: each weight moved by a few steps, a move kept when Recall@10 + Recall@50 improves) and
prints them as TOML. Targets outside the pool count as misses, so the recall printed is what the
searcher's order reaches. Fitted and scored on the same turns, the figures are in-sample:
`--holdout` fits on half of the dialogues and scores the other half, and `eval redial` itself
fits the weights for each fold on the other folds' pools only (`out_of_fold`).
"""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recteam.agents.relevance import Scored

__all__ = [
    "FitResult",
    "FoldFit",
    "PoolCollector",
    "PoolWriter",
    "Pools",
    "dialogue_of",
    "fit_weights",
    "hits",
    "load_pools",
    "out_of_fold",
    "recall",
]

STEPS = (-0.2, -0.1, -0.05, 0.05, 0.1, 0.2)
KS = (1, 10, 50)


def dialogue_of(key: str) -> str:
    """The dialogue of a turn key: 'redial-<dialogue id>-<message index>' -> 'redial-<id>'; a
    key of another form is its own dialogue."""
    head, sep, tail = key.rpartition("-")
    return head if sep and head and tail.isdigit() else key


class PoolWriter:
    """Appends one line per scored turn; safe to call from several threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = gzip.open(path, "wt", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()

    def write(
        self, key: str, targets: Sequence[str], mentioned: Sequence[str], pool: list[Scored]
    ) -> None:
        self.write_rows(key, targets, mentioned, [(r.item.id, r.raw) for r in pool])

    def write_rows(
        self,
        key: str,
        targets: Sequence[str],
        mentioned: Sequence[str],
        rows: Sequence[tuple[str, Mapping[str, float]]],
    ) -> None:
        """`rows`: (film id, its raw signals), in the pool's order."""
        line = {
            "key": key,
            "targets": list(targets),
            "mentioned": sorted(mentioned),
            "pool": [[i, {k: round(v, 4) for k, v in sig.items()}] for i, sig in rows],
        }
        with self._lock:
            self._fh.write(json.dumps(line, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._fh.close()


@dataclass
class Pools:
    """Per turn: a signal matrix (films x signals), the rows of its new targets (-1: not in the
    pool), the turn's key (its dialogue: `dialogue_of`) and the rows of all of its targets, the
    ones mentioned earlier in the dialogue included."""

    signals: list[str]
    matrices: list[np.ndarray]
    targets: list[list[int]]
    keys: list[str] = field(default_factory=list)  # empty: every turn is its own dialogue
    every: list[list[int]] = field(default_factory=list)  # empty: the new targets only

    def __len__(self) -> int:
        return len(self.matrices)

    def dialogues(self) -> list[str]:
        """The dialogue of each turn."""
        if not self.keys:
            return [f"turn-{n}" for n in range(len(self))]
        return [dialogue_of(k) for k in self.keys]


class _Builder:
    """Turns recorded lines (key, targets, mentioned, [(id, signals)]) into Pools; the signal
    columns grow as new names appear."""

    def __init__(self, signals: Iterable[str] = ()) -> None:
        self.index: dict[str, int] = {k: i for i, k in enumerate(signals)}
        self.keys: list[str] = []
        self.matrices: list[np.ndarray] = []
        self.targets: list[list[int]] = []
        self.every: list[list[int]] = []

    def add(
        self,
        key: str,
        targets: Sequence[str],
        mentioned: Iterable[str],
        pool: Sequence[tuple[str, Mapping[str, float]]],
    ) -> None:
        for _, sig in pool:
            for k in sig:
                self.index.setdefault(k, len(self.index))
        m = np.zeros((len(pool), len(self.index)), dtype=np.float32)
        for i, (_, sig) in enumerate(pool):
            for k, v in sig.items():
                m[i, self.index[k]] = v
        self._append(key, targets, mentioned, [i for i, _ in pool], m)

    def add_matrix(
        self,
        key: str,
        targets: Sequence[str],
        mentioned: Iterable[str],
        ids: Sequence[str],
        names: Sequence[str],
        signals: np.ndarray,
    ) -> None:
        """add() of a pool given as film ids and a matrix (ids x names) of raw signals."""
        for k in names:
            self.index.setdefault(k, len(self.index))
        m = np.zeros((len(ids), len(self.index)), dtype=np.float32)
        if len(ids) and len(names):
            m[:, [self.index[k] for k in names]] = signals
        self._append(key, targets, mentioned, ids, m)

    def _append(
        self,
        key: str,
        targets: Sequence[str],
        mentioned: Iterable[str],
        ids: Sequence[str],
        m: np.ndarray,
    ) -> None:
        rows_of: dict[str, int] = {}
        for i, item_id in enumerate(ids):
            rows_of.setdefault(item_id, i)
        seen = set(mentioned)
        self.keys.append(key)
        self.matrices.append(m)
        self.targets.append([rows_of.get(t, -1) for t in targets if t not in seen])
        self.every.append([rows_of.get(t, -1) for t in targets])

    def build(self) -> Pools:
        width = len(self.index)
        matrices = [
            m if m.shape[1] == width else np.pad(m, ((0, 0), (0, width - m.shape[1])))
            for m in self.matrices
        ]
        names = sorted(self.index, key=self.index.__getitem__)
        return Pools(names, matrices, list(self.targets), list(self.keys), list(self.every))


class PoolCollector:
    """Keeps every scored turn's pool in memory as a signal matrix (for the out-of-fold fit of
    `eval redial`), and forwards it to a PoolWriter when one is given. Thread-safe."""

    def __init__(self, signals: Iterable[str] = (), writer: PoolWriter | None = None) -> None:
        self._builder = _Builder(signals)
        self._writer = writer
        self._lock = threading.Lock()

    def write(
        self, key: str, targets: Sequence[str], mentioned: Sequence[str], pool: list[Scored]
    ) -> None:
        """`pool` may be empty (the turn had none): its targets are then misses."""
        self.add(key, targets, mentioned, [(r.item.id, r.raw) for r in pool])

    def add(
        self,
        key: str,
        targets: Sequence[str],
        mentioned: Sequence[str],
        rows: Sequence[tuple[str, Mapping[str, float]]],
    ) -> None:
        """write() of a pool as (film id, raw signals) rows."""
        with self._lock:
            self._builder.add(key, targets, mentioned, rows)
        if self._writer is not None and rows:
            self._writer.write_rows(key, targets, mentioned, rows)

    def add_matrix(
        self,
        key: str,
        targets: Sequence[str],
        mentioned: Sequence[str],
        ids: Sequence[str],
        names: Sequence[str],
        signals: np.ndarray,
    ) -> None:
        """add() of a pool as film ids and their raw signals (ids x names): no dict a film."""
        with self._lock:
            self._builder.add_matrix(key, targets, mentioned, ids, names, signals)
        if self._writer is not None and len(ids):
            rows = [
                (i, dict(zip(names, r, strict=True)))
                for i, r in zip(ids, signals.tolist(), strict=True)
            ]
            self._writer.write_rows(key, targets, mentioned, rows)

    def pools(self) -> Pools:
        with self._lock:
            return self._builder.build()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def load_pools(path: Path) -> Pools:
    builder = _Builder()
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as exc:
                    if line.endswith("\n"):
                        raise ValueError(f"{path}:{n}: not a JSON line ({exc.msg})") from None
                    continue
                builder.add(
                    r["key"], r["targets"], r["mentioned"], [(i, sig) for i, sig in r["pool"]]
                )
    except EOFError:  # an interrupted run: every complete line before the cut still counts
        pass
    except gzip.BadGzipFile:
        raise ValueError(f"{path} is not a gzip file written by --signals-out") from None
    if not builder.keys:
        raise ValueError(f"{path} holds no recorded turns")
    return builder.build()


class _Stacked:
    """Some turns' pools stacked into one matrix, so that a ranking by new weights costs one
    matrix product and a few array passes. Each target is compared with every film of its own
    pool: its place is how many films score at least as high, itself excepted (ties count
    against it). A target's pool is copied once per target (a turn with two targets in its pool
    twice), so that every comparison reads its block in order, and the matrix is column-major:
    a change of one weight moves the scores by one column (`_search`)."""

    def __init__(self, pools: Pools, picks: Sequence[int], new: bool = True) -> None:
        rows_of = pools.targets if new or not pools.every else pools.every
        blocks: list[np.ndarray] = []
        starts: list[int] = []
        target_rows: list[int] = []
        offset, self.total = 0, 0
        for n in picks:
            m = pools.matrices[n]
            for row in rows_of[n]:
                self.total += 1
                if row < 0:
                    continue
                blocks.append(m)
                starts.append(offset)
                target_rows.append(offset + row)
                offset += len(m)
        width = len(pools.signals)
        self.m = (
            np.asfortranarray(np.concatenate(blocks), dtype=np.float64)
            if blocks
            else np.zeros((0, width))
        )
        self.rows = np.array(target_rows, dtype=np.intp)  # each target's row
        self.starts = np.array(starts, dtype=np.intp)  # where each target's block begins
        self.lengths = np.diff(np.append(self.starts, offset)).astype(np.intp)
        # scratch arrays for hits_of (fresh ones of this size cost page faults at every trial)
        self._key = np.empty(offset)
        self._ahead = np.empty(offset, dtype=bool)

    def scores(self, weights: np.ndarray) -> np.ndarray:
        """Every row's weighted sum, before rounding."""
        return self.m @ weights.astype(np.float64)

    def hits_of(
        self,
        scores: np.ndarray,
        ks: Sequence[int] = KS,
        column: np.ndarray | None = None,
        delta: float = 0.0,
    ) -> dict[int, int]:
        """Hits at `ks` of rows scored `scores` (+ `delta` x `column`: one weight moved). Not
        for two threads at once (scratch arrays)."""
        if not len(self.rows):
            return dict.fromkeys(ks, 0)
        key = self._key
        if column is None:
            np.copyto(key, scores)
        else:
            np.multiply(column, delta, out=key)
            np.add(scores, key, out=key)
        # Rounded to 9 decimals, so that films with equal signals tie however the product was
        # summed: rint(x * 1e9) orders and ties as np.round(x, 9) does (that is x * 1e9 rounded,
        # then divided by 1e9, which keeps distinct values distinct and in order).
        np.multiply(key, 1e9, out=key)
        np.rint(key, out=key)
        np.greater_equal(key, np.repeat(key[self.rows], self.lengths), out=self._ahead)
        place = np.add.reduceat(self._ahead, self.starts, dtype=np.intp) - 1
        return {k: int((place < k).sum()) for k in ks}

    def hits(self, weights: np.ndarray, ks: Sequence[int] = KS) -> dict[int, int]:
        return self.hits_of(self.scores(weights), ks)

    def recall_of(
        self, scores: np.ndarray, column: np.ndarray | None = None, delta: float = 0.0
    ) -> dict[int, float]:
        hits = self.hits_of(scores, KS, column, delta)
        return {k: v / max(self.total, 1) for k, v in hits.items()}

    def recall(self, weights: np.ndarray) -> dict[int, float]:
        return self.recall_of(self.scores(weights))


def hits(
    pools: Pools, weights: np.ndarray, picks: Sequence[int] | None = None, new: bool = True
) -> tuple[dict[int, int], int]:
    """(hits at 1/10/50, targets) of ranking the pools `picks` (default all) by `weights`;
    `new=False` counts the targets mentioned earlier in the dialogue too."""
    stacked = _Stacked(pools, range(len(pools)) if picks is None else picks, new)
    return stacked.hits(weights), stacked.total


def recall(
    pools: Pools, weights: np.ndarray, picks: Sequence[int] | None = None
) -> dict[int, float]:
    """Recall@1/10/50 of ranking each pool by `weights` (over the turns `picks`, default all);
    ties count against the target."""
    return _Stacked(pools, range(len(pools)) if picks is None else picks).recall(weights)


@dataclass
class FitResult:
    weights: dict[str, float]
    before: dict[int, float]
    after: dict[int, float]
    held_out: tuple[dict[int, float], dict[int, float]] | None = None  # (before, after)
    held_out_dialogues: int = 0


def _vector(pools: Pools, start: Mapping[str, float]) -> np.ndarray:
    return np.array([start.get(k, 0.0) for k in pools.signals], dtype=np.float64)


def _search(
    fit: _Stacked,
    start: np.ndarray,
    rounds: int,
    on_round: Callable[[int, dict[int, float]], None],
) -> np.ndarray:
    """Coordinate search from `start` on Recall@10 + Recall@50 over the turns of `fit`."""

    def objective(r: dict[int, float]) -> float:
        return r[10] + r[50]

    w = start.copy()
    scores = fit.scores(w)
    best = fit.recall_of(scores)
    for n in range(rounds):
        moved = False
        for j in range(len(w)):
            column = fit.m[:, j]
            for step in STEPS:
                value = round(float(w[j]) + step, 3)
                # one weight moves: the scores move by its column (no whole product a trial)
                r = fit.recall_of(scores, column, value - float(w[j]))
                if objective(r) > objective(best) + 1e-9:
                    best, moved = r, True
                    w = w.copy()
                    w[j] = value
                    scores = fit.scores(w)  # recomputed, so no error builds up over moves
        on_round(n + 1, best)
        if not moved:
            break
    return w


def holdout_split(pools: Pools) -> tuple[list[int], list[int]]:
    """(turns to fit on, turns held out): whole dialogues on each side, by a hash of the
    dialogue id (so the split does not depend on the order turns were recorded in)."""
    fit_on: list[int] = []
    held: list[int] = []
    for n, dialogue in enumerate(pools.dialogues()):
        (held if zlib.crc32(dialogue.encode()) % 2 else fit_on).append(n)
    return fit_on, held


def fit_weights(
    pools: Pools,
    start: Mapping[str, float],
    rounds: int = 3,
    holdout: bool = False,
    on_round: Callable[[int, dict[int, float]], None] = lambda *_: None,
) -> FitResult:
    """Coordinate search from `start` on Recall@10 + Recall@50. With `holdout`, fits on about
    half of the dialogues and also reports the other half (whole dialogues: the turns of one
    dialogue share its films, so a turn-level split would leak), before and after."""
    start_w = _vector(pools, start)
    every = list(range(len(pools)))
    fit_on, held = holdout_split(pools) if holdout else (every, [])
    w = _search(_Stacked(pools, fit_on), start_w, rounds, on_round)
    everything = _Stacked(pools, every)
    held_out = None
    if holdout:
        unseen = _Stacked(pools, held)
        held_out = (unseen.recall(start_w), unseen.recall(w))
    return FitResult(
        {k: round(float(v), 3) for k, v in zip(pools.signals, w, strict=True)},
        everything.recall(start_w),
        everything.recall(w),
        held_out,
        len({pools.dialogues()[n] for n in held}),
    )


@dataclass
class FoldFit:
    """One fold's out-of-fold result: weights fitted on the other folds' turns, and the hits of
    ranking this fold's turns by them (new targets, and all targets)."""

    fold: int
    fitted_on: int  # turns
    weights: dict[str, float]
    new: tuple[dict[int, int], int]
    all: tuple[dict[int, int], int]


def out_of_fold(
    pools: Pools,
    fold_of: Sequence[int],
    start: Mapping[str, float],
    rounds: int = 3,
    on_fold: Callable[[int], None] = lambda _: None,
) -> list[FoldFit]:
    """For each fold f (fold_of[n]: the fold of turn n): weights fitted by the same coordinate
    search on the turns of every other fold only, then fold f's turns ranked by them."""
    if len(fold_of) != len(pools):
        raise ValueError(f"{len(fold_of)} fold labels for {len(pools)} turns")
    start_w = _vector(pools, start)
    out = []
    for f in sorted(set(fold_of)):
        train = [n for n, g in enumerate(fold_of) if g != f]
        scored = [n for n, g in enumerate(fold_of) if g == f]
        w = _search(_Stacked(pools, train), start_w, rounds, lambda *_: None)
        out.append(
            FoldFit(
                f,
                len(train),
                {k: round(float(v), 3) for k, v in zip(pools.signals, w, strict=True)},
                hits(pools, w, scored),
                hits(pools, w, scored, new=False),
            )
        )
        on_fold(f)
    return out
