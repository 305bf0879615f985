"""What the entity linker indexes from catalog items: every title under its key (items.title_key)
and the other keys people type for it, cast names, dominant surnames and stage names, and the
first names many cast members share."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from recteam.agents.messages import ItemRef
from recteam.agents.offline.lexicon import Lexicon
from recteam.memory.items import CatalogItem, normalize_key, title_key

__all__ = ["CatalogIndex", "Film", "choose_film", "index_items"]

_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_ROMAN = {"ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7", "viii": "8", "ix": "9"}
_ARABIC = {v: k for k, v in _ROMAN.items()}
_ARTICLES = frozenset({"the", "a", "an"})
_POSSESSIVE = re.compile(r"\b(\w+) s\b")  # "ocean s eleven" -> "oceans eleven"


@dataclass(frozen=True, slots=True)
class Film:
    id: str
    title: str
    year: int | None
    article: str  # the article the catalog title starts with and its key drops ("the"), or ""
    popularity: float
    alias: bool = False  # found under another film's title: only when the text gives its year

    @property
    def ref(self) -> ItemRef:
        # Made when a film is linked, not for each of the catalog's films at build time.
        return ItemRef(id=self.id, title=self.title, year=self.year)


@dataclass(frozen=True)
class CatalogIndex:
    films: dict[str, list[Film]]  # title key -> the films under it
    people: dict[str, str]  # full-name key -> display name
    short_names: dict[str, str]  # dominant surname or stage-name key -> display name
    first_names: frozenset[str]  # shared by many cast members ("michael")


def index_items(items: Iterable[CatalogItem], lex: Lexicon) -> CatalogIndex:
    films: dict[str, list[Film]] = defaultdict(list)
    aliases: dict[str, list[Film]] = defaultdict(list)
    credits: Counter[str] = Counter()
    display: dict[str, str] = {}
    name_keys: dict[str, str] = {}
    for item in items:
        full = normalize_key(item.title)
        article, _, rest = full.partition(" ")
        if article not in _ARTICLES or not rest:  # items.title_key, without normalising twice
            article, rest = "", full
        key = rest
        film = Film(item.id, item.title, item.year, article, item.popularity)
        films[key].append(film)
        for alias in _title_aliases(item.title, key):
            aliases[alias].append(film)
        for name in item.cast:
            if name not in name_keys:
                name_keys[name] = _person_key(name)
            if person := name_keys[name]:
                credits[person] += 1
                display.setdefault(person, name)
    people, short_names, first_names = _people_index(credits, display, lex)
    for alias, alias_films in aliases.items():
        if alias in people:  # a person wins over a title's head ("Kevin Hart: What Now?")
            continue
        if alias in films:  # a real title wins, but "Jumanji (2017)" still finds the sequel
            films[alias].extend(
                Film(f.id, f.title, f.year, f.article, f.popularity, alias=True)
                for f in alias_films
            )
        else:
            films[alias] = alias_films
    return CatalogIndex(dict(films), people, short_names, first_names)


def _title_aliases(title: str, key: str) -> set[str]:
    """Other keys people type for a title: 'oceans eleven', 'rocky 2', the part before a colon."""
    aliases = {_POSSESSIVE.sub(r"\1s", key)} if " s" in key else set()
    words = key.split()
    last = words[-1]
    if last in _ROMAN or last in _ARABIC:
        aliases.add(" ".join([*words[:-1], _ROMAN.get(last) or _ARABIC[last]]))
    if ":" in title:
        head = title_key(title.split(":", 1)[0])
        if " " in head or (len(head) >= 4 and not head.isdigit()):  # not "2" of "2:22"
            aliases.add(head)
    aliases.discard(key)
    aliases.discard("")
    return aliases


def _person_key(name: str) -> str:
    """The key of a cast entry that names a person ('Al Pacino'), or '' for '(voices)' and kin."""
    if not name or not name[0].isupper() or any(c in name for c in "():;"):
        return ""
    return normalize_key(name)


def _people_index(
    credits: Counter[str], display: dict[str, str], lex: Lexicon
) -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    """Full names, short names (dominant surnames, stage names) and frequent first names."""
    everyday = lex.plain_words | lex.common_words
    people: dict[str, str] = {}
    by_surname: dict[str, Counter[str]] = defaultdict(Counter)
    short_names: dict[str, str] = {}
    first_names = Counter(key.split()[0] for key in credits if " " in key)
    # A first name that several people share is no surname ("Ellen" is not Vera-Ellen); one that
    # many share says a person more than a film when capitalised ("Michael", not "Logan").
    shared_first = frozenset(name for name, n in first_names.items() if n >= 2)
    frequent_first = frozenset(
        name for name, n in first_names.items() if n >= lex.first_name_min_people
    )
    for key, count in credits.items():
        words = key.split()
        if len(words) == 1:
            # A stage name ('Cher', 'Zendaya') is a name only when it is no everyday word.
            if count >= lex.surname_min_films and len(key) >= 3 and key not in everyday:
                short_names[key] = display[key]
            continue
        people[key] = display[key]
        while len(words) > 2 and words[-1] in _NAME_SUFFIXES:
            words = words[:-1]
            people.setdefault(
                " ".join(words), display[key]
            )  # 'Robert Downey' = 'Robert Downey Jr.'
        by_surname[words[-1]][key] += count
    for surname, holders in by_surname.items():
        (top, top_count), total = holders.most_common(1)[0], sum(holders.values())
        if (
            top_count >= lex.surname_min_films
            and top_count >= lex.surname_share * total
            and len(surname) >= 4
            and surname not in everyday
            and surname not in shared_first
        ):
            short_names.setdefault(surname, display[top])
    return people, short_names, frequent_first


def choose_film(films: list[Film], article: str, year: int | None) -> Film | None:
    if year is not None:
        near = [f for f in films if f.year is not None and abs(f.year - year) <= 1]
        if not near:
            return None
        return min(
            near,
            key=lambda f: (
                f.alias,
                abs((f.year or 0) - year),
                -f.popularity,
                -(f.year or 0),
            ),
        )
    films = [f for f in films if not f.alias]
    as_typed = [f for f in films if f.article == article] or films
    return max(as_typed, key=lambda f: (f.popularity, f.year or 0))
