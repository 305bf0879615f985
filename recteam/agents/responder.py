"""Responder: the only role that writes prose for the user.

Reads:  the plan (act), the approved draft and its analyses, the profile, the message.
Writes: ctx.reply (text, and for RECOMMEND the items with a reason grounded in catalog facts and
        in the profile). It names only items on the candidate bus and films the conversation
        already holds: an LLM reply naming any other film (an item id or a title in its prose) is
        repaired once, then replaced by the offline reply. HTML in the text is escaped.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from autogen_core.models import ChatCompletionClient

from recteam.agents.answers import answer_question
from recteam.agents.base import RoleSpec
from recteam.agents.context import TurnContext
from recteam.agents.llm import structured_call
from recteam.agents.messages import (
    AskAbout,
    Candidate,
    PreferenceProfile,
    RecommendedItem,
    Reply,
)
from recteam.agents.recall import wish_phrase
from recteam.agents.reply_check import escape_html, foreign_titles
from recteam.agents.tracer import StepTrace
from recteam.agents.welcome import Welcome, traced_welcome

__all__ = ["RESPONDER"]

_QUESTIONS: dict[AskAbout, str] = {
    "genre": "What are you in the mood for: a genre, a feeling (light, dark, mind-bending), or a film you loved lately?",
    "liked_item": "Is there a film you loved that I can use as a starting point?",
    "era": "Any preference on era: recent releases, or older classics?",
    "alternative": "Those weren't right. What put you off: the genre, the era, or something else? Name a film you did enjoy and I'll steer from there.",
}


def _shape(reason: str) -> str:
    """A reason's template, names and titles left out: 'it is science fiction, as you asked' and
    'it is comedy, as you asked' share one, so a reply does not give it twice."""
    return " ".join(w for w in reason.split()[:3] if w.islower())


def _reason(ctx: TurnContext, item_id: str, used: set[str]) -> str:
    """One specific reason: the most specific pro that no earlier pick of this reply gave."""
    a = ctx.analyses.get(item_id)
    c = ctx.candidate(item_id)
    pros = list(a.pros) if a else []
    fresh = [p for p in pros if _shape(p) not in used]
    if fresh or pros:
        reason = (fresh or pros)[0]
        used.add(_shape(reason))
    elif c:
        reason = _facts_line(c)
    else:
        reason = "close to what you described"
    return reason[0].upper() + reason[1:] + "."


def _facts_line(c: Candidate) -> str:
    """A reason from facts alone when nothing the user said bears on the pick."""
    genres = " ".join(g.lower() for g in c.genres[:2])
    kind = (
        f"{'an' if genres[:1] in 'aeiou' and genres else 'a'} {genres} film" if genres else "a film"
    )
    if c.directors:
        return f"{kind} directed by {c.directors[0]}"
    if c.cast:
        return f"{kind} with {' and '.join(c.cast[:2])}"
    return kind


def _items(ctx: TurnContext) -> list[RecommendedItem]:
    out = []
    used: set[str] = set()
    for item_id in ctx.draft:
        c = ctx.candidate(item_id)
        if c is not None:
            out.append(
                RecommendedItem(
                    id=c.item.id,
                    title=c.item.title,
                    year=c.item.year,
                    genres=c.genres,
                    reason=_reason(ctx, item_id, used),
                    poster=c.poster,
                )
            )
    return out


_COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def _opening(ctx: TurnContext, n: int) -> str:
    """The first line, grounded in what this turn answers: a replacement, the films the request is
    like, its genres and years; its wording varies from turn to turn."""
    state = ctx.state or ctx.state_before
    u = ctx.understand()
    r = state.request
    many = _COUNT_WORDS.get(n, str(n))
    picks = "a pick" if n == 1 else f"{many} picks"
    if u.turned_down:
        seen = all(x.id in {s.id for s in u.seen_items} for x in u.turned_down)
        lead = "Fair enough, you've seen that." if seen else "Got it, not those."
        if len(u.turned_down) > 1 and seen:
            lead = "Fair enough, you've seen those."
        return f"{lead} {'Here is another' if n == 1 else f'Here are {many} others'} instead:"
    about: list[str] = []
    if ctx.group:
        about.append(f"for you and {' and '.join(ctx.group)}, with nothing either of you dislikes")
    liked = [i for i in r.like if state.stance_of(i.id) in ("liked", None)]
    if liked:
        about.append(f"since you liked {' and '.join(i.title for i in liked[-2:])}")
    if r.genres:
        about.append(f"for {' and '.join(g.lower() for g in r.genres)}")
    if r.year_min and r.year_max:
        about.append(f"from {r.year_min} to {r.year_max}")
    elif r.year_min:
        about.append(f"from {r.year_min} on")
    elif r.year_max:
        about.append(f"up to {r.year_max}")
    if r.wants:
        about.append(f"on the {' and '.join(r.wants[:2])} side")
    if r.surprise:
        return f"Something different, then: {picks} off the beaten track."
    if ctx.plan_prior is not None and not about:
        # nothing asked this time: the plan the user took up before is the starting point
        wish = wish_phrase(ctx.plan_prior)
        return f"Going by what worked last time{f' ({wish})' if wish else ''}, {'here is' if n == 1 else 'here are'} {picks}:"
    variants = [
        f"Here {'is' if n == 1 else 'are'} {picks}",
        f"Try {'this one' if n == 1 else f'these {many}'}",
        f"You might like {'this' if n == 1 else f'these {many}'}",
        f"{'One' if n == 1 else many.capitalize()} I'd suggest",
    ]
    head = variants[ctx.turn % len(variants)]
    return f"{head} {', '.join(about)}:" if about else f"{head}:"


def _describe_constraints(ctx: TurnContext) -> str:
    assert ctx.profile is not None
    c = ctx.profile.constraints
    parts = (
        [f"{g}" for g in c.genres]
        + [f"no {g}" for g in c.exclude_genres]
        + [f"with {p}" for p in c.people]
    )
    if c.year_min or c.year_max:
        parts.append(f"from {c.year_min or 'any year'} to {c.year_max or 'today'}")
    return ", ".join(parts) or "what you asked for"


_CLOSINGS = (
    "Tell me what you think, or ask about any of them.",
    "Seen any of these? Tell me and I'll adjust.",
    "Want more like one of these, or something else?",
)


_CLOSINGS_ONE = (
    "Tell me what you think, or ask me about it.",
    "Seen it already? Tell me and I'll find another.",
    "Want more like it, or something else?",
)


def _genres(genres: list[str]) -> str:
    return f", {', '.join(genres[:3]).lower()}" if genres else ""


def _chat(ctx: TurnContext) -> str:
    """Small talk in kind: thanks, goodbye, a greeting, a pick taken up, or a message about
    something else, each with a way back to films."""
    u = ctx.understand()
    if u.accepted_items:
        names = " and ".join(i.title for i in u.accepted_items[:2])
        return f"Great choice: enjoy {names}! Tell me how you liked it, or ask for more any time."
    if u.smalltalk == "bye" or "thank" in ctx.message.lower():
        return "You're welcome, enjoy the film! Come back any time for more."
    if u.smalltalk == "greeting":
        return "Hi! Tell me about a film you loved, or what you're in the mood for, and I'll find something."
    return (
        "I can only help with films. Tell me one you loved, or what you're in the mood for "
        "(a genre, a feeling, an era), and I'll find something."
    )


async def _which_film(ctx: TurnContext) -> str:
    """'Which Heat do you mean: Heat (1995), with Al Pacino, or Heat (1986), with Burt Reynolds?'"""
    options = ctx.understand().ambiguous
    found = {
        it.id: it for it in await asyncio.to_thread(ctx.store.catalog.get, [o.id for o in options])
    }
    parts = []
    for o in options:
        it = found.get(o.id)
        who = f", with {it.cast[0]}" if it and it.cast else ""
        parts.append(f"{o.label}{who}")
    listed = ", ".join(parts[:-1]) + f", or {parts[-1]}" if len(parts) > 1 else parts[0]
    return f"Which {options[0].title} do you mean: {listed}?"


async def _answer(ctx: TurnContext, step: StepTrace) -> str:
    plan = ctx.plan
    unknown = ctx.understand().asked_unknown
    if (plan is None or plan.about_item is None) and unknown:
        return (
            f"I don't know “{unknown}”: it isn't in my catalog, so I can't tell you about it. "
            "Name another film, or tell me what you're in the mood for."
        )
    if plan is None or plan.about_item is None:
        return "Which film would you like to know about?"
    items = await asyncio.to_thread(ctx.store.catalog.get, [plan.about_item.id])
    step.memory("read", "items", f"facts of {plan.about_item.label}")
    if not items:
        return f"I don't have {plan.about_item.label} in my catalog."
    step.thought(f"Answering '{plan.question or 'plot'}' from the catalog's facts.")
    return answer_question(items[0], plan.question)


async def _welcome(ctx: TurnContext, step: StepTrace) -> Welcome | None:
    """A returning user's greeting, on the first turn of a session only."""
    if not ctx.settings.welcome_back or ctx.dialogue or ctx.state_before.turn:
        return None
    lasting = ctx.lasting_before or PreferenceProfile(user_id=ctx.user_id)
    return await asyncio.to_thread(
        traced_welcome, ctx.store.memories, ctx.user_id, ctx.session_id, lasting, step
    )


def _remembered(ctx: TurnContext, items: list[RecommendedItem]) -> str:
    """'Last time you wanted something like this, you liked Heat.' when an earlier session's
    similar turn recommended a film the user liked or took up."""
    if ctx.recalled is None or ctx.profile is None:
        return ""
    liked = [*ctx.profile.likes, *ctx.profile.chosen]
    found = ctx.recalled.remembered_like(liked, {i.id for i in items}, ctx.session_id)
    if found is None:
        return ""
    ref, asked = found
    ctx.cited = ref
    return (
        f"Last time you asked for {asked}, you liked *{ref.title}*."
        if asked
        else f"Last time you wanted something like this, you liked *{ref.title}*."
    )


def _cited_line(ctx: TurnContext) -> str:
    return f"Last time you liked {ctx.cited.title} after a similar request." if ctx.cited else ""


def _greeted(welcome: Welcome | None, act: str, open_question: bool, text: str) -> str:
    """The reply with the welcome before it; when the reply is only an open question or a hello,
    the welcome's offer takes its place (one question, not two)."""
    if welcome is None:
        return text
    return welcome.text if act in ("CHAT", "ASK") and open_question else f"{welcome.line} {text}"


async def offline(ctx: TurnContext, step: StepTrace) -> Reply:
    plan = ctx.plan
    act = plan.act if plan else "ASK"
    welcome = await _welcome(ctx, step)
    if act == "RECOMMEND":
        items = _items(ctx)
        if not items:
            text = f"I couldn't find a film in my catalog that fits all of this: {_describe_constraints(ctx)}. Could we loosen one of those?"
            ctx.reply = Reply(act="ASK", text=_greeted(welcome, "ASK", False, text))
            ctx.reply.text = escape_html(ctx.reply.text)
            return ctx.reply
        lines = [_opening(ctx, len(items))]
        if cited := _remembered(ctx, items):
            lines[0] = f"{cited} {lines[0]}"
            if welcome is not None:  # the citation says what the welcome would: greet only
                welcome = Welcome("Welcome back!", welcome.offer)
        lines += [f"- **{i.title}** ({i.year}){_genres(i.genres)}: {i.reason}" for i in items]
        closings = _CLOSINGS if len(items) > 1 else _CLOSINGS_ONE
        lines.append(closings[ctx.turn % len(closings)])
        ctx.reply = Reply(act="RECOMMEND", text="\n".join(lines), items=items)
    elif act == "ANSWER":
        ctx.reply = Reply(act="ANSWER", text=await _answer(ctx, step))
    elif act == "CHAT":
        ctx.reply = Reply(act="CHAT", text=_chat(ctx))
    elif plan and plan.ask_about == "which_film" and ctx.understand().ambiguous:
        ctx.reply = Reply(act="ASK", text=await _which_film(ctx))
    else:
        focus = plan.ask_about if plan and plan.ask_about in _QUESTIONS else None
        ctx.reply = Reply(act="ASK", text=_QUESTIONS[focus or "genre"])
    if act not in ("CHAT", "ANSWER") and ctx.understand().unknown_titles:
        missing = ", ".join(f"“{t}”" for t in ctx.understand().unknown_titles[:3])
        ctx.reply.text = f"I don't know {missing}; it isn't in my catalog. " + ctx.reply.text
    elif welcome is not None and not (act == "CHAT" and ctx.understand().accepted_items):
        u = ctx.understand()
        ask_about = plan.ask_about if plan else None
        open_question = (act == "ASK" and ask_about in (None, "genre", "liked_item", "era")) or (
            act == "CHAT" and u.smalltalk in (None, "greeting")
        )
        ctx.reply.text = _greeted(welcome, ctx.reply.act, open_question, ctx.reply.text)
        ctx.welcome = welcome.line
    # It quotes the user's words and catalog text, which may hold HTML of their own.
    ctx.reply.text = escape_html(ctx.reply.text)
    return ctx.reply


def _nameable(ctx: TurnContext, fallback: Reply) -> list[str]:
    """Titles a reply may name: its picks, the film asked about, and the films the conversation
    already holds (the user's, the picks shown before, the profile's)."""
    state = ctx.state or ctx.state_before
    u = ctx.understand()
    refs = [
        *(f.item for f in [*ctx.state_before.films, *state.films]),
        *state.shown,
        *ctx.last_recommended,
        *ctx.session_recommended,
        *u.mentioned_items,
        *u.named_items,
        *u.ambiguous,
    ]
    if ctx.plan is not None and ctx.plan.about_item is not None:
        refs.append(ctx.plan.about_item)
    if ctx.profile is not None:
        p = ctx.profile
        refs += [*p.likes, *p.dislikes, *p.chosen, *p.constraints.exclude_items]
    if ctx.cited is not None:
        refs.append(ctx.cited)
    return [i.title for i in fallback.items] + [r.title for r in refs]


async def llm(ctx: TurnContext, step: StepTrace, client: ChatCompletionClient) -> Reply:
    assert ctx.profile is not None and ctx.plan is not None
    fallback = await offline(ctx, step)  # grounded items and reasons; the LLM only rewrites prose
    # The offline reply's facts: the catalog's answer, or the films a title could mean.
    quoted = fallback.act == "ANSWER" or ctx.plan.ask_about == "which_film"
    data: dict[str, Any] = {
        "message": ctx.message,
        "dialogue": [
            t.model_dump(mode="json") for t in ctx.dialogue[-ctx.settings.history_turns :]
        ],
        "profile": ctx.profile.model_dump(mode="json"),
        "items": [i.model_dump(mode="json", exclude={"poster"}) for i in fallback.items],
        "analyses": [
            ctx.analyses[i.id].model_dump(mode="json")
            for i in fallback.items
            if i.id in ctx.analyses
        ],
        "ask_about": ctx.plan.ask_about if fallback.act == "ASK" else None,
        "facts": fallback.text if quoted else "",
        # what memory holds that fits: a returning user's greeting, a film liked last time
        "remembered": " ".join(x for x in (ctx.welcome, _cited_line(ctx)) if x),
    }
    allowed = {i.id: i for i in fallback.items}
    nameable = _nameable(ctx, fallback)
    said = [ctx.message, fallback.text, *(t.text for t in ctx.dialogue if t.speaker == "user")]
    picked = [
        c.model_dump(mode="json", exclude={"poster"})  # a URL's words are no facts to name
        for i in fallback.items
        if (c := ctx.candidate(i.id))
    ]
    given = json.dumps([data, picked], ensure_ascii=False)  # the facts a reply may draw on

    def check(reply: Reply) -> str | None:
        stray = [i.id for i in reply.items if i.id not in allowed]
        if stray:
            return f"the reply lists items that are not among the given items: {', '.join(stray)}"
        prose = "\n".join([reply.text, *(i.reason for i in reply.items)])
        if names := foreign_titles(prose, ctx.linker, nameable, said, given):
            return (
                f"the reply names films that are not among the given items: {', '.join(names)}. "
                "Name only the given items, the film asked about and films the user named"
            )
        return None

    reply = await structured_call(
        client,
        step,
        "responder",
        Reply,
        check=check,
        stream_text=step.reply_chunk if ctx.settings.stream else None,
        act=fallback.act,
        **data,
    )
    # Titles, years and genres come from the catalog, whatever the model wrote.
    items = [
        allowed[i.id].model_copy(update={"reason": i.reason or allowed[i.id].reason})
        for i in reply.items
    ]
    if fallback.act == "RECOMMEND" and not items:
        items = fallback.items
    text = escape_html(reply.text)
    if ctx.welcome and ctx.welcome not in text:  # a returning user is greeted whatever it wrote
        text = f"{escape_html(ctx.welcome)} {text}"
    ctx.reply = Reply(act=fallback.act, text=text, items=items)
    return ctx.reply


RESPONDER = RoleSpec(
    role="responder",
    description="Writes the reply to the user.",
    title=lambda ctx: f"writing the reply ({ctx.plan.act if ctx.plan else 'ASK'})",
    offline=offline,
    llm=llm,
)
