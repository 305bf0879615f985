"""How well the team's long-term profile agrees with what ReDial's seekers said they liked.

After each ReDial dialogue the seeker answered a questionnaire (initiatorQuestions): for every
movie of the dialogue, whether they liked it (1), disliked it (0) or did not say (2). This replays
each dev dialogue's seeker side through the real team (offline by default, the shipped catalog in
the configured store, one fresh user and one session per dialogue): every block of consecutive
seeker messages is one user turn, with each @<movieId> written as the movie's title without its
year, as a person would type it; the team's own replies are whatever it says. Then it reads the
stored profile (Recommender.profile: likes and dislikes) and counts, over the films the seeker
named in their own messages and the questionnaire rated, how many the profile holds with the
same stance, and how many with the opposite one.

A film counts only when the catalog has it: the ReDial movie joined to the catalog by normalised
title (recteam.memory.items.title_key) and year +-1 (with no year, the only film of that title).
Films only the recommender named are left out: the team never says them, so the seeker never
reacts to them here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recteam.agents.trace import TurnFinished
from recteam.errors import InputError
from recteam.evaluation.redial_data import RedialMovie, load_movies, replace_mentions, split_title
from recteam.evaluation.report import write_results
from recteam.memory.items import CatalogItem, title_key
from recteam.orchestration.session import MAX_MESSAGE_CHARS, Recommender

__all__ = [
    "ProfileDialogue",
    "Tally",
    "join_to_catalog",
    "load_profile_dialogues",
    "markdown_table",
    "run_profile",
    "write_report",
]

LIKED, DISLIKED = 1, 0  # initiatorQuestions' "liked" answers (2: did not say)
Callback = Callable[[int], None]


@dataclass(frozen=True)
class ProfileDialogue:
    id: str
    turns: tuple[str, ...]  # the seeker's blocks of messages, titles typed without the year
    stances: Mapping[str, int]  # movie id -> LIKED / DISLIKED, films the seeker named
    recommender_only: int  # rated films only the recommender named (left out)


def load_profile_dialogues(path: Path, movies: Mapping[str, RedialMovie]) -> list[ProfileDialogue]:
    """ReDial JSON lines: the seeker's side and their questionnaire."""
    out: list[ProfileDialogue] = []
    titles = {k: m.title for k, m in movies.items()}  # as typed: no year
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                seeker = raw["initiatorWorkerId"]
                # the movie list's title, else the dialogue's own name for the id; never the year
                own = {
                    str(k): split_title(str(v))[0]
                    for k, v in (raw.get("movieMentions") or {}).items()
                    if v and str(k) not in titles
                }
                names = ChainMap(titles, own)
                blocks: list[list[str]] = []
                named: set[str] = set()
                previous = None
                for msg in raw["messages"]:
                    sender = msg["senderWorkerId"]
                    if sender == seeker:
                        text, ids = replace_mentions(msg.get("text") or "", names)
                        named.update(ids)
                        if text:
                            if previous != seeker or not blocks:
                                blocks.append([])
                            blocks[-1].append(text)
                    previous = sender
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputError(f"{path}:{line_no}: not a ReDial dialogue ({exc})") from exc
            answers = raw.get("initiatorQuestions") or {}
            rated = {
                str(k): v["liked"]
                for k, v in (answers.items() if isinstance(answers, dict) else ())
                if isinstance(v, dict) and v.get("liked") in (LIKED, DISLIKED)
            }
            out.append(
                ProfileDialogue(
                    str(raw.get("conversationId", line_no)),
                    tuple(" ".join(b)[:MAX_MESSAGE_CHARS] for b in blocks),
                    {k: v for k, v in rated.items() if k in named},
                    sum(1 for k in rated if k not in named),
                )
            )
    return out


def join_to_catalog(
    movies: Mapping[str, RedialMovie], items: Iterable[CatalogItem], wanted: Iterable[str]
) -> dict[str, str]:
    """ReDial movie id -> catalog item id, for the `wanted` movies the catalog has: same
    normalised title and year +-1 (the nearest year); with no year, the only film of that title."""
    wanted = {w for w in wanted if w in movies}
    keys = {title_key(movies[w].title) for w in wanted}
    by_title: dict[str, list[CatalogItem]] = {}
    for it in items:
        key = title_key(it.title)
        if key in keys:
            by_title.setdefault(key, []).append(it)
    joined: dict[str, str] = {}
    for w in wanted:
        movie = movies[w]
        same = by_title.get(title_key(movie.title), [])
        if movie.year is None:
            if len(same) == 1:
                joined[w] = same[0].id
            continue
        year = movie.year
        near = [it for it in same if it.year is not None and abs(it.year - year) <= 1]
        if near:
            joined[w] = min(near, key=lambda it: (abs((it.year or 0) - year), it.id)).id
    return joined


@dataclass
class Tally:
    """One stance (liked or disliked films): how many the questionnaire gave, how many the
    catalog has, and how many of those the profile holds with that stance and the opposite."""

    rated: int = 0
    joinable: int = 0
    held: int = 0
    wrong: int = 0
    chosen: int = 0  # held as chosen to watch ("I'll check it out"), not as liked

    def summary(self) -> dict[str, Any]:
        return {
            "rated": self.rated,
            "joinable": self.joinable,
            "held": self.held,
            "held_share": round(self.held / self.joinable, 4) if self.joinable else 0.0,
            "wrong_stance": self.wrong,
            "wrong_share": round(self.wrong / self.joinable, 4) if self.joinable else 0.0,
            "chosen": self.chosen,
            "held_or_chosen_share": (
                round((self.held + self.chosen) / self.joinable, 4) if self.joinable else 0.0
            ),
        }


@dataclass
class _Outcome:
    likes: set[str] = field(default_factory=set)
    dislikes: set[str] = field(default_factory=set)
    chosen: set[str] = field(default_factory=set)
    turns: int = 0
    errors: list[str] = field(default_factory=list)


async def _replay(rec: Recommender, dialogue: ProfileDialogue, user: str) -> _Outcome:
    """The seeker's turns through the team in one session; the profile it stored; the user
    deleted again."""
    out = _Outcome()
    try:
        for text in dialogue.turns:
            if not text.strip():
                continue
            async for event in rec.run_turn(user, text, user):
                if isinstance(event, TurnFinished) and event.error:
                    out.errors.append(f"{dialogue.id} turn {out.turns + 1}: {event.error}")
            out.turns += 1
        profile = await asyncio.to_thread(rec.profile, user)
        out.likes = {i.id for i in profile.likes}
        out.dislikes = {i.id for i in profile.dislikes}
        out.chosen = {i.id for i in profile.chosen}
    finally:
        await asyncio.to_thread(rec.forget, user)
    return out


async def _replay_all(
    rec: Recommender,
    dialogues: list[ProfileDialogue],
    concurrency: int,
    advance: Callback,
    user_prefix: str,
) -> list[_Outcome]:
    gate = asyncio.Semaphore(concurrency)

    async def one(d: ProfileDialogue) -> _Outcome:
        async with gate:
            result = await _replay(rec, d, f"{user_prefix}{d.id}")
        advance(1)
        return result

    return await asyncio.gather(*(one(d) for d in dialogues))


def run_profile(
    rec: Recommender,
    dialogues_path: Path,
    movies_path: Path,
    limit: int | None = None,
    concurrency: int = 3,
    on_start: Callback = lambda _: None,
    advance: Callback = lambda _: None,
    user_prefix: str = "redial-profile-",
) -> dict[str, Any]:
    """Replays the first `limit` dialogues; returns the summary (plain JSON)."""
    started = time.perf_counter()
    movies = load_movies(movies_path)
    dialogues = load_profile_dialogues(dialogues_path, movies)[:limit]
    wanted = {k for d in dialogues for k in d.stances}
    joined = join_to_catalog(movies, rec.store.catalog.iter_items(), wanted)
    on_start(len(dialogues))
    t0 = time.perf_counter()
    outcomes = asyncio.run(_replay_all(rec, dialogues, concurrency, advance, user_prefix))
    turns_s = time.perf_counter() - t0
    tallies = {"likes": Tally(), "dislikes": Tally()}
    errors: list[str] = []
    turns = 0
    for d, out in zip(dialogues, outcomes, strict=True):
        turns += out.turns
        errors += out.errors
        for movie_id, stance in d.stances.items():
            tally = tallies["likes" if stance == LIKED else "dislikes"]
            tally.rated += 1
            item = joined.get(movie_id)
            if item is None:
                continue
            tally.joinable += 1
            same, other = (
                (out.likes, out.dislikes) if stance == LIKED else (out.dislikes, out.likes)
            )
            tally.held += item in same
            tally.wrong += item in other
            tally.chosen += item in out.chosen and item not in same and item not in other
    return {
        "dialogues": len(dialogues),
        "turns": turns,
        "model": rec.llm.model,
        "catalog_films": rec.store.catalog.count(),
        "films": {
            "rated_and_named_by_seeker": len(wanted),
            "joinable_to_catalog": len(joined),
            "rated_but_named_only_by_recommender": sum(d.recommender_only for d in dialogues),
        },
        **{name: t.summary() for name, t in tallies.items()},
        "errors": len(errors),
        "first_errors": errors[:5],
        "seconds": round(time.perf_counter() - started, 1),
        "turn_ms": round(1000 * turns_s / max(turns, 1), 1),
    }


def markdown_table(result: dict[str, Any]) -> str:
    films = result["films"]
    lines = [
        f"ReDial profile agreement: {result['dialogues']} dialogues, {result['turns']} seeker "
        f"turns through the team (model {result['model']}), {result['seconds']} s.",
        "",
        "| questionnaire | rated | in catalog | held with that stance | share | "
        "held with the opposite stance | share | held as chosen to watch | liked or chosen |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, label in (("likes", "liked"), ("dislikes", "disliked")):
        s = result[name]
        lines.append(
            f"| {label} | {s['rated']} | {s['joinable']} | {s['held']} | {s['held_share']:.3f} "
            f"| {s['wrong_stance']} | {s['wrong_share']:.3f} | {s['chosen']} "
            f"| {s['held_or_chosen_share']:.3f} |"
        )
    lines += [
        "",
        f"Films the seeker named and rated: {films['rated_and_named_by_seeker']} distinct, "
        f"{films['joinable_to_catalog']} of them in the catalog (title and year +-1); shares "
        f"are over the films in the catalog. {films['rated_but_named_only_by_recommender']} "
        'ratings of films only the recommender named are left out. ReDial\'s "liked" also '
        'covers films the seeker had not seen and meant to watch ("I\'ll check it out"); the '
        "profile keeps those as chosen to watch, not as liked: the last column counts both.",
    ]
    return "\n".join(lines) + "\n"


def write_report(result: dict[str, Any], out: Path) -> tuple[Path, Path]:
    return write_results(result, out, "redial-profile", markdown_table(result))
