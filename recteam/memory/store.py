"""Opens the memory: the configured backend, the embedding cache, the catalog and user memory."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from recteam.memory.backend import VectorBackend
from recteam.memory.catalog import ItemCatalog
from recteam.memory.embeddings import CachedEmbedder, Embedder
from recteam.memory.settings import EmbeddingSettings, MemorySettings, SearchSettings
from recteam.memory.sparse import Bm25Encoder
from recteam.memory.user_memory import UserMemory

__all__ = ["MemoryStore", "open_backend", "open_store"]


def open_backend(settings: MemorySettings) -> VectorBackend:
    if settings.backend == "server":
        from recteam.memory.server_backend import ServerBackend

        return ServerBackend(settings)
    from recteam.memory.edge_backend import EdgeBackend

    return EdgeBackend(settings.path / "qdrant")


@dataclass
class MemoryStore:
    backend: VectorBackend
    embedder: CachedEmbedder
    catalog: ItemCatalog
    memories: UserMemory

    def close(self) -> None:
        self.backend.close()
        self.embedder.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_store(
    settings: MemorySettings,
    embedder: Embedder,
    embedding: EmbeddingSettings | None = None,
    search: SearchSettings | None = None,
) -> MemoryStore:
    embedding = embedding or EmbeddingSettings()
    cache_path = settings.path / "embeddings.sqlite" if embedding.cache else None
    cached = CachedEmbedder(embedder, cache_path)
    backend = open_backend(settings)
    try:
        catalog = ItemCatalog(
            backend,
            cached,
            Bm25Encoder(),
            settings.prefix,
            search or SearchSettings(),
            # the embedded store is this process's alone: indexes of its items are cached there
            state_dir=settings.path if settings.backend == "embedded" else None,
        )
        memories = UserMemory(backend, cached, settings.prefix)
    except BaseException:
        backend.close()
        cached.close()
        raise
    return MemoryStore(backend, cached, catalog, memories)
