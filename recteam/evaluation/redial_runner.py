"""Runs the ReDial evaluation: the catalog, the folds, the team on every point, the baselines,
and the report (JSON and a Markdown table)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recteam.agents.messages import ItemRef
from recteam.agents.relevance import POOL_RECORDER, Scored
from recteam.agents.settings import TeamSettings
from recteam.agents.trace import StepOutput, TraceEvent, TurnFinished
from recteam.evaluation.ranking_fit import PoolWriter
from recteam.evaluation.redial_data import (
    catalog_items,
    load_dialogues,
    load_movies,
    load_wikipedia,
    said_about,
)
from recteam.evaluation.redial_metrics import KS, RecallCounter
from recteam.evaluation.redial_protocol import (
    EvalPoint,
    baseline_rankings,
    eval_points,
    folds,
    popularity_scores,
    seed_session,
)
from recteam.evaluation.redial_store import load_catalog, open_eval_store
from recteam.evaluation.report import write_results
from recteam.memory.embeddings import Embedder
from recteam.memory.settings import SearchSettings
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender

__all__ = ["EvalConfig", "markdown_table", "ranking_of", "run_redial"]

TEAM = "recteam"
Callback = Callable[[int], None]


@dataclass
class EvalConfig:
    dialogues: Path
    movies: Path
    facts: Path | None  # wikipedia-movies file or folder
    train: Path | None = None
    limit: int | None = None
    folds: int = 5
    candidates: int = 50  # the bus size for this run (Recall@50 needs at least 50)
    llm: LLMSettings = field(default_factory=LLMSettings)
    team: TeamSettings = field(default_factory=TeamSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    cache_dir: Path | None = None
    concurrency: int = 3  # turns in flight at once
    signals_out: Path | None = None  # record every turn's ranked pool (for eval fit-ranking)
    describe_from_dialogues: bool = False  # films without a summary: what training dialogues said


def ranking_of(events: list[TraceEvent]) -> list[str]:
    """The team's ranking: the picks, then the rest of the candidate bus after reflection in the
    item analyst's order (its last judgement, which is of the final bus), ties by bus rank."""
    done = next(e for e in reversed(events) if isinstance(e, TurnFinished))
    fit: dict[str, float] = {}
    for e in events:
        if isinstance(e, StepOutput) and e.agent == "item_analyst":
            fit = {a["item_id"]: a["fit"] for a in e.payload.get("analyses", [])}
    picks = [i.id for i in done.items]
    bus = [c.id for c in done.candidates]
    rest = sorted((c for c in bus if c not in picks), key=lambda c: -fit.get(c, 0.0))
    return list(dict.fromkeys(picks + rest))


async def _team_ranking(
    rec: Recommender, refs: dict[str, ItemRef], point: EvalPoint, pools: PoolWriter | None = None
) -> tuple[list[str], str, str | None]:
    user = point.key
    message = await asyncio.to_thread(seed_session, rec.store, rec.linker, refs, point, user)
    last_pool: list[list[Scored]] = []
    if pools is not None:  # the turn's tasks inherit this context: it sees only its own pools
        POOL_RECORDER.set(last_pool.append)
    events = [e async for e in rec.run_turn(user, message, user, act="RECOMMEND")]
    if pools is not None and last_pool:  # after a revision, the pool the bus came from
        pools.write(point.key, point.targets, sorted(point.mentioned), last_pool[-1])
    await asyncio.to_thread(rec.store.memories.delete_user, user)
    done = events[-1]
    assert isinstance(done, TurnFinished)
    return ranking_of(events), done.act, done.error


async def _rank_all(
    rec: Recommender,
    refs: dict[str, ItemRef],
    points: list[EvalPoint],
    concurrency: int,
    advance: Callback,
    pools: PoolWriter | None = None,
) -> list[tuple[list[str], str, str | None]]:
    """Every point's team ranking; a few turns at once, each its own user and session (the
    store work and the embedder release the GIL, so two cores both work)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(point: EvalPoint) -> tuple[list[str], str, str | None]:
        async with gate:
            result = await _team_ranking(rec, refs, point, pools)
        advance(1)
        return result

    return await asyncio.gather(*(one(p) for p in points))


def run_redial(
    config: EvalConfig,
    embedder: Embedder,
    on_stage: Callable[[str], None] = lambda _: None,
    on_start: Callback = lambda _: None,
    advance: Callback = lambda _: None,
) -> dict[str, Any]:
    """The whole evaluation; `on_stage` names each stage, `on_start`/`advance` drive a bar."""
    started = time.perf_counter()
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
    team_settings = config.team.model_copy(update={"candidates": max(config.candidates, max(KS))})
    systems = {
        TEAM: RecallCounter(),
        "popularity": RecallCounter(),
        "repeat mentioned": RecallCounter(),
    }
    acts: Counter[str] = Counter()
    errors: list[str] = []
    points_total = sum(1 for f in splits for d in f.scored for _ in eval_points(d))
    timings = {"catalog_s": 0.0, "turns_s": 0.0}
    described: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="recteam-redial-") as tmp:
        cache = config.cache_dir or Path(tmp) / "cache"
        store = open_eval_store(Path(tmp) / "store", cache, embedder, config.search)
        rec: Recommender | None = None
        pools = PoolWriter(config.signals_out) if config.signals_out else None
        try:
            for n, fold in enumerate(splits):
                stats = fold.statistics()
                t0 = time.perf_counter()
                on_stage(f"catalog for {fold.name} ({len(items):,} films)")
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
                    for it in items
                ]
                described[fold.name] = sum(
                    1 for it in items if not it.description and it.id in said
                )
                if n == 0:
                    on_start(len(items))
                load_catalog(store, fold_items, progress=advance if n == 0 else None)
                if rec is None:  # the entity linker reads titles and cast, the same every fold
                    rec = Recommender(store, config.llm, team_settings)
                rec.comentions = stats
                timings["catalog_s"] += time.perf_counter() - t0
                points = [p for d in fold.scored for p in eval_points(d)]
                on_stage(f"turns of {fold.name}")
                if n == 0:
                    on_start(points_total)
                t0 = time.perf_counter()
                for point, (ranking, act, error) in zip(
                    points,
                    asyncio.run(_rank_all(rec, refs, points, config.concurrency, advance, pools)),
                    strict=False,
                ):
                    acts[act] += 1
                    if error:
                        errors.append(f"{point.key}: {error}")
                    systems[TEAM].add(ranking, point.targets, set(point.mentioned))
                    for name, base in baseline_rankings(point, stats, max(KS)).items():
                        systems[name].add(base, point.targets, set(point.mentioned))
                timings["turns_s"] += time.perf_counter() - t0
        finally:
            store.close()
            if pools is not None:
                pools.close()
    seconds = time.perf_counter() - started
    return {
        "dialogues": len(scored),
        "points": points_total,
        "statistics_from": "train file" if train is not None else f"{len(splits)} folds",
        "catalog": {
            "movies": len(items),
            "matched_to_facts": matched,
            "described_from_dialogues": described,
        },
        "model": config.llm.model,
        "candidates": team_settings.candidates,
        "systems": {name: c.summary() for name, c in systems.items()},
        "acts": dict(acts),
        "errors": len(errors),
        "first_errors": errors[:5],
        "seconds": round(seconds, 1),
        "turn_ms": round(1000 * timings["turns_s"] / max(points_total, 1), 1),
        **{k: round(v, 1) for k, v in timings.items()},
    }


def markdown_table(result: dict[str, Any]) -> str:
    head = [f"R@{k}" for k in KS]
    lines = [
        f"ReDial turn-level recall: {result['dialogues']} dialogues, {result['points']} "
        f"recommender turns, statistics from {result['statistics_from']}, model "
        f"{result['model']}, {result['seconds']} s.",
        "",
        "| system | " + " | ".join(head) + " | " + " | ".join(f"{h} (new)" for h in head) + " |",
        "|---" * (1 + 2 * len(KS)) + "|",
    ]
    for name, s in result["systems"].items():
        cells = [f"{s['all'][h]:.3f}" for h in head] + [f"{s['new'][h]:.3f}" for h in head]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "(new): movies already mentioned earlier in the dialogue excluded, as targets and from the ranking.",
    ]
    return "\n".join(lines) + "\n"


def write_report(result: dict[str, Any], out: Path) -> tuple[Path, Path]:
    return write_results(result, out, "redial", markdown_table(result))
