"""Settings the team's roles need; orchestration/settings.py composes them into the root."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TeamSettings"]


class TeamSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    picks: int = Field(default=3, ge=1, le=10, description="Items in one recommendation.")
    candidates: int = Field(
        default=20, ge=3, le=200, description="Items the searcher puts on the candidate bus."
    )
    max_revise_rounds: int = Field(
        default=2,
        ge=0,
        le=5,
        description="Times the reflector may send a draft back before it must approve.",
    )
    lessons: int = Field(
        default=5,
        ge=0,
        le=50,
        description="Reflective lessons the manager reads: those learnt in situations like the present one, and this session's latest.",
    )
    recall_plans: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Accepted plans from similar situations the manager reads (0: plan memory off).",
    )
    recall_episodes: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Turns of earlier sessions with a similar request the team may cite (0: off).",
    )
    recall_min_score: float = Field(
        default=0.55,
        ge=0.0,
        le=1.0,
        description="How close (cosine) a remembered situation must be to the present one to count.",
    )
    group: bool = Field(
        default=True,
        description="'Something for me and Sam': when Sam is remembered too, one pick for both (no film either dislikes; least misery on fit). Off: names are ignored.",
    )
    welcome_back: bool = Field(
        default=True,
        description="A returning user's first message, or opening the web chat with a known name, gets a short greeting from what the team remembers.",
    )
    history_turns: int = Field(
        default=8, ge=0, le=100, description="Dialogue turns shown to LLM roles."
    )
    stream: bool = Field(
        default=True,
        description="The responder's model streams its reply into the chat as it writes it.",
    )
    turn_timeout: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a turn may take before it is stopped with a message (never an endless spinner).",
    )
    colike: bool = Field(
        default=True,
        description="Likes across users become film-to-film co-like counts (aggregates, no user ids) that the searcher uses; false: neither collected nor used.",
    )
    colike_min_people: int = Field(
        default=3,
        ge=1,
        description="A co-like pair is used only when at least this many people liked both films, so no pair tells one user what another likes.",
    )
