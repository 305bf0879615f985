"""What the raw text says about a candidate title or name beyond its words: capitals, quotes, a
year right after it, a list it continues. Pure functions over tokens (text.tokenize)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from recteam.agents.offline.text import Token

__all__ = [
    "ARTICLES",
    "capitalised_title",
    "capitals_informative",
    "inside_capitals",
    "list_ends",
    "list_starts",
    "name_capitalised",
    "quoted",
    "year_after",
]

ARTICLES = frozenset({"the", "a", "an"})
# Title words that stay lower-case in a capitalised title ("Back to the Future").
_MINOR = ARTICLES | frozenset(
    {"of", "and", "or", "in", "on", "at", "to", "for", "with", "by", "from", "as", "but", "nor"}
    | {"vs", "v", "s", "t", "ll", "re", "ve", "m", "d", "de", "la", "le", "du", "von", "van", "der"}
    | {"da"}
)
# Lower-case words inside a capitalised name ("Guillermo del Toro").
_NAME_PARTICLES = frozenset(
    {"de", "del", "della", "der", "van", "von", "da", "di", "du", "la", "le", "st"}
)
_QUOTE_OPEN = frozenset("\"'“‘«*_")
_QUOTE_CLOSE = re.compile(r"[.!?,]*[\"'”’»*_]")


def year_after(tokens: Sequence[Token], j: int) -> tuple[int | None, int]:
    """A year right after a title: 'Heat (1995)', 'Heat 1995', 'Heat from 1995'."""
    k = j + 1 if j < len(tokens) and tokens[j].key == "from" else j
    if (
        k >= len(tokens)
        or not _is_year(tokens[k].key)
        or tokens[k].gap.strip() not in ("", "(", "[")
    ):
        return None, j
    return (int(tokens[k].key), k + 1) if k == j or not tokens[j].clause_start else (None, j)


def _is_year(key: str) -> bool:
    return len(key) == 4 and key.isdigit() and 1870 <= int(key) <= 2100


def quoted(text: str, start: int, stop: int) -> bool:
    return start > 0 and text[start - 1] in _QUOTE_OPEN and bool(_QUOTE_CLOSE.match(text, stop))


def name_capitalised(tokens: Sequence[Token]) -> bool:
    return all(t.capitalised for t in tokens if t.key not in _NAME_PARTICLES)


def capitalised_title(tokens: Sequence[Token], sentence_start_counts: bool = False) -> bool:
    """Every significant word capitalised, and at least one of them not a sentence's first word,
    whose capital is grammar, not a title ("Her performance was great")."""
    words = [t for t in tokens if t.key not in _MINOR and not t.raw[0].isdigit()]
    if not words or (not tokens[0].capitalised and tokens[0].key not in _MINOR):
        return False
    return all(t.capitalised for t in words) and (
        sentence_start_counts or any(not t.sentence_start for t in words)
    )


# Words a longer capitalised title runs through: "The Imitation Game", "Dying of Laughter",
# "Gerald's Game", "My Life as a Dog". Not "and" ("Goodfellas and The Godfather" is a list),
# nor "in" or "with" ("Tom Hanks in Big").
_TITLE_GLUE = frozenset({"of", "the", "a", "an", "s", "to", "on", "as"})


def inside_capitals(tokens: Sequence[Token], i: int, j: int, plain: frozenset[str]) -> bool:
    """True when tokens[i:j] is part of a longer run of capitalised words, most likely a title
    the catalog lacks ("The Imitation Game" is not "The Game"). A capitalised function word or a
    sentence's first word does not extend the run: chat often runs sentences together without
    a stop ("I loved The Shining Have you seen it?")."""

    def capital_word(k: int) -> bool:
        t = tokens[k]
        return (
            t.capitalised
            and not t.sentence_start
            and t.key not in plain
            and t.key not in _TITLE_GLUE
        )

    left = i - 1
    while left >= 0 and tokens[left].key in _TITLE_GLUE and not tokens[left + 1].clause_start:
        left -= 1
    if left >= 0 and not tokens[left + 1].clause_start and capital_word(left):
        return True
    right = j
    while (
        right < len(tokens) and tokens[right].key in _TITLE_GLUE and not tokens[right].clause_start
    ):
        right += 1
    return right < len(tokens) and not tokens[right].clause_start and capital_word(right)


def capitals_informative(tokens: Sequence[Token]) -> bool:
    """False for SHOUTED or Title Cased Text, where a capital says nothing about a title: told by
    the function words ('and', 'with'...), which ordinary writing leaves lower-case."""
    letters = [t for t in tokens if t.raw[0].isalpha()]
    if len(letters) >= 3 and all(t.raw.isupper() for t in letters if len(t.raw) > 1):
        return False
    function = [
        t for t in tokens if t.key in _MINOR - ARTICLES and not t.sentence_start and t.raw.isalpha()
    ]
    return len(function) < 2 or sum(t.raw[0].isupper() for t in function) < 0.7 * len(function)


def list_ends(tokens: Sequence[Token], title_starts: Iterable[int]) -> frozenset[int]:
    """Token ends (exclusive) of a title listed right before a linked one: "Heat and Alien",
    "Heat, Alien"."""
    ends: set[int] = set()
    for k in title_starts:
        if k <= 0 or tokens[k].sentence_start:
            continue
        if tokens[k - 1].key in ("and", "or", "&") and k - 1 > 0:
            ends.add(k - 1)
        elif "," in tokens[k].gap:
            ends.add(k)
    return frozenset(ends)


def list_starts(tokens: Sequence[Token], title_ends: Iterable[int]) -> frozenset[int]:
    """Tokens that continue a list after a linked title: "Alien, Aliens", "Alien and Aliens"."""
    starts: set[int] = set()
    for k in title_ends:
        if k >= len(tokens) or tokens[k].sentence_start:
            continue
        comma = "," in tokens[k].gap
        if tokens[k].key in ("and", "or", "&") and k + 1 < len(tokens):
            k += 1
        elif not comma:
            continue
        while k + 1 < len(tokens) and tokens[k].key in ("but", "not"):  # "Alien, but not Aliens"
            k += 1
        if k < len(tokens) and tokens[k].key in ARTICLES and k + 1 < len(tokens):
            starts.add(k)  # "and the Matrix": the article starts the next title's span
        starts.add(k)
    return frozenset(starts)
