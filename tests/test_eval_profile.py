"""`recteam eval redial-profile`: the seeker's side of a ReDial dialogue through the real team,
and the stored profile compared with the seeker's questionnaire."""

from __future__ import annotations

import json
from pathlib import Path

from recteam.evaluation.redial_data import load_movies
from recteam.evaluation.redial_profile import join_to_catalog, load_profile_dialogues
from recteam.memory.items import CatalogItem
from tests.conftest import FIXTURES
from tests.test_cli import recteam

REDIAL = FIXTURES / "redial"


def test_the_seekers_side_is_typed_as_a_person_would() -> None:
    movies = load_movies(REDIAL / "movies.csv")
    (d,) = load_profile_dialogues(REDIAL / "profile_dialogues.jsonl", movies)
    # consecutive seeker messages are one turn; titles without their year; the recommender's
    # messages are not replayed
    assert d.turns == (
        "Hi there. I loved Toy Story, it is my favorite movie",
        "I hated The Shining, and La Haine was great. Have you seen Some Unknown Film ?",
    )
    # rated films the seeker named ('did not say' left out); Finding Nemo only the recommender named
    assert dict(d.stances) == {"104": 1, "101": 0, "108": 1}
    assert d.recommender_only == 1


def test_join_to_catalog_by_title_and_year_within_one() -> None:
    movies = load_movies(REDIAL / "movies.csv")
    items = [
        CatalogItem(id="ts", title="Toy Story", year=1995),
        CatalogItem(id="if", title="It Follows", year=2015),  # ReDial says 2014
        CatalogItem(id="up", title="Up", year=2011),  # ReDial says 2009: too far
        CatalogItem(id="a1", title="Anchorman: The Legend", year=2004),
    ]
    joined = join_to_catalog(movies, items, ["104", "102", "107", "109", "108"])
    assert joined == {"104": "ts", "102": "if"}


def test_cli_counts_a_liked_film_stated_in_a_message(tmp_path: Path) -> None:
    done = recteam(
        "eval", "redial-profile",
        "--dialogues", str(REDIAL / "profile_dialogues.jsonl"),
        "--movies", str(REDIAL / "movies.csv"),
        "--json", "--out", str(tmp_path / "out"),
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # one object, nothing else on stdout
    assert result["dialogues"] == 1 and result["turns"] == 2 and result["errors"] == 0
    # the test catalog (tests/fixtures/films.jsonl) has Toy Story and The Shining, not La Haine
    assert result["likes"]["rated"] == 2 and result["likes"]["joinable"] == 1
    assert result["likes"]["held"] == 1 and result["likes"]["held_share"] == 1.0
    assert result["likes"]["wrong_stance"] == 0
    assert result["dislikes"]["rated"] == 1 and result["dislikes"]["joinable"] == 1
    assert result["films"]["rated_but_named_only_by_recommender"] == 1
    assert (tmp_path / "out" / "redial-profile.md").exists()
