"""Runs the ReDial evaluation: the catalog, the folds, the team on every point, the baselines,
and the report (JSON and a Markdown table).

Nothing a scored dialogue says reaches its own ranking: popularity, co-mentions and the entity
linker's popularity come from the other folds, and so do the ranking weights. The product's
shipped co-mention table (built from these very dialogues) is never read: each fold's Recommender
gets that fold's table, and live co-likes (team.colike) are off. Every turn's
ranked pool is kept with its signals; after the team has run, each fold's pools are re-ranked by
weights fitted (ranking_fit's coordinate search, from equal weights) on the other folds' pools
only. That re-ranked searcher order is the team's reported ranking (the pools themselves were
gathered with the shipped weights: the content source's query direction uses three of them); `in_sample_weights` reports instead the team's
own ranking with the shipped weights of data/ranking.toml, which were fitted on ReDial dev.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recteam.agents.messages import ItemRef
from recteam.agents.relevance import POOL_RECORDER, Scored, weights
from recteam.agents.settings import TeamSettings
from recteam.agents.trace import StepOutput, TraceEvent, TurnFinished
from recteam.evaluation.ranking_fit import PoolCollector, PoolWriter, hits, out_of_fold
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
from recteam.evaluation.redial_store import embed_catalog, load_catalog, open_eval_store
from recteam.evaluation.redial_threads import blas_threads
from recteam.evaluation.report import write_results
from recteam.memory.embeddings import Embedder
from recteam.memory.settings import SearchSettings
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender

__all__ = ["EvalConfig", "markdown_table", "ranking_of", "run_redial"]

TEAM = "recteam"
NEUTRAL_WEIGHT = 0.3  # where the out-of-fold search starts, for every signal
Callback = Callable[[int], None]
Start = Callable[[int, str], None]  # (total, unit: "films" or "turns")


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
    in_sample_weights: bool = False  # report the shipped weights (fitted on ReDial dev) instead
    fit_rounds: int = 10  # coordinate-search rounds of the out-of-fold fit (it stops earlier)


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
    rec: Recommender, refs: dict[str, ItemRef], point: EvalPoint, pools: PoolCollector | None = None
) -> tuple[list[str], str, str | None]:
    user = point.key
    message = await asyncio.to_thread(seed_session, rec.store, rec.linker, refs, point, user)
    last_pool: list[list[Scored]] = []
    if pools is not None:  # the turn's tasks inherit this context: it sees only its own pools
        POOL_RECORDER.set(last_pool.append)
    events = [e async for e in rec.run_turn(user, message, user, act="RECOMMEND")]
    if pools is not None:  # after a revision, the pool the bus came from; none: all misses
        pools.write(
            point.key,
            point.targets,
            sorted(point.mentioned),
            last_pool[-1] if last_pool else [],
        )
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
    pools: PoolCollector | None = None,
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


def _counter(new: tuple[dict[int, int], int], every: tuple[dict[int, int], int]) -> RecallCounter:
    """A RecallCounter holding hits counted elsewhere (the re-ranked pools)."""
    c = RecallCounter()
    c.new_hits, c.new_targets = dict(new[0]), new[1]
    c.hits, c.targets = dict(every[0]), every[1]
    return c


def _out_of_fold(
    collector: PoolCollector,
    fold_of_key: dict[str, int],
    names: list[str],
    rounds: int,
    on_stage: Callable[[str], None],
) -> tuple[RecallCounter, RecallCounter, dict[str, Any]]:
    """(the searcher's order re-ranked by out-of-fold weights, the same order by the shipped
    weights, a report of the per-fold fits)."""
    t0 = time.perf_counter()
    pools = collector.pools()
    fold_of = [fold_of_key[k] for k in pools.keys]
    shipped = weights()
    on_stage(f"fitting the ranking weights of each fold on the other folds' {len(pools):,} pools")
    # The search starts from equal weights, not from the shipped ones: those were fitted on
    # ReDial dev, so starting there would carry the scored fold into its own weights.
    fits = out_of_fold(pools, fold_of, dict.fromkeys(pools.signals, NEUTRAL_WEIGHT), rounds)
    oof = RecallCounter()
    for fit in fits:
        oof.merge(_counter(fit.new, fit.all))
    w = np.array([shipped.get(k, 0.0) for k in pools.signals])
    in_sample = _counter(hits(pools, w), hits(pools, w, new=False))
    report = {
        "method": "per fold, the coordinate search of `eval fit-ranking` on the other folds' "
        "recorded pools only; the fold's pools re-ranked by those weights",
        "start": f"every weight {NEUTRAL_WEIGHT} (not the shipped weights, fitted on ReDial dev)",
        "rounds": rounds,
        "folds": [
            {
                "fold": names[f.fold],
                "fitted_on_turns": f.fitted_on,
                "scored_turns": sum(1 for g in fold_of if g == f.fold),
                "new": {f"R@{k}": f.new[0][k] / max(f.new[1], 1) for k in KS},
                "weights": f.weights,
            }
            for f in fits
        ],
        "fit_s": round(time.perf_counter() - t0, 1),
    }
    return oof, in_sample, report


def run_redial(
    config: EvalConfig,
    embedder: Embedder,
    on_stage: Callable[[str], None] = lambda _: None,
    on_start: Start = lambda _n, _unit: None,
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
    # The folds the ranking weights are fitted across: the statistics folds; with a --train
    # file (one statistics fold), folds of the scored dialogues cut the same way.
    weight_folds = (
        [f.scored for f in splits]
        if len(splits) > 1
        else [f.scored for f in folds(scored, config.folds)]
    )
    weight_fold_names = (
        [f.name for f in splits]
        if len(splits) > 1
        else [f"weights fold {n + 1}/{len(weight_folds)}" for n in range(len(weight_folds))]
    )
    fold_of_key = {
        p.key: n for n, group in enumerate(weight_folds) for d in group for p in eval_points(d)
    }
    # No live co-likes: one scored dialogue's likes must not reach another's statistics (and
    # the shipped cold-start table, built from these dialogues, is replaced by each fold's own).
    team_settings = config.team.model_copy(
        update={"candidates": max(config.candidates, max(KS)), "colike": False}
    )
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
    writer = PoolWriter(config.signals_out) if config.signals_out else None
    pools = PoolCollector(weights(), writer)
    with (
        tempfile.TemporaryDirectory(prefix="recteam-redial-") as tmp,
        blas_threads(1),  # threads side by side instead (redial_threads.py)
    ):
        cache = config.cache_dir or Path(tmp) / "cache"
        store = open_eval_store(Path(tmp) / "store", cache, embedder, config.search)
        try:
            t0 = time.perf_counter()
            on_stage(f"embedding the catalog ({len(items):,} films, cached ones skipped)")
            on_start(len(items), "films")
            embed_catalog(store, items, advance)
            timings["embed_s"] = time.perf_counter() - t0
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
                load_catalog(store, fold_items)
                # A Recommender per fold: its entity linker breaks ties between films of one
                # title by popularity, which must be this fold's (counted on the other folds).
                rec = Recommender(store, config.llm, team_settings, comentions=stats)
                timings["catalog_s"] += time.perf_counter() - t0
                points = [p for d in fold.scored for p in eval_points(d)]
                on_stage(f"turns of {fold.name}")
                if n == 0:
                    on_start(points_total, "turns")
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
            pools.close()
    weights_report: dict[str, Any]
    if config.in_sample_weights:
        weights_report = {"weights": "in-sample"}
    else:
        team_shipped = systems[TEAM]
        oof, order_shipped, fits = _out_of_fold(
            pools, fold_of_key, weight_fold_names, config.fit_rounds, on_stage
        )
        systems[TEAM] = oof
        timings["fit_s"] = fits.pop("fit_s")
        weights_report = {
            "weights": "out-of-fold",
            "out_of_fold": fits,
            "in_sample": {
                "note": "shipped weights (data/ranking.toml), fitted on ReDial dev: these "
                "dialogues. Not comparable to published test-set figures.",
                "team ranking": team_shipped.summary(),
                "searcher order": order_shipped.summary(),
            },
        }
    seconds = time.perf_counter() - started
    return {
        "dialogues": len(scored),
        "points": points_total,
        "statistics_from": "train file" if train is not None else f"{len(splits)} folds",
        **weights_report,
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


def _row(name: str, s: dict[str, Any]) -> str:
    head = [f"R@{k}" for k in KS]
    cells = [f"{s['all'][h]:.3f}" for h in head] + [f"{s['new'][h]:.3f}" for h in head]
    return f"| {name} | " + " | ".join(cells) + " |"


def markdown_table(result: dict[str, Any]) -> str:
    head = [f"R@{k}" for k in KS]
    out_of_fold = result.get("weights") == "out-of-fold"
    lines = [
        f"ReDial turn-level recall: {result['dialogues']} dialogues, {result['points']} "
        f"recommender turns, statistics from {result['statistics_from']}, ranking weights "
        + (
            "out-of-fold (fitted for each fold on the other folds' turns only)"
            if out_of_fold
            else "in-sample (the shipped ranking.toml, fitted on ReDial dev)"
        )
        + f", model {result['model']}, {result['seconds']} s.",
        "",
        "| system | " + " | ".join(head) + " | " + " | ".join(f"{h} (new)" for h in head) + " |",
        "|---" * (1 + 2 * len(KS)) + "|",
    ]
    for name, s in result["systems"].items():
        label = name
        if name == TEAM:
            label = (
                f"{TEAM} (out-of-fold weights)" if out_of_fold else f"{TEAM} (in-sample weights)"
            )
        lines.append(_row(label, s))
    lines += [
        "",
        "(new): movies already mentioned earlier in the dialogue excluded, as targets and from the ranking.",
    ]
    if out_of_fold:
        lines[-1] += (
            f" {TEAM} (out-of-fold weights): the searcher's ranked pool of each turn re-ranked by"
            " weights fitted on the other folds' pools."
        )
        inside = result["in_sample"]
        lines += [
            "",
            "In-sample, for comparison only (the shipped weights were fitted on ReDial dev):",
            "",
            lines[2],
            lines[3],
            _row(f"{TEAM} (in-sample weights)", inside["team ranking"]),
            _row("searcher order (in-sample weights)", inside["searcher order"]),
        ]
        empty = [f["fold"] for f in result["out_of_fold"]["folds"] if not f["fitted_on_turns"]]
        if empty:
            lines += ["", f"No other fold had turns for {', '.join(empty)}: shipped weights."]
    return "\n".join(lines) + "\n"


def write_report(result: dict[str, Any], out: Path) -> tuple[Path, Path]:
    return write_results(result, out, "redial", markdown_table(result))
