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


def _cached_state(linker: EntityLinker) -> dict:
    for ready in ("_well_known", "_typo_buckets", "film_titles", "title_word_counts"):
        getattr(linker, ready)  # the cached properties, computed as a build's save does
    return {k: v for k, v in vars(linker).items() if k not in linking._NOT_CACHED}


def test_the_loaded_linker_is_the_built_one(embedded) -> None:
    built = EntityLinker.from_items(embedded.catalog.iter_items())
    EntityLinker.for_catalog(embedded.catalog)  # builds and writes the file
    loaded = EntityLinker.for_catalog(embedded.catalog)  # reads it
    assert isinstance(loaded._films, linking._CachedFilms)  # really read from the file
    want, got = _cached_state(built), _cached_state(loaded)
    assert set(got) == set(want)
    for name in want:
        assert got[name] == want[name], name
    assert dict(loaded._films) == built._films
    for texts in (
        "I loved Heat (1995) and anything with Pacino",
        "something like jurasic park, nothing before 2000",
        "the matirx or Alien, Aliens and Heat",
    ):
        assert loaded.link(texts) == built.link(texts)
        words = texts.lower().replace(",", "").split()
        for n in range(1, len(words) + 1):
            assert loaded.misspelling(words[:n]) == built.misspelling(words[:n])
    ref = built.exact_title("heat")
    assert ref is not None
    assert loaded.exact_title("heat") == ref and loaded.namesakes(ref) == built.namesakes(ref)


def test_the_file_is_data_not_code(embedded, tmp_path: Path) -> None:
    """The cache lives in the user's store folder: a file someone else wrote there, under the
    right key or the old pickle name, is never executed, only rebuilt over."""
    import pickle

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    EntityLinker.for_catalog(embedded.catalog)
    path = embedded.catalog.cache_path(linking._CACHE_NAME)
    key = path.read_bytes().split(b"\n", 1)[0]
    old = embedded.catalog.cache_path("linker.pickle")
    old.write_bytes(pickle.dumps(key.decode()) + pickle.dumps(Payload()))
    path.write_bytes(key + b"\n" + pickle.dumps(Payload()))
    linker = EntityLinker.for_catalog(embedded.catalog)
    assert linker.exact_title("heat") is not None
    assert not marker.exists()
    assert not old.exists()  # the old format's file is removed when the new one is written
    assert path.read_bytes().startswith(key + b"\n{")
    assert not path.read_bytes().split(b"\n", 1)[1].startswith(b"\x80")  # no pickle protocol


def test_a_new_attribute_must_be_cached(embedded) -> None:
    linker = EntityLinker.from_items(embedded.catalog.iter_items())
    _cached_state(linker)
    linking._to_json(linker)
    linker.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="extra"):
        linking._to_json(linker)


def test_films_are_made_when_read(embedded) -> None:
    EntityLinker.for_catalog(embedded.catalog)
    loaded = EntityLinker.for_catalog(embedded.catalog)
    films = loaded._films
    assert isinstance(films, linking._CachedFilms)
    assert "heat" in films and "no such title at all" not in films
    assert films.get("no such title at all") is None
    with pytest.raises(KeyError):
        films["no such title at all"]
    first = films["heat"]
    assert first is films["heat"] and all(f.title.lower().endswith("heat") for f in first)
    assert len(films) == len(list(films)) == loaded.size[0]
