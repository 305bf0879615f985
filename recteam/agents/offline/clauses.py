"""An utterance as clauses of units: the mentions, cues, genres, facets and year bounds found in it,
in text order. A clause ends at a sentence stop, a comma-like mark, or a contrast word ("but");
negations and stances reach no further than their clause (see reading.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from recteam.agents.offline.lexicon import Lexicon
from recteam.agents.offline.linking import Mention
from recteam.agents.offline.text import Token, scan_phrases
from recteam.agents.offline.years import YearBound, find_year_bounds

__all__ = ["Clause", "Unit", "segment", "units_of"]

Joiner = Literal["start", "sentence", "comma", "contrast"]


@dataclass(frozen=True)
class Unit:
    """One thing found in the text: kind is a cue kind (lexicon.Term.kind), "item", "person",
    "year", "ordinal", "cast" (a person after "with"/"starring")."""

    kind: str
    first: int
    end: int
    value: Any = None


@dataclass
class Clause:
    units: list[Unit]
    joiner: Joiner
    sentence: int
    start: int = 0  # first token
    stop: int = 0  # first token of the next clause, or the token count
    question: bool = False
    listed: bool = False  # an element of a list "X, Y and Z": takes the stance of the clause before

    def has(self, *kinds: str) -> bool:
        return any(u.kind in kinds for u in self.units)


def units_of(
    text: str,
    tokens: Sequence[Token],
    mentions: Sequence[Mention],
    lex: Lexicon,
    latest_year: int | None,
    title: Callable[[str], Any] | None = None,
) -> list[Unit]:
    """Everything in the text as units; each token belongs to at most one of them (mentions first,
    then year bounds, then the longest lexicon phrases)."""
    taken = [False] * len(tokens)
    units: list[Unit] = []

    def take(unit: Unit) -> None:
        units.append(unit)
        for k in range(unit.first, unit.end):
            taken[k] = True

    previous_cast_end = -10
    for m in mentions:
        before = tokens[m.first - 1].key if m.first > 0 else ""
        after = tokens[m.end].key if m.end < len(tokens) else ""
        before2 = tokens[m.first - 2].key if m.first > 1 else ""
        # "Denzel Washington thrillers", "with both De Niro and Al Pacino": the cast too.
        genre_after = any(t.kind == "genre" for t in lex.phrases.get((after,), ()))
        listed = before in ("and", "or", "&") and m.first - previous_cast_end <= 1
        cast = m.kind == "person" and (
            before in lex.cast_cues
            or after in lex.cast_cues_after
            or genre_after
            or (before == "both" and before2 in lex.cast_cues)
            or listed
        )
        if cast:
            previous_cast_end = m.end
        take(
            Unit(
                "item" if m.kind == "title" else "cast" if cast else "person",
                m.first,
                m.end,
                m.item or m.person,
            )
        )

    def free(k: int) -> bool:
        return not taken[k]

    def negated(k: int) -> bool:
        return _negated_before(tokens, k, lex, free)

    bound: YearBound
    for bound in find_year_bounds(text, tokens, free, lex.years, latest_year, negated):
        take(Unit("year", bound.first, bound.end, bound))
    for k, t in enumerate(tokens):
        alone = k + 1 == len(tokens) or tokens[k + 1].clause_start
        # "No, something lighter": a refusal, not a negation of what follows.
        if free(k) and t.sentence_start and alone and (t.key,) in lex.interjection_no:
            take(Unit("reject", k, k + 1))
        picked = _pick_by_place(tokens, k) if free(k) else None
        if picked is not None:  # "number 3", "#2", "the middle one", "the oldest one"
            first = k - 1 if k > 0 and tokens[k - 1].key in _NUMBER_WORDS and free(k - 1) else k
            take(Unit("ordinal", first, picked[1], picked[0]))
            continue
        if free(k) and t.key in lex.ordinals and _ordinal_frame(tokens, k):
            span = _ordinal_span(tokens, k, lex.ordinals[t.key])
            if span is not None:  # "the first two", "the last two"
                take(Unit("ordinal", k, k + 2, span))
            else:
                take(Unit("ordinal", k, k + 1, lex.ordinals[t.key]))
    keys = [t.key for t in tokens]
    for first, end, terms in scan_phrases(keys, lex.phrases, lex.max_phrase, free):
        for term in terms:
            units.append(Unit(term.kind, first, end, term.value))
        for k in range(first, end):
            taken[k] = True
    units.sort(key=lambda u: u.first)
    # "horror movies like Alien?": the genre took "movies", leaving "like" alone. Right after a
    # genre it compares, as "movies like" does; it does not tell a taste ("I like Alien").
    for n in range(1, len(units)):
        genre, cue = units[n - 1], units[n]
        alone = cue.end - cue.first == 1 and keys[cue.first] == "like"
        if genre.kind == "genre" and cue.kind == "like" and genre.end == cue.first and alone:
            units[n] = replace(cue, kind="similar")
    if title is not None:
        units = _titles_among_films(units, tokens, title)
    return _similar_after_else(_drop_false_pronouns(units, tokens, lex))


def _similar_after_else(units: list[Unit]) -> list[Unit]:
    """'Anything else like Prisoners?': "anything else" took the "else", so the "like" right
    after it is the "something like" of a request for similar films, not a liking asked about."""
    out = list(units)
    for n in range(1, len(out)):
        prev, unit = out[n - 1], out[n]
        if unit.kind == "like" and prev.kind == "reject" and prev.end == unit.first:
            out[n] = Unit("similar", unit.first, unit.end, unit.value)
    return out


def _titles_among_films(
    units: list[Unit], tokens: Sequence[Token], title: Callable[[str], Any]
) -> list[Unit]:
    """'I like Aliens, Blade Runner and The Matrix': a capitalised genre or facet word that is
    also a film's exact title names that film when another film stands next to it in a list."""
    out = list(units)
    for n, unit in enumerate(units):
        if unit.kind not in ("genre", "facet"):
            continue
        words = tokens[unit.first : unit.end]
        if not all(t.capitalised for t in words) or unit.first == 0:
            continue
        near_film = any(
            0 <= k < len(units)
            and units[k].kind == "item"
            and min(abs(units[k].first - unit.end), abs(unit.first - units[k].end)) <= 1
            for k in (n - 2, n - 1, n + 1, n + 2)
        )
        ref = title(" ".join(t.key for t in words)) if near_film else None
        if ref is not None:
            out[n] = Unit("item", unit.first, unit.end, ref)
    return out


_SPAN_NUMBERS = {"two": 2, "three": 3, "2": 2, "3": 3}
_NUMBER_WORDS = frozenset({"number", "no", "num", "nr"})
_BY_YEAR = {"oldest": "oldest", "earliest": "oldest", "newest": "newest", "latest": "newest"}


def _pick_by_place(tokens: Sequence[Token], k: int) -> tuple[Any, int] | None:
    """(what it points at, end token) for "number 3", "#2", "the middle one" and "the oldest
    one" / "the newest": places in the last recommendation besides "the first"."""
    t = tokens[k]
    before = tokens[k - 1].key if k > 0 else ""
    if t.key.isdigit() and 1 <= int(t.key) <= 9:
        if before in _NUMBER_WORDS or t.gap.rstrip().endswith("#"):
            return int(t.key) - 1, k + 1
        return None
    if before != "the":
        return None
    after = tokens[k + 1] if k + 1 < len(tokens) else None
    ends = after is None or after.clause_start or after.key in ("one", "film", "movie", "pick")
    if not ends:
        return None
    end = k + 2 if after is not None and not after.clause_start and after.key != "" else k + 1
    if t.key == "middle":
        return "middle", end
    if t.key in _BY_YEAR:
        return _BY_YEAR[t.key], end
    return None


_AFTER_ORDINAL = frozenset(
    {
        "one",
        "ones",
        "and",
        "or",
        "pick",
        "movie",
        "film",
        "suggestion",
        "option",
        "is",
        "was",
        "sounds",
        "looks",
        "seems",
        "two",
        "three",
        "2",
        "3",
    }
)


def _ordinal_frame(tokens: Sequence[Token], k: int) -> bool:
    """'the first one', 'the second', 'the first and the third': an ordinal that points into
    the last recommendation."""
    after = tokens[k + 1] if k + 1 < len(tokens) else None
    ends = after is None or after.clause_start or after.key in _AFTER_ORDINAL
    return k > 0 and tokens[k - 1].key == "the" and ends


def _ordinal_span(tokens: Sequence[Token], k: int, index: int) -> tuple[int, int | None] | None:
    """'the first two' -> (0, 2); 'the last two' -> (-2, None)."""
    after = tokens[k + 1] if k + 1 < len(tokens) else None
    if after is None or after.clause_start or after.key not in _SPAN_NUMBERS:
        return None
    n = _SPAN_NUMBERS[after.key]
    if index == 0:
        return (0, n)
    if index == -1:
        return (-n, None)
    return None


def _negated_before(tokens: Sequence[Token], k: int, lex: Lexicon, free: Any) -> bool:
    """A negation within three words before token k, in its clause: 'nothing (made) before 2000'."""
    for j in range(k - 1, max(-1, k - 4), -1):
        if tokens[j + 1].clause_start:
            return False
        for n in (1, 2, 3):
            terms = (
                lex.phrases.get(tuple(t.key for t in tokens[j - n + 1 : j + 1]))
                if j - n + 1 >= 0
                else None
            )
            if terms and any(t.kind == "neg" for t in terms):
                return True
    return False


def _drop_false_pronouns(units: list[Unit], tokens: Sequence[Token], lex: Lexicon) -> list[Unit]:
    """'that' is a pronoun in 'I've seen that' but not in 'I think that horror...'; 'the movie'
    right before a title is the title's cue ('the movie Heat'), not a pronoun."""
    kept: list[Unit] = []
    for n, unit in enumerate(units):
        after = units[n + 1] if n + 1 < len(units) else None
        pronoun = unit.kind in ("pron1", "pronN", "demo")
        if pronoun and after is not None and after.kind == "item" and after.first == unit.end:
            continue
        if unit.kind == "demo":
            nxt = tokens[unit.end] if unit.end < len(tokens) else None
            if nxt is not None and not nxt.clause_start and nxt.key not in lex.demonstrative_before:
                continue
            unit = Unit("pron1", unit.first, unit.end)
        kept.append(unit)
    return kept


def segment(units: list[Unit], tokens: Sequence[Token], text: str, lex: Lexicon) -> list[Clause]:
    """Splits the units into clauses and marks questions and list continuations. A break is read
    from every token between two units, not only from the units' own tokens."""
    clauses: list[Clause] = []
    sentence = 0
    previous_end = 0
    for unit in units:
        between = range(previous_end, unit.first + 1) if clauses else range(0)
        breaks = [k for k in between if tokens[k].clause_start]
        joiner: Joiner | None = "start" if not clauses else None
        if any(tokens[k].sentence_start for k in between):
            joiner, sentence = "sentence", sentence + 1
        elif unit.kind == "contrast":
            joiner = "contrast"
        elif breaks:
            joiner = "comma"
        if joiner is not None:
            start = (
                0
                if not clauses
                else unit.first
                if unit.kind == "contrast"
                else breaks[-1]
                if breaks
                else unit.first
            )
            if clauses:
                clauses[-1].stop = start
            clauses.append(Clause([], joiner, sentence, start=start))
        if unit.kind != "contrast":
            clauses[-1].units.append(unit)
        previous_end = max(previous_end, unit.end)
    if clauses:
        clauses[-1].stop = len(tokens)
    _mark_questions(clauses, tokens, text, lex)
    _mark_lists(clauses)
    return clauses


_AUX_PRONOUN = frozenset(
    (a, p)
    for a in ("is", "was", "does", "did", "isnt", "isn", "would", "will")
    for p in ("it", "that", "this", "there")
)


_AUX_FILM = frozenset({"is", "was", "does", "did", "isnt", "would", "will", "can"})


def _mark_questions(
    clauses: list[Clause], tokens: Sequence[Token], text: str, lex: Lexicon
) -> None:
    """See lexicon.toml [cues] question_words: a question word opening a sentence, an auxiliary
    opening a clause of a sentence that ends in '?', or a clause that ends in '?'."""

    def opens(clause: Clause, phrases: frozenset[tuple[str, ...]]) -> bool:
        first = clause.start + (tokens[clause.start].key in ("and", "or", "so", "but", "then"))
        keys = tuple(t.key for t in tokens[first : first + 5])
        return any(keys[:k] in phrases for k in range(1, 6))

    asks: dict[int, bool] = {}  # sentence -> it ends in "?"
    for clause in clauses:
        tail = tokens[clause.stop].gap if clause.stop < len(tokens) else text[tokens[-1].end :]
        # "...and loved it. What next?", "I loved Heat, what else?": the '?' ends a later
        # clause that holds no unit.
        last = max((u.end for u in clause.units), default=clause.start)
        later = any(tokens[k].clause_start for k in range(last, clause.stop))
        clause.question = "?" in tail and not later
        asks[clause.sentence] = asks.get(clause.sentence, False) or clause.question
    for clause in clauses:
        starts_sentence = clause.joiner in ("start", "sentence")
        wh = starts_sentence and opens(clause, lex.question_words)
        aux = asks[clause.sentence] and opens(clause, lex.question_auxiliaries | lex.question_words)
        # "Is it a comedy" needs no "?": an auxiliary and a pronoun open no statement.
        pair = tuple(t.key for t in tokens[clause.start : clause.start + 2])
        aux_pronoun = starts_sentence and pair in _AUX_PRONOUN
        # "is coraline too scary for my 8yo": an auxiliary right before a film asks about it.
        aux_film = (
            starts_sentence
            and bool(pair)
            and pair[0] in _AUX_FILM
            and any(u.kind == "item" and u.first == clause.start + 1 for u in clause.units)
        )
        clause.question = clause.question or wh or aux or aux_pronoun or aux_film


def _mark_lists(clauses: list[Clause]) -> None:
    """'I loved Alien, Aliens and Heat': comma-joined clauses ending in an 'and'/'or' are one list."""
    n = 0
    while n < len(clauses):
        run = [n]
        while run[-1] + 1 < len(clauses) and clauses[run[-1] + 1].joiner == "comma":
            run.append(run[-1] + 1)
        if len(run) > 1 and any(clauses[k].has("coord") for k in run[1:]):
            for k in run[1:]:
                clauses[k].listed = True
        n = run[-1] + 1
