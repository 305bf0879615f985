"""Finds the films and people a message names, from the catalog's own titles and cast lists.

Matching is on normalised word n-grams (items.normalize_key; titles by items.title_key, so "the
matrix" and "Matrix" are one key), longest first, never overlapping. Whether an n-gram is meant as
a title depends on its words (lexicon.toml):

- DISTINCTIVE titles ("Jurassic Park", "It Follows", and one-word coinages outside the words
  English text uses, lexicon.known_words: "Superbad", "Zootopia") link wherever they appear.
- COMMON titles, one word or only everyday chat words ("Heat", "Frozen", "Home Alone"), link
  with evidence: capitalised (past a sentence's first word), quoted, followed by their year
  ("Heat (1995)", "Heat 1995", "Heat from 1995"), or a film cue right before ("loved heat",
  "something like frozen", a clause starting "like arrival") while no content word follows, or
  right after ("frozen was great").
- PLAIN titles, only function words or film-chat vocabulary ("Scary Movie", "Date Night"), need
  capitals, quotes or a year. A one-word PLAIN title ("Up", "Her", "It", "Action") or one that is
  also a common first name ("Michael", "Leo") needs capitals and a cue together ("I loved Her"),
  quotes or a year: "I loved it" names no film, and neither does a run-on "...great It was".
- A one-word title followed by a content word in the same clause is an adjective or a name, not
  a film ("American movies", "Bond films"), unless quoted or given its year.
- Capitals inside a longer capitalised run are part of a title the catalog lacks ("The Imitation
  Game" is not "The Game"); a title right after a linked one and "," / "and" / "or" counts as
  cued ("I loved Alien, Aliens and Heat").

Same-titled films: a year in the text picks the one within a year of it; else, the title's article
as typed ("the heat" vs "heat"), then the most popular, then the most recent (resolve_title's rule).

People: full cast names of two or more words, linked like DISTINCTIVE titles unless every word is
an everyday word ("Will Power"), which then needs capitals. A bare surname ("Pacino") or a
one-word stage name ("Cher") links when capitalised or after a people cue ("with pacino"), and
only when one cast member holds most of the catalog's films under it (lexicon `surname_share`):
"Cruise" is Tom Cruise, "Ford" is nobody.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from recteam.agents.messages import ItemRef
from recteam.agents.offline.catalog_index import Film, choose_film, index_items
from recteam.agents.offline.lexicon import STANCES, Lexicon, known_words, load_lexicon
from recteam.agents.offline.signals import (
    capitalised_title,
    capitals_informative,
    inside_capitals,
    list_ends,
    list_starts,
    name_capitalised,
    quoted,
    year_after,
)
from recteam.agents.offline.text import Token, tokenize
from recteam.agents.relevance import title_words
from recteam.memory.items import CatalogItem

if TYPE_CHECKING:
    from recteam.memory.catalog import ItemCatalog

__all__ = ["EntityLinker", "Mention", "Tier", "mention_at"]


class Tier(IntEnum):
    DISTINCTIVE = 0
    COMMON = 1
    PLAIN = 2


@dataclass(frozen=True, slots=True)
class Mention:
    """A film or person named in a text. `first`/`end` index tokenize(text) (end exclusive);
    `start`/`stop` are character offsets, covering a leading "the" and a trailing "(1995)"."""

    kind: Literal["title", "person"]
    first: int
    end: int
    start: int
    stop: int
    text: str
    evidence: Literal["distinctive", "year", "quoted", "capitalised", "cue", "name", "credits"]
    item: ItemRef | None = None
    person: str | None = None


class EntityLinker:
    """Built once per catalog (`from_items`); `link` is pure and cheap (dictionary walks)."""

    def __init__(
        self,
        films: dict[str, list[Film]],
        people: dict[str, str],
        short_names: dict[str, str],
        first_names: frozenset[str],
        lexicon: Lexicon,
        known: frozenset[str] = frozenset(),
    ) -> None:
        self._films = films
        self._people = people  # full-name key -> display name
        self._short_names = short_names  # surname or stage-name key -> display name
        self._first_names = first_names  # "michael": a capital on it says a person, not a film
        self._lexicon = lexicon
        self._known = known
        # Words that may follow a one-word title as its predicate: "is Alien scary?", "Heat rocks".
        self._predicates = (
            frozenset(
                p[0]
                for p, terms in lexicon.phrases.items()
                if len(p) == 1 and any(t.kind in (*STANCES, "facet", "neg", "too") for t in terms)
            )
            | lexicon.function_words
        )
        # Words that make a one-word title the first half of a noun phrase: "Bond films",
        # "Alien horror", "Oscar winners" (a plural); any other word may follow a title in chat.
        self._heads = frozenset(lexicon.chat_words) | frozenset(
            p[0]
            for p, terms in lexicon.phrases.items()
            if len(p) == 1 and any(t.kind == "genre" for t in terms)
        )
        self._tiers = {key: self._tier(key) for key in films}
        self._name_needs_capitals = {key: self._tier(key) != Tier.DISTINCTIVE for key in people}
        # Every key and every start of one: a walk along the text stops as soon as it leaves these.
        self._reachable = {
            " ".join(words[:n])
            for key in (*films, *people)
            if (words := key.split())
            for n in range(1, len(words) + 1)
        }
        years = [f.year for fs in films.values() for f in fs if f.year]
        self.latest_year: int | None = max(years) if years else None

    @classmethod
    def from_items(
        cls,
        items: Iterable[CatalogItem],
        lexicon: Lexicon | None = None,
        known: frozenset[str] | None = None,
    ) -> EntityLinker:
        """`known`: the words English text uses (default lexicon.known_words())."""
        lex = lexicon or load_lexicon()
        # The index is a few hundred thousand small objects and no cycles; the cyclic collector
        # would rescan the growing heap again and again (a third of the build time).
        collecting = gc.isenabled()
        gc.disable()
        try:
            index = index_items(items, lex)
            return cls(
                index.films,
                index.people,
                index.short_names,
                index.first_names,
                lex,
                known_words() if known is None else known,
            )
        finally:
            if collecting:
                gc.enable()

    @classmethod
    def for_catalog(cls, catalog: ItemCatalog) -> EntityLinker:
        """The linker of `catalog`'s films, loaded from the file beside the store that the last
        build wrote when the catalog (its revision), the lexicon, the known words and this code
        are what they were then; else built from the items (seconds on the full catalog) and
        written there for the next start. A catalog without a local folder is built every time."""
        lex, known = load_lexicon(), known_words()
        revision, path = catalog.revision(), catalog.cache_path(_CACHE_NAME)
        if revision is None or path is None:
            return cls.from_items(catalog.iter_items(), lex, known)
        key = _cache_key(revision, known)
        if (linker := _load(path, key, lex, known)) is not None:
            return linker
        linker = cls.from_items(catalog.iter_items(), lex, known)
        _save(linker, path, key)
        return linker

    @property
    def lexicon(self) -> Lexicon:
        return self._lexicon

    @functools.cached_property
    def title_word_counts(self) -> Counter[str]:
        """How many catalog films carry each title word: a rare one ("toy", "conjuring") marks
        a series, a common one ("love", "night") does not."""
        return Counter(w for title in self.film_titles.values() for w in title_words(title))

    @functools.cached_property
    def film_titles(self) -> dict[str, str]:
        """Every catalog film's title by item id."""
        return {f.id: f.title for fs in self._films.values() for f in fs if not f.alias}

    def exact_title(self, key: str) -> ItemRef | None:
        """The best-known film whose title key is exactly `key` ("aliens"), or None."""
        films = [f for f in self._films.get(key, []) if not f.alias]
        return max(films, key=lambda f: f.popularity).ref if films else None

    @functools.cached_property
    def _well_known(self) -> dict[str, Film]:
        """Title key -> the best-known film of that key, for the better-known half of titles of
        two or more letters: what a typo is matched against."""
        best: dict[str, Film] = {}
        for key, films in self._films.items():
            real = [f for f in films if not f.alias]
            if real and len(key) >= 4:
                best[key] = max(real, key=lambda f: f.popularity)
        cut = sorted(f.popularity for f in best.values())[len(best) // 2] if best else 0.0
        return {k: f for k, f in best.items() if f.popularity >= cut}

    @functools.cached_property
    def _typo_buckets(self) -> dict[tuple[str, int], list[str]]:
        buckets: dict[tuple[str, int], list[str]] = {}
        for key in self._well_known:
            buckets.setdefault((key[0], len(key)), []).append(key)
        return buckets

    def misspelt_title(self, words: Sequence[str]) -> ItemRef | None:
        found = self.misspelling(words)
        return found[0] if found else None

    def misspelling(self, words: Sequence[str]) -> tuple[ItemRef, float] | None:
        """'jurasic park', 'the matirx': a well-known title one or two letters away, when some
        word is no English word (a typo, not another phrase)."""
        import difflib

        if not words or all(w in self._known or w in self._lexicon.plain_words for w in words):
            return None
        key = " ".join(w for w in words if w not in ("the", "a", "an") or len(words) == 1)
        if len(key) < 5:
            return None
        known = self._well_known
        # One word has fewer letters to go wrong in: "anora" is not "manor".
        cutoff = 0.8 if " " in key else 0.88
        # Only titles that start with the same letter and are about as long (a slip rarely hits
        # the first letter): a few hundred comparisons, not the whole catalog's.
        pool = [
            k
            for n in range(max(1, len(key) - 2), len(key) + 3)
            for k in self._typo_buckets.get((key[0], n), ())
        ]
        close = difflib.get_close_matches(key, pool, n=1, cutoff=cutoff)
        if not close or len(close[0].split()) != len(key.split()):
            return None
        return known[close[0]].ref, difflib.SequenceMatcher(None, key, close[0]).ratio()

    def namesakes(self, ref: ItemRef) -> list[tuple[ItemRef, float]]:
        """Every catalog film titled like `ref` (remakes, namesakes) with its popularity, the
        best-known first."""
        from recteam.memory.items import normalize_key, title_key

        # "Heat" and "The Heat" share a key but not a title: only the very same title counts.
        same = normalize_key(ref.title)
        films = [
            f
            for f in self._films.get(title_key(ref.title), [])
            if not f.alias and normalize_key(f.title) == same
        ]
        return [(f.ref, f.popularity) for f in sorted(films, key=lambda f: -f.popularity)]

    @property
    def size(self) -> tuple[int, int]:
        """(title keys, people keys) indexed."""
        return len(self._films), len(self._people)

    def _tier(self, key: str) -> Tier:
        words = key.split()
        plain, common = self._lexicon.plain_words, self._lexicon.common_words
        if all(w in plain for w in words) or len(key) <= 2 or key in self._first_names:
            return Tier.PLAIN
        if len(words) == 1:
            coined = (
                len(key) >= 4 and key.isalpha() and key not in common and not self._is_word(key)
            )
            return Tier.DISTINCTIVE if coined else Tier.COMMON
        if all(w in plain or w in common for w in words):
            return Tier.COMMON
        return Tier.DISTINCTIVE

    def _is_word(self, word: str) -> bool:
        """A known word, or an inflection of one the vocabulary lacks ("spoilers", "busting")."""
        stems = {
            word,
            word[:-1],
            word[:-2],
            word[:-3],
            word[:-2] + "e",
            word[:-3] + "e",
            word[:-1] + "e",
        }
        return bool(stems & self._known)

    # linking ---------------------------------------------------------------------------------
    def link(self, text: str) -> list[Mention]:
        return self.link_tokens(text, tokenize(text))

    def link_tokens(self, text: str, tokens: Sequence[Token]) -> list[Mention]:
        """Mentions in `tokens` (= tokenize(text)), in text order. A second pass reads the titles
        listed after a linked one as cued: "I loved Alien, Aliens and Heat"."""
        capitals = capitals_informative(tokens)
        mentions = self._link(text, tokens, capitals, frozenset())
        for _ in range(3):
            titles = [m for m in mentions if m.kind == "title"]
            listed = list_starts(tokens, [m.end for m in titles])
            # ...and before one: "mean girls and Clueless", "heat, Alien and Aliens".
            listed |= frozenset(-1 - e for e in list_ends(tokens, [m.first for m in titles]))
            if not listed:
                break
            again = self._link(text, tokens, capitals, listed)
            if again == mentions:
                break
            mentions = again
        return mentions

    def _link(
        self, text: str, tokens: Sequence[Token], capitals: bool, listed: frozenset[int]
    ) -> list[Mention]:
        found: list[tuple[tuple[int, int, int], Mention]] = []
        for i in range(len(tokens)):
            key, j = tokens[i].key, i + 1
            while True:
                for mention, rank in self._candidates(text, tokens, i, j, key, capitals, listed):
                    found.append(((i - j, rank, i), mention))
                if j >= len(tokens) or (longer := f"{key} {tokens[j].key}") not in self._reachable:
                    break
                key, j = longer, j + 1
        taken: list[Mention] = []
        for _, mention in sorted(found, key=lambda f: f[0]):
            if all(mention.end <= m.first or mention.first >= m.end for m in taken):
                taken.append(mention)
        return sorted(taken, key=lambda m: m.first)

    def _candidates(
        self,
        text: str,
        tokens: Sequence[Token],
        i: int,
        j: int,
        key: str,
        capitals: bool,
        listed: frozenset[int],
    ) -> Iterable[tuple[Mention, int]]:
        cued = self._cue_before(tokens, i, self._lexicon.people_cues_before)
        if key in self._films and (title := self._title(text, tokens, i, j, key, capitals, listed)):
            yield title, 1
        person = self._people.get(key)
        if person and (
            not self._name_needs_capitals[key] or (capitals and name_capitalised(tokens[i:j]))
        ):
            yield mention_at("person", text, tokens, i, j, "name", person=person), 0 if cued else 2
        short = self._short_names.get(key) if j == i + 1 else None
        if short and (cued or (capitals and tokens[i].capitalised)):
            yield mention_at("person", text, tokens, i, j, "name", person=short), 0 if cued else 2

    def _title(
        self,
        text: str,
        tokens: Sequence[Token],
        i: int,
        j: int,
        key: str,
        capitals: bool,
        listed: frozenset[int],
    ) -> Mention | None:
        films = self._films[key]
        first = i
        if (
            i > 0
            and not tokens[i].clause_start
            and any(f.article == tokens[i - 1].key for f in films)
        ):
            first = i - 1
        article = tokens[first].key if first < i else ""
        year, end = year_after(tokens, j)
        film = choose_film(films, article, year)
        if film is None:  # the year names a film we do not have; the words may still name one
            year, end = None, j
            film = choose_film(films, article, None)
        assert film is not None
        # `listed` holds the starts of titles listed after a linked one, and, as -1 - end, the
        # ends of those listed before one.
        evidence = self._title_evidence(
            text,
            tokens,
            first,
            i,
            j,
            end,
            key,
            capitals,
            year,
            first in listed or ((-1 - end) in listed and end - first >= 2),
        )
        if evidence is None:
            return None
        return mention_at("title", text, tokens, first, end, evidence, item=film.ref)

    def _title_evidence(
        self,
        text: str,
        tokens: Sequence[Token],
        first: int,
        i: int,
        j: int,
        end: int,
        key: str,
        capitals: bool,
        year: int | None,
        listed: bool,
    ) -> Literal["distinctive", "year", "quoted", "capitalised", "cue"] | None:
        tier = self._tiers[key]
        if tier == Tier.DISTINCTIVE:
            return "distinctive"
        if year is not None:
            return "year"
        if quoted(text, tokens[first].start, tokens[j - 1].end):
            return "quoted"
        one_word = j == i + 1
        # (A bracketed word is no continuation: "The Notebook (2013)" with a wrong year.)
        followed = end < len(tokens) and not tokens[end].clause_start and "(" not in tokens[end].gap
        nxt = tokens[end].key if followed else ""
        head = nxt in self._heads or (len(nxt) > 3 and nxt.endswith("s") and not nxt.endswith("ss"))
        if one_word and followed and nxt not in self._predicates and head:
            return None  # "American movies", "Bond films", "Oscar winners", "Alien horror"
        # A one-word title no one uses as a word ("Zootopia") may take a sentence's first capital.
        rare = one_word and key not in self._lexicon.common_words and tier == Tier.COMMON
        capitalised = (
            capitals
            and capitalised_title(tokens[i:j], sentence_start_counts=rare)
            and not inside_capitals(tokens, i, j, self._lexicon.function_words)
        )
        cued = listed or self._cued_before(tokens, first, end)
        if tier == Tier.PLAIN:
            return "capitalised" if capitalised and (not one_word or cued) else None
        if capitalised:
            return "capitalised"
        return "cue" if cued or self._cued_after(tokens, end) else None

    def _cued_before(self, tokens: Sequence[Token], first: int, end: int) -> bool:
        lex = self._lexicon
        before = self._cue_before(tokens, first, lex.title_cues_before) or (
            first > 0 and tokens[first - 1].key == "like" and tokens[first - 1].clause_start
        )
        # "I loved cats" names a film, "I loved cats as a kid" too, "I loved cats videos" not.
        followed = end < len(tokens) and not tokens[end].clause_start
        return before and not (followed and tokens[end].key not in lex.function_words)

    def _cued_after(self, tokens: Sequence[Token], end: int) -> bool:
        if end >= len(tokens) or tokens[end].clause_start:
            return False
        after = self._lexicon.title_cues_after
        return any(tuple(t.key for t in tokens[end : end + n]) in after for n in range(2, 8))

    def _cue_before(
        self, tokens: Sequence[Token], first: int, cues: frozenset[tuple[str, ...]]
    ) -> bool:
        if first == 0 or tokens[first].clause_start:
            return False
        return any(
            tuple(t.key for t in tokens[max(0, first - n) : first]) in cues for n in range(1, 5)
        )


def mention_at(
    kind: Literal["title", "person"],
    text: str,
    tokens: Sequence[Token],
    first: int,
    end: int,
    evidence: Literal["distinctive", "year", "quoted", "capitalised", "cue", "name", "credits"],
    item: ItemRef | None = None,
    person: str | None = None,
) -> Mention:
    """The mention of tokens[first:end], its text as typed (with a closing bracket of a year)."""
    start, stop = tokens[first].start, tokens[end - 1].end
    if stop < len(text) and text[stop] in ")]" and tokens[end - 1].gap.strip() in ("(", "["):
        stop += 1  # the closing bracket of "(1995)"
    return Mention(
        kind, first, end, start, stop, text[start:stop], evidence, item=item, person=person
    )


# The cache beside the store ----------------------------------------------------------------------
# JSON, not pickle: the file lives in the user's store folder, and unpickling a file that someone
# else could write there would run their code as the user; JSON is data only (a forged file can
# at worst make the linker wrong). Laid out in columns (one list per Film field, keys apart from
# their films), so a start is one json.loads and a few zips: ~4x faster than unpickling ~39k
# frozen dataclasses one __setstate__ at a time. The first line is the key alone, so a stale file
# is told from its first line without parsing the rest.
_CACHE_NAME = "linker.json"
_OLD_CACHE_NAMES = ("linker.pickle",)  # what recteam wrote before; removed, never read
_NOT_CACHED = ("_lexicon", "_known")  # loaded from recteam's own files, the same for every store
# Every other attribute a linker holds, built or loaded (the cached properties computed first).
_CACHED = (
    "_films",
    "_people",
    "_short_names",
    "_first_names",
    "_predicates",
    "_heads",
    "_tiers",
    "_name_needs_capitals",
    "_reachable",
    "latest_year",
    "_well_known",
    "_typo_buckets",
    "film_titles",
    "title_word_counts",
)
_FILM_FIELDS = ("id", "title", "year", "article", "popularity", "alias")
_TIERS = {str(int(t)): t for t in Tier}
# What the cached state is computed by: a change to any of these files is a new key.
_CODE = ("agents/offline/linking.py", "agents/offline/catalog_index.py", "memory/items.py")


def _cache_key(revision: str, known: frozenset[str]) -> str:
    h = hashlib.sha256(revision.encode())
    root = Path(__file__).resolve().parents[2]
    for name in _CODE:
        h.update((root / name).read_bytes())
    h.update(resources.files("recteam.data").joinpath("lexicon.toml").read_bytes())
    h.update("\n".join(sorted(known)).encode())
    return h.hexdigest()


class _FilmRows:
    """The cache's film columns; a Film is made when first read (a run reads few of ~39k)."""

    def __init__(self, columns: Sequence[Sequence[Any]]) -> None:
        self._columns = columns
        self._made: list[Film | None] = [None] * len(columns[0])
        if any(len(c) != len(self._made) for c in columns):
            raise ValueError("film columns of different lengths")

    def __getitem__(self, row: int) -> Film:
        film = self._made[row]
        if film is None:
            film = self._made[row] = Film(*(c[row] for c in self._columns))
        return film


class _CachedFilms(Mapping[str, list[Film]]):
    """EntityLinker._films as loaded: title key -> its films, made on first read."""

    def __init__(self, rows: _FilmRows, members: dict[str, list[int]]) -> None:
        self._rows, self._members = rows, members
        self._made: dict[str, list[Film]] = {}

    def __getitem__(self, key: str) -> list[Film]:
        films = self._made.get(key)
        if films is None:
            films = self._made[key] = [self._rows[i] for i in self._members[key]]
        return films

    def __contains__(self, key: object) -> bool:
        return key in self._members

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)


class _CachedFilm(Mapping[str, Film]):
    """EntityLinker._well_known as loaded: title key -> one film, made on first read."""

    def __init__(self, rows: _FilmRows, row_of: dict[str, int]) -> None:
        self._rows, self._row_of = rows, row_of

    def __getitem__(self, key: str) -> Film:
        return self._rows[self._row_of[key]]

    def __contains__(self, key: object) -> bool:
        return key in self._row_of

    def __iter__(self) -> Iterator[str]:
        return iter(self._row_of)

    def __len__(self) -> int:
        return len(self._row_of)


def _to_json(linker: EntityLinker) -> dict[str, Any]:
    """The linker's catalog-derived state as JSON-ready columns."""
    state = vars(linker)
    expected = {*_CACHED, *_NOT_CACHED}
    if set(state) != expected:  # a new attribute must be cached here (or listed as not cached)
        raise ValueError(f"linker attributes changed: {sorted(set(state) ^ expected)}")
    rows: dict[Film, int] = {}  # each distinct film once; keys point at rows
    for films in linker._films.values():
        for f in films:
            rows.setdefault(f, len(rows))
    keys = list(linker._films)
    people = list(linker._people)
    named = {*keys, *people}
    counts = linker.title_word_counts
    return {
        "films": [[getattr(f, name) for f in rows] for name in _FILM_FIELDS],
        "keys": keys,
        "members": [[rows[f] for f in linker._films[k]] for k in keys],
        "tiers": "".join(str(int(linker._tiers[k])) for k in keys),
        "people": people,
        "names": [linker._people[k] for k in people],
        "needs_capitals": "".join("1" if linker._name_needs_capitals[k] else "0" for k in people),
        "short_names": linker._short_names,
        "first_names": sorted(linker._first_names),
        "predicates": sorted(linker._predicates),
        "heads": sorted(linker._heads),
        "prefixes": sorted(linker._reachable - named),  # the keys themselves are reachable too
        "latest_year": linker.latest_year,
        "well_known": {k: rows[f] for k, f in linker._well_known.items()},
        "title_words": [list(counts), list(counts.values())],
    }


def _from_json(data: dict[str, Any]) -> dict[str, Any]:
    """The inverse of _to_json: the linker's attributes (KeyError, TypeError, ValueError or
    IndexError on a file not written by _to_json). Films are made when first read; the
    properties cached from them (film titles, typo buckets) are computed from the columns."""
    ids, titles, *_, aliases = columns = data["films"]
    if len(columns) != len(_FILM_FIELDS):
        raise ValueError("not the film columns of this version")
    rows = _FilmRows(columns)
    keys, people = data["keys"], data["people"]
    well_known: dict[str, int] = data["well_known"]
    typo_buckets: dict[tuple[str, int], list[str]] = {}
    for key in well_known:
        typo_buckets.setdefault((key[0], len(key)), []).append(key)
    words, counts = data["title_words"]
    return {
        "_films": _CachedFilms(rows, dict(zip(keys, data["members"], strict=True))),
        "_people": dict(zip(people, data["names"], strict=True)),
        "_short_names": dict(data["short_names"]),
        "_first_names": frozenset(data["first_names"]),
        "_predicates": frozenset(data["predicates"]),
        "_heads": frozenset(data["heads"]),
        "_tiers": dict(zip(keys, map(_TIERS.__getitem__, data["tiers"]), strict=True)),
        "_name_needs_capitals": dict(
            zip(people, (c == "1" for c in data["needs_capitals"]), strict=True)
        ),
        "_reachable": {*keys, *people, *data["prefixes"]},
        "latest_year": data["latest_year"],
        "_well_known": _CachedFilm(rows, well_known),
        "_typo_buckets": typo_buckets,
        # Every row not made under another film's title (an alias) is a film of the catalog.
        "film_titles": {
            i: t for i, t, alias in zip(ids, titles, aliases, strict=True) if not alias
        },
        "title_word_counts": Counter(dict(zip(words, counts, strict=True))),
    }


def _load(path: Path, key: str, lex: Lexicon, known: frozenset[str]) -> EntityLinker | None:
    """The cached linker when `path` holds one under `key`; None when absent, stale or broken."""
    collecting = gc.isenabled()
    gc.disable()  # hundreds of thousands of small objects and no cycles, as in from_items
    try:
        with open(path, "rb") as fh:
            if fh.readline().strip() != key.encode():
                return None
            state = _from_json(json.loads(fh.read()))
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None
    finally:
        if collecting:
            gc.enable()
    linker = EntityLinker.__new__(EntityLinker)
    linker.__dict__.update(state, _lexicon=lex, _known=known)
    return linker


def _save(linker: EntityLinker, path: Path, key: str) -> None:
    """Writes the linker's catalog-derived state under `key`, whole or not at all (a temporary
    file renamed over the old one), and removes a cache of the old format beside it; a folder
    that cannot be written only costs the next start a rebuild."""
    for ready in ("_well_known", "_typo_buckets", "film_titles", "title_word_counts"):
        getattr(linker, ready)  # computed now (cached properties), so later starts load them
    body = json.dumps(_to_json(linker), ensure_ascii=False, separators=(",", ":"))
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(f"{key}\n")
            fh.write(body)
        tmp.replace(path)
        for old in _OLD_CACHE_NAMES:
            path.with_name(path.name.replace(_CACHE_NAME, old)).unlink(missing_ok=True)
    except OSError:
        tmp.unlink(missing_ok=True)
