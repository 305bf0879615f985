"""The one merge step: a reading of one message (Understanding, from the offline reader or an LLM
user analyst) moves the dialogue state and the long-term profile forward.

- Film stances: what the message says of each film. A stance set with a button is locked against
  references ("more like that", a blanket "no"): only naming the film by its title changes it.
- Lasting tastes go to the profile: films liked, disliked, seen or ruled out ("never suggest X"),
  people, genres loved or hated ("I hate horror"), facets the user cannot stand.
- The request (genres, years, people, wishes, subject words, films it is "like") is this
  direction's: a new direction ("back to sci-fi like Blade Runner", a new genre, "instead")
  starts a fresh one; a refinement ("something newer", "lighter") changes it in place; a film
  named as liked joins it and lifts any genre filter or year bound that film does not meet.
- How many picks ("just one") and "surprise me" are for this turn only.
"""

from __future__ import annotations

from collections.abc import Callable

from recteam.agents.dialogue_state import DialogueState, FilmStance, FilmState, Request
from recteam.agents.messages import ItemRef, PreferenceProfile
from recteam.agents.offline.understanding import Understanding, merge_year_bounds
from recteam.memory.genres import genre_keys
from recteam.memory.items import CatalogItem, normalize_key

__all__ = ["FactsLookup", "advance", "lasting_profile"]

FactsLookup = Callable[[str], CatalogItem | None]


def advance(
    state: DialogueState,
    profile: PreferenceProfile,
    u: Understanding,
    facts: FactsLookup | None = None,
    source: str = "message",
) -> tuple[DialogueState, PreferenceProfile]:
    """The state and the long-term profile after the message `u` reads (copies; inputs kept)."""
    state = state.model_copy(deep=True)
    u = _hold_or_release(state, u)
    named = {r.id for r in u.named_items} | {r.id for r in u.liked_items if source == "button"}
    by_button = source == "button"

    def allowed(ref: ItemRef) -> bool:
        film = state.film(ref.id)
        return film is None or film.source != "button" or by_button or ref.id in named

    liked = [r for r in u.liked_items if allowed(r)]
    disliked = [r for r in u.disliked_items if allowed(r)]
    seen = [r for r in u.seen_items if allowed(r)]
    down_ids = {r.id for r in [*disliked, *seen]}
    rejected = [r for r in u.turned_down if allowed(r) and r.id not in down_ids]
    stances: list[tuple[list[ItemRef], FilmStance]] = [
        ([u.asked_about] if u.asked_about and allowed(u.asked_about) else [], "asked_about"),
        ([r for r in u.accepted_items if allowed(r)], "accepted"),
        (rejected, "rejected"),
        (seen, "seen"),
        (liked, "liked"),  # after "seen": "I watched X and loved it" is liked
        (disliked, "disliked"),
    ]
    for refs, stance in stances:
        for ref in refs:
            _set(state, ref, stance, "button" if by_button else "message")
    state.clarify = list(u.ambiguous)
    if facts is not None and not by_button:
        for ref in _ruled_out_picks(state, u, facts):
            _set(state, ref, "rejected", "message")

    lasting = Understanding(
        accepted_items=[r for r in u.accepted_items if allowed(r)],
        liked_items=liked,
        disliked_items=disliked,
        seen_items=seen,
        excluded_items=[r for r in u.excluded_items if allowed(r)],
        rejected_items=rejected,
        liked_people=u.liked_people,
        disliked_people=u.disliked_people,
        allowed_people=u.allowed_people,
        liked_genres=u.liked_genres,
        exclude_genres=u.disliked_genres,
        allowed_genres=u.allowed_genres,
        avoids=u.lasting_avoids,
        allowed_facets=u.allowed_facets,
    )
    profile = lasting_profile(lasting.to_profile_update(profile))
    state.request = _request(state.request, u, liked, facts)
    return state, profile


_LISTS: dict[FilmStance, str] = {
    "liked": "liked_items",
    "disliked": "disliked_items",
    "seen": "seen_items",
}


def _hold_or_release(state: DialogueState, u: Understanding) -> Understanding:
    """An ambiguous title ("I loved Dune"): what was said of it waits in the state until the
    user says which film they mean; their answer ("the 2021 one") gives it to that film. A user
    who moves on without answering keeps what they said: it goes to the reading the question
    offered first (the best-known film of the title), not to nothing."""
    if state.clarify and u.clarified is None and state.clarify_stance in _LISTS:
        field = _LISTS[state.clarify_stance]
        default = state.clarify[0]
        if not any(r.id == default.id for r in getattr(u, field)):
            u = u.model_copy(update={field: [*getattr(u, field), default]})
        state.clarify_stance = state.clarify_question = None
    if u.ambiguous:
        held = u.ambiguous[0].id
        stance: FilmStance | None = next(
            (s for s, f in _LISTS.items() if any(r.id == held for r in getattr(u, f))), None
        )
        asked = u.asked_about is not None and u.asked_about.id == held
        state.clarify_stance = stance or ("asked_about" if asked else None)
        state.clarify_question = u.question if asked else None
        update: dict[str, object] = {
            f: [r for r in getattr(u, f) if r.id != held] for f in _LISTS.values()
        }
        if asked:
            update["asked_about"] = None
        return u.model_copy(update=update)
    if u.clarified is not None and state.clarify:
        stance, chosen = state.clarify_stance, u.clarified
        if stance in _LISTS:
            field = _LISTS[stance]
            u = u.model_copy(
                update={
                    field: [*getattr(u, field), chosen],
                    "named_items": [*u.named_items, chosen],
                }
            )
        elif stance == "asked_about":
            u = u.model_copy(update={"asked_about": chosen, "question": state.clarify_question})
    state.clarify_stance = state.clarify_question = None
    return u


def _ruled_out_picks(state: DialogueState, u: Understanding, facts: FactsLookup) -> list[ItemRef]:
    """'Please don't recommend anything with Nicolas Cage' after three Cage films: the last picks
    that this message rules out (a person, a genre) and says nothing else of are turned down."""
    people = {normalize_key(p) for p in u.disliked_people}
    genres = [*u.exclude_genres, *u.disliked_genres]
    if not (people or genres):
        return []
    out = []
    for ref in state.last_picks:
        if state.film(ref.id) is not None:
            continue
        item = facts(ref.id)
        if item is None:
            continue
        keys = {k for g in item.genres for k in genre_keys(g)}
        if people & {normalize_key(p) for p in item.cast} or any(
            genre_keys(g) & keys for g in genres
        ):
            out.append(ref)
    return out


def lasting_profile(p: PreferenceProfile) -> PreferenceProfile:
    """Only what lasts beyond a request: no year bounds, genre filter or required people (a
    profile saved before requests were scoped had them)."""
    c = p.constraints
    if c.year_min is None and c.year_max is None and not c.genres and not c.people:
        return p
    return p.model_copy(
        update={
            "constraints": c.model_copy(
                update={"year_min": None, "year_max": None, "genres": [], "people": []}
            )
        }
    )


def _set(state: DialogueState, ref: ItemRef, stance: FilmStance, source: str) -> None:
    film = state.film(ref.id)
    if film is not None:
        # "asked about" never overwrites an opinion; an opinion overwrites "asked about".
        if stance == "asked_about" and film.stance != "asked_about":
            return
        state.films.remove(film)
    state.films.append(
        FilmState(item=ref, stance=stance, turn=state.turn, source=source)  # type: ignore[arg-type]
    )


def _differs(new: list[str], old: list[str]) -> bool:
    return {normalize_key(g) for g in new} != {normalize_key(g) for g in old}


def _request(
    r: Request, u: Understanding, liked: list[ItemRef], facts: FactsLookup | None
) -> Request:
    fresh = u.new_direction or (bool(u.genres) and bool(r.genres) and _differs(u.genres, r.genres))
    r = Request() if fresh else r.model_copy(deep=True)
    r.count, r.surprise = u.count, u.surprise
    if u.genres:
        r.genres = list(u.genres)
    for g in u.exclude_genres:
        if g not in r.exclude_genres:
            r.exclude_genres.append(g)
        r.genres = [x for x in r.genres if normalize_key(x) != normalize_key(g)]
    r.exclude_genres = [
        g
        for g in r.exclude_genres
        if normalize_key(g) not in {normalize_key(a) for a in u.allowed_genres}
    ]
    merge_year_bounds(r, u.year_min, u.year_max)
    for person in u.required_people:
        if person not in r.people:
            r.people.append(person)
    r.people = [p for p in r.people if p not in u.disliked_people]
    for facet in u.wants:
        r.wants = [*[w for w in r.wants if w != facet], facet]
        r.avoids = [a for a in r.avoids if a != facet]
    for facet in u.avoids:
        r.avoids = [*[a for a in r.avoids if a != facet], facet]
        r.wants = [w for w in r.wants if w != facet]
    r.avoids = [a for a in r.avoids if a not in u.allowed_facets]
    for word in u.topics:
        if word.lower() not in (t.lower() for t in r.topics):
            r.topics.append(word)
    for ref in liked:
        if all(x.id != ref.id for x in r.like):
            r.like.append(ref)
        item = facts(ref.id) if facts else None
        if item is None or u.genres or (u.year_min or u.year_max):
            continue  # the message set these itself alongside the film
        # "I loved Inception" after "a comedy": a film the filter would exclude lifts it.
        keys = {k for g in item.genres for k in genre_keys(g)}
        if r.genres and not any(genre_keys(g) & keys for g in r.genres):
            r.genres = []
        year = item.year
        if year is not None and (
            (r.year_min is not None and year < r.year_min)
            or (r.year_max is not None and year > r.year_max)
        ):
            r.year_min = r.year_max = None
    return r
