"""The dialogue state across turns (agents/dialogue_state.py, agents/state_update.py): film
stances, references to the last picks, button stances that no pronoun flips, the request's scope,
lasting tastes, counts, and the acts these lead to. Run through the real offline team on the 62
films of tests/fixtures/films.jsonl."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from team_helpers import finished, turn

from recteam.agents.answers import answer_question
from recteam.agents.dialogue_state import DialogueState, Request
from recteam.agents.messages import ItemRef, PreferenceProfile
from recteam.agents.offline.moves import read_moves
from recteam.agents.offline.understanding import Understanding
from recteam.agents.settings import TeamSettings
from recteam.agents.state_update import advance
from recteam.memory.ingest import ingest_path
from recteam.memory.items import CatalogItem
from recteam.memory.settings import MemorySettings
from recteam.memory.store import MemoryStore, open_store
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender
from tests.conftest import FILMS

ARRIVAL = ItemRef(id="arrival|2016", title="Arrival", year=2016)
INTERSTELLAR = ItemRef(id="interstellar|2014", title="Interstellar", year=2014)
GRAVITY = ItemRef(id="gravity|2013", title="Gravity", year=2013)
OCEANS = ItemRef(id="ocean s eleven|2001", title="Ocean's Eleven", year=2001)
INSIDE_MAN = ItemRef(id="inside man|2006", title="Inside Man", year=2006)
ITALIAN_JOB = ItemRef(id="italian job|2003", title="The Italian Job", year=2003)


@pytest.fixture(scope="module")
def dialogue_store(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[MemoryStore]:
    """One embedded store for the module: every test talks as its own user, and ingesting the
    films once keeps the module fast (both backends' turns are covered in test_team_offline)."""
    store = open_store(
        MemorySettings(backend="embedded", path=tmp_path_factory.mktemp("dialogue") / "store"),
        embedder,
    )
    ingest_path(store, FILMS)
    yield store
    store.close()


@pytest.fixture(scope="module")
def rec(dialogue_store: MemoryStore) -> Recommender:
    return Recommender(dialogue_store, LLMSettings(), TeamSettings())


def stances(rec: Recommender, user: str, session: str = "s1") -> dict[str, str]:
    return {f.item.label: f.stance for f in rec.dialogue_state(user, session).films}


async def test_a_button_dislike_survives_more_like_that(rec: Recommender) -> None:
    await rec.add_assistant_turn("u1", "s1", "picks", [OCEANS, INSIDE_MAN, ITALIAN_JOB])
    await rec.feedback("u1", "s1", INSIDE_MAN.id, liked=False)
    done = finished(await turn(rec, "u1", "more like that"))
    assert done.act == "RECOMMEND"
    assert stances(rec, "u1")["Inside Man (2006)"] == "disliked"
    assert INSIDE_MAN.id in {i.id for i in rec.profile("u1").dislikes}
    assert INSIDE_MAN.id not in {i.id for i in rec.profile("u1").likes}
    assert all(i.id != INSIDE_MAN.id for i in done.items)


async def test_naming_a_button_disliked_film_by_title_changes_its_stance(rec: Recommender) -> None:
    await rec.add_assistant_turn("u2", "s1", "picks", [OCEANS, INSIDE_MAN])
    await rec.feedback("u2", "s1", INSIDE_MAN.id, liked=False)
    await turn(rec, "u2", "no, I was wrong, I actually loved Inside Man")
    assert stances(rec, "u2")["Inside Man (2006)"] == "liked"


async def test_every_film_of_a_list_is_liked_and_none_comes_back(rec: Recommender) -> None:
    done = finished(await turn(rec, "u3", "I like Aliens, Blade Runner and The Matrix"))
    assert done.act == "RECOMMEND"
    assert {k: v for k, v in stances(rec, "u3").items()} == {
        "Aliens (1986)": "liked",
        "Blade Runner (1982)": "liked",
        "The Matrix (1999)": "liked",
    }
    assert not {i.title for i in done.items} & {"Aliens", "Blade Runner", "The Matrix"}


async def test_already_seen_that_one_gets_a_replacement(rec: Recommender) -> None:
    await turn(rec, "u4", "I want a science fiction film")
    first = finished(await turn(rec, "u4", "recommend me something"))
    assert first.items
    done = finished(await turn(rec, "u4", "I've already seen that one"))
    assert done.act == "RECOMMEND" and done.items
    assert stances(rec, "u4")[f"{first.items[0].title} ({first.items[0].year})"] == "seen"
    assert first.items[0].id not in {i.id for i in done.items}


async def test_already_seen_two_named_films_replaces_them(rec: Recommender) -> None:
    await rec.add_assistant_turn("u5", "s1", "picks", [OCEANS, INSIDE_MAN, ITALIAN_JOB])
    done = finished(await turn(rec, "u5", "I've already seen Inside Man and The Italian Job"))
    assert done.act == "RECOMMEND"
    assert {INSIDE_MAN.id, ITALIAN_JOB.id}.isdisjoint({i.id for i in done.items})
    assert stances(rec, "u5") == {"Inside Man (2006)": "seen", "The Italian Job (2003)": "seen"}


async def test_a_loved_film_then_what_next_is_a_request(rec: Recommender) -> None:
    done = finished(await turn(rec, "u6", "I just watched Jurassic Park and loved it. What next?"))
    assert done.act == "RECOMMEND" and done.items
    assert stances(rec, "u6") == {"Jurassic Park (1993)": "liked"}


async def test_a_new_direction_drops_the_last_requests_years(rec: Recommender) -> None:
    await turn(rec, "u7", "a comedy from the 90s")
    request = rec.dialogue_state("u7", "s1").request
    assert (request.year_min, request.year_max) == (1990, 1999)
    done = finished(await turn(rec, "u7", "back to science fiction like Blade Runner"))
    request = rec.dialogue_state("u7", "s1").request
    assert (request.year_min, request.year_max) == (None, None)
    assert request.genres == ["science fiction"] and [i.title for i in request.like] == [
        "Blade Runner"
    ]
    assert any((i.year and i.year < 1990) or (i.year and i.year > 1999) for i in done.items)


async def test_a_refinement_keeps_the_request(rec: Recommender) -> None:
    await turn(rec, "u8", "science fiction please")
    await turn(rec, "u8", "only from after 2000")
    request = rec.dialogue_state("u8", "s1").request
    assert request.genres == ["science fiction"] and request.year_min == 2001


async def test_a_hated_genre_lasts_a_refused_one_does_not(rec: Recommender) -> None:
    await turn(rec, "u9", "I hate horror. Something from the 2010s please")
    await turn(rec, "u10", "a thriller, no horror this time")
    assert "horror" in rec.profile("u9").constraints.exclude_genres
    assert "horror" not in rec.profile("u10").constraints.exclude_genres
    assert "horror" in rec.dialogue_state("u10", "s1").request.exclude_genres
    # A new session keeps what lasts and starts a fresh request.
    fresh = finished(await turn(rec, "u9", "recommend a movie with Sandra Bullock", "s2"))
    assert fresh.act == "RECOMMEND"
    assert rec.dialogue_state("u9", "s2").request.year_min is None
    assert all("Horror" not in i.genres for i in fresh.items)


async def test_just_one_means_one_pick(rec: Recommender) -> None:
    done = finished(await turn(rec, "u11", "give me just one science fiction film"))
    assert done.act == "RECOMMEND" and len(done.items) == 1
    done = finished(await turn(rec, "u11", "two more please"))
    assert len(done.items) == 2


async def test_thanks_thats_all_is_small_talk(rec: Recommender) -> None:
    await rec.add_assistant_turn("u12", "s1", "picks", [ARRIVAL, INTERSTELLAR])
    done = finished(await turn(rec, "u12", "thanks, that's all"))
    assert done.act == "CHAT" and not done.items


async def test_not_those_surprise_me_gives_other_picks(rec: Recommender) -> None:
    await turn(rec, "u13", "science fiction please")
    first = finished(await turn(rec, "u13", "recommend something"))
    done = finished(await turn(rec, "u13", "not those, surprise me"))
    assert done.act == "RECOMMEND" and done.items
    assert {i.id for i in first.items}.isdisjoint({i.id for i in done.items})
    assert set(stances(rec, "u13").values()) == {"rejected"}


async def test_the_second_one_sounds_great_accepts_that_pick(rec: Recommender) -> None:
    await rec.add_assistant_turn("u14", "s1", "picks", [ARRIVAL, INTERSTELLAR, GRAVITY])
    done = finished(await turn(rec, "u14", "the second one sounds great"))
    assert done.act == "CHAT"
    assert stances(rec, "u14") == {"Interstellar (2014)": "accepted"}


async def test_the_first_two_refers_to_two_picks(rec: Recommender) -> None:
    await rec.add_assistant_turn("u15", "s1", "picks", [ARRIVAL, INTERSTELLAR, GRAVITY])
    await turn(rec, "u15", "I've seen the first two")
    assert stances(rec, "u15") == {"Arrival (2016)": "seen", "Interstellar (2014)": "seen"}


async def test_a_question_is_answered_not_turned_into_a_request(rec: Recommender) -> None:
    done = finished(await turn(rec, "u16", "Is Alien scary?"))
    assert done.act == "ANSWER" and not done.items
    assert done.reply.startswith("Yes")
    done = finished(await turn(rec, "u16", "who is in The Matrix?"))
    assert done.act == "ANSWER" and "stars" in done.reply


async def test_reasons_claim_a_liked_person_only_when_the_user_named_them(rec: Recommender) -> None:
    done = finished(await turn(rec, "u17", "I loved Heat (1995), something similar please"))
    assert done.items
    assert not any("whom you" in i.reason for i in done.items)
    assert len({i.reason for i in done.items}) == len(done.items)


async def test_the_opening_line_varies_from_turn_to_turn(rec: Recommender) -> None:
    first = finished(await turn(rec, "u18", "science fiction please"))
    second = finished(await turn(rec, "u18", "more please"))
    assert first.reply.splitlines()[0] != second.reply.splitlines()[0]


# -- the merge step and its parts, without the team ----------------------------------------------


def test_a_film_named_as_liked_lifts_a_genre_filter_it_does_not_meet() -> None:
    state = DialogueState(request=Request(genres=["comedy"], year_min=1990, year_max=1999))
    alien = CatalogItem(title="Alien", year=1979, genres=["Science Fiction", "Horror"])
    u = Understanding(liked_items=[ItemRef(id=alien.id, title="Alien", year=1979)])
    after, _ = advance(state, PreferenceProfile(user_id="x"), u, lambda _id: alien)
    assert after.request.genres == [] and after.request.year_min is None
    assert [i.title for i in after.request.like] == ["Alien"]


def test_what_is_said_of_an_ambiguous_title_waits_for_the_film_meant() -> None:
    heat_95 = ItemRef(id="heat|1995", title="Heat", year=1995)
    heat_86 = ItemRef(id="heat|1986", title="Heat", year=1986)
    state, profile = advance(
        DialogueState(),
        PreferenceProfile(user_id="x"),
        Understanding(liked_items=[heat_95], ambiguous=[heat_95, heat_86]),
    )
    assert state.clarify == [heat_95, heat_86] and state.clarify_stance == "liked"
    assert state.films == [] and profile.likes == []
    state, profile = advance(state, profile, Understanding(clarified=heat_86))
    assert {f.item.id: f.stance for f in state.films} == {"heat|1986": "liked"}
    assert [i.id for i in profile.likes] == ["heat|1986"] and state.clarify == []


def test_a_user_who_moves_on_without_saying_which_keeps_the_best_known_reading() -> None:
    heat_95 = ItemRef(id="heat|1995", title="Heat", year=1995)
    heat_86 = ItemRef(id="heat|1986", title="Heat", year=1986)
    alien = ItemRef(id="alien|1979", title="Alien", year=1979)
    state, profile = advance(
        DialogueState(),
        PreferenceProfile(user_id="x"),
        Understanding(disliked_items=[heat_95], ambiguous=[heat_95, heat_86]),
    )
    assert profile.dislikes == []
    # the next message answers something else: the dislike is not lost, nor given twice
    state, profile = advance(state, profile, Understanding(liked_items=[alien]))
    assert {f.item.id: f.stance for f in state.films} == {
        "heat|1995": "disliked",
        "alien|1979": "liked",
    }
    assert [i.id for i in profile.dislikes] == ["heat|1995"] and state.clarify_stance is None
    state, profile = advance(state, profile, Understanding())
    assert [i.id for i in profile.dislikes] == ["heat|1995"]


@pytest.mark.parametrize(
    ("text", "count"),
    [("just one please", 1), ("give me two more", 2), ("5 movies", 5), ("one of them", None)],
)
def test_counts(text: str, count: int | None) -> None:
    assert read_moves(text).count == count


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("who directed it?", "director"),
        ("who's in it", "cast"),
        ("when did it come out", "year"),
        ("is it too scary for my kids", "kids"),
        ("is it scary", "scary"),
        ("what's it about", "plot"),
    ],
)
def test_question_kinds(text: str, kind: str) -> None:
    assert read_moves(text, question=True).question == kind


def test_answers_come_from_facts_or_say_the_catalog_does_not_know() -> None:
    heat = CatalogItem(
        title="Heat",
        year=1995,
        genres=["Crime", "Drama"],
        cast=["Al Pacino", "Robert De Niro"],
        directors=["Michael Mann"],
        description="Heat is a 1995 crime film about a professional thief and a detective.",
    )
    assert answer_question(heat, "director") == "Heat (1995) was directed by Michael Mann."
    assert "a professional thief" in answer_question(heat, "plot")
    assert "can't tell you how long" in answer_question(heat, "length")
    bare = CatalogItem(title="Oldboy", year=2003)
    assert "doesn't say who directed" in answer_question(bare, "director")
    assert "only its title and year" in answer_question(bare, "plot")
    toy = CatalogItem(title="Toy Story", year=1995, genres=["Animated", "Comedy"])
    assert "likely fine" in answer_question(toy, "kids")


def test_a_con_about_something_to_avoid_sends_the_draft_back() -> None:
    """'Nothing violent': the offline item analyst finds it in a summary, names it in a con and
    in `avoided`, and the reflector revises while the bus holds films without it."""
    from recteam.agents.context import TurnContext
    from recteam.agents.messages import Candidate
    from recteam.agents.reflector import _decide, rule_issues
    from recteam.agents.scoring import LikedFacts, analyse

    profile = PreferenceProfile(user_id="x", avoids=["violent"])
    brutal = Candidate(
        item=ItemRef(id="a|2000", title="A", year=2000),
        genres=["Crime"],
        summary="A hitman seeks revenge in a brutal gang war.",
        rank=1,
    )
    gentle = Candidate(
        item=ItemRef(id="b|2001", title="B", year=2001),
        genres=["Comedy"],
        summary="Two friends open a bakery.",
        rank=2,
    )
    ctx = TurnContext(
        session_id="s",
        user_id="x",
        turn=1,
        message="",
        store=None,  # type: ignore[arg-type]
        linker=None,
        settings=TeamSettings(),
        tracer=None,  # type: ignore[arg-type]
    )
    ctx.profile, ctx.candidates = profile, [brutal, gentle]
    ctx.analyses = {c.item.id: analyse(c, profile, LikedFacts()) for c in ctx.candidates}
    assert ctx.analyses["a|2000"].avoided == ["violent"]
    assert ctx.analyses["a|2000"].fit < ctx.analyses["b|2001"].fit
    assert any("violent" in con for con in ctx.analyses["a|2000"].cons)
    ctx.draft = ["a|2000"]
    issues = rule_issues(ctx)
    assert [i.kind for i in issues] == ["avoid"]
    assert _decide(ctx, issues).verdict == "REVISE" and "a|2000" in ctx.rejected_this_turn
    # With nothing better on the bus, a soft wish never empties the reply.
    ctx.draft, ctx.candidates, ctx.rejected_this_turn = ["a|2000"], [brutal], set()
    assert rule_issues(ctx) == []


def test_a_film_taken_up_is_chosen_for_good_never_called_liked_nor_recommended_again() -> None:
    fargo = ItemRef(id="fargo|1996", title="Fargo", year=1996)
    state, profile = advance(
        DialogueState(), PreferenceProfile(user_id="x"), Understanding(accepted_items=[fargo])
    )
    assert [i.id for i in profile.chosen] == ["fargo|1996"] and profile.likes == []
    assert [i.id for i in profile.constraints.exclude_items] == ["fargo|1996"]
    assert profile.known_enough()
    # later disliked: no longer a positive example
    state, profile = advance(state, profile, Understanding(disliked_items=[fargo]))
    assert profile.chosen == [] and [i.id for i in profile.dislikes] == ["fargo|1996"]
