"""The entity linker is built once per catalog revision and loaded from beside the store after;
any write to the catalog (ingest, upsert, replace) makes the next start build it anew."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recteam.agents.offline import linking
from recteam.agents.offline.linking import EntityLinker
from recteam.memory.ingest import ingest_path
from recteam.memory.store import MemoryStore, open_store
from tests.conftest import FIXTURES, memory_settings

FILMS = FIXTURES / "films.jsonl"


@pytest.fixture
def embedded(tmp_path: Path, embedder) -> MemoryStore:
    s = open_store(memory_settings("embedded", tmp_path / "store"), embedder)
    ingest_path(s, FILMS)
    yield s
    s.close()


def _builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = EntityLinker.from_items.__func__  # type: ignore[attr-defined]

    def counting(cls, items, lexicon=None, known=None):
        calls.append(1)
        return real(cls, items, lexicon, known)

    monkeypatch.setattr(EntityLinker, "from_items", classmethod(counting))
    return calls


def test_second_start_loads_the_same_linker(embedded, monkeypatch) -> None:
    builds = _builds(monkeypatch)
    first = EntityLinker.for_catalog(embedded.catalog)
    second = EntityLinker.for_catalog(embedded.catalog)
    assert len(builds) == 1
    assert embedded.catalog.cache_path(linking._CACHE_NAME).exists()
    assert second.size == first.size and second.film_titles == first.film_titles
    text = "I loved Heat (1995) and anything with Pacino"
    assert second.link(text) == first.link(text)


def test_a_catalog_write_invalidates_it(embedded, monkeypatch, tmp_path: Path) -> None:
    builds = _builds(monkeypatch)
    EntityLinker.for_catalog(embedded.catalog)
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"title": "Zyxwv Quorble", "year": 2001}) + "\n")
    ingest_path(embedded, extra)
    linker = EntityLinker.for_catalog(embedded.catalog)
    assert len(builds) == 2
    assert linker.exact_title("zyxwv quorble") is not None
    EntityLinker.for_catalog(embedded.catalog)
    assert len(builds) == 2


def test_a_broken_or_foreign_file_is_rebuilt(embedded, monkeypatch) -> None:
    builds = _builds(monkeypatch)
    EntityLinker.for_catalog(embedded.catalog)
    path = embedded.catalog.cache_path(linking._CACHE_NAME)
    path.write_bytes(b"not a pickle")
    assert EntityLinker.for_catalog(embedded.catalog).size[0] > 0
    assert len(builds) == 2
    assert not list(path.parent.glob("*.tmp*"))


def test_no_cache_without_a_local_folder(tmp_path: Path, embedder, monkeypatch) -> None:
    s = open_store(memory_settings("server", tmp_path / "store"), embedder)
    try:
        ingest_path(s, FILMS)
        assert s.catalog.revision() is None
        builds = _builds(monkeypatch)
        EntityLinker.for_catalog(s.catalog)
        EntityLinker.for_catalog(s.catalog)
        assert len(builds) == 2
    finally:
        s.close()
