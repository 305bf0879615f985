"""`recteam eval simulate`: the team against a simulated seeker (after iEvaLM, Wang et al. 2023).

For each ReDial dialogue with liked movies, an LLM plays its seeker: the targets are the movies
the seeker liked (initiatorQuestions / respondentQuestions, liked == 1), the seeker knows their
facts, never names them (simulator_seeker.TitleGuard) and accepts only them. Every seeker message
goes through the real team (Recommender.run_turn), up to a turn budget. Success: a target is among
the team's picks (TurnFinished.items). Reported: success rate, mean turns to success, and
Recall@k of the final ranking (the picks, then the candidate bus) against the targets.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autogen_core.models import ChatCompletionClient

from recteam.agents.settings import TeamSettings
from recteam.agents.trace import TraceEvent, TurnFinished, TurnStarted
from recteam.evaluation.redial_data import (
    catalog_items,
    load_dialogues,
    load_movies,
    load_wikipedia,
)
from recteam.evaluation.redial_metrics import hits_at
from recteam.evaluation.redial_runner import ranking_of
from recteam.evaluation.redial_store import load_catalog, open_eval_store
from recteam.evaluation.report import write_results
from recteam.evaluation.simulator_seeker import Seeker
from recteam.memory.cooccurrence import CoMentionTable
from recteam.memory.embeddings import Embedder
from recteam.memory.items import CatalogItem
from recteam.memory.settings import SearchSettings
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender

__all__ = [
    "Episode",
    "SimConfig",
    "markdown_table",
    "run_simulation",
    "seeker_targets",
    "summarize",
    "write_report",
]

KS = (1, 10, 50)
Callback = Callable[[int], None]


@dataclass
class SimConfig:
    dialogues: Path
    movies: Path
    facts: Path | None = None  # wikipedia-movies file or folder
    limit: int | None = None  # dialogues with targets to simulate
    turns: int = 5  # the turn budget
    llm: LLMSettings = field(default_factory=LLMSettings)  # the team's models
    team: TeamSettings = field(default_factory=TeamSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    cache_dir: Path | None = None
    concurrency: int = 3  # episodes in flight at once
    seeker_model: str = "scripted"  # only reported


@dataclass
class Episode:
    dialogue_id: str
    targets: list[str]
    success: bool = False
    turns: int = 0  # team turns run
    success_turn: int | None = None
    seeker_accepted: bool | None = None  # the seeker's verdict on the successful picks
    false_accepts: int = 0  # times the seeker accepted picks holding no target (overruled)
    picks: list[list[str]] = field(default_factory=list)  # per turn
    ranking: list[str] = field(default_factory=list)  # the final turn's picks, then the bus
    messages: list[str] = field(default_factory=list)  # what the seeker said, as the team got it
    regenerated: int = 0
    masked: int = 0
    error: str | None = None


def seeker_targets(path: Path, known: set[str]) -> dict[str, list[str]]:
    """Per conversationId, the movies its seeker liked (either questionnaire), in `known` only."""
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            raw = json.loads(line)
            liked: list[str] = []
            for key in ("initiatorQuestions", "respondentQuestions"):
                for movie, a in (raw.get(key) or {}).items():
                    if isinstance(a, dict) and a.get("liked") == 1 and str(movie) in known:
                        liked.append(str(movie))
            out[str(raw.get("conversationId", line_no))] = list(dict.fromkeys(liked))
    return out


async def run_episode(
    rec: Recommender,
    seeker: Seeker,
    episode: Episode,
    titles: dict[str, str],
    budget: int,
) -> Episode:
    """One simulated conversation; the seeker's memories are deleted afterwards."""
    user = f"sim-{episode.dialogue_id}"
    dialogue: list[dict[str, Any]] = []
    targets = set(episode.targets)
    try:
        said = await seeker.reply(dialogue, [], 1, budget)
        for turn in range(1, budget + 1):
            events: list[TraceEvent] = [e async for e in rec.run_turn(user, said.message, user)]
            started = next(e for e in events if isinstance(e, TurnStarted))
            done = events[-1]
            assert isinstance(done, TurnFinished)
            episode.turns = turn
            episode.messages.append(started.message)
            picks = [i.id for i in done.items]
            episode.picks.append(picks)
            episode.ranking = ranking_of(events)
            dialogue += [
                {"speaker": "seeker", "text": said.message},
                {"speaker": "assistant", "text": done.reply,
                 "recommended": [titles.get(p, p) for p in picks]},
            ]  # fmt: skip
            hit = bool(targets & set(picks))
            if hit:
                episode.success, episode.success_turn = True, turn
            if turn == budget and not hit:
                break
            said = await seeker.reply(dialogue, [titles.get(p, p) for p in picks], turn + 1, budget)
            if hit:
                episode.seeker_accepted = said.accepted
                break
            episode.false_accepts += said.accepted
    except Exception as exc:  # a seeker model failing ends its episode, not the run
        episode.error = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        episode.regenerated, episode.masked = seeker.stats.regenerated, seeker.stats.masked
        await asyncio.to_thread(rec.store.memories.delete_user, user)
    return episode


def summarize(episodes: Sequence[Episode], ks: Sequence[int] = KS) -> dict[str, Any]:
    """Success rate, mean turns to success, and Recall@k (mean over episodes of the share of its
    targets in the top k of its final ranking)."""
    n = len(episodes)
    wins = [e for e in episodes if e.success]
    recall = {f"R@{k}": 0.0 for k in ks}
    for e in episodes:
        for k, hits in hits_at(e.ranking, e.targets, ks).items():
            recall[f"R@{k}"] += hits / len(e.targets) / n if e.targets else 0.0
    judged = [e for e in wins if e.seeker_accepted is not None]
    return {
        "episodes": n,
        "successes": len(wins),
        "success_rate": len(wins) / n if n else 0.0,
        "mean_turns_to_success": (
            sum(e.success_turn or 0 for e in wins) / len(wins) if wins else None
        ),
        "recall": recall,
        "seeker": {
            "accepted_a_hit": sum(1 for e in judged if e.seeker_accepted) / len(judged)
            if judged
            else None,
            "false_accepts": sum(e.false_accepts for e in episodes),
            "regenerated": sum(e.regenerated for e in episodes),
            "masked": sum(e.masked for e in episodes),
            "errors": sum(1 for e in episodes if e.error),
        },
    }


def run_simulation(
    config: SimConfig,
    embedder: Embedder,
    seeker_client: ChatCompletionClient,
    on_stage: Callable[[str], None] = lambda _: None,
    on_start: Callback = lambda _: None,
    advance: Callback = lambda _: None,
) -> dict[str, Any]:
    """The whole simulation; `on_stage` names each stage, `on_start`/`advance` drive a bar."""
    t0 = time.perf_counter()
    movies = load_movies(config.movies)
    facts = list(load_wikipedia(config.facts)) if config.facts else []
    items, matched = catalog_items(movies, facts)
    by_id: dict[str, CatalogItem] = {it.id: it for it in items}
    liked = seeker_targets(config.dialogues, set(by_id))
    dialogues = [d for d in load_dialogues(config.dialogues, movies) if liked.get(d.id)]
    episodes = [Episode(d.id, liked[d.id]) for d in dialogues[: config.limit]]
    titles = {k: it.title for k, it in by_id.items()}
    # Simulated seekers' likes feed no co-like statistics (one episode's must not help another).
    team = config.team.model_copy(
        update={"candidates": max(config.team.candidates, max(KS)), "colike": False}
    )
    with tempfile.TemporaryDirectory(prefix="recteam-simulate-") as tmp:
        cache = config.cache_dir or Path(tmp) / "cache"
        store = open_eval_store(Path(tmp) / "store", cache, embedder, config.search)
        try:
            on_stage(f"catalog ({len(items):,} films)")
            on_start(len(items))
            load_catalog(store, items, progress=advance)
            # No co-mention table: the shipped one is built from the dialogues simulated here.
            rec = Recommender(store, config.llm, team, comentions=CoMentionTable())
            on_stage(f"{len(episodes)} simulated conversations, at most {config.turns} turns each")
            on_start(len(episodes))

            async def run_all() -> list[Episode]:
                gate = asyncio.Semaphore(config.concurrency)

                async def one(ep: Episode) -> Episode:
                    async with gate:
                        seeker = Seeker(seeker_client, [by_id[t] for t in ep.targets])
                        done = await run_episode(rec, seeker, ep, titles, config.turns)
                    advance(1)
                    return done

                return await asyncio.gather(*(one(e) for e in episodes))

            asyncio.run(run_all())
        finally:
            store.close()
    return {
        **summarize(episodes),
        "dialogues": len(episodes),
        "turn_budget": config.turns,
        "seeker_model": config.seeker_model,
        "team_model": config.llm.model,
        "catalog": {"movies": len(items), "matched_to_facts": matched},
        "seconds": round(time.perf_counter() - t0, 1),
        "first_errors": [f"{e.dialogue_id}: {e.error}" for e in episodes if e.error][:5],
        "per_dialogue": [asdict(e) for e in episodes],
    }


def markdown_table(result: dict[str, Any]) -> str:
    recall = result["recall"]
    mean = result["mean_turns_to_success"]
    lines = [
        f"Simulated seekers (after iEvaLM): {result['episodes']} ReDial dialogues, at most "
        f"{result['turn_budget']} turns, seeker {result['seeker_model']}, team "
        f"{result['team_model']}, {result['seconds']} s.",
        "",
        "| success rate | mean turns to success | " + " | ".join(recall) + " |",
        "|---" * (2 + len(recall)) + "|",
        f"| {result['success_rate']:.3f} | {'-' if mean is None else f'{mean:.2f}'} | "
        + " | ".join(f"{v:.3f}" for v in recall.values())
        + " |",
        "",
        "Success: a target (a movie the seeker liked) is among the team's picks. Recall@k: the "
        "final picks, then the candidate bus, against the targets.",
    ]
    return "\n".join(lines) + "\n"


def write_report(result: dict[str, Any], out: Path) -> tuple[Path, Path]:
    return write_results(result, out, "simulate", markdown_table(result))
