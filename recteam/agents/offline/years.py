"""Year constraints in user text: "nothing before 2000", "after 2010", "since 1995", "pre-1990",
"older than 1980", "from the 90s", "early 80s", "1990s", "between 1980 and 1995", "1980-1995",
"2010 or later", "2010+", "the last 10 years", "a 1999 movie". The words are data (lexicon.toml
[years]); this module only knows the shapes they combine into.

A negation shortly before flips a one-sided bound ("nothing before 2000" = from 2000 on); a
negated range or decade ("nothing from the 80s") cannot be expressed as one year range and is
dropped. Two-digit years ("in 95") are not read: too often ages, prices or scores."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from recteam.agents.offline.lexicon import Phrase, YearWords
from recteam.agents.offline.text import Token

__all__ = ["YearBound", "find_year_bounds"]

_DECADE = re.compile(r"^(\d{2}|\d{4})s$")
_RANGE_DASH = frozenset("-\u2013\u2014")
_FILM_WORDS = frozenset({"movie", "movies", "film", "films", "flick", "flicks"})


@dataclass(frozen=True)
class YearBound:
    first: int  # token range it was read from, end exclusive
    end: int
    year_min: int | None
    year_max: int | None


@dataclass(frozen=True)
class _Span:
    lo: int
    hi: int
    end: int  # token after the year or decade
    decade: bool


class _Reader:
    def __init__(
        self,
        text: str,
        tokens: Sequence[Token],
        free: Callable[[int], bool],
        words: YearWords,
        latest_year: int | None,
    ) -> None:
        self.text, self.tokens, self.free, self.words = text, tokens, free, words
        self.keys = [t.key for t in tokens]
        self.latest = latest_year

    def phrase_at(self, i: int, phrases: frozenset[Phrase]) -> int | None:
        """End of the longest phrase of `phrases` starting at token i, within one clause."""
        for n in range(min(4, len(self.keys) - i), 0, -1):
            if (
                tuple(self.keys[i : i + n]) in phrases
                and all(self.free(k) for k in range(i, i + n))
                and not any(self.tokens[k].clause_start for k in range(i + 1, i + n))
            ):
                return i + n
        return None

    def span_at(self, i: int) -> _Span | None:
        """A year or a decade at token i, after an optional 'the' and 'early' / 'mid' / 'late'."""
        if i < len(self.keys) and self.keys[i] == "the":
            i += 1
        part = self.words.decade_parts.get(self.keys[i]) if i < len(self.keys) else None
        if part is not None:
            i += 1
        if i >= len(self.keys) or not self.free(i):
            return None
        key = self.keys[i]
        decade, end = self._decade(i)
        if decade is not None:
            lo, hi = (decade + part[0], decade + part[1]) if part else (decade, decade + 9)
            return _Span(lo, hi, end, decade=True)
        # "(1997)" is the year of a title, even one the catalog lacks ("Midsomer Murders (1997)").
        bracketed = self.tokens[i].gap.rstrip().endswith("(")
        if (
            part is None
            and len(key) == 4
            and key.isdigit()
            and 1870 <= int(key) <= 2100
            and not bracketed
        ):
            return _Span(int(key), int(key), i + 1, decade=False)
        return None

    def _decade(self, i: int) -> tuple[int | None, int]:
        key = self.keys[i]
        if key in self.words.spelled_decades:
            return self.words.spelled_decades[key], i + 1
        match = _DECADE.match(key)
        digits, end = (match.group(1), i + 1) if match else (None, i + 1)
        # "90's" and "1990's" arrive as two tokens, '90' and 's'.
        if (
            digits is None
            and key.isdigit()
            and len(key) in (2, 4)
            and self.keys[i + 1 : i + 2] == ["s"]
        ):
            digits, end = key, i + 2
        if digits is None or not digits.endswith("0"):
            return None, i
        if len(digits) == 2:  # "00s" and "10s" are this century; "20s" is the 1920s
            return (2000 if digits in ("00", "10") else 1900) + int(digits), end
        return int(digits), end


def find_year_bounds(
    text: str,
    tokens: Sequence[Token],
    free: Callable[[int], bool],
    words: YearWords,
    latest_year: int | None,
    negated_before: Callable[[int], bool],
) -> list[YearBound]:
    """Year bounds in text order. `free(i)`: token i is not part of a title or name already;
    `negated_before(i)`: a negation governs the phrase starting at token i."""
    reader = _Reader(text, tokens, free, words, latest_year)
    found: list[YearBound] = []
    i = 0
    while i < len(tokens):
        bound = _bound_at(reader, i) if free(i) else None
        if bound is None:
            i += 1
            continue
        i = bound.end
        kept = _negate(bound) if negated_before(bound.first) else bound
        if kept is not None:
            found.append(kept)
    return found


def _bound_at(r: _Reader, i: int) -> YearBound | None:
    return _range(r, i) or _one_sided(r, i) or _recent_years(r, i) or _plain(r, i)


def _range(r: _Reader, i: int) -> YearBound | None:
    """'between 1980 and 1995', 'from the 80s to the 90s', '1980-1995', '80s or 90s'."""
    start = r.phrase_at(i, r.words.range_starts) or i
    first = r.span_at(start)
    if first is None:
        return None
    joined = r.phrase_at(first.end, r.words.range_joiners)
    dashed = first.end < len(r.tokens) and bool(_RANGE_DASH & set(r.tokens[first.end].gap))
    second = r.span_at(joined) if joined is not None else r.span_at(first.end) if dashed else None
    if second is None:
        return None
    # "the 90s or 80s" names the same stretch as "the 80s or 90s"
    return YearBound(i, second.end, min(first.lo, second.lo), max(first.hi, second.hi))


def _one_sided(r: _Reader, i: int) -> YearBound | None:
    """'before 2000', 'pre-1990', 'since the 90s'; '2010 or later', '1980 and earlier', '2010+'."""
    w = r.words
    for phrases, bound in (
        (w.before, "before"),
        (w.until, "until"),
        (w.after, "after"),
        (w.since, "since"),
    ):
        end = r.phrase_at(i, phrases)
        span = r.span_at(end) if end is not None else None
        if span is not None:
            lo, hi = {
                "before": (None, span.lo - 1),
                "until": (None, span.hi),
                "after": (span.hi + 1, None),
                "since": (span.lo, None),
            }[bound]
            return YearBound(i, span.end, lo, hi)
    span = r.span_at(r.phrase_at(i, w.range_starts) or i)  # "from the mid 2000s or earlier"
    if span is None:
        return None
    if (end := r.phrase_at(span.end, w.or_later)) is not None or r.text[
        r.tokens[span.end - 1].end :
    ][:1] == "+":
        return YearBound(i, end or span.end, span.lo, None)
    if (end := r.phrase_at(span.end, w.or_earlier)) is not None:
        return YearBound(i, end, None, span.hi)
    return None


def _recent_years(r: _Reader, i: int) -> YearBound | None:
    """'the last 10 years', 'past decade', 'last few years' (relative to the catalog's newest)."""
    end = r.phrase_at(i, r.words.last)
    if end is None or r.latest is None or end >= len(r.keys):
        return None
    count, unit_at = 1, end
    key = r.keys[end]
    if key.isdigit() and len(key) <= 2:
        count, unit_at = int(key), end + 1
    elif key in r.words.numbers:
        count, unit_at = r.words.numbers[key], end + 1
    unit = r.keys[unit_at] if unit_at < len(r.keys) else ""
    span = {"year": 1, "years": 1, "decade": 10, "decades": 10}.get(unit)
    if span is None:
        return None
    return YearBound(i, unit_at + 1, r.latest - count * span + 1, None)


def _plain(r: _Reader, i: int) -> YearBound | None:
    """A decade ('90s', 'from the 80s'), or a year said to be the film's ('from 1999', 'a 1999 movie')."""
    exact_end = r.phrase_at(i, r.words.exact)
    span = r.span_at(exact_end if exact_end is not None else i)
    if span is None:
        return None
    if (
        span.decade
        or exact_end is not None
        or (r.keys[span.end : span.end + 1] and r.keys[span.end] in _FILM_WORDS)
    ):
        return YearBound(i, span.end, span.lo, span.hi)
    return None


def _negate(bound: YearBound) -> YearBound | None:
    if bound.year_min is None and bound.year_max is not None:
        return YearBound(bound.first, bound.end, bound.year_max + 1, None)
    if bound.year_max is None and bound.year_min is not None:
        return YearBound(bound.first, bound.end, None, bound.year_min - 1)
    return None
