"""User analyst: updates the PreferenceProfile from the message and memory, and writes it back.

Reads:  the message, the profile as memory held it, what was last recommended.
Writes: ctx.profile; memory: the profile (kind preference) and one feedback point per film the
        user says they liked or disliked (kind feedback).
Tools:  the entity linker and catalog title lookup (mentions -> catalog items).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

from autogen_core.models import ChatCompletionClient
from pydantic import BaseModel, Field

from recteam.agents.base import RoleSpec
from recteam.agents.context import TurnContext
from recteam.agents.intent import asks_for_suggestions
from recteam.agents.llm import structured_call
from recteam.agents.messages import ItemRef, PreferenceProfile
from recteam.agents.offline.moves import QuestionKind
from recteam.agents.offline.understanding import Understanding
from recteam.agents.reader_hints import reader_hints
from recteam.agents.tracer import StepTrace
from recteam.errors import NotFoundError
from recteam.memory.colike import record_likes
from recteam.memory.items import title_key
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import MemoryRecord

__all__ = ["USER_ANALYST", "ProfileDelta", "profile_record_id", "save_profile"]

_PROFILE_NS = uuid.UUID("0b6f3c52-88a1-4c7e-9d0e-4a8d2f1b7c33")


def profile_record_id(user_id: str) -> str:
    """One profile point per user, overwritten on each update."""
    return str(uuid.uuid5(_PROFILE_NS, user_id))


class ProfileDelta(BaseModel):
    """What the LLM user analyst reports of one message: the offline reader's Understanding with
    titles in place of catalog items; titles are linked after, and both go through one merge."""

    liked_titles: list[str] = Field(default_factory=list)
    disliked_titles: list[str] = Field(default_factory=list)
    seen_titles: list[str] = Field(default_factory=list)
    accepted_titles: list[str] = Field(
        default_factory=list, description="recommended films the user takes up, not yet seen"
    )
    rejected_titles: list[str] = Field(
        default_factory=list, description="recommended films turned down with no opinion given"
    )
    never_titles: list[str] = Field(
        default_factory=list, description="'never suggest X again', 'not X': ruled out"
    )
    asked_about_title: str | None = Field(default=None, description="the film a question is about")
    question: QuestionKind | None = None
    liked_people: list[str] = Field(default_factory=list)
    disliked_people: list[str] = Field(default_factory=list)
    required_people: list[str] = Field(
        default_factory=list, description="'something with Tom Hanks': must be in the cast"
    )
    genres: list[str] = Field(default_factory=list, description="asked for in this request")
    exclude_genres: list[str] = Field(default_factory=list, description="ruled out for now")
    disliked_genres: list[str] = Field(
        default_factory=list, description="'I hate horror': ruled out for good"
    )
    liked_genres: list[str] = Field(default_factory=list, description="'I love westerns'")
    year_min: int | None = None
    year_max: int | None = None
    wants: list[str] = Field(default_factory=list)
    avoids: list[str] = Field(default_factory=list)
    lasting_avoids: list[str] = Field(
        default_factory=list, description="'I can't stand gore': avoided for good"
    )
    topics: list[str] = Field(
        default_factory=list, description="subject words: 'heist', 'submarine', 'Paris'"
    )
    count: int | None = Field(default=None, ge=1, le=10, description="'just one': 1")
    new_direction: bool = Field(
        default=False, description="earlier years and wishes no longer apply"
    )
    surprise: bool = False
    rejects_last: bool = False


def _summary(p: PreferenceProfile) -> str:
    c = p.constraints
    parts = []
    if p.likes:
        parts.append("likes " + ", ".join(i.label for i in p.likes[-5:]))
    if p.dislikes:
        parts.append("dislikes " + ", ".join(i.label for i in p.dislikes[-5:]))
    if c.genres or p.liked_genres:
        parts.append("wants " + ", ".join([*c.genres, *p.liked_genres]))
    if c.exclude_genres:
        parts.append("no " + ", ".join(c.exclude_genres))
    if p.wants:
        parts.append("in the mood for " + ", ".join(p.wants))
    if c.year_min or c.year_max:
        parts.append(f"years {c.year_min or '…'}-{c.year_max or '…'}")
    return "; ".join(parts) or "nothing known yet"


async def save_profile(
    store: MemoryStore,
    user_id: str,
    session_id: str,
    step: StepTrace,
    before: PreferenceProfile,
    after: PreferenceProfile,
    source: str = "message",
    colike: bool = False,
) -> None:
    """Writes the profile, and a feedback point for each newly liked or disliked film; with
    `colike` (team.colike), adds the new likes to the co-like statistics first (they read the
    feedback points written before this update: a restated like counts once)."""
    mem = store.memories
    new_likes = [i.id for i in after.likes if all(k.id != i.id for k in before.likes)]
    if colike and new_likes:
        disliked = [i.id for i in after.dislikes]
        w = await asyncio.to_thread(record_likes, store, user_id, new_likes, disliked)
        step.memory(
            "write",
            "colike",
            f"{w.new} new like(s) paired with {w.earlier} earlier like(s); counts only, no user id",
            collection=w.collection,
            filter="by film id",
            points=w.points,
            ms=w.ms,
        )
    record = MemoryRecord(
        id=profile_record_id(user_id),
        user_id=user_id,
        kind="preference",
        text=_summary(after),
        data=after.model_dump(mode="json"),
        session_id=session_id,
    )
    feedback = [
        MemoryRecord(
            user_id=user_id,
            kind="feedback",
            text=f"{'liked' if liked else 'disliked'} {ref.label}",
            data={"item": ref.model_dump(), "liked": liked, "source": source},
            session_id=session_id,
        )
        for ref, liked in [*[(i, True) for i in after.likes], *[(i, False) for i in after.dislikes]]
        if all(k.id != ref.id for k in (before.likes if liked else before.dislikes))
    ]
    started = time.perf_counter()
    await asyncio.to_thread(mem.add_many, [record, *feedback])  # one embedding batch, one call
    ms = (time.perf_counter() - started) * 1000
    for r in [record, *feedback]:
        step.memory(
            "write",
            r.kind,
            r.text,
            collection=mem.name,
            filter=f"user_id={user_id}",
            points=1,
            ms=ms,
        )


def _report_loads(ctx: TurnContext, step: StepTrace) -> None:
    """What the session read from memory before the team started (the profile, the dialogue
    state, the session's turns), reported in the step that reads it."""
    assert ctx.profile_before is not None
    if not ctx.loaded:
        step.memory("read", "preference", _summary(ctx.profile_before))
    for load in ctx.loaded:
        summary = _summary(ctx.profile_before) if load.kind == "preference" else load.summary
        step.memory(
            "read",
            load.kind,
            summary,
            collection=ctx.store.memories.name,
            filter=load.filter,
            points=load.points,
            ms=load.ms,
        )


async def _apply(ctx: TurnContext, step: StepTrace, u: Understanding) -> PreferenceProfile:
    """Merges what the message states into the dialogue state and the long-term profile, and
    writes the profile back (both paths end here, through the one merge step)."""
    before = ctx.lasting_before or PreferenceProfile(user_id=ctx.user_id)
    state, lasting, effective = await asyncio.to_thread(ctx.advance, u)
    ctx.state = state
    ctx.profile = effective
    changed = [
        f"{f.item.label}: {f.stance}" for f in state.films if ctx.state_before.film(f.item.id) != f
    ]
    if changed:
        step.thought("Stances: " + "; ".join(changed) + ".")
    r = state.request
    if not r.is_empty():
        step.thought("Request now: " + r.model_dump_json(exclude_defaults=True))
    await save_profile(
        ctx.store, ctx.user_id, ctx.session_id, step, before, lasting, colike=ctx.settings.colike
    )
    return effective


async def offline(ctx: TurnContext, step: StepTrace) -> PreferenceProfile:
    assert ctx.profile_before is not None
    _report_loads(ctx, step)
    u = ctx.understand()
    if (
        asks_for_suggestions(ctx.message)
        and u.mentioned_people
        and not (u.liked_people or u.disliked_people)
    ):
        # "any good Tom Hanks movies?": a person named in a request is a person wanted.
        u = u.model_copy(update={"liked_people": list(u.mentioned_people)})
        step.thought(
            f"Read {', '.join(u.mentioned_people)} as wanted: named in a request for suggestions."
        )
    return await _apply(ctx, step, u)


def _link(ctx: TurnContext, step: StepTrace, titles: list[str]) -> list[ItemRef]:
    """Titles to catalog films: the last picks, the films the offline reader found in this
    message and those this conversation named come first ("Heat" stays Heat (1995) when that
    is the Heat of the dialogue), then the catalog's own title lookup."""
    offline = ctx.understand()
    s = ctx.state_before
    nearby = [
        *ctx.last_recommended,
        *offline.mentioned_items,
        *(f.item for f in s.films),
        *s.shown,
    ]
    refs = []
    for title in titles:
        key = title_key(re.sub(r"\s*\(\d{4}\)\s*$", "", title))
        near = next((r for r in nearby if title_key(r.title) == key), None)
        if near is not None:
            refs.append(near)
            continue
        try:
            item = ctx.store.catalog.resolve_title(title)
        except NotFoundError:
            step.notice("repair", f"{title!r} is not in the catalog; left out of the profile")
            continue
        refs.append(ItemRef(id=item.id, title=item.title, year=item.year))
    return refs


async def llm(ctx: TurnContext, step: StepTrace, client: ChatCompletionClient) -> PreferenceProfile:
    assert ctx.profile_before is not None
    _report_loads(ctx, step)
    delta = await structured_call(
        client,
        step,
        "user_analyst",
        ProfileDelta,
        message=ctx.message,
        dialogue=[t.model_dump(mode="json") for t in ctx.dialogue[-ctx.settings.history_turns :]],
        profile=ctx.profile_before.model_dump(mode="json"),
        last_recommended=[i.model_dump() for i in ctx.last_recommended],
        reader=reader_hints(ctx.understand()),
    )

    fields = {
        "asked": [delta.asked_about_title] if delta.asked_about_title else [],
        "liked_items": delta.liked_titles,
        "disliked_items": delta.disliked_titles,
        "seen_items": delta.seen_titles,
        "accepted_items": delta.accepted_titles,
        "rejected_items": delta.rejected_titles,
        "excluded_items": delta.never_titles,
    }
    # One trip to the catalog for every title the model named.
    linked = await asyncio.to_thread(
        lambda: {name: _link(ctx, step, titles) for name, titles in fields.items()}
    )
    asked = linked.pop("asked")
    offline = ctx.understand()
    u = Understanding(
        liked_items=linked["liked_items"],
        disliked_items=linked["disliked_items"],
        seen_items=linked["seen_items"],
        accepted_items=linked["accepted_items"],
        rejected_items=linked["rejected_items"],
        excluded_items=linked["excluded_items"],
        named_items=offline.named_items,
        asked_about=asked[0] if asked else None,
        question=delta.question,
        liked_people=delta.liked_people,
        disliked_people=delta.disliked_people,
        required_people=delta.required_people,
        genres=delta.genres,
        exclude_genres=[*delta.exclude_genres, *delta.disliked_genres],
        disliked_genres=delta.disliked_genres,
        liked_genres=delta.liked_genres,
        year_min=delta.year_min,
        year_max=delta.year_max,
        wants=delta.wants,
        avoids=[*delta.avoids, *delta.lasting_avoids],
        lasting_avoids=delta.lasting_avoids,
        topics=delta.topics,
        count=delta.count,
        new_direction=delta.new_direction,
        surprise=delta.surprise,
        rejects_last=delta.rejects_last,
        last_recommended=ctx.last_recommended,
    )
    return await _apply(ctx, step, u)


USER_ANALYST = RoleSpec(
    role="user_analyst",
    description="Updates the user's preference profile from the message and memory.",
    title=lambda ctx: "updating the preference profile",
    offline=offline,
    llm=llm,
)
