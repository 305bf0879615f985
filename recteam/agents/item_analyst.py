"""Item analyst: judges the candidates against the profile in ONE batched step and picks the draft.

Reads:  ctx.candidates (the bus), the profile, the liked items' facts from the catalog, and its
        own judgements of this user's films kept in memory (agents/judgements.py): a model's
        judgement made against the same profile is reused, not asked for again.
Writes: ctx.analyses (fit, pros, cons, the facts behind them) and ctx.draft (ids, best first);
        ctx.judged (the model's judgements, which a revise round re-picks from without a call);
        the judgements of the picks (and of what a model judged) to memory.
Tools:  catalog.get (facts of liked items).
"""

from __future__ import annotations

import asyncio

from autogen_core.models import ChatCompletionClient

from recteam.agents.base import RoleSpec
from recteam.agents.context import TurnContext
from recteam.agents.group import group_analysis
from recteam.agents.judgements import load_judgements, profile_key, save_judgements
from recteam.agents.llm import RoleModelError, structured_call
from recteam.agents.messages import ItemAnalyses, ItemAnalysis
from recteam.agents.scoring import LikedFacts, analyse
from recteam.agents.tracer import StepTrace
from recteam.memory.items import title_key

__all__ = ["ITEM_ANALYST", "pick_draft"]

# The batched LLM call judges what the draft needs: the top of the bus, twice the picks (room for
# the reflector to strike some); the rest keep their offline scores.
JUDGED_PER_PICK = 2
MAX_JUDGED = 12


def _franchise(title: str) -> str:
    """'Alien', 'Aliens' and 'Alien 3' share a key; used to keep a draft from being one series."""
    words = title_key(title).split()
    return (words[0].rstrip("s") if words else "")[:8]


def pick_draft(ctx: TurnContext) -> list[str]:
    ranked = sorted(ctx.analyses.values(), key=lambda a: a.fit, reverse=True)
    draft: list[str] = []
    series: set[str] = set()
    # A film titled like one the user named ('Heat' 1986 after 'Heat' 1995) reads as a mix-up.
    named = ctx.profile.likes + ctx.profile.dislikes if ctx.profile else []
    titles = {title_key(i.title) for i in named}
    for a in ranked:
        c = ctx.candidate(a.item_id)
        if c is None or a.item_id in ctx.rejected_this_turn or title_key(c.item.title) in titles:
            continue
        key = _franchise(c.item.title)
        if key in series:
            continue
        draft.append(a.item_id)
        series.add(key)
        if len(draft) == ctx.picks:
            break
    return draft


async def _liked_facts(ctx: TurnContext, step: StepTrace) -> LikedFacts:
    assert ctx.profile is not None
    liked = await asyncio.to_thread(ctx.store.catalog.get, [i.id for i in ctx.profile.likes[-10:]])
    if liked:
        step.memory(
            "read",
            "items",
            f"facts of {len(liked)} liked item(s): {', '.join(i.label for i in liked)}",
        )
    topics = (ctx.state or ctx.state_before).request.topics
    return LikedFacts.of(liked, ctx.profile, topics)


async def _least_misery(ctx: TurnContext, step: StepTrace) -> None:
    """A group pick: each candidate judged against each member's own profile; the fit is the
    lowest anyone gets, and the reason says why it suits each of them."""
    topics = (ctx.state or ctx.state_before).request.topics
    per_member: dict[str, dict[str, ItemAnalysis]] = {}
    own = ctx.solo_profile or ctx.profile
    assert own is not None
    liked = await asyncio.to_thread(ctx.store.catalog.get, [i.id for i in own.likes[-10:]])
    facts = LikedFacts.of(liked, own, topics)
    mine = {c.item.id: analyse(c, own, facts) for c in ctx.candidates}
    for name, profile in ctx.group.items():
        liked = await asyncio.to_thread(ctx.store.catalog.get, [i.id for i in profile.likes[-10:]])
        facts = LikedFacts.of(liked, profile, topics)
        per_member[name] = {c.item.id: analyse(c, profile, facts) for c in ctx.candidates}
    for item_id in list(ctx.analyses):
        theirs = {name: judged[item_id] for name, judged in per_member.items()}
        ctx.analyses[item_id] = group_analysis(mine[item_id], theirs)
    step.thought(
        f"Judged {len(ctx.candidates)} candidates for each of {len(ctx.group) + 1} people; "
        "each keeps the lowest fit anyone gets (least misery)."
    )


def _key(ctx: TurnContext) -> str:
    assert ctx.profile is not None
    return profile_key(ctx.profile, (ctx.state or ctx.state_before).request.topics)


async def _remembered(ctx: TurnContext, step: StepTrace) -> None:
    """On a turn's first pass: a model's judgements of films on the bus, kept from earlier turns
    or sessions against the same profile, join ctx.judged (reused, not asked again)."""
    if ctx.revise_round or not ctx.candidates:
        return
    ids = [c.item.id for c in ctx.candidates[:MAX_JUDGED]]
    stored = await asyncio.to_thread(load_judgements, ctx.store, ctx.user_id, ids, _key(ctx), step)
    for item_id, (analysis, source) in stored.items():
        if source == "model":
            ctx.judged.setdefault(item_id, analysis)


async def _keep(
    ctx: TurnContext, step: StepTrace, analyses: list[ItemAnalysis], source: str
) -> None:
    labels = {c.item.id: c.item.label for c in ctx.candidates}
    await asyncio.to_thread(
        save_judgements,
        ctx.store,
        ctx.user_id,
        ctx.session_id,
        [(a, labels[a.item_id]) for a in analyses if a.item_id in labels],
        _key(ctx),
        source,  # type: ignore[arg-type]
        step,
    )


async def _score(ctx: TurnContext, step: StepTrace) -> ItemAnalyses:
    assert ctx.profile is not None
    liked = await _liked_facts(ctx, step)
    ctx.analyses = {c.item.id: analyse(c, ctx.profile, liked) for c in ctx.candidates}
    if ctx.group:
        await _least_misery(ctx, step)
    await _remembered(ctx, step)
    # On a revise round the model's judgements from earlier in this turn still stand: the bus
    # lost the struck films and gained a few at its tail, which keep their offline scores (as
    # the bus below MAX_JUDGED always does).
    kept = {i: a for i, a in ctx.judged.items() if i in ctx.analyses}
    ctx.analyses.update(kept)
    ctx.draft = pick_draft(ctx)
    step.thought(
        f"Scored {len(ctx.analyses) - len(kept)} candidates from catalog facts"
        + (f", kept the model's judgements of {len(kept)}" if kept else "")
        + f"; picked {len(ctx.draft)}."
    )
    return ItemAnalyses(analyses=list(ctx.analyses.values()), draft=ctx.draft)


async def offline(ctx: TurnContext, step: StepTrace) -> ItemAnalyses:
    result = await _score(ctx, step)
    # The picks' judgements are kept (a model's, reused above, are kept as they were).
    fresh = [ctx.analyses[i] for i in ctx.draft if i not in ctx.judged]
    await _keep(ctx, step, fresh, "offline")
    return result


async def llm(ctx: TurnContext, step: StepTrace, client: ChatCompletionClient) -> ItemAnalyses:
    assert ctx.profile is not None
    baseline = await _score(ctx, step)  # facts-based scores for every candidate, and the fallback
    top = ctx.candidates[: min(MAX_JUDGED, JUDGED_PER_PICK * max(ctx.picks, 1))]
    judged = [c for c in top if c.item.id not in ctx.judged]
    if not judged:
        if top:
            step.thought("Every film at the top of the bus was judged before: no model call.")
        return baseline
    result = await structured_call(
        client,
        step,
        "item_analyst",
        ItemAnalyses,
        profile=ctx.profile.model_dump(mode="json"),
        # the ranking's signals stay out: they cost tokens and the model judges from facts
        candidates=[
            c.model_dump(mode="json", exclude={"signals", "score", "popularity", "rank"})
            for c in judged
        ],
        message=ctx.message,
        picks=ctx.picks,
    )
    known = {c.item.id for c in ctx.candidates}  # a judgement of any film on the bus counts
    unknown = [a.item_id for a in result.analyses if a.item_id not in known]
    if unknown:
        step.notice(
            "repair", f"ignored judgements of items not on the bus: {', '.join(unknown[:5])}"
        )
    accepted: dict[str, ItemAnalysis] = {
        a.item_id: a for a in result.analyses if a.item_id in known
    }
    if not accepted:
        raise RoleModelError("no judgement named an item on the candidate bus")
    await _keep(ctx, step, list(accepted.values()), "model")
    ctx.judged = {**ctx.judged, **accepted}
    ctx.analyses.update(accepted)
    ctx.draft = pick_draft(ctx)
    return ItemAnalyses(analyses=list(ctx.analyses.values()), draft=ctx.draft)


ITEM_ANALYST = RoleSpec(
    role="item_analyst",
    description="Judges candidates against the user's profile and picks the draft.",
    title=lambda ctx: f"judging {len(ctx.candidates)} candidates",
    offline=offline,
    llm=llm,
)
