"""Typed payloads the roles hand each other. Every role reads and writes these, never free text,
except the responder's Reply.text, the only prose a user sees."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from recteam.memory.items import poster_url

__all__ = [
    "ROLES",
    "Act",
    "AskAbout",
    "Candidate",
    "CandidateBus",
    "Critique",
    "CritiqueIssue",
    "DialogueTurn",
    "HardConstraints",
    "ItemAnalyses",
    "ItemAnalysis",
    "ItemRef",
    "Plan",
    "PreferenceProfile",
    "RecommendedItem",
    "Reply",
    "Role",
]

Role = Literal["manager", "user_analyst", "item_analyst", "searcher", "reflector", "responder"]
ROLES: tuple[Role, ...] = (
    "manager",
    "user_analyst",
    "item_analyst",
    "searcher",
    "reflector",
    "responder",
)
Act = Literal["ASK", "RECOMMEND", "ANSWER", "CHAT"]
# What an ASK turn asks about: a facet missing to recommend, what would help after two turned-down
# drafts, or which of several same-titled films the user means. A closed set: a model's plan names
# one of these words, never free text that could travel into another role's prompt.
AskAbout = Literal["genre", "era", "liked_item", "alternative", "which_film"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


# The catalog's poster URL, for the card: no film language, so never in a prompt (left out of the
# schema a model is shown, and of the data it is given: see llm.compact). Checked again here, as a
# trace file read back may hold anything: a bad URL is no poster.
Poster = SkipJsonSchema[Annotated[str | None, BeforeValidator(poster_url)]]


class ItemRef(_Payload):
    """A catalog item by id, with its title and year for people reading a trace."""

    id: str
    title: str
    year: int | None = None

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title


class DialogueTurn(_Payload):
    speaker: Literal["user", "assistant"]
    text: str
    act: Act | None = None
    items: list[ItemRef] = Field(default_factory=list)


class HardConstraints(_Payload):
    """What a recommendation must satisfy; the searcher turns these into engine filters."""

    year_min: int | None = None
    year_max: int | None = None
    genres: list[str] = Field(default_factory=list, description="every one required")
    exclude_genres: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list, description="each must be in the cast")
    exclude_items: list[ItemRef] = Field(
        default_factory=list, description="seen or ruled out by the user"
    )


class PreferenceProfile(_Payload):
    """What the team knows of one user: written by the user analyst, read by every role."""

    user_id: str
    likes: list[ItemRef] = Field(default_factory=list)
    dislikes: list[ItemRef] = Field(default_factory=list)
    chosen: list[ItemRef] = Field(
        default_factory=list,
        description=(
            "films the user chose to watch (a pick taken up, 'I'll check out X'): they steer "
            "like likes and are never recommended again, but nobody calls them liked"
        ),
    )
    liked_people: list[str] = Field(default_factory=list)
    disliked_people: list[str] = Field(default_factory=list)
    liked_genres: list[str] = Field(default_factory=list, description="soft: rank higher")
    wants: list[str] = Field(
        default_factory=list, description="facets in the user's words: 'lighter', 'slow burn'"
    )
    avoids: list[str] = Field(default_factory=list, description="facets to steer away from: 'gore'")
    constraints: HardConstraints = Field(default_factory=HardConstraints)
    updated_at: float = Field(default_factory=time.time)

    def known_enough(self) -> bool:
        """Enough to recommend: one liked item, or a genre / wish / constraint to search by."""
        c = self.constraints
        return bool(
            self.likes
            or self.chosen
            or self.liked_genres
            or self.wants
            or c.genres
            or self.liked_people
            or c.people
        )


class Candidate(_Payload):
    """One item on the candidate bus, as the searcher found it."""

    item: ItemRef
    genres: list[str] = Field(default_factory=list)
    cast: list[str] = Field(default_factory=list)
    directors: list[str] = Field(default_factory=list)
    summary: str = Field(default="", description="the catalog's summary, cut to a few lines")
    poster: Poster = None
    popularity: float = 0.0
    score: float = 0.0
    rank: int = 0
    signals: dict[str, float] = Field(
        default_factory=dict, description="why it ranks here: weighted signals, largest first"
    )


class ItemAnalysis(_Payload):
    """The item analyst's judgement of one candidate against the profile."""

    item_id: str
    fit: float = Field(ge=0.0, le=1.0)
    pros: list[str] = Field(default_factory=list)
    cons: list[str] = Field(default_factory=list)
    facts: list[str] = Field(
        default_factory=list, description="catalog facts the judgement rests on"
    )
    avoided: list[str] = Field(
        default_factory=list,
        description="things the user wanted to avoid ('violent') that this film's facts show",
    )


class CritiqueIssue(_Payload):
    kind: Literal[
        "constraint",
        "disliked",
        "seen",
        "already_recommended",
        "not_in_catalog",
        "diversity",
        "format",
        "avoid",
    ]
    item_id: str | None = None
    detail: str


class Critique(_Payload):
    verdict: Literal["APPROVE", "REVISE"]
    issues: list[CritiqueIssue] = Field(default_factory=list)
    round: int = 0


class Plan(_Payload):
    """The manager's decision for this turn."""

    act: Act
    specialists: list[Role] = Field(default_factory=list)
    rationale: str = ""
    ask_about: AskAbout | None = Field(default=None, description="for ASK: what to ask about")
    about_item: ItemRef | None = Field(default=None, description="for ANSWER: the item asked about")
    question: (
        Literal["director", "cast", "year", "scary", "kids", "genre", "length", "plot"] | None
    ) = Field(default=None, description="for ANSWER: what is asked about the item")


class RecommendedItem(_Payload):
    id: str
    title: str
    year: int | None = None
    genres: list[str] = Field(default_factory=list)
    reason: str
    poster: Poster = None


class Reply(_Payload):
    act: Act
    text: str
    items: list[RecommendedItem] = Field(default_factory=list)


class CandidateBus(_Payload):
    """The searcher's output: the shared candidate list for this turn."""

    candidates: list[Candidate] = Field(default_factory=list)


class ItemAnalyses(_Payload):
    """The item analyst's output: a judgement per candidate and the draft it picks from them."""

    analyses: list[ItemAnalysis] = Field(default_factory=list)
    draft: list[str] = Field(
        default_factory=list, description="ids of the picked candidates, best first"
    )
