"""The item catalog in Qdrant: hybrid search (dense + BM25 + liked-item examples, fused with RRF,
hard constraints as engine filters), title lookup, all-or-nothing rebuilds and incremental
upserts.

This is the function the searcher agent calls and `recteam search` prints.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recteam.errors import NotFoundError
from recteam.memory.backend import (
    CollectionSpec,
    HasIds,
    Hit,
    HybridQuery,
    Match,
    PointData,
    Range,
    Retriever,
    VectorBackend,
    Where,
)
from recteam.memory.embeddings import CachedEmbedder
from recteam.memory.genres import genre_keys
from recteam.memory.items import CatalogItem, normalize_key, point_id, title_key
from recteam.memory.settings import SearchSettings
from recteam.memory.sparse import Bm25Encoder

__all__ = ["ItemCatalog", "SearchRequest", "SearchResult"]

DENSE = "text"
SPARSE = "bm25"
Progress = Callable[[int], None]
# Items kept in memory by point id (see ItemCatalog._cache): a turn reads ~600, mostly the same
# popular films every turn; the whole catalog would be ~40k.
ITEM_CACHE_SIZE = 20_000
# Titles resolved and example vectors kept under one revision (a bound, rarely reached).
MEMO_SIZE = 4096
# Hits asked for beyond a ranking's limit, so that a group of equal scores the limit cuts is
# whole before it is ordered by id and cut (asked again with more when it may not be).
TIE_MARGIN = 10


@dataclass
class SearchRequest:
    """One retrieval: free text plus hard constraints. Titles are resolved to catalog items."""

    query: str = ""
    genres: list[str] = field(default_factory=list)  # each must match (AND)
    exclude_genres: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)  # each must be in the cast
    year_min: int | None = None
    year_max: int | None = None
    like: list[str] = field(default_factory=list)  # titles; their neighbours rank higher
    like_ids: list[str] = field(default_factory=list)
    dislike_ids: list[str] = field(default_factory=list)  # their neighbours rank lower
    exclude: list[str] = field(default_factory=list)  # titles never returned
    exclude_ids: list[str] = field(default_factory=list)
    limit: int | None = None


@dataclass(frozen=True)
class SearchResult:
    item: CatalogItem
    score: float


@dataclass
class _Memo:
    """What the catalog keeps in memory under one revision (see ItemCatalog._cache)."""

    # items read back, by point id, each built once from its payload
    items: dict[str, CatalogItem] = field(default_factory=dict)
    # resolve_title's engine answer by (title key, year): the point ids of the same-titled films
    titles: dict[tuple[str, int | None], tuple[str, ...]] = field(default_factory=dict)
    # dense vectors as the engine returns them (liked and disliked examples), by point id
    dense: dict[str, np.ndarray] = field(default_factory=dict)


class ItemCatalog:
    def __init__(
        self,
        backend: VectorBackend,
        embedder: CachedEmbedder,
        sparse: Bm25Encoder,
        prefix: str,
        settings: SearchSettings,
        state_dir: Path | None = None,
    ) -> None:
        """`state_dir`: a folder of this process's own beside the store (the embedded store's),
        where the catalog keeps its revision and indexes built from it are cached (cache_path);
        None (a server that others write to): nothing is cached."""
        self.backend = backend
        self.state_dir = state_dir
        self.embedder = embedder
        self.sparse = sparse
        self.alias = f"{prefix}-items"
        self.settings = settings
        self.spec = CollectionSpec(
            dense={DENSE: embedder.dim},
            sparse=(SPARSE,),
            keyword_fields=("item_id", "title_key", "genre_keys", "people_keys"),
            integer_fields=("year",),
            float_fields=("popularity",),
            text_fields=("title",),
        )
        # Items read back, by point id, with the description vector vectors() found for each,
        # titles resolved and example vectors: valid while _cache_key() is unchanged.
        self._cache_lock = threading.Lock()
        self._cache_state: tuple[tuple[str | None, str], _Memo] | None = None
        self._vector_cache: dict[str, tuple[CatalogItem, np.ndarray]] = {}
        self._revision_path = (
            None if state_dir is None else str(state_dir / f"{self.alias}.revision")
        )

    # state -----------------------------------------------------------------------------------
    @property
    def collection(self) -> str | None:
        return self.backend.get_alias(self.alias)

    def _live(self) -> str:
        name = self.collection
        if name is None:
            raise NotFoundError(
                "the catalog is empty: run `recteam ingest PATH` (or `make run`) first"
            )
        return name

    def count(self) -> int:
        name = self.collection
        return self.backend.count(name) if name else 0

    # revision: what indexes built from the items are cached under ----------------------------
    def revision(self) -> str | None:
        """Changes whenever the live items may have changed: the live collection, its count and
        a token every write renews, before it starts and after it ends (so a write that crashes
        half-way leaves a token no cache was built under). None: no state_dir, no caching."""
        if self.state_dir is None:
            return None
        name = self.collection
        if name is None:
            return None
        try:
            token = self._revision_file.read_text(encoding="utf-8").strip()
        except OSError:
            token = ""
        if not token:  # a store prepared before revisions were kept
            token = self._renew_revision()
        return f"{name}:{self.backend.count(name)}:{token}"

    def cache_path(self, name: str) -> Path | None:
        """Where an index built from the items may be cached (under revision()), or None."""
        return None if self.state_dir is None else self.state_dir / f"{self.alias}.{name}"

    @property
    def _revision_file(self) -> Path:
        assert self.state_dir is not None
        return self.state_dir / f"{self.alias}.revision"

    def mark_changed(self) -> None:
        """To be called after writing the items' points other than through this class (e.g. a
        payload set on the engine directly): a new revision, so indexes and items cached under
        the old one are not used again."""
        self._renew_revision()

    def _renew_revision(self) -> str:
        token = uuid.uuid4().hex
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            tmp = self._revision_file.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(token, encoding="utf-8")
            tmp.replace(self._revision_file)
        return token

    # items read back ---------------------------------------------------------------------------
    def _cache_key(self) -> tuple[str | None, str]:
        """The live collection and the revision token: every write renews the token before it
        starts and after it ends, so items cached under one key are the live ones. Cheaper than
        revision(), which also counts the points (milliseconds on 36k); the token is read with
        os.read, a third of Path.read_text's time, since every search asks once."""
        token = ""
        if self._revision_path is not None:
            try:
                fd = os.open(self._revision_path, os.O_RDONLY)
            except OSError:
                pass
            else:
                try:
                    token = os.read(fd, 256).decode("utf-8", "replace").strip()
                finally:
                    os.close(fd)
        return self.collection, token

    def _cache(self) -> _Memo | None:
        """What is kept under the current revision (items by point id, titles resolved,
        example vectors); None without a state_dir (a server others write to: every read takes
        the engine's answer). A search asks once and passes it down."""
        if self.state_dir is None:
            return None
        key = self._cache_key()
        with self._cache_lock:
            state = self._cache_state
            if state is None or state[0] != key:
                state = (key, _Memo())
                self._cache_state = state
                self._vector_cache = {}
            return state[1]

    def _items(
        self, name: str, hits: Sequence[Hit], memo: _Memo | None
    ) -> list[tuple[Hit, CatalogItem]]:
        """`hits` with their items, in order: from their payloads when `memo` is None, else
        from the memo, the rest read by id in one call (and kept); a hit whose point is gone
        is left out. The payload was validated when it was written, so an item is built from it
        once, not at every search."""
        if memo is None:
            return [(h, CatalogItem.from_payload(h.payload)) for h in hits]
        cache = memo.items
        found = {h.id: it for h in hits if (it := cache.get(h.id)) is not None}
        missing = [h.id for h in hits if h.id not in found]
        if missing:
            if len(cache) + len(missing) > ITEM_CACHE_SIZE:  # a bound, rarely reached
                with self._cache_lock:
                    if memo.items is cache:
                        cache = memo.items = {}
                        self._vector_cache = {}
            for p in self.backend.retrieve(name, missing):
                found[p.id] = cache[p.id] = CatalogItem.from_payload(p.payload)
        return [(h, found[h.id]) for h in hits if h.id in found]

    def _query(
        self, name: str, query: HybridQuery, memo: _Memo | None
    ) -> list[tuple[Hit, CatalogItem]]:
        return self._items(name, self._ranked(name, query, memo is None), memo)

    def _ranked(self, name: str, query: HybridQuery, with_payload: bool) -> list[Hit]:
        """The engine's ranking with equal scores in point-id order: the same at every call and
        in every process on one store, on either backend. The engine's fusion breaks ties
        arbitrarily (it collects points in a hash map with random keys), so the same search
        answered differently from call to call. So a few more hits than `limit` are asked for,
        ordered by (score, id) and cut; while the last one asked for still ties with the
        limit's, more are asked for. The prefetch depth is the caller's: the scores do not
        change. (The order of equal scores within one retriever's list is the engine's, fixed
        by how the store was built.)"""
        limit = query.limit
        if len(query.retrievers) == 1 and query.retrievers[0].kind == "popular":
            return self.backend.query(name, query, with_payload=with_payload)  # no scores
        fetch = limit + TIE_MARGIN
        while True:
            hits = self.backend.query(
                name, dataclasses.replace(query, limit=fetch), with_payload=with_payload
            )
            if len(hits) < fetch or hits[-1].score != hits[limit - 1].score:
                break
            fetch *= 2
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits[:limit]

    def _filter(
        self,
        name: str,
        where: Where,
        limit: int,
        memo: _Memo | None,
        order_by: str | None = "popularity",
    ) -> list[tuple[Hit, CatalogItem]]:
        hits = self.backend.filter_only(
            name, where, limit=limit, order_by=order_by, with_payload=memo is None
        )
        return self._items(name, hits, memo)

    def _dense(self, name: str, point_ids: Sequence[str], memo: _Memo | None) -> list[np.ndarray]:
        """The description vectors of these points as the engine stores them (bit for bit what
        it compares against), each point once, in the engine's order for those it reads; kept
        in `memo`: a liked film is liked again next turn."""
        if not point_ids:
            return []
        if memo is None:
            points = self.backend.retrieve(name, point_ids, with_vectors=True)
            return [p.dense[DENSE] for p in points if DENSE in p.dense]
        known = memo.dense
        missing = [i for i in dict.fromkeys(point_ids) if i not in known]
        if missing:
            if len(known) + len(missing) > MEMO_SIZE:
                known.clear()
            for p in self.backend.retrieve(name, missing, with_vectors=True):
                if DENSE in p.dense:
                    known[p.id] = p.dense[DENSE]
        return [v for i in dict.fromkeys(point_ids) if (v := known.get(i)) is not None]

    # building --------------------------------------------------------------------------------
    def points_for(
        self, items: Sequence[CatalogItem], progress: Progress | None = None
    ) -> list[PointData]:
        dense = self.embedder.embed([it.dense_text() for it in items], progress=progress)
        return [
            PointData(
                id=it.point_id,
                payload=it.payload(),
                dense={DENSE: dense[i]},
                sparse={SPARSE: self.sparse.document(it.sparse_text())},
            )
            for i, it in enumerate(items)
        ]

    def rebuild(
        self,
        batches: Iterable[Sequence[CatalogItem]],
        replace: bool = False,
        progress: Progress | None = None,
    ) -> int:
        """Writes a new collection (the live items unless `replace`, then `batches`) and swaps the
        alias to it only when all of it is written; on any error or interrupt the new collection
        is dropped and the live one is as it was. Returns the item count of the new catalog."""
        old = self.collection
        new = f"{self.alias}-{time.time_ns()}"
        self._renew_revision()
        self.backend.create_collection(new, self.spec)
        try:
            if old is not None and not replace:
                self._copy(old, new)
            for batch in batches:
                self.backend.upsert(new, self.points_for(batch, progress=progress))
            self.backend.flush()
            self.backend.set_alias(self.alias, new)
        except BaseException:
            self.backend.drop_collection(new)
            raise
        finally:
            self._renew_revision()
        # Only now is the old collection unreferenced; also clear debris of crashed rebuilds.
        for name in self.backend.list_collections():
            if name.startswith(self.alias + "-") and name != new:
                self.backend.drop_collection(name)
        return self.backend.count(new)

    def upsert(self, items: Sequence[CatalogItem], progress: Progress | None = None) -> int:
        """Adds `items` to the live catalog, replacing those with the same ids, without copying
        the rest: every point is computed (embedded) before anything is written, then all go in
        one write, which the engine applies whole or not at all (one operation in its WAL). An
        error or interrupt before the write leaves the catalog as it was. With no live catalog
        yet, this is a rebuild. Returns the item count of the catalog."""
        name = self.collection
        if name is None:
            return self.rebuild([items], progress=progress)
        points = self.points_for(items, progress=progress)
        self._renew_revision()
        try:
            self.backend.upsert(name, points)
            self.backend.flush()
        finally:
            self._renew_revision()
        return self.backend.count(name)

    def _copy(self, source: str, target: str) -> None:
        offset: str | None = None
        while True:
            points, offset = self.backend.scroll(
                source, limit=1024, offset=offset, with_vectors=True
            )
            self.backend.upsert(target, points)
            if offset is None:
                return

    # reading ---------------------------------------------------------------------------------
    def iter_items(self, batch: int = 2048) -> Iterator[CatalogItem]:
        """Every item of the live catalog, in engine order (for building in-memory indexes)."""
        name = self._live()
        offset: str | None = None
        while True:
            points, offset = self.backend.scroll(name, limit=batch, offset=offset)
            for p in points:
                yield CatalogItem.from_payload(p.payload)
            if offset is None:
                return

    def get(self, item_ids: Sequence[str]) -> list[CatalogItem]:
        """The items with these ids, in that order, each once; unknown ids are left out."""
        return self._get(self._live(), item_ids, self._cache())

    def _get(self, name: str, item_ids: Sequence[str], memo: _Memo | None) -> list[CatalogItem]:
        if not item_ids:
            return []
        ids = list(dict.fromkeys(point_id(i) for i in item_ids))
        if memo is None:
            return [CatalogItem.from_payload(p.payload) for p in self.backend.retrieve(name, ids)]
        return [it for _, it in self._items(name, [Hit(i, 0.0, {}) for i in ids], memo)]

    def vectors(self, items: Sequence[CatalogItem]) -> dict[str, np.ndarray]:
        """Description vectors by item id: from the embedding cache, which holds every vector
        ingest computed or the shipped sidecar seeded; the rest from the engine. An item read
        back from this catalog keeps its vector in memory while the revision holds."""
        memo: dict[str, tuple[CatalogItem, np.ndarray]] | None = None
        if self._cache() is not None:
            memo = self._vector_cache
        out: dict[str, np.ndarray] = {}
        todo: list[CatalogItem] = []
        for it in items:
            known = memo.get(it.id) if memo is not None else None
            if known is not None and known[0] is it:
                out[it.id] = known[1]
            else:
                todo.append(it)
        if not todo:
            return out
        found = self.embedder.cached([it.dense_text() for it in todo])
        new = {todo[i].id: v for i, v in found.items()}
        missing = [it.point_id for i, it in enumerate(todo) if i not in found]
        for p in self.backend.retrieve(self._live(), missing, with_vectors=True):
            if DENSE in p.dense:
                new[str(p.payload["item_id"])] = np.asarray(p.dense[DENSE], dtype=np.float32)
        if memo is not None:
            for it in todo:
                if it.id in new:
                    memo[it.id] = (it, new[it.id])
        out.update(new)
        return out

    def nearest(self, vector: np.ndarray, where: Where, limit: int) -> list[CatalogItem]:
        """Items whose descriptions lie closest to `vector`, fused with the popularity prior,
        under `where`."""
        name = self._live()
        query = self._fused_query([Retriever("dense", DENSE, dense=vector)], where, limit)
        return [it for _, it in self._query(name, query, self._cache())]

    def word_neighbors(
        self, item_ids: Sequence[str], where: Where, limit: int
    ) -> dict[str, list[tuple[CatalogItem, float]]]:
        """For each item, the items under `where` whose words (title, genres, cast, summary:
        what BM25 indexes) overlap its own most, IDF-weighted, as (item, share of the item's
        score against itself, 0..1). Words find what description vectors blur: a director
        named in both summaries, a franchise, a studio, a shared setting."""
        name = self._live()
        memo = self._cache()
        out: dict[str, list[tuple[CatalogItem, float]]] = {}
        for p in self.backend.retrieve(name, [point_id(i) for i in item_ids], with_vectors=True):
            terms = p.sparse.get(SPARSE)
            if not terms:
                continue
            retriever = (Retriever("sparse", SPARSE, sparse=terms),)
            own = self.backend.query(
                name,
                HybridQuery(retriever, where=Where(must=(HasIds((p.id,)),)), limit=1),
                with_payload=False,
            )
            if not own or own[0].score <= 0:
                continue
            hits = self._query(name, HybridQuery(retriever, where=where, limit=limit), memo)
            out[str(p.payload["item_id"])] = [
                (it, min(h.score / own[0].score, 1.0)) for h, it in hits if h.id != p.id
            ]
        return out

    def _fused_query(self, retrievers: list[Retriever], where: Where, limit: int) -> HybridQuery:
        """`retrievers` and the popularity prior fused by reciprocal rank."""
        if self.settings.popularity_weight > 0:
            prior = Retriever("popular", "popularity", weight=self.settings.popularity_weight)
            retrievers = [*retrievers, prior]
        query = HybridQuery(
            retrievers=tuple(retrievers),
            where=where,
            limit=limit,
            prefetch=max(self.settings.prefetch, limit),
            rrf_k=self.settings.rrf_k,
        )
        return query

    def popular(self, where: Where, limit: int) -> list[CatalogItem]:
        """The most popular items matching `where` (no text to rank by)."""
        return [it for _, it in self._filter(self._live(), where, limit, self._cache())]

    def matching(self, where: Where, limit: int) -> list[CatalogItem]:
        """Items matching `where` in the engine's order (no ranking), at most `limit`."""
        return [
            it for _, it in self._filter(self._live(), where, limit, self._cache(), order_by=None)
        ]

    def resolve_title(self, title: str) -> CatalogItem:
        """The catalog item a person means by `title`, optionally 'Title (1999)'."""
        return self._resolve(self._live(), title, self._cache())

    def _resolve(self, name: str, title: str, memo: _Memo | None) -> CatalogItem:
        """resolve_title; the engine's answer for a title is kept in `memo` under the revision
        (the liked films of a conversation are resolved again at every turn)."""
        text, year = title.strip(), None
        if text.endswith(")") and "(" in text:
            head, _, tail = text.rpartition("(")
            if tail[:-1].strip().isdigit():
                text, year = head.strip(), int(tail[:-1])
        key = (title_key(text), year)
        ids = memo.titles.get(key) if memo is not None else None
        if ids is not None:
            found = [it for _, it in self._items(name, [Hit(i, 0.0, {}) for i in ids], memo)]
        else:
            must: tuple = (Match("title_key", (key[0],)),)
            if year is not None:
                must += (Range("year", gte=year - 1, lte=year + 1),)
            pairs = self._filter(name, Where(must=must), 20, memo)
            found = [it for _, it in pairs]
            if memo is not None and found:
                if len(memo.titles) >= MEMO_SIZE:
                    memo.titles.clear()
                memo.titles[key] = tuple(h.id for h, _ in pairs)
        if found:
            # Among same-titled films, the most popular, then the most recent.
            return max(found, key=lambda it: (it.popularity, it.year or 0))
        suggestions = self._similar_titles(text)
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        raise NotFoundError(f"no film titled {title!r} in the catalog{hint}")

    def _similar_titles(self, text: str) -> list[str]:
        terms = self.sparse.query(text)
        if not terms:
            return []
        hits = self.backend.query(
            self._live(),
            HybridQuery(retrievers=(Retriever("sparse", SPARSE, sparse=terms),), limit=20),
        )
        by_title = {h.payload["title"]: CatalogItem.from_payload(h.payload).label for h in hits}
        close = (
            difflib.get_close_matches(text, list(by_title), n=3, cutoff=0.4) or list(by_title)[:3]
        )
        return [repr(by_title[t]) for t in close]

    def constraints(self, request: SearchRequest, exclude_point_ids: Sequence[str] = ()) -> Where:
        must: list = [Match("genre_keys", tuple(sorted(genre_keys(g)))) for g in request.genres]
        must += [Match("people_keys", (normalize_key(p),)) for p in request.people]
        if request.year_min is not None or request.year_max is not None:
            must.append(Range("year", gte=request.year_min, lte=request.year_max))
        must_not: list = [
            Match("genre_keys", tuple(sorted(genre_keys(g)))) for g in request.exclude_genres
        ]
        excluded = list(exclude_point_ids) + [point_id(i) for i in request.exclude_ids]
        if excluded:
            must_not.append(HasIds(tuple(excluded)))
        return Where(tuple(must), tuple(must_not))

    def search(self, request: SearchRequest) -> list[SearchResult]:
        name = self._live()
        memo = self._cache()  # once a search: it reads the revision
        limit = request.limit or self.settings.limit
        liked = [self._resolve(name, t, memo) for t in request.like]
        liked += self._get(name, request.like_ids, memo)
        disliked = [point_id(i) for i in request.dislike_ids]
        excluded = [self._resolve(name, t, memo).point_id for t in request.exclude]
        # Liked and disliked items are references, not answers: they are excluded from results.
        where = self.constraints(
            request, exclude_point_ids=excluded + disliked + [it.point_id for it in liked]
        )

        retrievers: list[Retriever] = []
        if request.query.strip():
            dense = self.embedder.embed_query(request.query)
            retrievers.append(Retriever("dense", DENSE, dense=dense))
            sparse = self.sparse.query(request.query)
            if sparse:
                retrievers.append(Retriever("sparse", SPARSE, sparse=sparse))
        if liked:
            examples = tuple(self._dense(name, [it.point_id for it in liked], memo))
            negatives = tuple(self._dense(name, disliked, memo))
            if examples:
                retrievers.append(
                    Retriever("recommend", DENSE, positives=examples, negatives=negatives)
                )
                # The liked items' own texts find items sharing their cast and genres by term.
                terms = self.sparse.query(" ".join(it.sparse_text() for it in liked)[:2000])
                if terms and not request.query.strip():
                    retrievers.append(Retriever("sparse", SPARSE, sparse=terms, weight=0.5))

        if retrievers:
            hits = self._query(name, self._fused_query(retrievers, where, limit), memo)
        else:
            hits = self._filter(name, where, limit, memo)
        if not hits:
            self._explain_empty(request)
        return [SearchResult(it, h.score) for h, it in hits]

    def _explain_empty(self, request: SearchRequest) -> None:
        """An empty result because of a misspelt genre or person gets a sentence saying so."""
        name = self._live()
        for g in request.genres:
            if not self.backend.count(
                name, Where(must=(Match("genre_keys", tuple(sorted(genre_keys(g)))),))
            ):
                raise NotFoundError(f"no film in the catalog has the genre {g!r}")
        for p in request.people:
            if not self.backend.count(
                name, Where(must=(Match("people_keys", (normalize_key(p),)),))
            ):
                raise NotFoundError(f"no film in the catalog lists {p!r} in its cast")
