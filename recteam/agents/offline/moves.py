"""How a message steers the conversation beyond what it says about films: how many picks it asks
for, whether it sets a new direction or asks to be surprised, and what a question about a film
asks (its director, cast, year, plot, whether it is scary or fit for children). The words are
data (data/dialogue.toml); matching is on normalised text, whole words only."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from recteam.memory.items import normalize_key

__all__ = ["Moves", "QuestionKind", "move_words", "read_moves"]

QuestionKind = Literal["director", "cast", "year", "scary", "kids", "genre", "length", "plot"]
_KINDS: tuple[QuestionKind, ...] = (
    "director",
    "cast",
    "year",
    "length",
    "kids",
    "scary",
    "genre",
    "plot",
)


@dataclass(frozen=True)
class Moves:
    count: int | None = None
    new_direction: bool = False
    surprise: bool = False
    question: QuestionKind | None = None


@dataclass(frozen=True)
class _Words:
    numbers: dict[str, int]
    nouns: frozenset[str]
    before: tuple[str, ...]
    phrases: dict[str, int]
    new: tuple[str, ...]
    surprise: tuple[str, ...]
    questions: dict[str, tuple[str, ...]]


@cache
def _words() -> _Words:
    raw = tomllib.loads(resources.files("recteam.data").joinpath("dialogue.toml").read_text())
    c = raw["count"]
    norm = normalize_key
    return _Words(
        numbers={norm(k): int(v) for k, v in c["numbers"].items()},
        nouns=frozenset(norm(w) for w in c["nouns"]),
        before=tuple(norm(w) for w in c["before"]),
        phrases={norm(k): int(v) for k, v in c["phrases"].items()},
        new=tuple(norm(w) for w in raw["direction"]["new"]),
        surprise=tuple(norm(w) for w in raw["direction"]["surprise"]),
        questions={k: tuple(norm(w) for w in v) for k, v in raw["questions"].items()},
    )


@cache
def move_words() -> frozenset[str]:
    """Every word of dialogue.toml's phrases: chat about the conversation, never a film's subject."""
    w = _words()
    phrases = [*w.numbers, *w.nouns, *w.before, *w.phrases, *w.new, *w.surprise]
    phrases += [p for ps in w.questions.values() for p in ps]
    return frozenset(word for p in phrases for word in p.split())


@cache
def _genre_words() -> frozenset[str]:
    """Words that name a genre on their own ("documentaries", "comedies", "westerns")."""
    from recteam.agents.offline.lexicon import load_lexicon

    return frozenset(
        p[0]
        for p, terms in load_lexicon().phrases.items()
        if len(p) == 1 and any(t.kind == "genre" for t in terms)
    )


def _has(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", text) is not None


def _count(key: str, words: _Words) -> int | None:
    tokens = key.split()
    for k, token in enumerate(tokens):
        value = words.numbers.get(token)
        if value is None and token.isdigit() and 0 < int(token) <= 10:
            value = int(token)
        if value is None:
            continue
        after = tokens[k + 1 : k + 3]
        before = " ".join(tokens[max(0, k - 2) : k])
        # "a couple of", "two more", "3 films"; "one of them" and "the first one" are references.
        if after[:2] == ["of", "them"] or after[:2] == ["of", "those"]:
            continue
        # "3 documentaries": a genre's plural counts as a film noun; "of" only after "couple".
        noun = (
            any(w in words.nouns and w != "of" for w in after)
            or (token in ("couple", "few", "pair") and after[:1] == ["of"])
            or (bool(after) and after[0] in _genre_words())
        )
        # "give me your top 5" counts; "my top 4" tells a taste.
        cued = any(before.endswith(b) for b in words.before) and not before.endswith("my top")
        if (noun or cued) and not (token == "one" and after[:1] == ["of"]):
            return value
    for phrase, value in words.phrases.items():
        if _has(key, phrase):
            return value
    return None


def read_moves(text: str, question: bool = False) -> Moves:
    """`question`: the reader found a question about a film in the message; its kind is read."""
    words = _words()
    key = normalize_key(text)
    kind: QuestionKind | None = None
    if question:
        kind = next(
            (k for k in _KINDS if any(_has(key, p) for p in words.questions.get(k, ()))), "plot"
        )
    return Moves(
        count=_count(key, words),
        new_direction=any(_has(key, p) for p in words.new),
        surprise=any(_has(key, p) for p in words.surprise),
        question=kind,
    )
