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
