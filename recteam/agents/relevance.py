"""Orders the searcher's candidate pool by how well each film answers this conversation.

A film's relevance is a weighted sum of signals, each scaled to 0..1 (weights and pool sizes in
data/ranking.toml): how often people name it, how often it is named with the films of this
conversation, genres asked for or shared with those films, description similarity to those films
and to what the user said, a rare title word or cast shared with them ("Toy Story 2" after "Toy
Story"), people the user named, and its place in the text search. Pure: the searcher gathers the
pool and the signals; this module only scores, so it can be tested and explained on its own.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import numpy as np

from recteam.memory.genres import genre_keys
from recteam.memory.items import CatalogItem, normalize_key

__all__ = [
    "CAST_TOP",
    "POOL_RECORDER",
    "Scored",
    "TurnSignals",
    "check_config",
    "explain",
    "pool_sizes",
    "rank",
    "title_words",
    "weights",
]

POPULARITY_TOP = 15.0  # payload popularity of the most named films (log scale)
CAST_TOP = 6  # billed cast compared: leads, not the fiftieth extra
_WORD = re.compile(r"[a-z0-9']+")
# Words every series and half the catalog share: "Part 2", "The Movie".
_TITLE_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "and",
        "in",
        "on",
        "to",
        "part",
        "ii",
        "iii",
        "iv",
        "movie",
        "chapter",
        "vol",
        "volume",
    ]
)


SIGNALS = (
    "popularity",
    "comention",
    "genre_wanted",
    "genre_seeds",
    "similar_seeds",
    "similar_team",
    "words_user",
    "words_team",
    "words_recent",
    "query_message",
    "query_dialogue",
    "title_seeds",
    "cast_seeds",
    "people",
    "search",
)
POOLS = (
    "search",
    "comention",
    "content",
    "words",
    "popular",
    "popular_in_genre",
    "people",
    "cast",
    "seeds",
)


@cache
def _config() -> dict[str, dict[str, Any]]:
    """data/ranking.toml, checked: a misspelt key would otherwise weigh nothing, silently."""
    text = resources.files("recteam.data").joinpath("ranking.toml").read_text(encoding="utf-8")
    return check_config(tomllib.loads(text))


def check_config(config: dict) -> dict[str, dict[str, Any]]:
    """Raises ValueError naming the first unknown, missing or ill-typed key."""
    for table, known in (("weights", SIGNALS), ("pool", POOLS), ("labels", SIGNALS)):
        values = config.get(table, {})
        for key, value in values.items():
            if key not in known:
                raise ValueError(
                    f"ranking.toml [{table}]: unknown key {key!r} (known: {', '.join(known)})"
                )
            if table == "labels":
                if not isinstance(value, str) or not value.strip():
                    raise ValueError(f"ranking.toml [labels] {key} = {value!r}: not a phrase")
            elif not isinstance(value, int | float) or (table == "pool" and value < 0):
                wanted = "a count >= 0" if table == "pool" else "a number"
                raise ValueError(f"ranking.toml [{table}] {key} = {value!r}: not {wanted}")
        missing = [k for k in known if k not in values]
        if missing:
            raise ValueError(f"ranking.toml [{table}]: missing {', '.join(missing)}")
    return config


def weights() -> dict[str, float]:
    return dict(_config()["weights"])


def pool_sizes() -> dict[str, int]:
    return {k: int(v) for k, v in _config()["pool"].items()}


def explain(signals: Mapping[str, float], top: int = 3) -> str:
    """A candidate's largest weighted signals in words: 'like films you named 0.42, ...'."""
    labels: Mapping[str, str] = _config()["labels"]
    return ", ".join(f"{labels.get(k, k)} {v:.2f}" for k, v in list(signals.items())[:top])


def title_words(title: str) -> set[str]:
    return {w for w in _WORD.findall(title.lower()) if w not in _TITLE_STOP and len(w) > 2}


# What a film's title, genres and cast come to: pure functions of strings a pool repeats every
# turn (the same popular films, the same names), so each is computed once per process.
_MEMO = 1 << 16


@lru_cache(maxsize=_MEMO)
def _title_words(title: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(title.lower()) if w not in _TITLE_STOP and len(w) > 2)


@lru_cache(maxsize=_MEMO)
def _genre_set(genres: tuple[str, ...]) -> frozenset[str]:
    return frozenset(k for g in genres for k in genre_keys(g))


@lru_cache(maxsize=_MEMO)
def _people_set(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normalize_key(p) for p in names)


def _keys(genres: Iterable[str]) -> frozenset[str]:
    return _genre_set(tuple(genres))


def _cast(item: CatalogItem) -> frozenset[str]:
    return _people_set(tuple(item.cast[:CAST_TOP]))


@dataclass
class TurnSignals:
    """What this turn knows that ranks films. `seeds`: the films the user named, oldest first;
    `team_seeds`: the films the team suggested, oldest first; `named`: the ids of every film
    named by either side, in the order they came up; `words`: for a film named, the share of
    its words each other film holds (ItemCatalog.word_neighbors); `title_df`: how many catalog
    titles hold each title word (rare words mark a series)."""

    seeds: Sequence[CatalogItem] = ()
    team_seeds: Sequence[CatalogItem] = ()
    named: Sequence[str] = ()
    words: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    seed_vectors: Mapping[str, np.ndarray] = field(default_factory=dict)
    wanted_genres: Sequence[str] = ()
    people: Iterable[str] = ()
    message_vector: np.ndarray | None = None
    dialogue_vector: np.ndarray | None = None
    comention: Mapping[str, float] = field(default_factory=dict)  # item id -> raw score
    search_rank: Mapping[str, int] = field(default_factory=dict)  # item id -> 0-based rank
    title_df: Mapping[str, int] = field(default_factory=dict)
    rare_title_df: int = 30
    recent: int = 4  # seeds that steer title, cast and description similarity


@dataclass(frozen=True)
class Scored:
    item: CatalogItem
    score: float
    signals: dict[str, float]  # the non-zero weighted terms, largest first: the "why"
    raw: dict[str, float] = field(default_factory=dict)  # every signal before weighting


# Set by an evaluation that fits the weights (`recteam eval redial --signals-out`): the searcher
# hands it each ranked pool. A context variable, so concurrent turns record their own pools.
POOL_RECORDER: ContextVar[Callable[[list[Scored]], None] | None] = ContextVar(
    "pool_recorder", default=None
)


class _Seeds:
    """The per-turn side of the signals, computed once for the whole pool."""

    def __init__(self, s: TurnSignals) -> None:
        recent = list(s.seeds)[-s.recent :]
        self.genres = _keys(g for it in s.seeds for g in it.genres)
        self.wanted = _keys(s.wanted_genres)
        self.people = {normalize_key(p) for p in s.people}
        self.casts = [_cast(it) for it in recent]
        self.title_weight: dict[str, float] = {}
        for it in recent:
            for w in _title_words(it.title):
                df = s.title_df.get(w, 1)
                if df <= s.rare_title_df:
                    self.title_weight[w] = self.title_weight.get(w, 0.0) + 1 / math.log(2 + df)
        self.vectors = _stack(s.seed_vectors, [it.id for it in recent[-3:]])
        team = [it.id for it in s.team_seeds][-3:]
        self.team_vectors = _stack(s.seed_vectors, team)
        self.words_user = [s.words[it.id] for it in recent[-3:] if it.id in s.words]
        self.words_team = [s.words[i] for i in team if i in s.words]
        self.words_recent = [s.words.get(i, {}) for i in list(s.named)[-4:]]
        top = max(s.comention.values(), default=0.0)
        self.comention = {k: v / top for k, v in s.comention.items()} if top > 0 else {}


def _stack(vectors: Mapping[str, np.ndarray], ids: Iterable[str]) -> np.ndarray | None:
    found = [vectors[i] for i in ids if i in vectors]
    return np.stack(found) if found else None


def _most(shares: Sequence[Mapping[str, float]], item_id: str) -> float:
    return max((w.get(item_id, 0.0) for w in shares), default=0.0)


def _signals(item: CatalogItem, vector: np.ndarray | None, s: TurnSignals, x: _Seeds) -> dict:
    keys = _keys(item.genres)
    cast = _cast(item)
    out = {
        "popularity": min(max(item.popularity, 0.0) / POPULARITY_TOP, 1.0),
        "comention": x.comention.get(item.id, 0.0),
        "genre_wanted": float(bool(keys & x.wanted)),
        "genre_seeds": len(keys & x.genres) / (len(keys) + 1) if x.genres else 0.0,
        "title_seeds": min(sum(x.title_weight.get(w, 0.0) for w in _title_words(item.title)), 2.0)
        / 2,
        "cast_seeds": min(sum(len(cast & c) for c in x.casts), 3) / 3,
        "people": min(len(cast & x.people), 2) / 2,
        "search": 1 / (1 + s.search_rank[item.id] / 10) if item.id in s.search_rank else 0.0,
        "words_user": _most(x.words_user, item.id),
        "words_team": _most(x.words_team, item.id),
        # the mean: a film sharing words with several of the last films named beats one echo
        "words_recent": sum(w.get(item.id, 0.0) for w in x.words_recent) / len(x.words_recent)
        if x.words_recent
        else 0.0,
    }
    if vector is not None:
        # the largest of a few: max() of the list is the same number as numpy's, sooner
        if x.vectors is not None:
            out["similar_seeds"] = max((x.vectors @ vector).tolist())
        if x.team_vectors is not None:
            out["similar_team"] = max((x.team_vectors @ vector).tolist())
        if s.message_vector is not None:
            out["query_message"] = float(s.message_vector @ vector)
        if s.dialogue_vector is not None:
            out["query_dialogue"] = float(s.dialogue_vector @ vector)
    return out


def _largest(term: tuple[str, float]) -> float:
    return -abs(term[1])


def rank(
    pool: Iterable[CatalogItem], vectors: Mapping[str, np.ndarray], s: TurnSignals
) -> list[Scored]:
    """`pool` scored and sorted, best first (ties by popularity, then id: reproducible)."""
    w = weights()
    x = _Seeds(s)
    scored = []
    for item in pool:
        raw = _signals(item, vectors.get(item.id), s, x)
        terms = dict(
            sorted(((k, t) for k, v in raw.items() if (t := w.get(k, 0.0) * v)), key=_largest)
        )
        scored.append(Scored(item, round(sum(terms.values()), 4), terms, raw))
    scored.sort(key=lambda r: (-r.score, -r.item.popularity, r.item.id))
    return scored
