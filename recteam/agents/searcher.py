"""Searcher: fills the candidate bus.

Reads:  the profile (hard constraints, likes, dislikes, wants), the message, the films named in
        this conversation (either side, in order), items the reflector struck this turn.
Writes: ctx.candidates (the candidate bus).
Tools:  search_catalog (ItemCatalog.search: dense + BM25 + liked-item examples fused with RRF,
        hard constraints as engine filters), then a wider pool under the same constraints: films
        named with this conversation's films (ctx.comentions, the shipped or a caller's table,
        plus what users liked together when team.colike: memory/colike.py), the nearest
        descriptions to the last films named, the films sharing their words (a director, a
        franchise, a setting: IDF-weighted BM25 terms), the most popular films (overall and in
        the wanted genres) and films with the people the user named. The pool is ranked by
        agents/relevance.py (weights in data/ranking.toml) and the top fills the bus.
The query is built from the typed profile in code, with or without an LLM configured: a search
request is a data structure, and writing it needs no model call on the critical path. (With
llm.agents.searcher.model set, the model writes the query text once a turn; a revise round reuses it.)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, replace

import numpy as np
from autogen_core.models import ChatCompletionClient
from pydantic import BaseModel, Field

from recteam.agents.base import RoleSpec
from recteam.agents.context import TurnContext
from recteam.agents.dialogue_state import Request
from recteam.agents.group import GROUP_RULE, group_profile
from recteam.agents.llm import structured_call
from recteam.agents.messages import Candidate, CandidateBus, ItemRef, PreferenceProfile
from recteam.agents.offline.text import tokenize, without_urls
from recteam.agents.recall import request_summary
from recteam.agents.relevance import (
    CAST_TOP,
    POOL_RECORDER,
    Scored,
    TurnSignals,
    explain,
    pool_sizes,
    rank,
    weights,
)
from recteam.agents.tracer import StepTrace
from recteam.errors import NotFoundError
from recteam.memory.backend import HasIds, Match, Where
from recteam.memory.catalog import SearchRequest, SearchResult
from recteam.memory.colike import colike_store, fused
from recteam.memory.cooccurrence import CoMentionTable
from recteam.memory.genres import genre_keys
from recteam.memory.items import CatalogItem, normalize_key, point_id

__all__ = ["SEARCHER", "build_request"]


def topic_words(ctx: TurnContext) -> list[str]:
    """The message's own subject words ("heist", "Paris", "submarine"): what no facet, genre or
    mention captured. Chat words, cue words and named films or people are left out, so "nothing
    before 2000, no horror" adds nothing and "Something" does not match titles with that word."""
    message = without_urls(ctx.message)
    mentions = ctx.linker.link(message)
    plain = ctx.linker.lexicon.plain_words
    words = []
    for token in tokenize(message):
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
    request = (ctx.state or ctx.state_before).request
    words = [*topic_words(ctx), *request.topics, *profile.liked_people]
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
        like_ids=list(dict.fromkeys(i.id for i in [*profile.likes[-5:], *profile.chosen[-2:]])),
        dislike_ids=[i.id for i in profile.dislikes[-5:]],
        exclude_ids=sorted(excluded - {i.id for i in profile.likes[-5:]}),
        limit=ctx.settings.candidates,
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _candidate(n: int, r: Scored) -> Candidate:
    it = r.item
    return Candidate(
        item=ItemRef(id=it.id, title=it.title, year=it.year),
        genres=it.genres,
        cast=it.cast[:8],
        directors=list(getattr(it, "directors", None) or []),
        summary=_cut(it.description or "", 400),
        poster=it.poster,
        popularity=it.popularity,
        score=r.score,
        rank=n,
        signals={k: round(v, 3) for k, v in r.signals.items()},
    )


def _named(ctx: TurnContext) -> tuple[list[str], set[str], list[str]]:
    """Films and people named in this conversation by either side, in the order they came up,
    this message's last: what the ranking steers by (co-mentions, shared cast and title words,
    similar descriptions, people's films). Earlier user messages are linked again (about a
    millisecond each); profile films not found that way (an earlier session's) come first."""
    assert ctx.profile is not None
    p = ctx.profile
    films = [
        i.id
        for i in [*p.constraints.exclude_items, *p.dislikes, *p.likes, *ctx.session_recommended]
    ]
    by_user = {i.id for i in [*p.constraints.exclude_items, *p.dislikes, *p.likes]}
    people = [*p.liked_people, *p.constraints.people]
    for turn in ctx.dialogue:
        if turn.speaker == "user":
            for m in ctx.linker.link(turn.text):
                if m.item is not None:
                    films.append(m.item.id)
                    by_user.add(m.item.id)
                elif m.person is not None:
                    people.append(m.person)
        else:
            films += [i.id for i in turn.items]
    now = ctx.understand()
    films += [i.id for i in now.mentioned_items]
    by_user |= {i.id for i in now.mentioned_items}
    people += now.mentioned_people
    if ctx.group:
        # A group pick steers by every member's latest likes, taking turns, so the films
        # nearest the end (the strongest guides) are not all one person's.
        mine = [i.id for i in p.likes if i.id in by_user][-2:]
        theirs = [[i.id for i in m.likes[-2:]] for m in ctx.group.values()]
        for pair in zip(*[mine, *theirs], strict=False):
            films += pair
        by_user |= {i for ids in theirs for i in ids}
    disliked = set(p.disliked_people)
    return (
        list(reversed(dict.fromkeys(reversed(films)))),  # each once, at its last place
        by_user,
        [x for x in dict.fromkeys(people) if x not in disliked],
    )


def _without_titles(ctx: TurnContext, text: str) -> str:
    """The words the user said around the films they named: a title is no description ("I
    loved The Martian" is no wish for films about Martians; the film's own vector steers)."""
    tokens = tokenize(text)
    out, last = [], 0
    for m in ctx.linker.link_tokens(text, tokens):
        if m.kind == "title":
            out.append(text[last : m.start])
            last = m.stop
    out.append(text[last:])
    return " ".join("".join(out).split())[-600:]


def _dialogue_vector(ctx: TurnContext, turns: int = 6) -> np.ndarray:
    """What the user said in this session, as one direction: the mean of their last messages'
    vectors."""
    said = [_without_titles(ctx, t.text) for t in ctx.dialogue if t.speaker == "user"][
        -(turns - 1) :
    ]
    # Earlier messages through the disk cache (each is embedded once, in one batch); this one
    # through the query cache, where the message vector already put it.
    vectors = [
        *ctx.store.embedder.embed(said),
        ctx.store.embedder.embed_query(_without_titles(ctx, ctx.message)),
    ]
    total = np.sum(vectors, axis=0)
    norm = float(np.linalg.norm(total))
    return np.asarray(total / norm if norm else total, dtype=np.float32)


def _content_direction(
    seed_vectors: list[np.ndarray], message: np.ndarray, dialogue: np.ndarray
) -> np.ndarray:
    """One query vector whose dot product with a film's vector is the description-similarity
    part of its relevance (the mean of the seeds standing in for their maximum)."""
    w = weights()
    q = w["query_message"] * message + w["query_dialogue"] * dialogue
    if seed_vectors:
        q = q + w["similar_seeds"] * np.mean(seed_vectors, axis=0)
    norm = float(np.linalg.norm(q))
    return np.asarray(q / norm if norm else message, dtype=np.float32)


def _pool(
    ctx: TurnContext, step: StepTrace, request: SearchRequest, results: list[SearchResult]
) -> list[Scored]:
    """Gathers candidates from every source under the hard constraints and ranks them
    (agents/relevance.py); returns the whole ranked pool."""
    assert ctx.profile is not None
    catalog = ctx.store.catalog
    sizes = pool_sizes()
    seeds, by_user, people = _named(ctx)
    references = [
        point_id(i) for i in dict.fromkeys([*request.like_ids, *request.dislike_ids, *seeds])
    ]
    where = catalog.constraints(request, exclude_point_ids=references)
    pool: dict[str, CatalogItem] = {r.item.id: r.item for r in results}
    sources = {"search": len(pool)}

    def add(name: str, items: list[CatalogItem]) -> None:
        sources[name] = len(items)
        for it in items:
            pool.setdefault(it.id, it)

    comention: dict[str, float] = {}
    table = ctx.comentions
    live, read = CoMentionTable(), None
    if ctx.settings.colike and seeds:  # what users liked together, beside the shipped table
        try:
            live, read = colike_store(ctx.store).read(seeds, ctx.settings.colike_min_people)
        except Exception as exc:  # a side signal: its failure is said, and the search goes on
            step.notice("error", f"co-like counts could not be read ({type(exc).__name__})")
    if read is not None:
        step.memory(
            "read",
            "colike",
            f"co-like counts of {read.points} of the {read.asked} film(s) named (aggregates)",
            collection=read.collection,
            filter=f"ids of the {read.asked} film(s) named",
            points=read.points,
            ms=read.ms,
        )
        if read.points:
            table = fused(table, live)
    if table is not None and seeds:
        related = table.related(seeds, limit=sizes["comention"], exclude=seeds)
        ids = tuple(point_id(i) for i, _ in related)
        if ids:
            add("co-mentions", catalog.matching(where.and_(Where(must=(HasIds(ids),))), len(ids)))
            comention = dict(related)
    # The signals' own side first: the content source below looks for what they favour.
    # Only the user's films steer by title, cast and description: the sequel or co-star of a film
    # the team itself suggested last turn is no answer to what the user said (on ReDial, too,
    # the seeker's films are the better guide). Co-mentions above use every film named.
    # A film the user disliked steers nothing (co-mentions aside): its look-alikes are what they
    # do not want.
    disliked = {i.id for i in ctx.profile.dislikes}
    steer = [i for i in seeds if i in by_user and i not in disliked][-sizes["seeds"] :]
    team = [i for i in seeds if i not in by_user][-3:]  # what the team suggested: a weaker guide
    by_id = {it.id: it for it in catalog.get([*steer, *team])}
    vectors = catalog.vectors(list(by_id.values()))
    message_vector = ctx.store.embedder.embed_query(_without_titles(ctx, ctx.message))
    dialogue_vector = _dialogue_vector(ctx)
    add(
        "content",
        catalog.nearest(
            _content_direction(
                [vectors[i] for i in steer[-3:] if i in vectors], message_vector, dialogue_vector
            ),
            where,
            sizes["content"],
        ),
    )
    named = [i for i in seeds if i not in disliked]
    words = catalog.word_neighbors(
        list(dict.fromkeys([*steer[-3:], *team, *named[-4:]])), where, sizes["words"]
    )
    add("shared words", [it for hits in words.values() for it, _ in hits])
    add("popular", catalog.popular(where, sizes["popular"]))
    wanted = list(dict.fromkeys([*ctx.profile.constraints.genres, *ctx.profile.liked_genres]))
    if wanted:
        keys = tuple(sorted({k for g in wanted for k in genre_keys(g)}))
        in_genre = where.and_(Where(must=(Match("genre_keys", keys),)))
        add("popular in genre", catalog.popular(in_genre, sizes["popular_in_genre"]))
    if people:
        keys = tuple(normalize_key(p) for p in people)
        with_people = where.and_(Where(must=(Match("people_keys", keys),)))
        add("people", catalog.popular(with_people, sizes["people"]))
    cast = {normalize_key(p) for i in steer if i in by_id for p in by_id[i].cast[:CAST_TOP]}
    if cast:
        with_cast = where.and_(Where(must=(Match("people_keys", tuple(sorted(cast))),)))
        add("shared cast", catalog.popular(with_cast, sizes["cast"]))
    for sid in seeds:
        pool.pop(sid, None)

    vectors.update(catalog.vectors([it for i, it in pool.items() if i not in vectors]))
    signals = TurnSignals(
        seeds=[by_id[i] for i in steer if i in by_id],
        team_seeds=[by_id[i] for i in team if i in by_id],
        named=named,
        words={k: {it.id: share for it, share in hits} for k, hits in words.items()},
        seed_vectors=vectors,
        wanted_genres=wanted,
        people=people,
        message_vector=message_vector,
        dialogue_vector=dialogue_vector,
        comention=comention,
        search_rank={r.item.id: n for n, r in enumerate(results)},
        title_df=ctx.linker.title_word_counts,
        # a word in more than ~0.5% of titles ("love", "night") does not mark a series
        rare_title_df=max(30, len(ctx.linker.film_titles) // 200),
        recent=sizes["seeds"],
    )
    ranked = rank(pool.values(), vectors, signals)
    if (record := POOL_RECORDER.get()) is not None:
        record(ranked)
    step.thought(
        f"Ranked {len(ranked)} candidate(s) from "
        + ", ".join(f"{name} {n}" for name, n in sources.items() if n)
        + (f", steered by {len(seeds)} film(s) named" if seeds else "")
        + "."
    )
    for r in ranked[:3]:  # the why of the top (every candidate carries its signals on the bus)
        step.thought(f"{r.item.label}: {r.score:.2f} ({explain(r.signals, 4)})")
    return ranked


class SearchQuery(BaseModel):
    query: str = Field(max_length=300)


async def _search(ctx: TurnContext, step: StepTrace, request: SearchRequest) -> CandidateBus:
    args = {k: v for k, v in asdict(request).items() if v not in (None, [], "")}
    limit = request.limit or ctx.settings.candidates
    wide = replace(request, limit=max(pool_sizes()["search"], limit))
    started = step.tool_called("search_catalog", args)
    try:
        results = await asyncio.to_thread(ctx.store.catalog.search, wide)
    except NotFoundError as exc:  # e.g. a genre no film has: an empty bus, said in the trace
        step.thought(f"The search found nothing: {exc}")
        results = []
    step.tool_returned(
        "search_catalog", [f"{r.item.label} {r.score:.3f}" for r in results[:limit]], started
    )
    if request.like_ids:
        # The user's liked films steer the engine's recommend query as positive examples and
        # the disliked ones push away as negatives: a memory read inside the search.
        step.memory(
            "read",
            "feedback",
            f"{len(request.like_ids)} liked film(s) as positive examples, "
            f"{len(request.dislike_ids)} disliked as negatives, in the engine's recommend query",
            collection=ctx.store.catalog.collection or "",
            filter="ids of the user's liked and disliked films",
            points=len(request.like_ids) + len(request.dislike_ids),
            ms=(time.perf_counter() - started) * 1000,
        )
    if not results:
        ctx.candidates = []
        return CandidateBus(candidates=[])
    ranked = await asyncio.to_thread(_pool, ctx, step, request, results)
    ctx.candidates = [_candidate(n, r) for n, r in enumerate(ranked[:limit], start=1)]
    return CandidateBus(candidates=ctx.candidates)


def _with_prior(profile: PreferenceProfile, prior: Request) -> PreferenceProfile:
    """The profile with an accepted plan's request laid under it: its genres and wishes count
    as liked, softly (no filter), since the user did not say them this time."""
    p = profile.model_copy(deep=True)
    p.liked_genres = list(dict.fromkeys([*p.liked_genres, *prior.genres]))
    p.wants = list(dict.fromkeys([*p.wants, *prior.wants]))
    p.avoids = list(dict.fromkeys([*p.avoids, *prior.avoids]))
    p.likes = [*p.likes, *(i for i in prior.like if all(i.id != k.id for k in p.likes))]
    return p


async def offline(ctx: TurnContext, step: StepTrace) -> CandidateBus:
    assert ctx.profile is not None
    prior = ctx.plan_prior
    if prior is not None and ctx.revise_round == 0:
        ctx.profile = _with_prior(ctx.profile, prior)
        step.thought(
            f"Starting from a plan this user accepted before: {request_summary(prior) or 'no facets'}."
        )
    if ctx.group and ctx.revise_round == 0:
        ctx.solo_profile = ctx.profile
        ctx.profile = group_profile(ctx.profile, ctx.group)
        step.thought(f"A pick for the user and {' and '.join(ctx.group)}: {GROUP_RULE}.")
    request = build_request(ctx, ctx.profile)
    if prior is not None:
        request.query = " ".join(dict.fromkeys([*request.query.split(), *prior.topics])).strip()
    if ctx.search_query is not None:  # a revise round keeps the query the model wrote this turn
        request.query = ctx.search_query
    return await _search(ctx, step, request)


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
    ctx.search_query = written.query
    return await offline(ctx, step)


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
