"""The dialogue state: what this conversation has established, turn by turn.

One typed schema, filled by the offline reader and by an LLM user analyst alike: each reading of
a message (agents/offline/understanding.Understanding) is merged by one step, `advance`.

- A stance per film: liked, disliked, seen, asked about, accepted pick, rejected pick. A stance
  set with a 👍/👎 button is locked: only a message that names the film again by its title can
  change it, never a pronoun ("more like that") or a blanket "no".
- The request: what the user asks for now (genres, years, people, wishes, how many). It lasts
  until a new direction replaces it ("back to sci-fi like Blade Runner" drops "from the 90s"); a
  refinement ("something newer", "lighter") changes it in place. Lasting tastes ("I hate horror",
  "never suggest X again") live in the long-term PreferenceProfile instead.
- The picks shown: the last ones (what "that one", "the second", "those" refer to) and all of
  this session's (never shown twice).

It is short-term memory: saved with each episode in Qdrant, so a session resumes after a restart.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from recteam.agents.messages import HardConstraints, ItemRef, PreferenceProfile

__all__ = ["STANCES", "DialogueState", "FilmStance", "FilmState", "Request", "state_record_id"]

_STATE_NS = uuid.UUID("5d2c61a4-7f0b-4a53-8e3d-2b9c40e1f7a8")


def state_record_id(user_id: str, session_id: str) -> str:
    """One dialogue-state point per session, overwritten after each turn."""
    return str(uuid.uuid5(_STATE_NS, f"{user_id}\x00{session_id}"))


FilmStance = Literal["liked", "disliked", "seen", "asked_about", "accepted", "rejected"]
STANCES: tuple[FilmStance, ...] = (
    "liked",
    "disliked",
    "seen",
    "asked_about",
    "accepted",
    "rejected",
)


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FilmState(_State):
    item: ItemRef
    stance: FilmStance
    turn: int = 0
    source: Literal["message", "button"] = "message"


class Request(_State):
    """What the user asks for now. Every field is scoped to the current direction."""

    genres: list[str] = Field(default_factory=list, description="wanted; one genre filters")
    exclude_genres: list[str] = Field(default_factory=list)
    year_min: int | None = None
    year_max: int | None = None
    people: list[str] = Field(default_factory=list, description="each must be in the cast")
    like: list[ItemRef] = Field(default_factory=list, description="'something like Blade Runner'")
    wants: list[str] = Field(default_factory=list, description="facets: 'lighter', 'smart'")
    avoids: list[str] = Field(default_factory=list, description="facets: 'violent', 'gory'")
    topics: list[str] = Field(
        default_factory=list, description="subject words: 'heist', 'submarine', 'Paris'"
    )
    count: int | None = Field(default=None, description="'just one': 1; 'two more': 2")
    surprise: bool = Field(default=False, description="'surprise me': away from what was shown")

    def is_empty(self) -> bool:
        return self == Request()


class DialogueState(_State):
    turn: int = 0
    films: list[FilmState] = Field(default_factory=list, description="one entry per film")
    request: Request = Field(default_factory=Request)
    last_picks: list[ItemRef] = Field(
        default_factory=list, description="the assistant's latest recommendation"
    )
    shown: list[ItemRef] = Field(default_factory=list, description="every pick of this session")
    clarify: list[ItemRef] = Field(
        default_factory=list, description="films an ambiguous title could mean, asked about"
    )
    clarify_stance: FilmStance | None = Field(
        default=None, description="what the user said of the film they will pick from clarify"
    )
    clarify_question: str | None = Field(
        default=None, description="what they asked of it, when it was a question"
    )

    def stance_of(self, item_id: str) -> FilmStance | None:
        return next((f.stance for f in self.films if f.item.id == item_id), None)

    def film(self, item_id: str) -> FilmState | None:
        return next((f for f in self.films if f.item.id == item_id), None)

    def with_stance(self, stance: FilmStance) -> list[ItemRef]:
        return [f.item for f in self.films if f.stance == stance]

    def effective_profile(self, profile: PreferenceProfile) -> PreferenceProfile:
        """The long-term profile with this conversation's request laid over it: what the
        searcher, item analyst, reflector and responder read for this turn."""
        p = profile.model_copy(deep=True)
        r = self.request
        lasting = p.constraints
        p.constraints = HardConstraints(
            year_min=r.year_min,
            year_max=r.year_max,
            genres=list(r.genres) if len(r.genres) == 1 else [],
            exclude_genres=_union(lasting.exclude_genres, r.exclude_genres),
            people=_union(lasting.people, r.people),
            exclude_items=_union_refs(
                lasting.exclude_items,
                [
                    f.item
                    for f in self.films
                    if f.stance in ("disliked", "seen", "rejected", "accepted")
                ],
            ),
        )
        for g in r.genres:
            if g not in p.liked_genres:
                p.liked_genres.append(g)
        p.wants = _union(r.wants, [w for w in p.wants if w not in r.avoids])
        p.avoids = _union(r.avoids, [a for a in p.avoids if a not in r.wants])
        # The films this request is "like" steer first; the rest of the likes follow.
        p.likes = _union_refs(r.like, [i for i in p.likes if self.stance_of(i.id) != "disliked"])
        return p


def _union(first: list[str], second: list[str]) -> list[str]:
    out = list(first)
    for v in second:
        if v not in out:
            out.append(v)
    return out


def _union_refs(first: list[ItemRef], second: list[ItemRef]) -> list[ItemRef]:
    out = list(first)
    ids = {r.id for r in out}
    for r in second:
        if r.id not in ids:
            out.append(r)
            ids.add(r.id)
    return out
