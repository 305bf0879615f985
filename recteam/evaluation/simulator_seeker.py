"""The simulated seeker of `recteam eval simulate` (after iEvaLM): a chat model that knows hidden
target films, describes what it wants without naming them, and accepts only a target.

The leak guard: a message naming a target is rejected and regenerated once; if the second one
names it too, the title is masked out. No target title ever reaches the team.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autogen_core import CancellationToken
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    RequestUsage,
    SystemMessage,
    UserMessage,
)
from autogen_ext.models.replay import ReplayChatCompletionClient
from pydantic import BaseModel, ValidationError

from recteam.agents.llm import prompt_data, render_prompt
from recteam.memory.items import CatalogItem

__all__ = ["MASK", "ScriptedSeeker", "Seeker", "SeekerReply", "TitleGuard"]

MASK = "that film"
FALLBACK = "Hmm, not quite. Could you suggest something else?"
_NO_USAGE = RequestUsage(prompt_tokens=0, completion_tokens=0)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


class SeekerReply(BaseModel):
    message: str
    accepted: bool = False


def _fold(text: str) -> str:
    """Accents off ('Amélie' -> 'Amelie'), so a title is caught however it is spelt."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


class TitleGuard:
    """Finds and masks target titles in a message. A title of one short word ('Up', 'It') is
    matched only as capitalised, so ordinary words ('set up') do not count; others ignore case."""

    def __init__(self, titles: Sequence[str]) -> None:
        self.patterns: list[re.Pattern[str]] = []
        for title in titles:
            words = _fold(title).split()
            if not words:
                continue
            body = r"\s+".join(re.escape(w) for w in words)
            loose = len(words) > 1 or len(words[0]) >= 5
            self.patterns.append(
                re.compile(rf"(?<!\w){body}(?!\w)(\s*\(\d{{4}}\))?", re.IGNORECASE if loose else 0)
            )

    def names(self, text: str) -> bool:
        folded = _fold(text)
        return any(p.search(folded) for p in self.patterns)

    def mask(self, text: str) -> str:
        text = _fold(text) if self.names(text) else text
        for p in self.patterns:
            text = p.sub(MASK, text)
        return text


@dataclass
class SeekerStats:
    calls: int = 0
    regenerated: int = 0  # messages rejected for naming a target (or not being JSON)
    masked: int = 0  # messages still naming a target after the retry, then masked


class Seeker:
    """One seeker with its targets; `reply` gives the next message for the dialogue so far."""

    def __init__(self, client: ChatCompletionClient, targets: Sequence[CatalogItem]) -> None:
        self.client = client
        self.targets = [
            {"title": t.title, "year": t.year, "genres": t.genres, "cast": t.cast[:5]}
            for t in targets
        ]
        self.guard = TitleGuard([t.title for t in targets])
        self.stats = SeekerStats()

    async def reply(
        self, dialogue: list[dict[str, Any]], picks: list[str], turn: int, budget: int
    ) -> SeekerReply:
        """Raises whatever the model client raises; the caller ends the episode on it."""
        system, user = render_prompt(
            "simulator", targets=self.targets, dialogue=dialogue, picks=picks, turn=turn,
            budget=budget,
        )  # fmt: skip
        messages: list[LLMMessage] = [
            SystemMessage(content=system),
            UserMessage(content=user, source="user"),
        ]
        answer: SeekerReply | None = None
        for attempt in range(2):
            self.stats.calls += 1
            result = await self.client.create(messages, json_output=True)
            text = result.content if isinstance(result.content, str) else ""
            problem = None
            try:
                answer = SeekerReply.model_validate_json(_FENCE.sub("", text.strip()))
            except ValidationError:
                answer, problem = None, 'was not the JSON object {"message": ..., "accepted": ...}'
            if answer is not None and self.guard.names(answer.message):
                problem = "named one of your target films; describe it without its title"
            if problem is None:
                return (
                    answer if answer and answer.message.strip() else SeekerReply(message=FALLBACK)
                )
            if attempt == 0:
                self.stats.regenerated += 1
                messages += [
                    AssistantMessage(content=text, source="seeker"),
                    UserMessage(content=f"Your answer {problem}. Write it again.", source="user"),
                ]
        if answer is None or not answer.message.strip():
            return SeekerReply(message=FALLBACK)
        self.stats.masked += 1
        return SeekerReply(message=self.guard.mask(answer.message), accepted=answer.accepted)


class ScriptedSeeker(ReplayChatCompletionClient):
    """A rule-based stand-in for the seeker's model (the --scripted demo and tests): it reads the
    prompt's <data>, opens vaguely, reveals one fact per turn and accepts a target among the
    recommendations. It never names a target by itself."""

    def __init__(self) -> None:
        super().__init__([])

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        cancellation_token: CancellationToken | None = None,
        **kwargs: Any,
    ) -> CreateResult:
        data = prompt_data(str(messages[-1].content))
        targets = data.get("your_targets") or [{}]
        titles = {str(t.get("title", "")).lower() for t in targets}
        picks = [str(p).lower() for p in data.get("latest_recommendations", [])]
        said = sum(1 for d in data.get("dialogue", []) if d.get("speaker") == "seeker")
        if any(p in titles for p in picks):
            answer = {
                "message": "Yes, that one is exactly what I wanted, thanks!",
                "accepted": True,
            }
        else:
            # the target it knows most about (a title-only one gives nothing to describe)
            known = max(
                targets, key=lambda t: len(t.get("genres") or []) + len(t.get("cast") or [])
            )
            answer = {"message": _describe(known, said), "accepted": False}
        return CreateResult(
            finish_reason="stop", content=json.dumps(answer), usage=_NO_USAGE, cached=False
        )


def _describe(target: dict[str, Any], said: int) -> str:
    genres = " or ".join(g.lower() for g in (target.get("genres") or [])[:2]) or "really good"
    year, cast = target.get("year"), target.get("cast") or []
    hints = [
        "Hi! Can you recommend me a movie for tonight?",
        f"I'm in the mood for something {genres}.",
        f"Something {genres}, from around {year}." if year else f"Something {genres}, please.",
        f"Something {genres} with {cast[0]} would be great." if cast else "Any other idea?",
    ]
    return hints[min(said, len(hints) - 1)]
