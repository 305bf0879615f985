"""Reflector: checks the draft before anyone sees it, and learns from rejections.

Reads:  ctx.draft, the bus, the profile's hard constraints, dislikes and seen items, this
        session's earlier recommendations, and the item analyst's cons (a con naming something
        the user wanted to avoid, "nothing violent", is a reason to revise).
Writes: ctx.critique; on REVISE, the struck items into ctx.rejected_this_turn (the searcher runs
        again without them); when the rounds are spent, it approves the draft minus every item that
        still breaks a rule, so a violation never reaches the user.
        Strategy-level lessons (after a rejected recommendation) go to reflective memory.
The rule checks run in code with or without an LLM: they are facts, not judgement. The model
judges the first draft that passes them, once a turn (agents/base.py): a later draft is made of
the item analyst's next-best judged films, and the rules check it in code.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from autogen_core.models import ChatCompletionClient

from recteam.agents.base import RoleSpec
from recteam.agents.context import TurnContext
from recteam.agents.llm import structured_call
from recteam.agents.messages import Critique, CritiqueIssue, ItemRef, PreferenceProfile
from recteam.agents.tracer import StepTrace, TurnTracer
from recteam.memory.genres import genre_keys
from recteam.memory.items import normalize_key
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import MemoryRecord

__all__ = ["REFLECTOR", "rule_issues", "write_lesson"]


def rule_issues(ctx: TurnContext) -> list[CritiqueIssue]:
    assert ctx.profile is not None
    p, c = ctx.profile, ctx.profile.constraints
    banned: dict[str, Literal["seen", "disliked"]] = {i.id: "seen" for i in c.exclude_items}
    banned |= {i.id: "disliked" for i in p.dislikes}
    earlier = {i.id for i in ctx.session_recommended}
    issues: list[CritiqueIssue] = []
    for item_id in ctx.draft:
        cand = ctx.candidate(item_id)
        if cand is None:
            issues.append(
                CritiqueIssue(
                    kind="not_in_catalog", item_id=item_id, detail="not on the candidate bus"
                )
            )
            continue
        label, genres = cand.item.label, {normalize_key(g) for g in cand.genres}
        if item_id in banned:
            issues.append(
                CritiqueIssue(
                    kind=banned[item_id], item_id=item_id, detail=f"{label} is {banned[item_id]}"
                )
            )
        if item_id in earlier:
            issues.append(
                CritiqueIssue(
                    kind="already_recommended",
                    item_id=item_id,
                    detail=f"{label} was recommended earlier",
                )
            )
        year = cand.item.year
        if (c.year_min and (year is None or year < c.year_min)) or (
            c.year_max and (year is None or year > c.year_max)
        ):
            issues.append(
                CritiqueIssue(
                    kind="constraint",
                    item_id=item_id,
                    detail=f"{label} is outside the years asked for",
                )
            )
        for g in c.genres:
            if not genres & genre_keys(g):
                issues.append(
                    CritiqueIssue(kind="constraint", item_id=item_id, detail=f"{label} is not {g}")
                )
        for g in c.exclude_genres:
            if genres & genre_keys(g):
                issues.append(
                    CritiqueIssue(
                        kind="constraint",
                        item_id=item_id,
                        detail=f"{label} is {g}, which was ruled out",
                    )
                )
        analysis = ctx.analyses.get(item_id)
        avoided = [f for f in (analysis.avoided if analysis else []) if f in p.avoids]
        if avoided and _alternatives(ctx, set(p.avoids)):
            # The item analyst (offline or a model) found something the user wanted to avoid
            # ("nothing violent") in this film's facts, and the bus has films without it.
            issues.append(
                CritiqueIssue(
                    kind="avoid",
                    item_id=item_id,
                    detail=f"{label} seems {' and '.join(avoided)}, which the user wanted to avoid",
                )
            )
        cast = {normalize_key(x) for x in cand.cast}
        for person in c.people:
            if normalize_key(person) not in cast:
                issues.append(
                    CritiqueIssue(
                        kind="constraint", item_id=item_id, detail=f"{person} is not in {label}"
                    )
                )
    return issues


def _alternatives(ctx: TurnContext, avoids: set[str]) -> bool:
    """Candidates off the draft whose facts show none of what the user wants to avoid."""
    return any(
        c.item.id not in ctx.draft
        and c.item.id not in ctx.rejected_this_turn
        and not set(getattr(ctx.analyses.get(c.item.id), "avoided", [])) & avoids
        for c in ctx.candidates
    )


def _decide(ctx: TurnContext, issues: list[CritiqueIssue]) -> Critique:
    struck = {i.item_id for i in issues if i.item_id}
    if struck and ctx.revise_round < ctx.settings.max_revise_rounds:
        ctx.revise_round += 1
        ctx.rejected_this_turn |= struck
        return Critique(verdict="REVISE", issues=issues, round=ctx.revise_round)
    # Out of rounds (or nothing wrong): approve what is left; nothing that breaks a rule stays.
    # A soft wish ("nothing violent") never empties the reply: those picks stay.
    hard = {i.item_id for i in issues if i.item_id and i.kind != "avoid"}
    ctx.draft = [i for i in ctx.draft if i not in hard]
    return Critique(verdict="APPROVE", issues=issues, round=ctx.revise_round)


async def offline(ctx: TurnContext, step: StepTrace) -> Critique:
    issues = rule_issues(ctx)
    step.thought(
        "Checked constraints, dislikes, seen and earlier picks: "
        + ("no problem." if not issues else "; ".join(i.detail for i in issues))
    )
    ctx.critique = _decide(ctx, issues)
    return ctx.critique


async def llm(ctx: TurnContext, step: StepTrace, client: ChatCompletionClient) -> Critique:
    assert ctx.profile is not None
    issues = rule_issues(ctx)
    if issues:  # a rule broken is reason enough; no model call needed to say so
        ctx.critique = _decide(ctx, issues)
        return ctx.critique
    picks = [ctx.candidate(i) for i in ctx.draft]
    judged = await structured_call(
        client,
        step,
        "reflector",
        Critique,
        profile=ctx.profile.model_dump(mode="json"),
        draft=[p.model_dump(mode="json") for p in picks if p],
        analyses=[ctx.analyses[i].model_dump(mode="json") for i in ctx.draft if i in ctx.analyses],
        message=ctx.message,
    )
    on_draft = (
        [i for i in judged.issues if i.item_id in ctx.draft] if judged.verdict == "REVISE" else []
    )
    ctx.critique = _decide(ctx, on_draft)
    return ctx.critique


REFLECTOR = RoleSpec(
    role="reflector",
    description="Checks the draft against constraints, dislikes and earlier picks.",
    title=lambda ctx: f"checking the draft (round {ctx.revise_round + 1})",
    offline=offline,
    llm=llm,
)


async def write_lesson(
    tracer: TurnTracer,
    store: MemoryStore,
    user_id: str,
    rejected: list[ItemRef],
    profile: PreferenceProfile,
    why: str,
    situation: str = "",
    session_id: str | None = None,
) -> MemoryRecord:
    """Strategy-level reflection (MACRS): after a rejected recommendation, a lesson the manager
    reads on later turns. It is stored with the situation the picks answered (what the user had
    asked for), embedded, so the manager finds it again when a similar request comes. Traced as
    a reflector step of its own."""
    step = tracer.step("reflector", "learning from a rejected recommendation", "offline")
    titles = ", ".join(i.label for i in rejected) or "the last picks"
    known = len(profile.likes) + len(profile.constraints.genres) + len(profile.wants)
    advice = "ask_first" if known < 2 else "diversify"
    text = f"The user turned down {titles} ({why}). " + (
        "Too little was known: ask about taste before recommending again."
        if advice == "ask_first"
        else "Move away from these picks: vary genre and era next time."
    )
    record = MemoryRecord(
        user_id=user_id,
        kind="reflection",
        text=text,
        data={"advice": advice, "rejected": [i.model_dump() for i in rejected]},
        session_id=session_id,
        situation=situation or None,
    )
    started = time.perf_counter()
    await asyncio.to_thread(store.memories.add, record)
    step.memory(
        "write",
        "reflection",
        text + (f" [situation: {situation[:120]}]" if situation else ""),
        collection=store.memories.name,
        filter=f"user_id={user_id}",
        points=1,
        ms=(time.perf_counter() - started) * 1000,
    )
    step.finish()
    return record
