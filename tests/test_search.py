from __future__ import annotations

import pytest

from recteam.errors import NotFoundError
from recteam.memory.backend import Match, Where
from recteam.memory.catalog import SearchRequest
from recteam.memory.genres import genre_keys
from recteam.memory.store import MemoryStore


def titles(store: MemoryStore, **kw) -> list[str]:
    return [r.item.label for r in store.catalog.search(SearchRequest(**kw))]


def test_hybrid_search_finds_by_meaning_and_by_words(films_store: MemoryStore) -> None:
    assert "Jurassic Park (1993)" in titles(films_store, query="Jurassic", limit=3)
    space = titles(films_store, query="science fiction space astronauts", limit=8)
    assert {"Gravity (2013)", "Interstellar (2014)", "The Martian (2015)"} & set(space)


def test_genre_and_year_are_hard_filters(films_store: MemoryStore) -> None:
    results = films_store.catalog.search(
        SearchRequest(query="space", genres=["sci-fi"], year_min=2010, limit=50)
    )
    assert results
    for r in results:
        assert "Science Fiction" in r.item.genres
        assert r.item.year is not None and r.item.year >= 2010


def test_excluded_genres_people_and_titles_never_come_back(films_store: MemoryStore) -> None:
    results = films_store.catalog.search(
        SearchRequest(
            query="thriller",
            exclude_genres=["horror"],
            exclude=["Heat (1995)", "Zodiac"],
            limit=100,
        )
    )
    labels = {r.item.label for r in results}
    assert "Heat (1995)" not in labels and not any(lab.startswith("Zodiac") for lab in labels)
    assert all("Horror" not in r.item.genres for r in results)
    with_pacino = films_store.catalog.search(SearchRequest(people=["al pacino"], limit=50))
    assert {r.item.label for r in with_pacino} >= {"Heat (1995)", "The Godfather (1972)"}


def test_liked_titles_pull_similar_items_up_and_are_not_returned(films_store: MemoryStore) -> None:
    liked = titles(films_store, like=["Aliens"], limit=5)
    assert "Aliens (1986)" not in liked
    assert "Alien (1979)" in liked


def test_title_resolution_prefers_the_named_year(films_store: MemoryStore) -> None:
    assert films_store.catalog.resolve_title("heat").year == 1995  # the most recent of three
    assert films_store.catalog.resolve_title("Heat (1986)").year == 1986
    assert films_store.catalog.resolve_title("the matrix").title == "The Matrix"


def test_unknown_title_and_genre_are_named_in_the_error(films_store: MemoryStore) -> None:
    with pytest.raises(NotFoundError, match=r"no film titled 'Jurasic Park'.*Jurassic Park"):
        films_store.catalog.search(SearchRequest(like=["Jurasic Park"]))
    with pytest.raises(NotFoundError, match="genre 'polka'"):
        films_store.catalog.search(SearchRequest(query="anything", genres=["polka"]))


def test_search_on_an_empty_store_says_what_to_do(store: MemoryStore) -> None:
    with pytest.raises(NotFoundError, match="recteam ingest"):
        store.catalog.search(SearchRequest(query="x"))


def test_word_neighbors_share_a_films_terms_under_the_constraints(films_store: MemoryStore) -> None:
    catalog = films_store.catalog
    aliens = catalog.resolve_title("Aliens")
    near = catalog.word_neighbors([aliens.id, "no-such-film"], Where(), limit=5)
    assert list(near) == [aliens.id]  # an unknown id is skipped, not an error
    shares = {it.label: share for it, share in near[aliens.id]}
    assert "Aliens (1986)" not in shares  # the film itself is no neighbour
    assert "Alien (1979)" in shares  # Sigourney Weaver, science fiction, horror
    assert all(0 < s <= 1 for s in shares.values())
    assert list(shares.values()) == sorted(shares.values(), reverse=True)
    no_horror = Where(must_not=(Match("genre_keys", tuple(sorted(genre_keys("horror")))),))
    for it, _ in catalog.word_neighbors([aliens.id], no_horror, limit=20)[aliens.id]:
        assert "Horror" not in it.genres


def test_items_read_back_are_kept_until_the_catalog_changes(films_store: MemoryStore) -> None:
    catalog = films_store.catalog
    first = catalog.search(SearchRequest(query="Jurassic", limit=3))
    again = catalog.search(SearchRequest(query="Jurassic", limit=3))
    assert [r.item for r in again] == [r.item for r in first]
    if catalog.state_dir is not None:  # the embedded store builds each item once
        assert again[0].item is first[0].item
    heat = catalog.resolve_title("Heat (1995)")
    assert catalog.get([heat.id, "no-such-film", heat.id]) == [heat]
    vector = catalog.vectors([heat])[heat.id]
    assert catalog.vectors([heat])[heat.id] is vector or catalog.state_dir is None

    # A write through the catalog: what is read next is the new payload.
    poster = "https://example.org/heat.jpg"
    catalog.upsert([heat.model_copy(update={"popularity": heat.popularity + 1, "poster": poster})])
    changed = catalog.resolve_title("Heat (1995)")
    assert (changed.popularity, changed.poster) == (heat.popularity + 1, poster)
    assert catalog.get([heat.id]) == [changed]
    popular = catalog.popular(Where(must=(Match("title_key", ("heat",)),)), limit=5)
    assert changed in popular and heat not in popular
    assert changed.id in catalog.vectors([changed])


def test_a_write_around_the_catalog_is_seen_once_marked(films_store: MemoryStore) -> None:
    """A payload set on the engine directly (as an evaluation may) is read after
    mark_changed(), which renews the revision the cached items are kept under."""
    from recteam.memory.edge_backend import EdgeBackend

    catalog = films_store.catalog
    if not isinstance(films_store.backend, EdgeBackend):
        pytest.skip("the embedded engine only")
    import uuid

    import qdrant_edge as qe

    heat = catalog.resolve_title("Heat (1995)")
    name = catalog.collection
    assert name is not None
    shard = films_store.backend._shard(name)
    shard.update(qe.UpdateOperation.set_payload([uuid.UUID(heat.point_id)], {"popularity": 99.0}))
    catalog.mark_changed()
    assert catalog.resolve_title("Heat (1995)").popularity == 99.0
    assert catalog.get([heat.id])[0].popularity == 99.0
