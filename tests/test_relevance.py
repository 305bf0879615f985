"""The searcher's ranking (agents/relevance.py): each signal moves the film it should, and every
signal has a weight in data/ranking.toml (a misspelt key would silently weigh nothing)."""

from __future__ import annotations

import numpy as np
import pytest

from recteam.agents.relevance import (
    SIGNALS,
    TurnSignals,
    check_config,
    explain,
    pool_sizes,
    rank,
    title_words,
    weights,
)
from recteam.memory.items import CatalogItem


def film(title: str, year: int, **kw) -> CatalogItem:
    return CatalogItem(id=f"{title.lower()}|{year}", title=title, year=year, **kw)


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


SEED = film("Toy Story", 1995, genres=["Animated"], cast=["Tom Hanks", "Tim Allen"], popularity=9)
SEQUEL = film("Toy Story 2", 1999, genres=["Animated"], cast=["Joan Cusack"], popularity=5)
OTHER = film("Cars", 2006, genres=["Animated"], cast=["Owen Wilson"], popularity=5)
DRAMA = film("Big", 1988, genres=["Comedy"], cast=["Tom Hanks"], popularity=5)
HORROR = film("Saw", 2004, genres=["Horror"], cast=["Cary Elwes"], popularity=5)
TEAM_PICK = film("Up", 2009, genres=["Animated"], popularity=8)  # the team's earlier suggestion


def order(pool, signals, vectors=None) -> list[str]:
    return [r.item.title for r in rank(pool, vectors or {}, signals)]


def test_every_signal_has_a_weight_and_every_weight_a_signal() -> None:
    s = TurnSignals(
        seeds=[SEED],
        team_seeds=[TEAM_PICK],
        named=[SEED.id, TEAM_PICK.id],
        words={SEED.id: {OTHER.id: 0.4}, TEAM_PICK.id: {DRAMA.id: 0.3}},
        seed_vectors={SEED.id: unit(1, 0), TEAM_PICK.id: unit(0, 1)},
        wanted_genres=["horror"],
        people=["Cary Elwes"],
        message_vector=unit(1, 0),
        dialogue_vector=unit(1, 0),
        comention={OTHER.id: 2.0},
        search_rank={OTHER.id: 0},
        title_df={"toy": 2, "story": 40},
    )
    scored = rank([SEQUEL, OTHER, DRAMA, HORROR], {i.id: unit(1, 1) for i in [OTHER]}, s)
    seen = {k for r in scored for k in r.signals}
    unused = {k for k, w in weights().items() if w == 0}  # kept in the file for tuning
    assert seen | unused == set(weights()) == set(SIGNALS) and not seen & unused
    assert {"search", "comention", "popular", "content", "words", "seeds"} <= set(pool_sizes())


def test_every_signal_reads_as_words() -> None:
    signals = {k: 0.5 for k in SIGNALS}
    text = explain(signals, top=len(SIGNALS))
    assert "_" not in text and text.count("0.50") == len(SIGNALS)
    assert explain({"words_user": 0.3, "popularity": 0.2}) == (
        "shares words with films you named 0.30, often recommended 0.20"
    )


def test_words_shared_with_the_films_named_rank_a_film_and_say_why() -> None:
    # Words (a director, a franchise) tie Big to the film the user named, Saw to the team's.
    s = TurnSignals(
        seeds=[SEED],
        team_seeds=[TEAM_PICK],
        named=[SEED.id, TEAM_PICK.id],
        words={SEED.id: {DRAMA.id: 0.5}, TEAM_PICK.id: {HORROR.id: 0.5}},
    )
    ranked = rank([HORROR, DRAMA], {}, s)
    assert [r.item.title for r in ranked] == ["Big", "Saw"]  # the user's film weighs more
    assert ranked[0].raw["words_user"] == 0.5 and ranked[0].raw["words_team"] == 0.0
    assert ranked[0].raw["words_recent"] == 0.25  # shared with one of the last two named
    assert "words_user" in ranked[0].signals and "words_team" in ranked[1].signals


def test_a_rare_title_word_shared_with_a_named_film_marks_its_series() -> None:
    s = TurnSignals(seeds=[SEED], title_df={"toy": 2, "story": 400}, rare_title_df=30)
    assert order([OTHER, SEQUEL], s)[0] == "Toy Story 2"
    # "story" alone is in hundreds of titles: it says nothing
    assert title_words("The Story of Us") & title_words("Toy Story") == {"story"}
    tale = film("The Story of Us", 1999, genres=["Animated"], popularity=5)
    ranked = rank([tale], {}, s)
    assert "title_seeds" not in ranked[0].signals


def test_people_the_user_named_and_cast_shared_with_named_films_lift_a_film() -> None:
    assert order([HORROR, OTHER], TurnSignals(people=["Cary Elwes"]))[0] == "Saw"
    gump = film("Forrest Gump", 1994, cast=["Tom Hanks"], popularity=9)
    assert order([OTHER, DRAMA], TurnSignals(seeds=[gump]))[0] == "Big"  # Tom Hanks


def test_wanted_genres_comentions_and_popularity() -> None:
    assert order([OTHER, HORROR], TurnSignals(wanted_genres=["horror"]))[0] == "Saw"
    assert order([HORROR, OTHER], TurnSignals(comention={OTHER.id: 3.0}))[0] == "Cars"
    famous = film("Jaws", 1975, popularity=14)
    assert order([OTHER, famous], TurnSignals())[0] == "Jaws"


def test_descriptions_close_to_named_films_and_to_the_message_rank_higher() -> None:
    vectors = {SEQUEL.id: unit(0, 1), OTHER.id: unit(1, 0.1), SEED.id: unit(1, 0)}
    common = {"toy": 900, "story": 900}  # no title signal here
    near_seed = TurnSignals(seeds=[SEED], seed_vectors=vectors, title_df=common)
    assert order([SEQUEL, OTHER], near_seed, vectors)[0] == "Cars"
    near_message = TurnSignals(message_vector=unit(0, 1), dialogue_vector=unit(0, 1))
    assert order([OTHER, SEQUEL], near_message, vectors)[0] == "Toy Story 2"


def test_the_order_is_reproducible_and_explains_itself() -> None:
    s = TurnSignals(seeds=[SEED], comention={OTHER.id: 1.0, SEQUEL.id: 1.0})
    a = rank([SEQUEL, OTHER, DRAMA], {}, s)
    b = rank([DRAMA, OTHER, SEQUEL], {}, s)
    assert [r.item.id for r in a] == [r.item.id for r in b]
    top = a[0]
    assert top.score == round(sum(top.signals.values()), 4)
    assert list(top.signals.values()) == sorted(top.signals.values(), key=abs, reverse=True)


def test_a_misspelt_or_missing_ranking_key_is_named() -> None:
    labels = {k: k.replace("_", " ") for k in SIGNALS}
    good = {"weights": weights(), "pool": pool_sizes(), "labels": labels}
    assert check_config(good) == good
    with pytest.raises(ValueError, match=r"\[labels\]: unknown key 'popularty'"):
        check_config({**good, "labels": {**labels, "popularty": "often recommended"}})
    with pytest.raises(ValueError, match="people = '': not a phrase"):
        check_config({**good, "labels": {**labels, "people": ""}})
    with pytest.raises(ValueError, match=r"\[labels\]: missing people"):
        check_config({**good, "labels": {k: v for k, v in labels.items() if k != "people"}})
    typo = {"weights": {**weights(), "popularty": 0.4}, "pool": pool_sizes()}
    with pytest.raises(ValueError, match="unknown key 'popularty'"):
        check_config(typo)
    missing = {"weights": {k: v for k, v in weights().items() if k != "people"}, "pool": {}}
    with pytest.raises(ValueError, match="missing people"):
        check_config(missing)
    with pytest.raises(ValueError, match="not a number"):
        check_config({"weights": {**weights(), "people": "high"}, "pool": pool_sizes()})


def test_only_the_seeds_steer_by_title_cast_and_description() -> None:
    gump = film("Forrest Gump", 1994, cast=["Tom Hanks"], popularity=9)
    # Toy Story was the team's own suggestion; the user then named Forrest Gump, and the
    # searcher passes only the user's films as seeds
    s = TurnSignals(
        seeds=[gump],
        seed_vectors={SEED.id: unit(1, 0), gump.id: unit(0, 1)},
        title_df={"toy": 2, "story": 2},
    )
    vectors = {SEQUEL.id: unit(1, 0), DRAMA.id: unit(0.2, 1)}
    ranked = {r.item.title: r.signals for r in rank([SEQUEL, DRAMA], vectors, s)}
    assert "title_seeds" not in ranked["Toy Story 2"] and "cast_seeds" in ranked["Big"]
    assert ranked["Big"]["similar_seeds"] > ranked["Toy Story 2"].get("similar_seeds", 0)
