"""Server backend: qdrant-client against a Qdrant server or cluster by URL, the path for users
who outgrow one machine. URL ':memory:' runs qdrant-client's in-process mode (tests use it)."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import httpx
import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from recteam.errors import StoreUnavailableError
from recteam.memory.backend import (
    CollectionSpec,
    HasIds,
    Hit,
    HybridQuery,
    Match,
    PointData,
    Range,
    Retriever,
    SparseVec,
    VectorBackend,
    Where,
)
from recteam.memory.settings import MemorySettings

__all__ = ["ServerBackend"]


def _condition(cond: Match | Range | HasIds) -> Any:
    if isinstance(cond, Match):
        values = list(cond.any)
        if len(values) == 1:
            return models.FieldCondition(key=cond.key, match=models.MatchValue(value=values[0]))
        return models.FieldCondition(key=cond.key, match=models.MatchAny(any=values))  # type: ignore[arg-type]
    if isinstance(cond, Range):
        return models.FieldCondition(key=cond.key, range=models.Range(gte=cond.gte, lte=cond.lte))
    return models.HasIdCondition(has_id=list(cond.ids))


def _filter(where: Where | None) -> models.Filter | None:
    if not where:
        return None
    return models.Filter(
        must=[_condition(c) for c in where.must] or None,
        must_not=[_condition(c) for c in where.must_not] or None,
    )


def _point(record: Any) -> PointData:
    dense: dict[str, np.ndarray] = {}
    sparse: dict[str, SparseVec] = {}
    for name, vec in (record.vector or {}).items():
        if isinstance(vec, models.SparseVector):
            sparse[name] = SparseVec(list(vec.indices), list(vec.values))
        else:
            dense[name] = np.asarray(vec, dtype=np.float32)
    return PointData(
        id=str(record.id), payload=dict(record.payload or {}), dense=dense, sparse=sparse
    )


def _scoring(r: Retriever) -> Any:
    if r.kind == "popular":
        return models.OrderByQuery(
            order_by=models.OrderBy(key=r.using, direction=models.Direction.DESC)
        )
    if r.kind == "dense":
        assert r.dense is not None
        return r.dense.tolist()
    if r.kind == "sparse":
        assert r.sparse is not None
        return models.SparseVector(indices=r.sparse.indices, values=r.sparse.values)
    return models.RecommendQuery(
        recommend=models.RecommendInput(
            positive=[v.tolist() for v in r.positives],
            negative=[v.tolist() for v in r.negatives] or None,
            strategy=models.RecommendStrategy.BEST_SCORE,
        )
    )


_CALLS = (
    "list_collections",
    "create_collection",
    "drop_collection",
    "get_alias",
    "set_alias",
    "upsert",
    "delete",
    "retrieve",
    "scroll",
    "count",
    "query",
    "filter_only",
)


def _plainly(method: Callable[..., Any]) -> Callable[..., Any]:
    """A server that stops answering mid-session becomes one sentence naming memory.url,
    whichever of qdrant-client's transport errors (HTTP, gRPC, timeouts) says so."""

    @functools.wraps(method)
    def call(self: ServerBackend, *args: Any, **kwargs: Any) -> Any:
        try:
            with self.serial:
                return method(self, *args, **kwargs)
        except (ResponseHandlingException, UnexpectedResponse, httpx.HTTPError, OSError) as exc:
            raise StoreUnavailableError(
                f"the Qdrant server at {self.url} stopped answering ({type(exc).__name__}: {str(exc)[:120]}); "
                "check that it is running, or change memory.url"
            ) from exc

    return call


class ServerBackend(VectorBackend):
    def __init__(self, settings: MemorySettings) -> None:
        url = settings.url or "http://localhost:6333"
        api_key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
        if settings.api_key_env and not api_key:
            raise StoreUnavailableError(
                f"memory.api_key_env names {settings.api_key_env}, but that environment variable is not set"
            )
        self.url = url
        # qdrant-client's in-process mode is not safe for concurrent calls (a read during a
        # write fails inside its numpy arrays); a server is, and needs no lock.
        self.serial: AbstractContextManager[Any] = (
            threading.RLock() if url == ":memory:" else contextlib.nullcontext()
        )
        if url == ":memory:":
            self.client = QdrantClient(location=":memory:")
        else:
            self.client = QdrantClient(
                url=url, api_key=api_key, timeout=int(settings.timeout), check_compatibility=False
            )
        try:
            self.client.get_collections()
        except Exception as exc:  # the client raises several transport types; all mean the same
            raise StoreUnavailableError(
                f"cannot reach the Qdrant server at {url} ({type(exc).__name__}: {str(exc)[:120]}); "
                "start it, fix memory.url, or set memory.backend = 'embedded'"
            ) from exc

    def list_collections(self) -> list[str]:
        return sorted(c.name for c in self.client.get_collections().collections)

    def create_collection(self, name: str, spec: CollectionSpec) -> None:
        if self.client.collection_exists(name):
            self.client.delete_collection(name)
        self.client.create_collection(
            name,
            vectors_config={
                n: models.VectorParams(size=s, distance=models.Distance.COSINE)
                for n, s in spec.dense.items()
            },
            sparse_vectors_config={
                n: models.SparseVectorParams(modifier=models.Modifier.IDF) for n in spec.sparse
            }
            or None,
        )
        schemas: list[tuple[str, Any]] = [
            (
                f,
                models.KeywordIndexParams(
                    type=models.KeywordIndexType.KEYWORD, is_tenant=f == spec.tenant_field
                ),
            )
            for f in spec.keyword_fields
        ]
        schemas += [(f, models.PayloadSchemaType.INTEGER) for f in spec.integer_fields]
        schemas += [(f, models.PayloadSchemaType.FLOAT) for f in spec.float_fields]
        schemas += [(f, models.PayloadSchemaType.TEXT) for f in spec.text_fields]
        for field_name, schema in schemas:
            self.client.create_payload_index(name, field_name, field_schema=schema)

    def drop_collection(self, name: str) -> None:
        self.client.delete_collection(name)

    def get_alias(self, alias: str) -> str | None:
        for a in self.client.get_aliases().aliases:
            if a.alias_name == alias:
                return a.collection_name
        return None

    def set_alias(self, alias: str, name: str) -> None:
        ops: list[Any] = []
        if self.get_alias(alias) is not None:
            ops.append(
                models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias))
            )
        ops.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=name, alias_name=alias)
            )
        )
        self.client.update_collection_aliases(change_aliases_operations=ops)  # one atomic request

    def upsert(self, name: str, points: Sequence[PointData]) -> None:
        if not points:
            return
        structs = []
        for p in points:
            vector: dict[str, Any] = {n: v.tolist() for n, v in p.dense.items()}
            vector.update(
                {
                    n: models.SparseVector(indices=s.indices, values=s.values)
                    for n, s in p.sparse.items()
                }
            )
            structs.append(models.PointStruct(id=p.id, vector=vector, payload=p.payload))
        self.client.upsert(name, points=structs, wait=True)

    def delete(self, name: str, where: Where) -> None:
        flt = _filter(where)
        assert flt is not None, "refusing to delete with an empty filter"
        self.client.delete(name, points_selector=models.FilterSelector(filter=flt), wait=True)

    def retrieve(
        self, name: str, ids: Sequence[str], with_vectors: bool = False
    ) -> list[PointData]:
        if not ids:
            return []
        records = self.client.retrieve(
            name, ids=[str(uuid.UUID(i)) for i in ids], with_vectors=with_vectors
        )
        return [_point(r) for r in records]

    def scroll(
        self,
        name: str,
        where: Where | None = None,
        limit: int = 256,
        offset: str | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[PointData], str | None]:
        records, next_offset = self.client.scroll(
            name,
            scroll_filter=_filter(where),
            limit=limit,
            offset=offset,
            with_vectors=with_vectors,
        )
        return [_point(r) for r in records], (str(next_offset) if next_offset else None)

    def count(self, name: str, where: Where | None = None) -> int:
        return self.client.count(name, count_filter=_filter(where), exact=True).count

    def query(self, name: str, query: HybridQuery, with_payload: bool = True) -> list[Hit]:
        flt = _filter(query.where)
        if len(query.retrievers) == 1:
            r = query.retrievers[0]
            response = self.client.query_points(
                name,
                query=_scoring(r),
                using=r.using,
                query_filter=flt,
                limit=query.limit,
                with_payload=with_payload,
            )
        else:
            prefetch = [
                models.Prefetch(
                    query=_scoring(r),
                    using=None if r.kind == "popular" else r.using,
                    filter=flt,
                    limit=query.prefetch,
                )
                for r in query.retrievers
            ]
            response = self.client.query_points(
                name,
                prefetch=prefetch,
                query=models.RrfQuery(
                    rrf=models.Rrf(k=query.rrf_k, weights=[r.weight for r in query.retrievers])
                ),
                query_filter=flt,
                limit=query.limit,
                with_payload=with_payload,
            )
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    def filter_only(
        self,
        name: str,
        where: Where,
        limit: int,
        order_by: str | None = None,
        with_payload: bool = True,
    ) -> list[Hit]:
        if order_by:
            response = self.client.query_points(
                name,
                query=models.OrderByQuery(
                    order_by=models.OrderBy(key=order_by, direction=models.Direction.DESC)
                ),
                query_filter=_filter(where),
                limit=limit,
                with_payload=with_payload,
            )
            return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]
        records, _ = self.client.scroll(
            name, scroll_filter=_filter(where), limit=limit, with_payload=with_payload
        )
        return [Hit(str(r.id), 0.0, dict(r.payload or {})) for r in records]

    def close(self) -> None:
        self.client.close()


for _name in _CALLS:
    setattr(ServerBackend, _name, _plainly(getattr(ServerBackend, _name)))
