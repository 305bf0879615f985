"""Welcome back: a returning user is greeted from what the team remembers.

On the first turn of a new session (or when the web chat opens with a known name), the user's
latest earlier session is read from memory: the picks they liked or took up there, and the wish
they left open (a request no pick was taken from). The greeting names them and offers to go on
from there. Nothing is said to a user the team has never met, or when `team.welcome_back` is off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from recteam.agents.dialogue_state import DialogueState, state_record_id
from recteam.agents.messages import ItemRef, PreferenceProfile
from recteam.agents.recall import wish_phrase
from recteam.agents.tracer import StepTrace
from recteam.memory.user_memory import UserMemory

__all__ = ["Welcome", "traced_welcome", "welcome_back"]

SESSIONS_LOOKED_AT = 3


@dataclass(frozen=True)
class Welcome:
    line: str  # "Welcome back! Last time you liked Heat."
    offer: str  # "Want more like Heat, or something different today?"

    @property
    def text(self) -> str:
        return f"{self.line} {self.offer}".strip()


def _titles(refs: list[ItemRef]) -> str:
    labels = [f"*{r.title}*" for r in refs]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def welcome_back(
    memories: UserMemory, user_id: str, session_id: str, lasting: PreferenceProfile
) -> Welcome | None:
    """The greeting for `user_id` opening `session_id`, or None for someone new. It speaks of
    the latest earlier session that left something to speak of (a few are looked at)."""
    earlier = memories.list(
        user_id, ("episode",), limit=SESSIONS_LOOKED_AT * 4, not_session=session_id
    )
    sessions = list(dict.fromkeys(e.session_id for e in earlier if e.session_id))
    if not sessions:
        return None
    taken: list[ItemRef] = []
    wish = ""
    for sid in sessions[:SESSIONS_LOOKED_AT]:
        record = memories.get(user_id, state_record_id(user_id, sid))
        state = DialogueState.model_validate(record.data) if record else DialogueState()
        shown = {r.id for r in state.shown}
        taken = [
            f.item for f in state.films if f.stance in ("liked", "accepted") and f.item.id in shown
        ]
        wish = "" if taken else wish_phrase(state.request)
        if taken or wish:
            break
    if not taken and lasting.chosen:
        taken = lasting.chosen[-2:]
    liked = taken or lasting.likes[-2:]
    if not liked and not wish:
        return None
    parts = ["Welcome back!"]
    if taken:
        parts.append(f"Last time you went for {_titles(taken[-2:])}.")
        also = [i for i in lasting.likes if all(i.id != t.id for t in taken)][-2:]
        if also:
            parts.append(f"I remember you liked {_titles(also)}.")
    elif liked:
        parts.append(f"I remember you liked {_titles(liked[-2:])}.")
    if wish:
        parts.append(f"You were looking for {wish}.")
    if liked:
        offer = f"Want more like *{liked[-1].title}*, or something different today?"
    else:
        offer = "Shall I pick up from there, or is it something different today?"
    return Welcome(" ".join(parts), offer)


def traced_welcome(
    memories: UserMemory,
    user_id: str,
    session_id: str,
    lasting: PreferenceProfile,
    step: StepTrace,
) -> Welcome | None:
    """welcome_back, with its memory read in `step`'s trace."""
    started = time.perf_counter()
    welcome = welcome_back(memories, user_id, session_id, lasting)
    step.memory(
        "read",
        "episode",
        welcome.line if welcome else "no earlier session: a new user",
        collection=memories.name,
        filter=f"user_id={user_id}, kind=episode|dialogue, other sessions",
        points=1 if welcome else 0,
        ms=(time.perf_counter() - started) * 1000,
    )
    return welcome
