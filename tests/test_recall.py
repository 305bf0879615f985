"""Memory the team reads by situation: lessons, accepted plans, earlier sessions, welcome back.

Each test drives whole turns through the offline team on a real store and reads the trace."""

from __future__ import annotations

import pytest

from recteam.agents.settings import TeamSettings
from recteam.agents.trace import MemoryAccess
from recteam.memory.store import MemoryStore, open_store
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender
from tests.conftest import memory_settings
from tests.team_helpers import finished, of, turn


@pytest.fixture
def rec(films_store: MemoryStore) -> Recommender:
    return Recommender(films_store, LLMSettings(), TeamSettings())


def reads(events: list, agent: str, kind: str) -> list[MemoryAccess]:
    return [
        m
        for m in of(events, MemoryAccess)
        if m.agent == agent and m.kind == kind and m.op == "read"
    ]


async def test_a_lesson_is_found_by_a_similar_situation_and_not_by_an_unrelated_one(
    rec: Recommender,
) -> None:
    first = finished(await turn(rec, "lia", "recommend some horror films from the 80s", "s1"))
    assert first.act == "RECOMMEND"
    await turn(rec, "lia", "no, not those", "s1")
    lessons = rec.store.memories.list("lia", ("reflection",))
    assert len(lessons) == 1 and "horror" in (lessons[0].situation or "").lower()

    similar = await turn(rec, "lia", "any scary movies from the eighties?", "s2")
    (found,) = [m for m in reads(similar, "manager", "reflection") if "session_id" not in m.filter]
    assert found.points == 1 and "turned down" in found.summary
    assert found.collection == rec.store.memories.name and found.ms is not None
    assert "user_id=lia" in found.filter

    unrelated = await turn(rec, "lia", "a romantic comedy for date night", "s3")
    (nothing,) = [
        m for m in reads(unrelated, "manager", "reflection") if "session_id" not in m.filter
    ]
    assert nothing.points == 0


async def test_an_accepted_plan_is_stored_and_starts_a_later_vague_request(
    rec: Recommender,
) -> None:
    done = finished(await turn(rec, "max", "a funny comedy from the 90s please", "s1"))
    assert done.act == "RECOMMEND"
    first = done.items[0]
    events = await turn(rec, "max", "I'll go with the first one", "s1")
    writes = [m for m in of(events, MemoryAccess) if m.kind == "plan" and m.op == "write"]
    assert len(writes) == 1 and first.title in writes[0].summary
    (plan,) = rec.store.memories.list("max", ("plan",))
    assert plan.data["request"]["genres"] == ["comedy"]
    assert [r["id"] for r in plan.data["accepted"]] == [first.id]

    # A new session, a vague request that is like the old one: the plan is the starting point.
    events = await turn(rec, "max", "what funny thing should I watch tonight?", "s2")
    (read,) = reads(events, "manager", "plan")
    assert read.points == 1
    done = finished(events)
    assert done.act == "RECOMMEND"
    assert all("Comedy" in i.genres for i in done.items)
    assert first.id not in {i.id for i in done.items}  # taken up already: not offered again


async def test_an_unrelated_user_never_reads_anothers_plans_or_lessons(rec: Recommender) -> None:
    await turn(rec, "ann", "a funny comedy from the 90s please", "s1")
    await turn(rec, "ann", "I'll go with the first one", "s1")
    events = await turn(rec, "bob", "a funny comedy from the 90s please", "s1")
    assert all(m.points == 0 for m in reads(events, "manager", "plan"))
    assert "ann" not in " ".join(m.summary + m.filter for m in of(events, MemoryAccess))


async def test_welcome_back_after_a_restart(tmp_path, embedder) -> None:
    settings = memory_settings("embedded", tmp_path / "store")
    from recteam.memory.ingest import ingest_path
    from tests.conftest import FILMS

    store = open_store(settings, embedder)
    ingest_path(store, FILMS)
    rec = Recommender(store, LLMSettings(), TeamSettings())
    done = finished(await turn(rec, "kim", "I loved Heat (1995), something like it", "s1"))
    assert done.act == "RECOMMEND"
    store.close()

    store = open_store(settings, embedder)  # a restart: nothing but the store is kept
    try:
        rec = Recommender(store, LLMSettings(), TeamSettings())
        hello = finished(await turn(rec, "kim", "hi", "s2"))
        assert hello.reply.startswith("Welcome back!")
        assert "Heat" in hello.reply and "?" in hello.reply  # an offer grounded in memory
        # only on the session's first turn
        again = finished(await turn(rec, "kim", "hi again", "s2"))
        assert "Welcome back" not in again.reply
        # a stranger is not welcomed back; nor is anyone when the setting is off
        stranger = finished(await turn(rec, "zed", "hi", "s1"))
        assert "Welcome back" not in stranger.reply
        quiet = Recommender(store, LLMSettings(), TeamSettings(welcome_back=False))
        assert "Welcome back" not in finished(await turn(quiet, "kim", "hi", "s3")).reply
    finally:
        store.close()


async def test_a_later_similar_request_cites_what_was_liked_last_time(rec: Recommender) -> None:
    done = finished(await turn(rec, "eve", "recommend a science fiction film", "s1"))
    liked = done.items[0]
    await rec.feedback("eve", "s1", liked.id, liked=True)
    events = await turn(rec, "eve", "I'd like some science fiction again", "s2")
    done = finished(events)
    assert done.act == "RECOMMEND"
    assert f"you liked *{liked.title}*" in done.reply
    assert reads(events, "manager", "episode")[0].points >= 1


async def test_no_recall_reads_when_recall_is_off(films_store: MemoryStore) -> None:
    rec = Recommender(
        films_store, LLMSettings(), TeamSettings(recall_plans=0, recall_episodes=0, lessons=0)
    )
    events = await turn(rec, "off", "a funny comedy from the 90s please", "s1")
    assert not [m for m in of(events, MemoryAccess) if m.agent == "manager"]


async def test_opening_the_chat_greets_a_known_name_once(rec: Recommender) -> None:
    from recteam.agents.trace import TurnFinished
    from recteam.ui.render import render_chat

    assert await rec.greet("new-person", "s1") == []
    await turn(rec, "lou", "I loved Heat (1995), something like it", "s1")
    events = await rec.greet("lou", "s2")
    done = events[-1]
    assert isinstance(done, TurnFinished) and done.reply.startswith("Welcome back!")
    assert "Heat" in done.reply
    assert [m for m in of(events, MemoryAccess) if m.kind == "episode" and m.points == 1]
    chat = render_chat(events)
    assert chat[0].metadata["title"] == "👋 Welcome back" and "Heat" in chat[-1].content
    # the greeting is the session's first turn: the first message is not greeted again
    assert await rec.greet("lou", "s2") == []
    first = finished(await turn(rec, "lou", "hi", "s2"))
    assert "Welcome back" not in first.reply


async def test_each_roles_memory_reads_and_writes_are_traced_with_where_and_cost(
    rec: Recommender,
) -> None:
    events = await turn(rec, "ida", "I loved Heat (1995), something like it", "s1")
    assert finished(events).act == "RECOMMEND"
    seen = {(m.agent, m.op, m.kind) for m in of(events, MemoryAccess)}
    assert {
        ("user_analyst", "read", "preference"),
        ("user_analyst", "read", "dialogue"),
        ("user_analyst", "read", "episode"),
        ("user_analyst", "write", "preference"),
        ("user_analyst", "write", "feedback"),
        ("manager", "read", "reflection"),
        ("manager", "read", "plan"),
        ("manager", "read", "episode"),
        ("searcher", "read", "feedback"),
        ("item_analyst", "read", "judgement"),
        ("item_analyst", "write", "judgement"),
    } <= seen
    for m in of(events, MemoryAccess):
        if m.kind != "items":  # catalog facts read by id
            assert m.collection and m.filter and m.points is not None and m.ms is not None, m
