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

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from recteam.agents.relevance import weights
from recteam.agents.settings import TeamSettings
from recteam.evaluation.ranking_fit import PoolCollector, PoolWriter, hits, out_of_fold
from recteam.evaluation.redial_folds import (
    TurnResult,
    in_process,
    prepare,
    ranking_of,
    run_parts,
)
from recteam.evaluation.redial_metrics import KS, RecallCounter
from recteam.evaluation.redial_protocol import baseline_rankings, eval_points, folds
from recteam.evaluation.redial_store import embed_catalog, open_eval_store
from recteam.evaluation.redial_threads import blas_threads
from recteam.evaluation.report import write_results
from recteam.memory.embeddings import Embedder
from recteam.memory.settings import SearchSettings
from recteam.orchestration.llm_settings import LLMSettings

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
    concurrency: int = 3  # turns in flight at once (in each worker process)
    workers: int = 1  # processes running the folds' turns (needs run_redial's make_embedder)
    signals_out: Path | None = None  # record every turn's ranked pool (for eval fit-ranking)
    describe_from_dialogues: bool = False  # films without a summary: what training dialogues said
    in_sample_weights: bool = False  # report the shipped weights (fitted on ReDial dev) instead
    fit_rounds: int = 10  # coordinate-search rounds of the out-of-fold fit (it stops earlier)


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
    make_embedder: Callable[[], Embedder] | None = None,
) -> dict[str, Any]:
    """The whole evaluation; `on_stage` names each stage, `on_start`/`advance` drive a bar.
    With `make_embedder` (a picklable factory of the same embedder) and config.workers > 1, the
    folds' turns run in that many worker processes."""
    started = time.perf_counter()
    data = prepare(config)
    prepare_s = time.perf_counter() - started
    scored, train, items, splits = data.scored, data.train, data.items, data.splits
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
    points_total = sum(len(data.points(n)) for n in range(len(splits)))
    workers = config.workers if make_embedder is not None else 1
    timings = {"prepare_s": prepare_s, "embed_s": 0.0, "catalog_s": 0.0, "turns_s": 0.0}
    writer = PoolWriter(config.signals_out) if config.signals_out else None
    pools = PoolCollector(weights(), writer)
    with (
        tempfile.TemporaryDirectory(prefix="recteam-redial-") as tmp,
        blas_threads(1),  # threads side by side instead (redial_threads.py)
    ):
        config = replace(config, cache_dir=config.cache_dir or Path(tmp) / "cache")
        assert config.cache_dir is not None
        store = open_eval_store(Path(tmp) / "store", config.cache_dir, embedder, config.search)
        try:
            t0 = time.perf_counter()
            on_stage(f"embedding the catalog ({len(items):,} films, cached ones skipped)")
            on_start(len(items), "films")
            embed_catalog(store, items, advance)
            timings["embed_s"] = time.perf_counter() - t0
            on_stage(
                f"{points_total:,} turns in {len(splits)} fold(s)"
                + (f" on {workers} worker processes" if workers > 1 else "")
                + ", each fold with its own catalog popularity and co-mentions"
            )
            on_start(points_total, "turns")
            t0 = time.perf_counter()
            if workers > 1:
                assert make_embedder is not None
                store.close()  # the workers open their own
                parts = run_parts(
                    data, config, team_settings, workers, make_embedder, advance, on_stage
                )
            else:
                parts = in_process(store, data, config, team_settings, advance, on_stage)
            timings["turns_s"] = time.perf_counter() - t0
        finally:
            store.close()
        t0 = time.perf_counter()
        described: dict[str, int] = {}
        for n, fold in enumerate(splits):
            mine = [p for p in parts if p.fold == n]
            described[fold.name] = mine[0].described
            timings["catalog_s"] += sum(p.catalog_s for p in mine)
            by_key: dict[str, TurnResult] = {}
            for p in mine:
                by_key.update(
                    zip((q.key for q in data.points(n, p.part, p.parts)), p.turns, strict=True)
                )
            stats = fold.statistics()
            for point in data.points(n):
                turn = by_key[point.key]
                acts[turn.act] += 1
                if turn.error:
                    errors.append(f"{point.key}: {turn.error}")
                systems[TEAM].add(turn.ranking, point.targets, set(point.mentioned))
                for name, base in baseline_rankings(point, stats, max(KS)).items():
                    systems[name].add(base, point.targets, set(point.mentioned))
                pools.add_matrix(
                    point.key,
                    point.targets,
                    sorted(point.mentioned),
                    turn.pool_ids,
                    turn.signal_names,
                    turn.signals,
                )
        pools.close()
        timings["collect_s"] = time.perf_counter() - t0  # the turns' results put together
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
            "matched_to_facts": data.matched,
            "described_from_dialogues": described,
        },
        "model": config.llm.model,
        "candidates": team_settings.candidates,
        "workers": workers,
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
