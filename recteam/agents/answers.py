"""Answers to a question about one film, from the catalog's facts alone: who directed it, who is
in it, when it came out, what it is about, whether it is scary or fit for children, what kind
of film it is. When the catalog does not know, the answer says so plainly; it never puts a
generic blurb in place of an answer. Catalog text is quoted as the catalog's, never followed."""

from __future__ import annotations

import re

from recteam.agents.scoring import summary_hits
from recteam.memory.genres import genre_keys
from recteam.memory.items import CatalogItem

__all__ = ["answer_question"]

_SCARY_GENRES = {"horror", "slasher", "supernatural", "found footage"}
_TENSE_GENRES = {"thriller", "suspense", "mystery", "crime", "war", "noir"}
_KIDS_GENRES = {"family", "animated", "animation", "children s", "musical"}
_INTENSE_GENRES = {"action", "martial arts", "disaster", "superhero", "spy", "science fiction"}
_ADULT_GENRES = {"horror", "slasher", "erotic", "crime", "war", "thriller", "noir"}


def _keys(item: CatalogItem) -> set[str]:
    return {k for g in item.genres for k in genre_keys(g)}


def _kind(item: CatalogItem) -> str:
    genres = ", ".join(g.lower() for g in item.genres)
    if not genres:
        return "a film"
    return f"{'an' if genres[0] in 'aeiou' else 'a'} {genres} film"


def _sentences(text: str, limit: int = 320) -> str:
    """The first sentences of `text`, up to about `limit` characters, cut at a sentence end."""
    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    out = ""
    for part in parts:
        if out and len(out) + len(part) > limit:
            break
        out = f"{out} {part}".strip()
    return out if len(out) <= limit + 200 else out[:limit].rsplit(" ", 1)[0] + "…"


def _list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def answer_question(item: CatalogItem, question: str | None) -> str:
    label = item.label
    summary = item.description or ""
    directors = list(getattr(item, "directors", None) or [])
    if question == "director":
        if directors:
            return f"{label} was directed by {_list(directors[:3])}."
        return f"The catalog doesn't say who directed {label}; it only knows it is {_kind(item)}."
    if question == "cast":
        if item.cast:
            more = " among others" if len(item.cast) > 5 else ""
            return f"{label} stars {_list(item.cast[:5])}{more}."
        return f"The catalog lists no cast for {label}."
    if question == "year":
        if item.year:
            return f"{item.title} came out in {item.year}."
        return f"The catalog doesn't know when {item.title} came out."
    if question == "length":
        return f"The catalog doesn't record running times, so I can't tell you how long {label} is."
    if question == "genre":
        return (
            f"{label} is {_kind(item)}."
            if item.genres
            else f"The catalog has no genre for {label}."
        )
    if question == "scary":
        return _scary(item, summary)
    if question == "kids":
        return _kids(item, summary)
    if summary:
        return f"{label} is {_kind(item)}. From the catalog: “{_sentences(summary)}”"
    facts = [_kind(item)]
    if directors:
        facts.append(f"directed by {_list(directors[:2])}")
    if item.cast:
        facts.append(f"starring {_list(item.cast[:3])}")
    if len(facts) == 1 and not item.genres:
        return f"I don't know what {label} is about: the catalog has only its title and year."
    return (
        f"I don't have a summary of {label}; all the catalog says is that it is {', '.join(facts)}."
    )


def _scary(item: CatalogItem, summary: str) -> str:
    label, keys = item.label, _keys(item)
    words = summary_hits("scary", summary)
    scary_genre = sorted(keys & _SCARY_GENRES)
    if scary_genre or len(words) >= 2:
        why = []
        if scary_genre:
            why.append(f"it is listed as {' and '.join(scary_genre)}")
        if words:
            why.append(f"its summary mentions {', '.join(words[:3])}")
        return f"Yes, {label} is likely to be scary: {' and '.join(why)}."
    if keys & _TENSE_GENRES or words:
        tense = f"its summary mentions {', '.join(words[:2])}" if words else _kind(item)
        return f"{label} is not a horror film, but it may be tense in places ({tense})."
    if not item.genres and not summary:
        return f"I can't tell: the catalog knows only the title and year of {label}."
    return f"Probably not: {label} is {_kind(item)}, and nothing in its summary sounds frightening."


def _kids(item: CatalogItem, summary: str) -> str:
    label, keys = item.label, _keys(item)
    rating = "The catalog has no age ratings, so going by its facts: "
    violent = summary_hits("violent", summary) + summary_hits("scary", summary)
    adult = sorted(keys & _ADULT_GENRES)
    if keys & _KIDS_GENRES and not adult:
        return rating + f"{label} is {_kind(item)}, made with children in mind, so likely fine."
    if adult or len(violent) >= 2:
        why = []
        if adult:
            why.append(f"it is listed as {' and '.join(adult)}")
        if violent:
            why.append(f"its summary mentions {', '.join(dict.fromkeys(violent[:3]))}")
        return rating + f"{label} is probably not for young children: {' and '.join(why)}."
    if not item.genres and not summary:
        return f"I can't tell: the catalog knows only the title and year of {label}."
    intense = sorted(keys & _INTENSE_GENRES)
    if intense:
        return rating + (
            f"{label} is {_kind(item)}: fine for older kids perhaps, but {' and '.join(intense)} "
            "films can be too intense for young children."
        )
    return rating + f"{label} is {_kind(item)}; nothing marks it as unsuitable, but check a rating."
