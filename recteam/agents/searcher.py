"""Searcher: fills the candidate bus.

Reads:  the profile (hard constraints, likes, dislikes, wants), the message, items recommended
        earlier in the session and items the reflector struck this turn.
Writes: ctx.candidates (the candidate bus).
Tools:  search_catalog (ItemCatalog.search: dense + BM25 + liked-item examples fused with RRF,
        hard constraints as engine filters); when a co-mention table is configured
        (ctx.comentions), the items most often named with the liked, seen and already
        recommended ones, under the same constraints, fused with the search results as one more ranked list.
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
from recteam.memory.backend import HasIds, Where
from recteam.memory.catalog import SearchRequest, SearchResult
from recteam.memory.items import CatalogItem, point_id

__all__ = ["SEARCHER", "build_request"]

COMENTION_WEIGHT = 1.0  # of the co-mention list against the search's own fused ranking


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


def _with_comentions(
    ctx: TurnContext, step: StepTrace, request: SearchRequest, results: list[SearchResult]
) -> list[SearchResult]:
    """Fuses the search results with the items named alongside the liked, seen and already
    recommended ones (reciprocal rank fusion); co-mentioned items pass the same hard filters."""
    assert ctx.comentions is not None and ctx.profile is not None
    p = ctx.profile
    seeds = [i.id for i in [*ctx.session_recommended, *p.constraints.exclude_items, *p.likes]]
    seeds = [s for s in dict.fromkeys(seeds) if s not in set(request.dislike_ids)]
    limit = request.limit or len(results)
    related = ctx.comentions.related(seeds, limit=2 * limit, exclude=request.exclude_ids)
    if not related:
        return results
    catalog, name = ctx.store.catalog, ctx.store.catalog.collection
    assert name is not None
    ids = [point_id(i) for i, _ in related]
    where = catalog.constraints(request).and_(Where(must=(HasIds(tuple(ids)),)))
    allowed = {
        h.payload["item_id"]: h for h in ctx.store.backend.filter_only(name, where, len(ids))
    }
    k = catalog.settings.rrf_k
    fused: dict[str, float] = {}
    items = {r.item.id: r.item for r in results}
    for rank, r in enumerate(results):
        fused[r.item.id] = 1 / (k + rank + 1)
    for rank, (item_id, _) in enumerate(i for i in related if i[0] in allowed):
        fused[item_id] = fused.get(item_id, 0.0) + COMENTION_WEIGHT / (k + rank + 1)
        items.setdefault(item_id, CatalogItem.from_payload(allowed[item_id].payload))
    ranked = sorted(fused, key=lambda i: -fused[i])[:limit]
    added = sum(1 for i in ranked if i not in {r.item.id for r in results})
    step.thought(f"Co-mentions with {len(seeds)} film(s) added {added} candidate(s).")
    return [SearchResult(items[i], fused[i]) for i in ranked]


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
    if ctx.comentions is not None:
        results = await asyncio.to_thread(_with_comentions, ctx, step, request, results)
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
