"""Manager (planner): chooses this turn's act, ASK / RECOMMEND / ANSWER / CHAT, and the specialists.

Reads:  the message, the profile as memory held it, the dialogue, and ctx.requested_act: an act
        the caller asked for is taken as is, with no judgement. From Qdrant, by similarity to the
        present situation (agents/recall.py): lessons, plans the user accepted, earlier sessions.
Writes: ctx.plan (a typed Plan, never free text), ctx.recalled (what memory held that fits).
Tools:  memory recall (one embedding, three filtered queries in the user's tenant).
Runs concurrently with the user analyst: it reads the offline understanding of the message
(cheap and deterministic) rather than waiting for the analyst's update.
"""

from __future__ import annotations

import asyncio
import re

from autogen_core.models import ChatCompletionClient

from recteam.agents.base import RoleSpec
from recteam.agents.context import TurnContext
from recteam.agents.group import GROUP_RULE, find_members
from recteam.agents.intent import asks_for_suggestions
from recteam.agents.llm import RoleModelError, structured_call
from recteam.agents.messages import AskAbout, Plan, PreferenceProfile, Role
from recteam.agents.offline.understanding import Understanding
from recteam.agents.reader_hints import reader_hints
from recteam.agents.recall import recall, request_summary, situation_text
from recteam.agents.tracer import StepTrace

__all__ = ["MANAGER", "specialists_for"]


def specialists_for(act: str) -> list[Role]:
    if act == "RECOMMEND":
        return ["user_analyst", "searcher", "item_analyst", "reflector", "responder"]
    return ["user_analyst", "responder"]


def _missing_facet(profile: PreferenceProfile) -> AskAbout:
    if not (profile.constraints.genres or profile.liked_genres or profile.wants):
        return "genre" if not profile.likes else "era"
    return "liked_item" if not profile.likes else "era"


def _lesson_advice(ctx: TurnContext) -> str | None:
    return str(ctx.lessons[0].data.get("advice")) if ctx.lessons else None


async def _recall(ctx: TurnContext, step: StepTrace) -> None:
    """Reads what memory holds of situations like this one into ctx.recalled and ctx.lessons."""
    state, _, _ = ctx.advance(ctx.understand())
    situation = situation_text(ctx.message, state.request)
    ctx.recalled = await asyncio.to_thread(
        recall, ctx.store, ctx.user_id, ctx.session_id, situation, ctx.settings, step
    )
    ctx.lessons = ctx.recalled.lessons
    if ctx.settings.group:
        ctx.group = await asyncio.to_thread(find_members, ctx.store, ctx.user_id, ctx.message, step)


def _requested(ctx: TurnContext, step: StepTrace) -> Plan | None:
    if ctx.requested_act is None or (
        ctx.requested_act == "ANSWER" and not ctx.understand().asked_about
    ):
        return None
    plan = Plan(act=ctx.requested_act, rationale=f"the caller asked for {ctx.requested_act}")
    if plan.act == "ANSWER":
        plan.about_item = ctx.understand().asked_about
        plan.question = ctx.understand().question
    plan.specialists = specialists_for(plan.act)
    step.thought(plan.rationale)
    ctx.plan = plan
    return plan


def _new_info(u: Understanding, people_asked: bool) -> bool:
    return people_asked or bool(
        u.liked_items
        or u.genres
        or u.liked_genres
        or u.wants
        or u.avoids
        or u.liked_people
        or u.required_people
        or u.year_min
        or u.year_max
        or u.exclude_genres
        or u.disliked_items
        or u.count
        or u.surprise
        or u.new_direction
        or u.clarified
    )


def _decide(ctx: TurnContext, u: Understanding, after: PreferenceProfile) -> Plan:
    """The act, by rules read top to bottom; the first that holds decides."""
    asked = asks_for_suggestions(ctx.message) or bool(u.count or u.surprise or u.new_direction)
    people_asked = asked and bool(u.mentioned_people)
    new_info = _new_info(u, people_asked) or (asked and bool(u.topics))
    wants_picks = asked or new_info
    if u.ambiguous:
        options = ", ".join(r.label for r in u.ambiguous)
        return Plan(
            act="ASK",
            ask_about="which_film",
            rationale=f"the title could mean {options}; nothing in the dialogue decides",
        )
    if ctx.group and not (u.asked_about or u.smalltalk == "bye"):
        names = " and ".join(ctx.group)
        return Plan(act="RECOMMEND", rationale=f"a pick for the user and {names}: {GROUP_RULE}")
    before = ctx.state_before
    if u.clarified is not None and before.clarify and before.clarify_stance == "asked_about":
        return Plan(
            act="ANSWER",
            about_item=u.clarified,
            question=before.clarify_question,  # type: ignore[arg-type]
            rationale=f"the user meant {u.clarified.label}: answer what they asked",
        )
    if u.asked_unknown and not (u.liked_items or u.genres or asked):
        return Plan(
            act="ANSWER", rationale=f"a question about {u.asked_unknown!r}, not in the catalog"
        )
    # "Is it any good?" asks about the film; "any good horror?" asks for films.
    strongly_asked = asked and asks_for_suggestions(re.sub(r"(?i)\bany good\b", "", ctx.message))
    if u.asked_about is not None and not (
        u.liked_items or u.genres or u.liked_genres or u.wants or strongly_asked
    ):
        return Plan(
            act="ANSWER",
            about_item=u.asked_about,
            question=u.question,
            rationale=f"a question about {u.asked_about.label} ({u.question or 'plot'})",
        )
    if u.smalltalk and not new_info:
        return Plan(act="CHAT", rationale=f"small talk ({u.smalltalk}) with nothing to act on")
    r = after.constraints
    # Asking outright with anything to go on ("any good 80s movies?") is enough to search.
    known = (
        after.known_enough()
        or people_asked
        or (
            asked
            and bool(r.year_min or r.year_max or u.topics or after.avoids or u.mentioned_items)
        )
    )
    new_request = bool(
        u.genres or u.year_min or u.year_max or u.wants or u.required_people or u.exclude_genres
    )
    if u.accepted_items and not (asked or new_request):
        # "We love Moana already! We'll try Zootopia", "I'll check out Zodiac tonight": taking a
        # film up ends the search.
        return Plan(act="CHAT", rationale="the user took up a film")
    if u.turned_down and not new_info:
        seen_only = all(r.id in {s.id for s in u.seen_items} for r in u.turned_down)
        # A first "no" gets replacements steered by what is known and the rest of the picks; a
        # second flat "no" in a row, with little known, asks what would help.
        again = any(f.stance == "rejected" for f in ctx.state_before.films)
        thin = len(after.likes) + len(after.constraints.genres) + len(after.wants) < 2
        if seen_only or not (again and thin):
            why = "already seen" if seen_only else "turned down"
            return Plan(act="RECOMMEND", rationale=f"the last picks were {why}: replace them")
        return Plan(
            act="ASK",
            ask_about="alternative",
            rationale="the picks were turned down twice with little known: ask what would help",
        )
    if u.accepts_last and not wants_picks:
        return Plan(act="CHAT", rationale="the user is happy with the last picks")
    said_anything = new_info or u.mentioned_items or u.mentioned_people or u.seen_items
    if not (asked or said_anything or u.accepts_last or u.rejects_last):
        return Plan(act="CHAT", rationale="nothing about films to act on: answer in kind")
    excluded_only = bool(u.seen_items or u.excluded_items) and known
    if known and (wants_picks or excluded_only or not ctx.dialogue):
        thin = (
            len(after.likes)
            + len(after.constraints.genres)
            + len(after.wants)
            + len(after.liked_genres)
            < 2
        )
        if _lesson_advice(ctx) == "ask_first" and thin and not asked:
            return Plan(
                act="ASK",
                ask_about=_missing_facet(after),
                rationale="a lesson says: ask before recommending again",
            )
        return Plan(act="RECOMMEND", rationale="enough is known to search")
    prior = ctx.recalled.plan_request() if ctx.recalled else None
    if asked and prior is not None and not ctx.dialogue:
        # "What should I watch tonight?" from someone who took a film up after a request like
        # this before: that request is the starting point, and the reply says so.
        ctx.plan_prior = prior
        return Plan(
            act="RECOMMEND",
            rationale=f"a similar request before was met ({request_summary(prior) or 'no facets'}): starting from it",
        )
    return Plan(
        act="ASK",
        ask_about=_missing_facet(after),
        rationale="too little is known to recommend well",
    )


async def offline(ctx: TurnContext, step: StepTrace) -> Plan:
    assert ctx.profile_before is not None
    if (plan := _requested(ctx, step)) is not None:
        return plan
    u = ctx.understand()
    _, _, after = ctx.advance(u)
    await _recall(ctx, step)
    plan = _decide(ctx, u, after)
    plan.specialists = specialists_for(plan.act)
    step.thought(plan.rationale)
    ctx.plan = plan
    return plan


async def llm(ctx: TurnContext, step: StepTrace, client: ChatCompletionClient) -> Plan:
    assert ctx.profile_before is not None
    if (plan := _requested(ctx, step)) is not None:
        return plan
    u = ctx.understand()
    await _recall(ctx, step)
    plans = ctx.recalled.plans if ctx.recalled else []
    mentioned = [i.model_dump() for i in [*u.liked_items, *u.disliked_items, *u.seen_items]]
    if u.asked_about is not None:
        mentioned.append(u.asked_about.model_dump())
    plan = await structured_call(
        client,
        step,
        "manager",
        Plan,
        message=ctx.message,
        dialogue=[t.model_dump(mode="json") for t in ctx.dialogue[-ctx.settings.history_turns :]],
        profile=ctx.profile_before.model_dump(mode="json"),
        lessons=[r.text for r in ctx.lessons],
        # accepted plans of similar situations: demonstrations of what worked for this user
        past_plans=[r.text for r in plans],
        mentioned_items=mentioned,
        reader=reader_hints(u),
    )
    if plan.act == "ANSWER":
        # The item must be one the catalog knows; the model's guess is replaced by the linked one.
        if u.asked_about is None:
            raise RoleModelError("ANSWER about an item that is not in the catalog")
        plan.about_item = u.asked_about
        plan.question = plan.question or u.question
    if plan.ask_about == "which_film" and not u.ambiguous:
        plan.ask_about = None  # no title here could mean several films: nothing to ask about
    plan.specialists = specialists_for(plan.act)
    ctx.plan = plan
    return plan


MANAGER = RoleSpec(
    role="manager",
    description="Chooses the act for this turn and the specialists to run.",
    title=lambda ctx: "planning the turn",
    offline=offline,
    llm=llm,
)
