"""BM25 sparse vectors, computed by Qdrant's own BM25 model (English stemming and stopwords)
so both backends index the same terms; the engine applies IDF at query time (Modifier.IDF)."""

from __future__ import annotations

import qdrant_edge as qe

from recteam.memory.backend import SparseVec

__all__ = ["Bm25Encoder"]


class Bm25Encoder:
    # Catalog documents are short (title, genres, cast, a summary): a smaller average length
    # than the engine's default of 256 keeps the length normalisation meaningful.
    def __init__(self, avg_len: float = 48.0) -> None:
        self._bm25 = qe.Bm25(qe.Bm25Config(avg_len=avg_len))

    def document(self, text: str) -> SparseVec:
        vec = self._bm25.embed_document(text)
        return SparseVec(list(vec.indices), list(vec.values))

    def query(self, text: str) -> SparseVec:
        vec = self._bm25.embed_query(text)
        return SparseVec(list(vec.indices), list(vec.values))
