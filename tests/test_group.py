"""Group recommendation: one pick for the user and a remembered friend, fairly."""

from __future__ import annotations

import pytest

from recteam.agents.group import member_names
from recteam.agents.settings import TeamSettings
from recteam.agents.trace import MemoryAccess
from recteam.memory.store import MemoryStore
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender
from tests.team_helpers import finished, of, turn


@pytest.fixture
def rec(films_store: MemoryStore) -> Recommender:
    return Recommender(films_store, LLMSettings(), TeamSettings())


def test_the_people_a_message_puts_beside_the_user() -> None:
    assert member_names("something for me and Sam tonight") == ["Sam"]
    assert member_names("Priya and I want a comedy") == ["Priya"]
    assert member_names("a film to watch with jo") == ["jo"]
    assert member_names("me and my wife want a thriller") == []
    assert member_names("films with Tom Hanks") == []


async def test_a_group_pick_excludes_each_members_dislikes(rec: Recommender) -> None:
    await turn(rec, "sam", "I hate horror. I didn't like The Matrix or Inception.")
    sam = rec.profile("sam")
    assert {i.title for i in sam.dislikes} >= {"The Matrix", "Inception"}
    await turn(rec, "ann", "I loved Aliens and Alien")
    events = await turn(rec, "ann", "something for me and Sam tonight", "s2")
    done = finished(events)
    assert done.act == "RECOMMEND" and done.items
    for item in done.items:
        assert "Horror" not in item.genres
        assert item.title not in {"The Matrix", "Inception", "Aliens", "Alien"}
    assert "you and sam" in done.reply.lower()
    (read,) = [m for m in of(events, MemoryAccess) if m.filter.startswith("user_id=Sam")]
    assert read.points == 1 and "group" in read.summary
    # Sam's profile is read, not changed; Ann's lasting profile does not take Sam's tastes.
    assert rec.profile("sam").dislikes == sam.dislikes
    assert not {i.title for i in rec.profile("ann").dislikes} & {"The Matrix", "Inception"}


async def test_an_unknown_name_is_no_group_and_the_setting_turns_groups_off(
    films_store: MemoryStore,
) -> None:
    rec = Recommender(films_store, LLMSettings(), TeamSettings())
    await turn(rec, "sam", "I hate science fiction")
    await turn(rec, "ann", "I loved Aliens")
    alone = finished(await turn(rec, "ann", "a film for me and Priya tonight", "s2"))
    assert "Priya" not in alone.reply
    off = Recommender(films_store, LLMSettings(), TeamSettings(group=False))
    done = finished(await turn(off, "ann", "something for me and Sam tonight", "s3"))
    assert "you and Sam" not in done.reply
    assert any("Science Fiction" in i.genres for i in done.items)  # Sam's dislike not applied
    on = finished(await turn(rec, "ann", "something for me and Sam tonight", "s4"))
    assert on.items and not any("Science Fiction" in i.genres for i in on.items)
