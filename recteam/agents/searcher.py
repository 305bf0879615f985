"""Searcher: fills the candidate bus.

Reads:  the profile (hard constraints, likes, dislikes, wants), the message, items recommended
        earlier in the session and items the reflector struck this turn.
Writes: ctx.candidates (the candidate bus).
Tools:  search_catalog (ItemCatalog.search: dense + BM25 + liked-item examples fused with RRF,
        hard constraints as engine filters).
The query is built from the typed profile in code, with or without an LLM configured: a search
request is a data structure, and writing it needs no model call on the critical path.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from autogen_core.models import ChatCompletionClient
from pydantic import BaseModel, Field

from recteam.agents.base import RoleSpec
from recteam.agents.context import TurnContext
from recteam.agents.llm import structured_call
from recteam.agents.messages import Candidate, CandidateBus, ItemRef, PreferenceProfile
from recteam.agents.offline.text import tokenize
from recteam.agents.tracer import StepTrace
from recteam.errors import NotFoundError
from recteam.memory.catalog import SearchRequest, SearchResult

__all__ = ["SEARCHER", "build_request"]


def topic_words(ctx: TurnContext) -> list[str]:
    """The message's own subject words ("heist", "Paris", "submarine"): what no facet, genre or
    mention captured. Chat words, cue words and named films or people are left out, so "nothing
    before 2000, no horror" adds nothing and "Something" does not match titles with that word."""
    mentions = ctx.linker.link(ctx.message)
    plain = ctx.linker.lexicon.plain_words
    words = []
    for token in tokenize(ctx.message):
        inside = any(m.start <= token.start < m.stop for m in mentions)
        if (
            not inside
            and token.key not in plain
            and not any(ch.isdigit() for ch in token.key)
            and len(token.key) > 2
        ):
            words.append(token.raw)
    return words


def build_request(ctx: TurnContext, profile: PreferenceProfile) -> SearchRequest:
    c = profile.constraints
    # Wishes ("lighter") and genres are not search words: a wish matches titles containing it,
    # and a genre word matches every film of the genre, where BM25 then favours the shortest
    # (most obscure) entries. Genres are filters, wishes are scored by the item analyst.
    words = [*topic_words(ctx), *profile.liked_people]
    excluded = {i.id for i in c.exclude_items} | {i.id for i in profile.dislikes}
    excluded |= {i.id for i in ctx.session_recommended} | ctx.rejected_this_turn
    return SearchRequest(
        # Liked items steer by example (a recommend retriever); the text query carries the
        # subject words, wishes and genres; the hard constraints below keep out what was ruled out.
        query=" ".join(dict.fromkeys(words)).strip(),
        genres=list(c.genres),
        exclude_genres=list(c.exclude_genres),
        people=list(c.people),
        year_min=c.year_min,
        year_max=c.year_max,
        like_ids=[i.id for i in profile.likes[-5:]],
        dislike_ids=[i.id for i in profile.dislikes[-5:]],
        exclude_ids=sorted(excluded - {i.id for i in profile.likes[-5:]}),
        limit=ctx.settings.candidates,
    )


def _candidate(rank: int, r: SearchResult) -> Candidate:
    it = r.item
    return Candidate(
        item=ItemRef(id=it.id, title=it.title, year=it.year),
        genres=it.genres,
        cast=it.cast[:8],
        popularity=it.popularity,
        score=r.score,
        rank=rank,
    )


class SearchQuery(BaseModel):
    query: str = Field(max_length=300)


async def _search(ctx: TurnContext, step: StepTrace, request: SearchRequest) -> CandidateBus:
    args = {k: v for k, v in asdict(request).items() if v not in (None, [], "")}
    started = step.tool_called("search_catalog", args)
    try:
        results = await asyncio.to_thread(ctx.store.catalog.search, request)
    except NotFoundError as exc:  # e.g. a genre no film has: an empty bus, said in the trace
        step.thought(f"The search found nothing: {exc}")
        results = []
    step.tool_returned(
        "search_catalog", [f"{r.item.label} {r.score:.3f}" for r in results], started
    )
    ctx.candidates = [_candidate(rank, r) for rank, r in enumerate(results, start=1)]
    return CandidateBus(candidates=ctx.candidates)


async def offline(ctx: TurnContext, step: StepTrace) -> CandidateBus:
    assert ctx.profile is not None
    return await _search(ctx, step, build_request(ctx, ctx.profile))


async def llm(ctx: TurnContext, step: StepTrace, client: ChatCompletionClient) -> CandidateBus:
    assert ctx.profile is not None
    written = await structured_call(
        client,
        step,
        "searcher",
        SearchQuery,
        message=ctx.message,
        profile=ctx.profile.model_dump(mode="json"),
    )
    request = build_request(ctx, ctx.profile)
    request.query = written.query
    return await _search(ctx, step, request)


SEARCHER = RoleSpec(
    role="searcher",
    description="Fills the candidate bus from the catalog with hybrid search under the hard constraints.",
    title=lambda ctx: (
        "searching the catalog"
        if not ctx.rejected_this_turn
        else "searching again without struck items"
    ),
    offline=offline,
    llm=llm,
)
