"""How well a candidate fits a profile, from catalog facts alone: the offline item analyst's
judgement, and the fallback when an LLM's judgement is missing or invalid.

Each pro is a reason a person could check: the director or an actor of a film the user named
("directed by Michael Mann, like Heat"), a person the user said they like, the subject they asked
for found in the summary, a wish the summary or genres bear out, a genre asked for. Pros are kept
most specific first, so the reply can give one specific reason per pick. A wish to avoid
something ("nothing violent") that the summary bears out is a con naming that wish, which the
reflector reads as a reason to revise the draft."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from recteam.agents.messages import Candidate, ItemAnalysis, PreferenceProfile
from recteam.memory.genres import genre_keys
from recteam.memory.items import CatalogItem, normalize_key

__all__ = ["LikedFacts", "analyse", "facet_rules", "summary_hits"]


@cache
def facet_rules() -> dict[str, dict[str, list]]:
    return tomllib.loads(resources.files("recteam.data").joinpath("facets.toml").read_text())


@cache
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w.lower()) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![a-z])({alternatives})s?(?![a-z])")


def summary_hits(facet: str, summary: str) -> list[str]:
    """The words of `facet`'s summary list found in `summary`, in order, each once."""
    words = tuple(facet_rules().get(facet, {}).get("summary", []))
    if not words or not summary:
        return []
    return list(dict.fromkeys(m.group(1) for m in _pattern(words).finditer(summary.lower())))


def _keys(genres: list[str]) -> set[str]:
    return {k for g in genres for k in genre_keys(g)}


@dataclass
class LikedFacts:
    """What the films the user liked have in common with a candidate, by normalised name."""

    genres: dict[str, int] = field(default_factory=dict)  # genre -> liked films with it
    cast: dict[str, str] = field(default_factory=dict)  # actor -> a liked film's label
    directors: dict[str, str] = field(default_factory=dict)  # director -> a liked film's label
    people: set[str] = field(default_factory=set)  # people the user said they like
    topics: list[str] = field(default_factory=list)  # subject words asked for ("heist")

    @classmethod
    def of(
        cls, liked: Sequence[CatalogItem], profile: PreferenceProfile, topics: Sequence[str] = ()
    ) -> LikedFacts:
        facts = cls(people={normalize_key(p) for p in profile.liked_people}, topics=list(topics))
        for it in liked:
            for g in it.genres:
                facts.genres[normalize_key(g)] = facts.genres.get(normalize_key(g), 0) + 1
            for p in it.cast[:6]:
                facts.cast.setdefault(normalize_key(p), it.label)
            for d in getattr(it, "directors", None) or []:
                facts.directors.setdefault(normalize_key(d), it.label)
        return facts


def analyse(c: Candidate, profile: PreferenceProfile, liked: LikedFacts) -> ItemAnalysis:
    """Scores one candidate against the profile (which carries this turn's request)."""
    pros: list[tuple[int, str]] = []  # (priority, text): lower is more specific
    cons: list[str] = []
    avoided: list[str] = []
    facts = [f"{c.item.label}", f"genres: {', '.join(c.genres) or 'unknown'}"]
    if c.directors:
        facts.append(f"directed by {', '.join(c.directors[:2])}")
    if c.cast:
        facts.append(f"starring {', '.join(c.cast[:4])}")
    item_genres = _keys(c.genres)
    summary = c.summary.lower()
    # The searcher's order already weighs popularity, genres, cast and the films named
    # (agents/relevance.py); this judgement keeps it and moves candidates only for what that
    # ranking does not see: wishes, things to avoid and people the user dislikes.
    score = 0.7 / (1 + 0.02 * max(c.rank - 1, 0))

    for d in c.directors:
        film = liked.directors.get(normalize_key(d))
        if film:
            pros.append((0, f"it is directed by {d}, who also made {film}"))
            break
    for p in c.cast:
        if normalize_key(p) in liked.people:
            pros.append((1, f"it stars {p}, whom you said you like"))
            break
    for p in c.cast[:6]:
        film = liked.cast.get(normalize_key(p))
        if film:
            pros.append((2, f"{p} is in it, as in {film}"))
            break
    found = [t for t in liked.topics if re.search(rf"\b{re.escape(t.lower())}", summary)]
    if found:
        said = " and ".join(f"“{t}”" for t in found[:2])
        pros.append((3, f"its summary mentions {said}, which you asked for"))
        score += 0.1

    asked = _keys(profile.constraints.genres)
    wanted = asked | _keys(profile.liked_genres)
    hit = sorted(g for g in c.genres if _keys([g]) & wanted)
    if hit:
        # a genre asked for ("a horror film") or a taste ("I love horror"): said as it was said
        why = "as you asked" if any(_keys([g]) & asked for g in hit) else "a genre you like"
        pros.append((6, f"it is {' and '.join(g.lower() for g in hit)}, {why}"))
    shared = [g for g in c.genres if normalize_key(g) in liked.genres]
    if shared and not hit:
        pros.append(
            (7, f"it shares {', '.join(g.lower() for g in shared[:2])} with films you liked")
        )
    disliked_people = {normalize_key(p) for p in profile.disliked_people}
    bad_cast = [p for p in c.cast if normalize_key(p) in disliked_people]
    if bad_cast:
        score -= 0.3
        cons.append(f"it stars {', '.join(bad_cast[:2])}, whom you said you don't like")

    rules = facet_rules()
    for facet in profile.wants:
        rule = rules.get(facet)
        if not rule:
            continue
        toward = _keys(rule.get("toward", [])) & item_genres
        away = _keys(rule.get("away", [])) & item_genres
        years = rule.get("years")
        in_years = bool(years and c.item.year and years[0] <= c.item.year <= years[1])
        words = summary_hits(facet, summary)
        if words:
            score += 0.1
            pros.append((4, f"it sounds '{facet}': its summary mentions {', '.join(words[:2])}"))
        if toward or in_years:
            score += 0.15
            if not words:
                pros.append((5, f"it fits '{facet}'"))
        if away and not words:
            score -= 0.15
            cons.append(f"its {', '.join(sorted(away))} side may not feel '{facet}'")
    for facet in profile.avoids:
        rule = rules.get(facet)
        if not rule:
            continue
        words = summary_hits(facet, summary)
        by_genre = bool(_keys(rule.get("toward", [])) & item_genres)
        if words:
            score -= 0.25 + 0.05 * min(len(words), 3)
            avoided.append(facet)
            cons.append(
                f"it may be '{facet}', which you wanted to avoid: its summary mentions "
                + ", ".join(words[:3])
            )
        elif by_genre:
            score -= 0.2
            cons.append(f"it may be '{facet}', which you wanted to avoid (its genres)")
    pros.sort(key=lambda p: p[0])
    return ItemAnalysis(
        item_id=c.item.id,
        fit=round(min(max(score, 0.0), 1.0), 3),
        pros=[text for _, text in pros],
        cons=cons,
        facts=facts,
        avoided=avoided,
    )
