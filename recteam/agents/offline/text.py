"""User text as tokens that keep their place in the original: the linker and the reader match on
normalised keys (items.normalize_key) but judge capitals, quotes and punctuation on the raw text."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from recteam.memory.items import normalize_key

__all__ = ["SENTENCE_END", "Token", "scan_phrases", "tokenize"]

_WORD = re.compile(r"[^\W_]+|&")
SENTENCE_END = frozenset(".!?;\n")
# Brackets are no clause end: in chat they mostly hold a title's year, "Heat (1995) is great".
_CLAUSE_END = SENTENCE_END | frozenset(",:\u2014\u2013")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Token:
    key: str  # one normalised word
    raw: str  # the word as typed (a word normalising to several keys repeats it)
    start: int
    end: int
    gap: str  # the raw text between the previous token and this one
    # First word of the text or of a sentence: its capital says nothing about a title.
    sentence_start: bool

    @property
    def clause_start(self) -> bool:
        dash = " - " in self.gap or "--" in self.gap  # a spaced dash, not "1980-1995"
        return self.sentence_start or dash or bool(_CLAUSE_END & set(self.gap))

    @property
    def capitalised(self) -> bool:
        """'Heat', 'DiCaprio', 'E' (of E.T.); not 'heat', nor 'USA' (shouting or an acronym)."""
        first = self.raw[0]
        return first.isupper() and (len(self.raw) == 1 or not self.raw.isupper())


_URL = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+|\S+@\S+\.\w+")


def without_urls(text: str) -> str:
    """The text with web addresses and e-mail addresses blanked (same length, so positions
    hold): 'http://example.com/x.png' is no film language ('example' is no wish)."""
    return _URL.sub(lambda m: " " * len(m.group()), text)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    previous_end = 0
    for match in _WORD.finditer(text):
        key = normalize_key(match.group())
        if not key:  # a word of characters that fold to nothing (ascii has no 'æ')
            continue
        gap = text[previous_end : match.start()]
        starts = not tokens or bool(SENTENCE_END & set(gap))
        for i, part in enumerate(key.split()):
            first = i == 0
            tokens.append(
                Token(
                    part,
                    match.group(),
                    match.start(),
                    match.end(),
                    gap if first else "",
                    starts and first,
                )
            )
        previous_end = match.end()
    return tokens


def scan_phrases(
    keys: Sequence[str],
    table: Mapping[tuple[str, ...], V],
    max_len: int,
    free: Callable[[int], bool] = lambda i: True,
) -> Iterator[tuple[int, int, V]]:
    """Longest phrases of `table` in `keys`, left to right, never overlapping, only over positions
    `free` allows. Yields (first, end, value) with `end` exclusive."""
    i, n = 0, len(keys)
    while i < n:
        if free(i):
            for length in range(min(max_len, n - i), 0, -1):
                if not all(free(j) for j in range(i + 1, i + length)):
                    continue
                value = table.get(tuple(keys[i : i + length]))
                if value is not None:
                    yield i, i + length, value
                    i += length
                    break
            else:
                i += 1
        else:
            i += 1
