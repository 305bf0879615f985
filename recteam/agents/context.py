"""The state one turn's roles share: what was loaded from memory before the team starts, and the
candidate bus and drafts the roles fill in. One TurnContext per turn and per session, so two users'
turns running at once never see each other's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recteam.agents.dialogue_state import DialogueState, Request
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
from recteam.memory.items import CatalogItem
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import MemoryRecord

if TYPE_CHECKING:
    from recteam.agents.offline.linking import EntityLinker
    from recteam.agents.recall import Recalled

__all__ = ["MemoryLoad", "TurnContext"]


@dataclass(frozen=True)
class MemoryLoad:
    """One read the session made before the team started, reported by the user analyst."""

    kind: str
    summary: str
    filter: str
    points: int
    ms: float


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
    welcome: str | None = None  # a returning user's greeting, on a session's first turn
    session_recommended: list[ItemRef] = field(default_factory=list)  # earlier in this session
    comentions: CoMentionTable | None = None  # item-to-item co-mention counts, when configured
    requested_act: Act | None = None  # the caller's act for this turn (the manager obeys)
    state_before: DialogueState = field(default_factory=DialogueState)  # as the last turn left it
    lasting_before: PreferenceProfile | None = None  # the long-term profile as memory held it
    # filled by the roles -------------------------------------------------------------------------
    understanding: Any = (
        None  # the offline reading of the message (agents/offline), cached per turn
    )
    profile: PreferenceProfile | None = None  # lasting profile + this request: what roles read
    state: DialogueState | None = None  # as the user analyst moved it this turn
    plan: Plan | None = None
    candidates: list[Candidate] = field(default_factory=list)  # the candidate bus
    analyses: dict[str, ItemAnalysis] = field(default_factory=dict)
    draft: list[str] = field(default_factory=list)  # item ids picked for the reply
    critique: Critique | None = None
    revise_round: int = 0
    rejected_this_turn: set[str] = field(default_factory=set)  # item ids the reflector struck
    reply: Reply | None = None
    # roles whose model gave no usable answer this turn, so the offline policy took their step
    fell_back: list[str] = field(default_factory=list)
    # roles that asked their model this turn: a role asks once, a revise round works from that
    asked_model: set[str] = field(default_factory=set)
    judged: dict[str, ItemAnalysis] = field(default_factory=dict)  # by the item analyst's model
    search_query: str | None = None  # the query the searcher's model wrote, when it has one
    recalled: Recalled | None = None  # memory of similar situations, read by the manager
    plan_prior: Request | None = None  # an accepted plan's request the searcher starts from
    cited: ItemRef | None = None  # a film liked after a similar request, cited in the reply
    # other remembered people this pick is for ("me and Sam"): user id -> lasting profile
    group: dict[str, PreferenceProfile] = field(default_factory=dict)
    loaded: list[MemoryLoad] = field(default_factory=list)  # the session's reads before the team
    solo_profile: PreferenceProfile | None = None  # the user's own, when ctx.profile is a group's
    _facts: dict[str, CatalogItem | None] = field(default_factory=dict, repr=False)
    _advanced: tuple[Any, tuple[DialogueState, PreferenceProfile, PreferenceProfile]] | None = (
        field(default=None, repr=False)
    )

    @property
    def last_recommended(self) -> list[ItemRef]:
        if self.state_before.last_picks:
            return self.state_before.last_picks
        for past in reversed(self.dialogue):
            if past.speaker == "assistant" and past.items:
                return past.items
        return []

    @property
    def turned_down(self) -> set[str]:
        """Last picks the user already disliked or rejected: "it" and "those" skip them."""
        s = self.state_before
        return {
            r.id for r in self.last_recommended if s.stance_of(r.id) in ("disliked", "rejected")
        }

    def understand(self) -> Any:
        """The offline reading of this message, computed once per turn: the manager and the
        user analyst both read it, and it is deterministic and takes about a millisecond."""
        if self.understanding is None:
            from recteam.agents.offline.understanding import understand

            s = self.state_before
            self.understanding = understand(
                self.message,
                self.linker,
                self.last_recommended,
                self.turned_down,
                known=[*(f.item for f in s.films), *s.shown],
                clarify=s.clarify,
                facts=self.facts,
            )
        return self.understanding

    def facts(self, item_id: str) -> CatalogItem | None:
        """A catalog item's facts, looked up once per turn."""
        if item_id not in self._facts:
            found = self.store.catalog.get([item_id])
            self._facts[item_id] = found[0] if found else None
        return self._facts[item_id]

    def advance(self, u: Any) -> tuple[DialogueState, PreferenceProfile, PreferenceProfile]:
        """(state, lasting profile, effective profile) after the reading `u` of this message."""
        from recteam.agents.state_update import advance

        # The manager and the offline user analyst merge the same reading: once is enough.
        if self._advanced is not None and self._advanced[0] is u:
            return self._advanced[1]
        lasting = self.lasting_before or PreferenceProfile(user_id=self.user_id)
        state, lasting = advance(self.state_before, lasting, u, self.facts)
        state.turn = self.turn
        result = (state, lasting, state.effective_profile(lasting))
        self._advanced = (u, result)
        return result

    @property
    def picks(self) -> int:
        """How many picks this turn: what the user asked for ("just one"), else the setting."""
        state = self.state or self.state_before
        return state.request.count or self.settings.picks

    def candidate(self, item_id: str) -> Candidate | None:
        return next((c for c in self.candidates if c.item.id == item_id), None)
