"""The one interface both Qdrant backends implement, and the plain types that cross it.

The types are recteam's own rather than either client's models, so the catalog and user-memory
code above is written once and each backend translates at its edge.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "CollectionSpec",
    "Condition",
    "HasIds",
    "Hit",
    "HybridQuery",
    "Match",
    "PointData",
    "Range",
    "Retriever",
    "SparseVec",
    "VectorBackend",
    "Where",
]


@dataclass(frozen=True)
class Match:
    """Payload field `key` equals one of `any` (for list fields: contains one of them)."""

    key: str
    any: tuple[str | int, ...]


@dataclass(frozen=True)
class Range:
    key: str
    gte: float | None = None
    lte: float | None = None


@dataclass(frozen=True)
class HasIds:
    ids: tuple[str, ...]


Condition = Match | Range | HasIds


@dataclass(frozen=True)
class Where:
    must: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.must or self.must_not)

    def and_(self, other: Where) -> Where:
        return Where(self.must + other.must, self.must_not + other.must_not)


@dataclass(frozen=True)
class SparseVec:
    indices: list[int]
    values: list[float]

    def __bool__(self) -> bool:
        return bool(self.indices)


@dataclass
class PointData:
    """A stored point: a UUID string id, named dense and sparse vectors, and a JSON payload."""

    id: str
    payload: dict[str, Any]
    dense: dict[str, np.ndarray] = field(default_factory=dict)
    sparse: dict[str, SparseVec] = field(default_factory=dict)


@dataclass(frozen=True)
class CollectionSpec:
    dense: dict[str, int]
    sparse: tuple[str, ...] = ()
    keyword_fields: tuple[str, ...] = ()
    integer_fields: tuple[str, ...] = ()
    float_fields: tuple[str, ...] = ()
    text_fields: tuple[str, ...] = ()
    tenant_field: str | None = None


@dataclass(frozen=True)
class Retriever:
    """One ranked list for fusion: nearest dense, sparse (IDF-weighted), recommend-by-examples,
    or "popular" (highest payload field `using` first: a prior that needs no text)."""

    kind: Literal["dense", "sparse", "recommend", "popular"]
    using: str
    dense: np.ndarray | None = None
    sparse: SparseVec | None = None
    positives: tuple[np.ndarray, ...] = ()
    negatives: tuple[np.ndarray, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True)
class HybridQuery:
    retrievers: tuple[Retriever, ...]
    where: Where = Where()
    limit: int = 10
    prefetch: int = 100
    rrf_k: int = 60


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


class VectorBackend(ABC):
    """Physical collections, aliases that name the live one, and the queries recteam needs.

    A logical collection ("items") resolves through an alias to a physical one
    ("recteam-items-1732000000"), so a rebuild writes a new physical collection and swaps the
    alias only when it is complete: an aborted rebuild leaves the live collection untouched.
    """

    @abstractmethod
    def list_collections(self) -> list[str]: ...

    @abstractmethod
    def create_collection(self, name: str, spec: CollectionSpec) -> None: ...

    @abstractmethod
    def drop_collection(self, name: str) -> None: ...

    @abstractmethod
    def get_alias(self, alias: str) -> str | None: ...

    @abstractmethod
    def set_alias(self, alias: str, name: str) -> None:
        """Points `alias` at collection `name` atomically."""

    @abstractmethod
    def upsert(self, name: str, points: Sequence[PointData]) -> None: ...

    @abstractmethod
    def delete(self, name: str, where: Where) -> None: ...

    @abstractmethod
    def retrieve(
        self, name: str, ids: Sequence[str], with_vectors: bool = False
    ) -> list[PointData]: ...

    @abstractmethod
    def scroll(
        self,
        name: str,
        where: Where | None = None,
        limit: int = 256,
        offset: str | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[PointData], str | None]: ...

    @abstractmethod
    def count(self, name: str, where: Where | None = None) -> int: ...

    @abstractmethod
    def query(self, name: str, query: HybridQuery, with_payload: bool = True) -> list[Hit]:
        """The fused ranking; without `with_payload`, hits carry ids and scores only."""

    @abstractmethod
    def filter_only(
        self,
        name: str,
        where: Where,
        limit: int,
        order_by: str | None = None,
        with_payload: bool = True,
    ) -> list[Hit]:
        """Points matching `where` with no text to rank by, highest `order_by` first."""

    @abstractmethod
    def close(self) -> None: ...

    def flush(self) -> None:  # noqa: B027 - optional for backends that persist on every call
        """Makes every write so far durable."""
