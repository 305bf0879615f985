"""The catalog's answers are the same in every process (equal scores in id order) and what a
conversation asks again (a liked title, its vector) is not asked of the engine twice."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from recteam.memory import catalog as catalog_module
from recteam.memory.backend import (
    CollectionSpec,
    Hit,
    HybridQuery,
    PointData,
    Retriever,
    VectorBackend,
    Where,
)
from recteam.memory.catalog import ItemCatalog, SearchRequest
from recteam.memory.settings import SearchSettings
from recteam.memory.store import MemoryStore


def _id(n: int) -> str:
    return str(uuid.UUID(int=n))


class _Ranking(VectorBackend):
    """An engine that answers every query with one fixed ranking, cut at the query's limit,
    whose equal scores come in no particular order (as the engine's fusion gives them)."""

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.limits: list[int] = []

    def query(self, name: str, query: HybridQuery, with_payload: bool = True) -> list[Hit]:
        self.limits.append(query.limit)
        return list(self.hits[: query.limit])

    def get_alias(self, alias: str) -> str | None:
        return "items"

    def list_collections(self) -> list[str]:
        return ["items"]

    def create_collection(self, name: str, spec: CollectionSpec) -> None: ...
    def drop_collection(self, name: str) -> None: ...
    def set_alias(self, alias: str, name: str) -> None: ...
    def upsert(self, name: str, points: Sequence[PointData]) -> None: ...
    def delete(self, name: str, where: Where) -> None: ...

    def retrieve(
        self, name: str, ids: Sequence[str], with_vectors: bool = False
    ) -> list[PointData]:
        return []

    def scroll(self, *args: Any, **kwargs: Any) -> tuple[list[PointData], str | None]:
        return [], None

    def count(self, name: str, where: Where | None = None) -> int:
        return len(self.hits)

    def filter_only(self, *args: Any, **kwargs: Any) -> list[Hit]:
        return []

    def close(self) -> None: ...


class _Dim:
    dim = 4


def _ranked(hits: list[Hit], limit: int, kind: str = "dense") -> tuple[list[str], list[int]]:
    backend = _Ranking(hits)
    catalog = ItemCatalog(backend, _Dim(), None, "t", SearchSettings())  # type: ignore[arg-type]
    query = HybridQuery((Retriever(kind, "text", dense=np.zeros(4, np.float32)),), limit=limit)  # type: ignore[arg-type]
    return [h.id for h in catalog._ranked("items", query, with_payload=False)], backend.limits


def test_equal_scores_come_in_id_order_even_where_the_limit_cuts_them() -> None:
    # Engine order: a tie group of five (ids 9, 3, 7, 1, 5) straddles the limit of 3.
    hits = [Hit(_id(20), 0.9, {})] + [Hit(_id(n), 0.5, {}) for n in (9, 3, 7, 1, 5)]
    hits += [Hit(_id(2), 0.1, {})]
    ids, limits = _ranked(hits, limit=3)
    assert ids == [_id(20), _id(1), _id(3)]  # not the engine's 9 and 3
    assert limits == [3 + catalog_module.TIE_MARGIN]


def test_a_tie_group_longer_than_the_margin_is_asked_for_whole() -> None:
    group = [Hit(_id(n), 0.5, {}) for n in range(100, 60, -1)]  # 40 equal scores, ids descending
    ids, limits = _ranked([*group, Hit(_id(1), 0.1, {})], limit=2)
    assert ids == [_id(61), _id(62)]
    assert len(limits) > 1 and limits[-1] > 40  # asked again, with more, until the group ended


def test_the_popularity_order_alone_is_left_as_the_engine_gives_it() -> None:
    # order_by answers carry no scores to order ties by: the engine's order stands
    hits = [Hit(_id(n), 1.0, {}) for n in (5, 3, 4)]
    ids, _ = _ranked(hits, limit=3, kind="popular")
    assert ids == [_id(5), _id(3), _id(4)]


def _count_calls(monkeypatch: pytest.MonkeyPatch, backend: VectorBackend) -> list[tuple]:
    calls: list[tuple] = []
    for method in ("filter_only", "retrieve", "query"):
        real = getattr(backend, method)

        def spy(*args: Any, _real: Any = real, _method: str = method, **kwargs: Any) -> Any:
            calls.append((_method, kwargs.get("with_vectors", False)))
            return _real(*args, **kwargs)

        monkeypatch.setattr(backend, method, spy)
    return calls


def test_liked_titles_and_their_vectors_are_read_once_a_revision(
    films_store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = films_store.catalog
    request = SearchRequest(query="space", like=["Aliens"], exclude=["Heat (1995)"], limit=5)
    first = catalog.search(request)
    calls = _count_calls(monkeypatch, films_store.backend)
    again = catalog.search(request)
    assert [(r.item.id, r.score) for r in again] == [(r.item.id, r.score) for r in first]
    if catalog.state_dir is None:  # a server others write to: every search asks it
        assert ("filter_only", False) in calls and ("retrieve", True) in calls
        return
    # the title lookups and the liked film's vector came from memory; the ranking from the engine
    assert ("filter_only", False) not in calls
    assert ("retrieve", True) not in calls
    assert ("query", False) in calls

    # After a write the revision is new: the title is looked up again and sees the change.
    aliens = catalog.resolve_title("Aliens")
    catalog.upsert([aliens.model_copy(update={"popularity": aliens.popularity + 1})])
    calls.clear()
    assert catalog.resolve_title("Aliens").popularity == aliens.popularity + 1
    assert ("filter_only", False) in calls
    catalog.search(request)
    assert ("retrieve", True) in calls


def test_the_same_search_ranks_the_same_every_time(shipped_store: MemoryStore) -> None:
    """The engine's fusion orders equal scores differently from call to call (it collects them
    in a hash map seeded per map); the catalog's answer does not change, and of films with equal
    scores at the limit it keeps those of the smallest ids."""
    from recteam.evaluation.bench_search import requests

    catalog = shipped_store.catalog
    cases = []
    for _, request in requests(30):
        wide = catalog.search(dataclasses.replace(request, limit=30))
        cuts = [i + 1 for i in range(len(wide) - 1) if wide[i].score == wide[i + 1].score]
        cases += [(request, wide, cut) for cut in cuts[:1]]
    assert len(cases) >= 3  # searches whose limit splits a group of equal scores
    for request, wide, cut in cases:
        asked = dataclasses.replace(request, limit=cut)
        answers = {tuple((r.item.id, r.score) for r in catalog.search(asked)) for _ in range(8)}
        assert len(answers) == 1, answers
        (answer,) = answers
        assert list(answer) == [(r.item.id, r.score) for r in wide[:cut]]
        last = wide[cut - 1].score
        tied = sorted(r.item.point_id for r in wide if r.score == last)
        kept = [r.item.point_id for r in wide[:cut] if r.score == last]
        assert kept == tied[: len(kept)]
