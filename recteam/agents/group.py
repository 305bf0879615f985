"""Group recommendation: "something for me and Sam tonight", when Sam is remembered too.

The members are found in the message ("me and Sam", "Sam and I", "watch with Sam", "for Sam and
me") and count only when the team holds a profile for that name; nobody is invented. Their
lasting profiles are merged with one stated fairness rule:

- **no pick that any member dislikes**: every member's disliked films, excluded films and
  excluded genres are hard filters, and their disliked films push the search away;
- **least misery on fit**: each candidate is judged against each member's own profile and its
  fit is the lowest of those, so a film one member would merely tolerate loses to one that
  suits everybody; the reason names why it suits each member.
"""

from __future__ import annotations

import re
import time

from recteam.agents.messages import ItemAnalysis, ItemRef, PreferenceProfile
from recteam.agents.tracer import StepTrace
from recteam.memory.store import MemoryStore

__all__ = ["GROUP_RULE", "find_members", "group_analysis", "group_profile", "member_names"]

GROUP_RULE = "no pick any member dislikes; fit is the least any member gets (least misery)"

_PATTERNS = (
    re.compile(r"\b(?:me|myself)\s+and\s+([A-Za-z][\w'-]{1,30})", re.I),
    re.compile(r"\b([A-Za-z][\w'-]{1,30})\s+and\s+(?:me|I|myself)\b"),
    re.compile(r"\b(?:with|for)\s+([A-Za-z][\w'-]{1,30})\s+and\s+me\b", re.I),
    re.compile(r"\bwatch(?:ing)?\s+(?:\w+\s+)?with\s+([A-Za-z][\w'-]{1,30})\b", re.I),
)
# Words that follow "me and" / "with" without naming anyone.
_NOT_NAMES = {
    "my", "the", "a", "an", "our", "his", "her", "their", "friends", "family", "kids",
    "wife", "husband", "partner", "girlfriend", "boyfriend", "you", "it", "that", "this",
    "someone", "everyone", "them", "us", "tonight", "then", "so", "also", "i",
}  # fmt: skip


def member_names(message: str) -> list[str]:
    """Names the message puts beside the user, in order ('me and Sam' -> ['Sam'])."""
    names: list[str] = []
    for pattern in _PATTERNS:
        for m in pattern.finditer(message):
            name = m.group(1)
            if name.lower() not in _NOT_NAMES and name not in names:
                names.append(name)
    return names


def find_members(
    store: MemoryStore, user_id: str, message: str, step: StepTrace
) -> dict[str, PreferenceProfile]:
    """The remembered people the message names beside the user: user id -> lasting profile."""
    from recteam.agents.state_update import lasting_profile
    from recteam.agents.user_analyst import profile_record_id

    members: dict[str, PreferenceProfile] = {}
    mem = store.memories
    for name in member_names(message):
        started = time.perf_counter()
        found = None
        for candidate in dict.fromkeys((name, name.lower(), name.capitalize())):
            if candidate == user_id:
                break
            record = mem.get(candidate, profile_record_id(candidate))
            if record is not None:
                found = candidate
                members[candidate] = lasting_profile(PreferenceProfile.model_validate(record.data))
                break
        step.memory(
            "read",
            "preference",
            f"{found}'s profile, for a group pick"
            if found
            else f"no one called {name} is remembered: not a group pick",
            collection=mem.name,
            filter=f"user_id={name} (a person named in the message)",
            points=1 if found else 0,
            ms=(time.perf_counter() - started) * 1000,
        )
    return members


def _union_refs(*lists: list[ItemRef]) -> list[ItemRef]:
    out: dict[str, ItemRef] = {}
    for refs in lists:
        for r in refs:
            out.setdefault(r.id, r)
    return list(out.values())


def _union(*lists: list[str]) -> list[str]:
    return list(dict.fromkeys(v for values in lists for v in values))


def group_profile(
    user: PreferenceProfile, members: dict[str, PreferenceProfile]
) -> PreferenceProfile:
    """The profile the search runs on: everybody's dislikes and exclusions as hard limits, the
    request as the user said it, everybody's likes and genres as guides."""
    p = user.model_copy(deep=True)
    others = list(members.values())
    p.dislikes = _union_refs(p.dislikes, *(m.dislikes for m in others))
    # Each member's latest likes steer, interleaved, so no one's taste drowns the others'.
    p.likes = _union_refs(p.likes[-3:], *(m.likes[-3:] for m in others))
    p.liked_genres = _union(p.liked_genres, *(m.liked_genres for m in others))
    p.avoids = _union(p.avoids, *(m.avoids for m in others))
    p.disliked_people = _union(p.disliked_people, *(m.disliked_people for m in others))
    c = p.constraints
    c.exclude_genres = _union(c.exclude_genres, *(m.constraints.exclude_genres for m in others))
    c.exclude_items = _union_refs(
        c.exclude_items, *(m.constraints.exclude_items for m in others), *(m.chosen for m in others)
    )
    return p


def _for(name: str, pro: str) -> str:
    """A reason written to the user ('whom you said you like'), said of another member."""
    pro = re.sub(r"\byou said you\b", f"{name} said they", pro)
    pro = re.sub(r"\bwhich you asked for\b", "which was asked for", pro)
    return re.sub(r"\byou\b", name, pro)


def group_analysis(user: ItemAnalysis, members: dict[str, ItemAnalysis]) -> ItemAnalysis:
    """Least misery: the lowest fit of anyone; a reason for each member."""
    lowest = min([user.fit, *(a.fit for a in members.values())])
    parts = [f"for you, {user.pros[0]}" if user.pros else ""]
    parts += [f"for {name}, {_for(name, a.pros[0])}" for name, a in members.items() if a.pros]
    reason = "; ".join(p for p in parts if p)
    cons = [
        *user.cons,
        *(f"{name}: {_for(name, c)}" for name, a in members.items() for c in a.cons),
    ]
    return user.model_copy(
        update={
            "fit": lowest,
            "pros": [reason, *user.pros[1:]] if reason else list(user.pros),
            "cons": cons,
            "avoided": _union(user.avoided, *(a.avoided for a in members.values())),
        }
    )
