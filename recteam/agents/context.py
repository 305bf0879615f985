"""The state one turn's roles share: what was loaded from memory before the team starts, and the
candidate bus and drafts the roles fill in. One TurnContext per turn and per session, so two users'
turns running at once never see each other's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recteam.agents.messages import (
    Act,
    Candidate,
    Critique,
    DialogueTurn,
    ItemAnalysis,
    ItemRef,
    Plan,
    PreferenceProfile,
    Reply,
)
from recteam.agents.settings import TeamSettings
from recteam.agents.tracer import TurnTracer
from recteam.memory.cooccurrence import CoMentionTable
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import MemoryRecord

if TYPE_CHECKING:
    from recteam.agents.offline.linking import EntityLinker

__all__ = ["TurnContext"]


@dataclass
class TurnContext:
    # given ---------------------------------------------------------------------------------------
    session_id: str
    user_id: str
    turn: int
    message: str
    store: MemoryStore
    linker: EntityLinker
    settings: TeamSettings
    tracer: TurnTracer
    dialogue: list[DialogueTurn] = field(default_factory=list)  # before this message
    profile_before: PreferenceProfile | None = None  # as memory held it before this turn
    lessons: list[MemoryRecord] = field(default_factory=list)  # strategy-level reflections
    session_recommended: list[ItemRef] = field(default_factory=list)  # earlier in this session
    comentions: CoMentionTable | None = None  # item-to-item co-mention counts, when configured
    requested_act: Act | None = None  # the caller's act for this turn (the manager obeys)
    # filled by the roles -------------------------------------------------------------------------
    understanding: Any = (
        None  # the offline reading of the message (agents/offline), cached per turn
    )
    profile: PreferenceProfile | None = None  # as the user analyst updated it this turn
    plan: Plan | None = None
    candidates: list[Candidate] = field(default_factory=list)  # the candidate bus
    analyses: dict[str, ItemAnalysis] = field(default_factory=dict)
    draft: list[str] = field(default_factory=list)  # item ids picked for the reply
    critique: Critique | None = None
    revise_round: int = 0
    rejected_this_turn: set[str] = field(default_factory=set)  # item ids the reflector struck
    reply: Reply | None = None

    @property
    def last_recommended(self) -> list[ItemRef]:
        for past in reversed(self.dialogue):
            if past.speaker == "assistant" and past.items:
                return past.items
        return []

    def understand(self) -> Any:
        """The offline reading of this message, computed once per turn: the manager and the
        user analyst both read it, and it is deterministic and takes about a millisecond."""
        if self.understanding is None:
            from recteam.agents.offline.understanding import understand

            self.understanding = understand(self.message, self.linker, self.last_recommended)
        return self.understanding

    def candidate(self, item_id: str) -> Candidate | None:
        return next((c for c in self.candidates if c.item.id == item_id), None)
