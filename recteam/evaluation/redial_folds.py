"""The team's turns of one fold of the ReDial evaluation: the fold's catalog and Recommender, then
every point's ranking and the searcher's ranked pool; in this process or, on several cores, in
worker processes (one store each, the embedding cache shared).

Most of a turn is Python holding the GIL (the agent runtime, pydantic, the ranking), so threads
keep about one core busy; processes use every core. Each fold (or part of one, so that the
workers finish together) is a task: its store and catalog are its own, and what comes back is
plain data, put together in the fold's point order, so a run with workers reports what a run
without them does.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recteam.agents.messages import ItemRef
from recteam.agents.relevance import POOL_RECORDER, Scored
from recteam.agents.settings import TeamSettings
from recteam.evaluation.redial_data import (
    Dialogue,
    catalog_items,
    load_dialogues,
    load_movies,
    load_wikipedia,
    said_about,
)
from recteam.evaluation.redial_protocol import (
    EvalPoint,
    Fold,
    eval_points,
    folds,
    popularity_scores,
    seed_session,
)
from recteam.evaluation.redial_store import load_catalog, open_eval_store
from recteam.evaluation.redial_threads import blas_threads
from recteam.memory.embeddings import Embedder
from recteam.memory.items import CatalogItem
from recteam.memory.store import MemoryStore

if TYPE_CHECKING:
    from recteam.evaluation.redial_runner import EvalConfig

__all__ = [
    "EvalData",
    "FoldPart",
    "TurnResult",
    "in_process",
    "prepare",
    "ranking_of",
    "run_parts",
]

Callback = Callable[[int], None]


@dataclass
class TurnResult:
    ranking: list[str]
    act: str
    error: str | None
    pool_ids: list[str]  # the searcher's ranked pool (empty: no pool; its targets are misses)
    signal_names: tuple[str, ...] = ()
    signals: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # raw, pool x names

    def pool_rows(self) -> list[tuple[str, dict[str, float]]]:
        rows = self.signals.tolist()
        return [
            (i, dict(zip(self.signal_names, r, strict=True)))
            for i, r in zip(self.pool_ids, rows, strict=True)
        ]


@dataclass
class FoldPart:
    fold: int
    part: int
    parts: int
    catalog_s: float = 0.0
    turns_s: float = 0.0
    described: int = 0
    turns: list[TurnResult] = field(default_factory=list)  # in the part's point order


@dataclass
class EvalData:
    """What every fold reads: the dialogues, the catalog items, the folds."""

    scored: list[Dialogue]
    train: list[Dialogue] | None
    items: list[CatalogItem]
    matched: int
    refs: dict[str, ItemRef]
    splits: list[Fold]

    def points(self, fold: int, part: int = 0, parts: int = 1) -> list[EvalPoint]:
        return [p for d in self.splits[fold].scored[part::parts] for p in eval_points(d)]


def prepare(config: EvalConfig) -> EvalData:
    movies = load_movies(config.movies)
    dialogues = load_dialogues(config.dialogues, movies)
    scored = dialogues[: config.limit]
    train = load_dialogues(config.train, movies) if config.train else None
    facts = list(load_wikipedia(config.facts)) if config.facts else []
    items, matched = catalog_items(movies, facts)
    refs = {it.id: ItemRef(id=it.id, title=it.title, year=it.year) for it in items}
    # Folds are cut from the whole file, so --limit scores fewer dialogues with the same
    # statistics a full run uses.
    splits = folds(scored if train is not None else dialogues, config.folds, train)
    chosen = {id(d) for d in scored}
    for fold in splits:
        fold.scored = [d for d in fold.scored if id(d) in chosen]
    return EvalData(scored, train, items, matched, refs, splits)


def ranking_of(events: list[Any]) -> list[str]:
    """The team's ranking: the picks, then the rest of the candidate bus after reflection in the
    item analyst's order (its last judgement, which is of the final bus), ties by bus rank."""
    from recteam.agents.trace import StepOutput, TurnFinished

    done = next(e for e in reversed(events) if isinstance(e, TurnFinished))
    fit: dict[str, float] = {}
    for e in events:
        if isinstance(e, StepOutput) and e.agent == "item_analyst":
            fit = {a["item_id"]: a["fit"] for a in e.payload.get("analyses", [])}
    picks = [i.id for i in done.items]
    bus = [c.id for c in done.candidates]
    rest = sorted((c for c in bus if c not in picks), key=lambda c: -fit.get(c, 0.0))
    return list(dict.fromkeys(picks + rest))


def _compact(pool: list[Scored]) -> tuple[list[str], tuple[str, ...], np.ndarray]:
    names = tuple(dict.fromkeys(k for r in pool for k in r.raw))
    m = np.array([[r.raw.get(k, 0.0) for k in names] for r in pool], dtype=np.float64)
    return [r.item.id for r in pool], names, m.reshape(len(pool), len(names))


async def _team_ranking(rec: Any, refs: dict[str, ItemRef], point: EvalPoint) -> TurnResult:
    from recteam.agents.trace import TurnFinished

    user = point.key
    message = await asyncio.to_thread(seed_session, rec.store, rec.linker, refs, point, user)
    last_pool: list[list[Scored]] = []
    POOL_RECORDER.set(last_pool.append)  # the turn's tasks inherit this context: its own pools
    events = [e async for e in rec.run_turn(user, message, user, act="RECOMMEND")]
    await asyncio.to_thread(rec.store.memories.delete_user, user)
    done = events[-1]
    assert isinstance(done, TurnFinished)
    # after a revision, the pool the bus came from
    ids, names, signals = _compact(last_pool[-1] if last_pool else [])
    return TurnResult(ranking_of(events), done.act, done.error, ids, names, signals)


async def _rank_all(
    rec: Any, refs: dict[str, ItemRef], points: list[EvalPoint], concurrency: int, advance: Callback
) -> list[TurnResult]:
    """Every point's team ranking; a few turns at once, each its own user and session."""
    gate = asyncio.Semaphore(concurrency)

    async def one(point: EvalPoint) -> TurnResult:
        async with gate:
            result = await _team_ranking(rec, refs, point)
        advance(1)
        return result

    return await asyncio.gather(*(one(p) for p in points))


def run_part(
    store: MemoryStore,
    data: EvalData,
    config: EvalConfig,
    team: TeamSettings,
    part: FoldPart,
    advance: Callback,
    on_stage: Callable[[str], None],
) -> FoldPart:
    """One fold's catalog (its popularity, and optionally its descriptions from the training
    dialogues) and Recommender, then the turns of the part's dialogues."""
    from recteam.orchestration.session import Recommender

    fold = data.splits[part.fold]
    stats = fold.statistics()
    t0 = time.perf_counter()
    # Fold-local popularity in the payload; the vectors are computed once (cached).
    # Optionally, a film with no summary is described by what this fold's statistics
    # dialogues said of it: for 36% of ReDial's films Wikipedia has no facts at all.
    popularity = popularity_scores(stats)
    said = said_about(fold.train) if config.describe_from_dialogues else {}
    fold_items = [
        it.model_copy(
            update={
                "popularity": popularity.get(it.id, 0.0),
                "description": it.description or said.get(it.id),
            }
        )
        for it in data.items
    ]
    part.described = sum(1 for it in data.items if not it.description and it.id in said)
    load_catalog(store, fold_items)
    # A Recommender per fold: its entity linker breaks ties between films of one
    # title by popularity, which must be this fold's (counted on the other folds).
    rec = Recommender(store, config.llm, team, comentions=stats)
    part.catalog_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    on_stage(
        f"turns of {fold.name}" + (f", part {part.part + 1}/{part.parts}" if part.parts > 1 else "")
    )
    points = data.points(part.fold, part.part, part.parts)
    part.turns = asyncio.run(_rank_all(rec, data.refs, points, config.concurrency, advance))
    part.turns_s = time.perf_counter() - t0
    return part


# worker processes --------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _worker_init(
    messages: Any, config: EvalConfig, team: TeamSettings, make_embedder: Callable[[], Embedder]
) -> None:
    sys.stdout = sys.stderr  # the parent's stdout may be promised to hold its JSON alone
    _WORKER.update(
        messages=messages, config=config, team=team, embedder=make_embedder(), data=prepare(config)
    )


def _worker_run(part: FoldPart) -> FoldPart:
    w = _WORKER
    config: EvalConfig = w["config"]
    assert config.cache_dir is not None
    messages = w["messages"]
    with (
        tempfile.TemporaryDirectory(prefix="recteam-redial-worker-") as tmp,
        blas_threads(1),
    ):
        store = open_eval_store(Path(tmp) / "store", config.cache_dir, w["embedder"], config.search)
        try:
            return run_part(
                store,
                w["data"],
                config,
                w["team"],
                part,
                advance=lambda n: messages.put(("advance", n)),
                on_stage=lambda s: messages.put(("stage", s)),
            )
        finally:
            store.close()


@contextlib.contextmanager
def _relay(messages: Any, advance: Callback, on_stage: Callable[[str], None]) -> Iterator[None]:
    """Passes the workers' progress and stage lines on to this process's callbacks."""
    stop = threading.Event()

    def pump() -> None:
        while not stop.is_set() or not messages.empty():
            try:
                kind, value = messages.get(timeout=0.2)
            except queue.Empty:
                continue
            if kind == "advance":
                advance(value)
            else:
                on_stage(value)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_parts(
    data: EvalData,
    config: EvalConfig,
    team: TeamSettings,
    workers: int,
    make_embedder: Callable[[], Embedder],
    advance: Callback,
    on_stage: Callable[[str], None],
) -> list[FoldPart]:
    """Every fold's turns on `workers` processes. A part builds its fold's catalog (~3 s), so
    folds go whole while every worker has one, and the folds left over are cut into `workers`
    parts (by dialogue) so that the processes finish together: 5 folds on 2 workers are 6 parts.
    Parts come back in fold and part order."""
    n = len(data.splits)
    whole = n - n % workers
    parts = [FoldPart(f, 0, 1) for f in range(whole)]
    parts += [FoldPart(f, p, workers) for f in range(whole, n) for p in range(workers)]
    spawn = multiprocessing.get_context("spawn")  # no fork of a process with threads running
    messages = spawn.Queue()
    with (
        _relay(messages, advance, on_stage),
        ProcessPoolExecutor(
            workers,
            mp_context=spawn,
            initializer=_worker_init,
            initargs=(messages, config, team, make_embedder),
        ) as pool,
    ):
        done = list(pool.map(_worker_run, parts))
    return done


def in_process(
    store: MemoryStore,
    data: EvalData,
    config: EvalConfig,
    team: TeamSettings,
    advance: Callback,
    on_stage: Callable[[str], None],
) -> list[FoldPart]:
    return [
        run_part(store, data, config, team, FoldPart(f, 0, 1), advance, on_stage)
        for f in range(len(data.splits))
    ]
