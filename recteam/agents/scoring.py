"""How well a candidate fits a profile, from catalog facts alone: the offline item analyst's
judgement, and the fallback when an LLM's judgement is missing or invalid."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from recteam.agents.messages import Candidate, ItemAnalysis, PreferenceProfile
from recteam.memory.genres import genre_keys
from recteam.memory.items import normalize_key

__all__ = ["analyse", "facet_rules"]


@cache
def facet_rules() -> dict[str, dict[str, list]]:
    return tomllib.loads(resources.files("recteam.data").joinpath("facets.toml").read_text())


def _keys(genres: list[str]) -> set[str]:
    return {k for g in genres for k in genre_keys(g)}


def analyse(
    c: Candidate, profile: PreferenceProfile, liked_genres: dict[str, int], liked_cast: set[str]
) -> ItemAnalysis:
    """Scores one candidate. `liked_genres` counts genres over the liked items; `liked_cast`
    holds normalised names from the liked items and liked people."""
    pros: list[str] = []
    cons: list[str] = []
    facts = [f"{c.item.label}", f"genres: {', '.join(c.genres) or 'unknown'}"]
    if c.cast:
        facts.append(f"starring {', '.join(c.cast[:4])}")
    item_genres = _keys(c.genres)
    # The searcher's order already weighs popularity, genres, cast and the films named
    # (agents/relevance.py); this judgement keeps it and moves candidates only for what that
    # ranking does not see: wishes, things to avoid and people the user dislikes.
    score = 0.7 / (1 + 0.02 * max(c.rank - 1, 0))

    asked = _keys(profile.constraints.genres)
    wanted = asked | _keys(profile.liked_genres)
    hit = sorted(g for g in c.genres if _keys([g]) & wanted)
    if hit:
        # a genre asked for ("a horror film") or a taste ("I love horror"): said as it was said
        why = "as you asked" if any(_keys([g]) & asked for g in hit) else "a genre you like"
        pros.append(f"it is {' and '.join(g.lower() for g in hit)}, {why}")
    shared = [g for g in c.genres if normalize_key(g) in liked_genres]
    if shared and not hit:
        pros.append(f"it shares {', '.join(g.lower() for g in shared[:2])} with films you liked")
    cast = [p for p in c.cast if normalize_key(p) in liked_cast]
    if cast:
        pros.append(f"it stars {', '.join(cast[:2])}, whom you like")
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
        if toward or in_years:
            score += 0.15
            pros.append(f"it fits '{facet}'")
        if away:
            score -= 0.15
            cons.append(f"its {', '.join(sorted(away))} side may not feel '{facet}'")
    for facet in profile.avoids:
        rule = rules.get(facet)
        if rule and _keys(rule.get("toward", [])) & item_genres:
            score -= 0.2
            cons.append(f"it may be '{facet}', which you wanted to avoid")
    return ItemAnalysis(
        item_id=c.item.id,
        fit=round(min(max(score, 0.0), 1.0), 3),
        pros=pros,
        cons=cons,
        facts=facts,
    )
