"""ReDial data: the movie list, its join to catalog facts, and the dialogues with their @id
mentions replaced by "Title (Year)".

ReDial (Li et al. 2018, CC BY 4.0): in a dialogue the seeker is initiatorWorkerId and the
recommender respondentWorkerId; movies appear in the text as @<movieId>. The evaluation catalog
keys every item by its ReDial movieId, so a ranking is scored without any title matching.
"""

from __future__ import annotations

import csv
import json
import re
from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from recteam.errors import InputError
from recteam.memory.items import CatalogItem, title_key

__all__ = [
    "Dialogue",
    "Message",
    "RedialMovie",
    "catalog_items",
    "load_dialogues",
    "load_movies",
    "load_wikipedia",
    "replace_mentions",
    "said_about",
    "split_title",
]

_MENTION = re.compile(r"@(\d+)")
_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")


@dataclass(frozen=True)
class RedialMovie:
    id: str  # ReDial movieId
    title: str
    year: int | None

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title


def split_title(name: str) -> tuple[str, int | None]:
    """'The Shining  (1980)' -> ('The Shining', 1980); a name without a year keeps it None."""
    name = " ".join(name.split())
    m = _TITLE_YEAR.match(name)
    if m and m.group(1):
        return m.group(1).strip(), int(m.group(2))
    return name.strip(), None


def load_movies(path: Path) -> dict[str, RedialMovie]:
    """movies_with_mentions.csv: movieId, movieName. Its nbMentions column counts mentions over
    all of ReDial, its test split included, so it is deliberately not read."""
    movies: dict[str, RedialMovie] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            movie_id, name = (row.get("movieId") or "").strip(), row.get("movieName") or ""
            name = unquote(name)  # a few names are URL-encoded: 'Why Him%3F (2016)'
            if not movie_id or not name.strip():
                continue
            title, year = split_title(name)
            movies[movie_id] = RedialMovie(movie_id, title or name.strip(), year)
    if not movies:
        raise InputError(f"{path}: no movies (expected the columns movieId,movieName)")
    return movies


@dataclass(frozen=True)
class Message:
    seeker: bool
    text: str  # mentions replaced by "Title (Year)"
    mentions: tuple[str, ...]  # movie ids in text order, without repeats


@dataclass
class Dialogue:
    id: str
    messages: list[Message]
    # movie ids the seeker said they liked / disliked in the post-dialogue questionnaire
    liked: set[str] = field(default_factory=set)

    @property
    def mentioned(self) -> set[str]:
        return {m for msg in self.messages for m in msg.mentions}


def replace_mentions(text: str, names: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """'like @135508' -> ('like The Babadook (2014)', ('135508',)). `names` maps movie ids to
    labels; an id with no name is left as written and not counted as a mention."""
    found: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = names.get(m.group(1))
        if name is None:
            return m.group(0)
        if m.group(1) not in found:
            found.append(m.group(1))
        return name

    return " ".join(_MENTION.sub(sub, text).split()), tuple(found)


def load_dialogues(path: Path, movies: dict[str, RedialMovie]) -> list[Dialogue]:
    """ReDial JSON lines. Labels come from the movie list (else the dialogue's movieMentions)."""
    dialogues: list[Dialogue] = []
    labels = {k: m.label for k, m in movies.items()}
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                seeker = raw["initiatorWorkerId"]
                own = {
                    str(k): " ".join(str(v).split())
                    for k, v in (raw.get("movieMentions") or {}).items()
                    if v and str(k) not in movies
                }
                names = ChainMap(labels, own)
                messages = []
                for msg in raw["messages"]:
                    text, mentions = replace_mentions(msg.get("text") or "", names)
                    if text:
                        messages.append(Message(msg["senderWorkerId"] == seeker, text, mentions))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputError(f"{path}:{line_no}: not a ReDial dialogue ({exc})") from exc
            answers = raw.get("initiatorQuestions") or {}
            liked = {
                str(k) for k, v in answers.items() if isinstance(v, dict) and v.get("liked") == 1
            }
            dialogues.append(Dialogue(str(raw.get("conversationId", line_no)), messages, liked))
    return dialogues


def load_wikipedia(path: Path) -> Iterator[dict]:
    """Film objects from a wikipedia-movies JSON file or a folder of them."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    for file in files:
        data = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(data, list):
            yield from (d for d in data if isinstance(d, dict) and d.get("title"))


# 'Star Wars: Episode VIII – The Last Jedi' is 'Star Wars: The Last Jedi' on Wikipedia.
_EPISODE = re.compile(r"\bEpisode [IVXLC\d]+\s*[–—-]?\s*", re.IGNORECASE)


def _pick(candidates: list[dict], year: int | None, first: bool) -> dict | None:
    """The fact for a film of `year` among same-titled `candidates`: the nearest within a year;
    with no year, the only one (or with `first`, the earliest)."""
    if year is None:
        if len(candidates) == 1 or (first and candidates):
            return min(candidates, key=lambda c: c.get("year") or 9999)
        return None
    near = [c for c in candidates if isinstance(c.get("year"), int) and abs(c["year"] - year) <= 1]
    return min(near, key=lambda c: abs(c["year"] - year)) if near else None


def catalog_items(
    movies: dict[str, RedialMovie],
    facts: Iterable[dict],
    popularity: dict[str, float] | None = None,
) -> tuple[list[CatalogItem], int]:
    """One CatalogItem per ReDial movie, id = movieId, joined to `facts` (wikipedia-movies
    objects: title, year, cast, genres, extract) by normalised title and year +-1; a movie with
    no match is kept as a title-only item. Returns the items and how many matched."""
    by_title: dict[str, list[dict]] = {}
    by_main_title: dict[str, list[dict]] = {}  # 'Anchorman: The Legend of ...' under 'anchorman'
    for f in facts:
        title = str(f["title"])
        by_title.setdefault(title_key(title), []).append(f)
        if ":" in title:
            by_main_title.setdefault(title_key(title.split(":")[0]), []).append(f)
    popularity = popularity or {}
    items, matched = [], 0
    for m in movies.values():
        key = title_key(m.title)
        fact = _pick(by_title.get(key, []), m.year, first=False)
        if fact is None and _EPISODE.search(m.title):
            plain = title_key(_EPISODE.sub("", m.title))
            fact = _pick(by_title.get(plain, []), m.year, first=False)
        # A series' main title: 'Jumanji (2017)' is 'Jumanji: Welcome to the Jungle'; with no
        # year, 'Kill Bill' is its first part, unless a film has that very title ('Batman').
        if fact is None and (m.year is not None or key not in by_title):
            fact = _pick(by_main_title.get(key, []), m.year, first=True)
        matched += fact is not None
        fact = fact or {}
        items.append(
            CatalogItem(
                id=m.id,
                title=m.title,
                year=m.year if m.year and 1870 <= m.year <= 2100 else None,
                genres=list(fact.get("genres") or []),
                cast=list(fact.get("cast") or []),
                slug=fact.get("href"),
                description=fact.get("extract") or None,
                popularity=popularity.get(m.id, 0.0),
            )
        )
    return items, matched


def said_about(dialogues: Iterable[Dialogue], limit: int = 900) -> dict[str, str]:
    """What people wrote in the messages naming each movie, joined ("Said about it: ... | ..."),
    up to `limit` characters: a description for a movie Wikipedia has no summary of. Built from
    statistics dialogues only, never from the ones being scored."""
    said: dict[str, list[str]] = {}
    for d in dialogues:
        for msg in d.messages:
            for movie_id in msg.mentions:
                said.setdefault(movie_id, []).append(msg.text)
    return {k: ("Said about it: " + " | ".join(v))[:limit] for k, v in said.items()}
