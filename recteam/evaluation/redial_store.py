"""The evaluation store: a temporary embedded Qdrant holding the ReDial catalog, with the
embedding cache kept apart so a second run (--cache-dir) embeds nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from recteam.memory.catalog import ItemCatalog
from recteam.memory.edge_backend import EdgeBackend
from recteam.memory.embeddings import CachedEmbedder, Embedder
from recteam.memory.items import CatalogItem
from recteam.memory.settings import SearchSettings
from recteam.memory.sparse import Bm25Encoder
from recteam.memory.store import MemoryStore
from recteam.memory.user_memory import UserMemory

__all__ = ["load_catalog", "open_eval_store"]

PREFIX = "redial"


def open_eval_store(
    store_dir: Path, cache_dir: Path, embedder: Embedder, search: SearchSettings | None = None
) -> MemoryStore:
    """An embedded store in `store_dir` whose embedding cache is `cache_dir`/embeddings.sqlite."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached = CachedEmbedder(embedder, cache_dir / "embeddings.sqlite")
    backend = EdgeBackend(store_dir / "qdrant")
    catalog = ItemCatalog(backend, cached, Bm25Encoder(), PREFIX, search or SearchSettings())
    return MemoryStore(backend, cached, catalog, UserMemory(backend, cached, PREFIX))


def load_catalog(
    store: MemoryStore,
    items: Sequence[CatalogItem],
    progress: Callable[[int], None] | None = None,
    batch: int = 512,
) -> int:
    """Replaces the store's catalog by `items` (vectors come from the cache once computed)."""
    batches = (items[i : i + batch] for i in range(0, len(items), batch))
    return store.catalog.rebuild(batches, replace=True, progress=progress)
