"""The evaluation store: a temporary embedded Qdrant holding the ReDial catalog, with the
embedding cache kept apart so a second run (--cache-dir) embeds nothing.

Two things make it cheaper than the product's store, without changing what a scored turn sees:
- The catalog is embedded once, in length-sorted chunks on every core, before the first fold's
  collection is written; the other folds' collections take their vectors from the cache.
- User memory (EvalMemory) stores the records of kinds that no similarity read of a scored turn
  can return with a fixed unit vector instead of an embedding. Every scored turn is its user's
  one and only session, and the team reads these kinds by id, by filter or, for episodes, by
  similarity among other sessions only (agents/recall.py). A similarity read that does return
  such a record stops the run with an error, so a change to that rule cannot go unnoticed.
  Embedding them was about two thirds of the embedding time of a turn (long episode texts).
- Queries (EvalEmbedder) go through the disk cache too: the evaluation asks the same queries (its
  dialogues' messages) at every run, where the product's rarely repeat across restarts. The
  vector read back is the one computed for that text the first time (same model, one text a
  call, float32 bytes as they were), so a second run ranks as the first did.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from recteam.memory.catalog import ItemCatalog
from recteam.memory.edge_backend import EdgeBackend
from recteam.memory.embeddings import CachedEmbedder, Embedder, text_key
from recteam.memory.items import CatalogItem
from recteam.memory.settings import SearchSettings
from recteam.memory.sparse import Bm25Encoder
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import MemoryRecord, UserMemory

__all__ = [
    "UNEMBEDDED_KINDS",
    "EvalEmbedder",
    "EvalMemory",
    "embed_catalog",
    "load_catalog",
    "open_eval_store",
]

PREFIX = "redial"
# Read by id (the profile, the dialogue state, judgements), by filter (feedback, this session's
# episodes) or by similarity among other sessions' records only (episodes).
UNEMBEDDED_KINDS = frozenset({"preference", "feedback", "judgement", "dialogue", "episode"})


class EvalEmbedder(CachedEmbedder):
    """CachedEmbedder whose queries are read from and kept in the disk cache as well. New query
    vectors are written in batches (one transaction each) and at close(), not one a query."""

    BATCH = 256

    def __init__(self, inner: Embedder, path: Path) -> None:
        super().__init__(inner, path)
        self._pending: dict[bytes, np.ndarray] = {}

    def embed_query(self, text: str) -> np.ndarray:
        key = text_key(self.name, text)
        with self._lock:
            vec = self._lru.get(key)
            if vec is None:
                vec = self._pending.get(key)
            if vec is None:
                vec = self._lookup([key]).get(key)
        if vec is None:
            return self._computed(key, text)
        with self._lock:
            self._lru[key] = vec
            self._lru.move_to_end(key)
            while len(self._lru) > self._lru_size:
                self._lru.popitem(last=False)
        return vec

    def _computed(self, key: bytes, text: str) -> np.ndarray:
        vec = super().embed_query(text)  # computes it (not in the LRU) and puts it there
        with self._lock:
            self._pending[key] = vec
            full = len(self._pending) >= self.BATCH
        if full:
            self.flush_queries()
        return vec

    def flush_queries(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if pending:
            self.store(list(pending), np.stack(list(pending.values())))

    def close(self) -> None:
        self.flush_queries()
        super().close()


class EvalMemory(UserMemory):
    """UserMemory whose records of UNEMBEDDED_KINDS carry a fixed vector, not an embedding."""

    def __init__(self, backend: EdgeBackend, embedder: CachedEmbedder, prefix: str) -> None:
        super().__init__(backend, embedder, prefix)
        self._fixed = np.zeros(embedder.dim, dtype=np.float32)
        self._fixed[0] = 1.0
        self._unembedded: dict[str, set[str]] = {}  # user id -> record ids
        self._lock = threading.Lock()

    def _vectors(self, records: Sequence[MemoryRecord]) -> np.ndarray:
        out = np.tile(self._fixed, (len(records), 1))
        embed = [n for n, r in enumerate(records) if r.kind not in UNEMBEDDED_KINDS]
        if embed:
            out[embed] = super()._vectors([records[n] for n in embed])
        with self._lock:
            for r in records:
                ids = self._unembedded.setdefault(r.user_id, set())
                if r.kind in UNEMBEDDED_KINDS:
                    ids.add(r.id)
                else:
                    ids.discard(r.id)
        return out

    def nearest(
        self,
        user_id: str,
        vector: np.ndarray,
        kinds: tuple[str, ...] = (),
        limit: int = 10,
        min_score: float | None = None,
        not_session: str | None = None,
    ) -> list[MemoryRecord]:
        hits = super().nearest(user_id, vector, kinds, limit, min_score, not_session)
        with self._lock:
            unembedded = self._unembedded.get(user_id, set())
            wrong = [h for h in hits if h.id in unembedded]
        if wrong:
            raise RuntimeError(
                f"a similarity read of kinds {kinds or 'any'} returned {wrong[0].kind} records, "
                "which the evaluation stores without an embedding (evaluation/redial_store.py): "
                "embed that kind there too"
            )
        return hits

    def delete_user(self, user_id: str) -> int:
        """Deletes the user's points without counting them first or flushing the engine to disk
        (a temporary store: every flush wrote every collection's changes, about a tenth of a
        turn's time); returns 0."""
        with self._lock:
            self._unembedded.pop(user_id, None)
        self.backend.delete(self.name, self._where(user_id))
        return 0


def open_eval_store(
    store_dir: Path, cache_dir: Path, embedder: Embedder, search: SearchSettings | None = None
) -> MemoryStore:
    """An embedded store in `store_dir` whose embedding cache is `cache_dir`/embeddings.sqlite."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached = EvalEmbedder(embedder, cache_dir / "embeddings.sqlite")
    backend = EdgeBackend(store_dir / "qdrant")
    catalog = ItemCatalog(backend, cached, Bm25Encoder(), PREFIX, search or SearchSettings())
    return MemoryStore(backend, cached, catalog, EvalMemory(backend, cached, PREFIX))


def embed_catalog(
    store: MemoryStore,
    items: Sequence[CatalogItem],
    progress: Callable[[int], None] | None = None,
    workers: int = 2,
) -> int:
    """Puts the items' description vectors into the embedding cache, the missing ones computed on
    `workers` threads at once (each a share of the length-sorted texts); returns how many were
    computed. Progress counts every item, cached or not."""
    texts = list(dict.fromkeys(it.dense_text() for it in items))
    found = store.embedder.cached(texts)
    todo = sorted((t for n, t in enumerate(texts) if n not in found), key=len)
    if progress is not None:
        progress(len(items) - len(todo))
    if todo:
        # Interleaved shares: each worker gets texts of every length, so they finish together.
        shares = [todo[w::workers] for w in range(workers)]
        with ThreadPoolExecutor(workers) as pool:
            for _ in pool.map(lambda s: store.embedder.embed(s, progress=progress), shares):
                pass
    return len(todo)


def load_catalog(
    store: MemoryStore,
    items: Sequence[CatalogItem],
    progress: Callable[[int], None] | None = None,
    batch: int = 512,
) -> int:
    """Replaces the store's catalog by `items` (vectors come from the cache once computed)."""
    batches = (items[i : i + batch] for i in range(0, len(items), batch))
    return store.catalog.rebuild(batches, replace=True, progress=progress)
