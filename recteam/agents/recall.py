"""Recall: what the team remembers of situations like this one.

A *situation* is what the user is asking for, in words: the message and the request the dialogue
state holds ("something tense for tonight (genres: thriller; wants: smart)"). Lessons, accepted
plans and episodes are stored with the situation they came from embedded, so one embedding of
the present situation and three filtered queries in the user's own tenant find:

- lessons (reflection) learnt in similar situations, and this session's latest lesson whatever
  the situation (it is about the conversation in progress);
- plans the user accepted in similar situations: what was asked, what was searched, which film
  they took (demonstrations for an LLM manager, a prior for the offline one);
- turns of earlier sessions with a similar request ("last time you wanted something like this,
  you liked Heat").

A memory counts only when it is close enough (`team.recall_min_score`, cosine): a lesson learnt
over horror picks says nothing about a request for a comedy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from recteam.agents.dialogue_state import Request
from recteam.agents.messages import ItemRef
from recteam.agents.settings import TeamSettings
from recteam.agents.tracer import StepTrace
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import MemoryRecord

__all__ = ["Recalled", "recall", "request_summary", "situation_text", "wish_phrase"]


def request_summary(r: Request) -> str:
    """The request in a few words: 'genres: comedy; years 1990-1999; wants: lighter'."""
    parts = []
    if r.genres:
        parts.append("genres: " + ", ".join(r.genres))
    if r.exclude_genres:
        parts.append("no " + ", ".join(r.exclude_genres))
    if r.year_min or r.year_max:
        parts.append(f"years {r.year_min or '…'}-{r.year_max or '…'}")
    if r.people:
        parts.append("with " + ", ".join(r.people))
    if r.like:
        parts.append("like " + ", ".join(i.label for i in r.like))
    if r.wants:
        parts.append("wants: " + ", ".join(r.wants))
    if r.avoids:
        parts.append("avoids: " + ", ".join(r.avoids))
    if r.topics:
        parts.append("about: " + ", ".join(r.topics))
    return "; ".join(parts)


def _years(r: Request) -> str:
    lo, hi = r.year_min, r.year_max
    if lo and hi:
        return f"from the {lo}s" if lo % 10 == 0 and hi == lo + 9 else f"from {lo}-{hi}"
    if lo:
        return f"from after {lo}"
    return f"from before {hi}" if hi else ""


def wish_phrase(r: Request) -> str:
    """The request as a person would say it: 'a funny comedy film from the 1990s' ('' if empty)."""
    words = [*r.wants[:2], " or ".join(g.lower() for g in r.genres[:2]), "film"]
    if r.topics:
        words.append("about " + ", ".join(r.topics[:3]))
    if years := _years(r):
        words.append(years)
    if r.like:
        words.append("like " + " and ".join(i.title for i in r.like[:2]))
    if len([w for w in words if w]) == 1:  # nothing but "film"
        return ""
    phrase = " ".join(w for w in words if w)
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def situation_text(message: str, request: Request) -> str:
    summary = request_summary(request)
    text = message.strip()[:500]
    return f"{text} ({summary})" if summary else text


def _asked(record: MemoryRecord) -> str:
    """What a remembered turn asked for, in words ('' when it held no request)."""
    request = record.data.get("request")
    return wish_phrase(Request.model_validate(request)) if request else ""


@dataclass
class Recalled:
    situation: str = ""
    lessons: list[MemoryRecord] = field(default_factory=list)
    plans: list[MemoryRecord] = field(default_factory=list)
    episodes: list[MemoryRecord] = field(default_factory=list)

    def plan_request(self) -> Request | None:
        """The request of the closest accepted plan, as a prior."""
        for p in self.plans:
            if p.data.get("request"):
                return Request.model_validate(p.data["request"])
        return None

    def remembered_like(
        self, liked: list[ItemRef], exclude: set[str], session_id: str
    ) -> tuple[ItemRef, str] | None:
        """A film the user liked or took up that an earlier session's similar turn
        recommended, with that turn's request: what "last time ..." can cite."""
        ids = {i.id: i for i in liked}
        for ep in self.episodes:
            for rec in ep.data.get("recommended", []):
                ref = ids.get(rec.get("id"))
                if ref is not None and ref.id not in exclude:
                    return ref, _asked(ep)
        for plan in self.plans:
            if plan.session_id == session_id:
                continue
            for rec in plan.data.get("accepted", []):
                if rec.get("id") not in exclude and rec.get("id"):
                    return ItemRef.model_validate(rec), _asked(plan)
        return None


def recall(
    store: MemoryStore,
    user_id: str,
    session_id: str,
    situation: str,
    settings: TeamSettings,
    step: StepTrace,
) -> Recalled:
    """Reads lessons, accepted plans and earlier sessions' turns like `situation` (one embedding,
    three queries); each read is traced with its collection, filter, points and time."""
    mem = store.memories
    found = Recalled(situation=situation)
    if settings.lessons == 0 and settings.recall_plans == 0 and settings.recall_episodes == 0:
        return found
    started = time.perf_counter()
    vector = store.embedder.embed_query(situation)
    step.thought(
        f"Situation: {situation[:200]} (embedded in {(time.perf_counter() - started) * 1000:.0f} ms)"
    )
    floor = settings.recall_min_score

    def read(kind: str, limit: int, not_session: str | None = None) -> list[MemoryRecord]:
        t0 = time.perf_counter()
        hits = mem.nearest(user_id, vector, (kind,), limit, floor, not_session)
        where = f"user_id={user_id}, kind={kind}, score>={floor:g}" + (
            ", other sessions" if not_session else ""
        )
        what = "; ".join(f"{h.text[:80]} ({h.score:.2f})" for h in hits[:2]) or "nothing close"
        step.memory(
            "read",
            kind,
            what,
            collection=mem.name,
            filter=where,
            points=len(hits),
            ms=(time.perf_counter() - t0) * 1000,
        )
        return hits

    if settings.lessons:
        similar = read("reflection", settings.lessons)
        t0 = time.perf_counter()
        latest = mem.list(user_id, ("reflection",), limit=1, session_id=session_id)
        if latest:
            step.memory(
                "read",
                "reflection",
                f"this session's latest lesson: {latest[0].text[:100]}",
                collection=mem.name,
                filter=f"user_id={user_id}, kind=reflection, session_id={session_id}",
                points=1,
                ms=(time.perf_counter() - t0) * 1000,
            )
        ids = {r.id for r in latest}
        found.lessons = [*latest, *(r for r in similar if r.id not in ids)]
    if settings.recall_plans:
        found.plans = read("plan", settings.recall_plans)
    if settings.recall_episodes:
        found.episodes = read("episode", settings.recall_episodes, not_session=session_id)
    return found
