"""ui/render.py on hand-built events: what a person sees for each kind of event."""

from __future__ import annotations

import re

from recteam.agents.dialogue_state import DialogueState, Request
from recteam.agents.messages import ItemRef, PreferenceProfile, RecommendedItem
from recteam.agents.trace import (
    MemoryAccess,
    ModelCalled,
    ModelNotice,
    StepFinished,
    StepOutput,
    StepStarted,
    StepThought,
    ToolCalled,
    ToolReturned,
    TurnFinished,
    TurnStarted,
)
from recteam.ui.render import candidate_rows, item_cards, profile_markdown, render_chat

S = {"session_id": "s", "turn": 1}
ARRIVAL = RecommendedItem(
    id="arrival|2016",
    title="Arrival",
    year=2016,
    genres=["Drama", "Science Fiction"],
    reason="Quiet, hopeful <first contact>.",
)


def turn_events(finished: bool = True) -> list:
    events = [
        TurnStarted(**S, user_id="ana", message="something like Contact"),
        StepStarted(
            **S, agent="searcher", step_id="a1", title="searching the catalog", model="offline"
        ),
        ToolCalled(
            **S,
            agent="searcher",
            step_id="a1",
            tool="search_catalog",
            arguments={"like_ids": ["contact|1997"]},
        ),
        StepStarted(
            **S,
            agent="responder",
            step_id="b2",
            title="writing the reply",
            model="openai/gpt-4o-mini",
        ),
        ToolReturned(
            **S,
            agent="searcher",
            step_id="a1",
            tool="search_catalog",
            result=["Arrival (2016) 0.031"],
            duration_ms=4.2,
        ),
        MemoryAccess(
            **S, agent="searcher", step_id="a1", op="read", kind="items", summary="facts of Contact"
        ),
        StepThought(**S, agent="searcher", step_id="a1", content="20 candidates"),
        StepOutput(
            **S,
            agent="searcher",
            step_id="a1",
            payload_type="CandidateBus",
            payload={
                "candidates": [
                    {
                        "item": {"id": "arrival|2016", "title": "Arrival", "year": 2016},
                        "genres": ["Drama"],
                        "score": 0.0312,
                        "rank": 1,
                        "signals": {
                            "comention": 0.31,
                            "popularity": 0.2,
                            "genre_wanted": 0.2,
                            "people": 0.1,
                        },
                    }
                ]
            },
        ),
        StepFinished(**S, agent="searcher", step_id="a1", status="done", duration_ms=12.0),
        ModelNotice(**S, agent="responder", step_id="b2", kind="retry", detail="429 rate limited"),
    ]
    if finished:
        events += [
            StepFinished(
                **S,
                agent="responder",
                step_id="b2",
                status="done",
                duration_ms=800.0,
                llm_calls=1,
                prompt_tokens=120,
                completion_tokens=40,
                cost=0.0012,
                model="openai/gpt-4o-mini",
            ),
            TurnFinished(
                **S,
                act="RECOMMEND",
                reply="Here is a pick:\n- **Arrival** (2016), drama: why",
                items=[ARRIVAL],
                duration_ms=850.0,
                llm_calls=1,
                cost=0.0012,
            ),
        ]
    return events


def test_a_turn_is_the_user_message_a_group_of_steps_and_the_reply() -> None:
    messages = render_chat(turn_events())
    assert messages[0].role == "user" and messages[0].content == "something like Contact"
    group = messages[1].metadata
    assert (
        group["status"] == "done"
        and group["duration"] == 0.85
        and "RECOMMEND · 1 LLM calls" in group["log"]
    )
    searcher, responder = messages[2], messages[3]
    assert searcher.metadata["parent_id"] == responder.metadata["parent_id"] == group["id"]
    assert searcher.metadata["title"] == "🔎 searcher · searching the catalog"
    assert searcher.metadata["status"] == "done" and searcher.metadata["duration"] == 0.012
    body = str(searcher.content)
    for part in (
        "search_catalog",
        "contact|1997",
        "Arrival (2016) 0.031",
        "memory read · items",
        "💭 20 candidates",
        "CandidateBus",
    ):
        assert part in body
    assert "⚠️ **retry**: 429 rate limited" in str(responder.content)
    assert responder.metadata["log"] == "openai/gpt-4o-mini · 120+40 tokens · $0.0012"
    reply, cards = messages[4], messages[5]
    assert "Here is a pick:" in str(reply.content) and "- **Arrival**" not in str(
        reply.content
    )  # the card shows it
    assert "<b>Arrival</b>" in str(cards.content) and "Science Fiction" in str(cards.content)


def test_a_turn_in_progress_shows_pending_steps() -> None:
    messages = render_chat(turn_events(finished=False))
    assert messages[1].metadata["status"] == "pending"
    assert [m.metadata.get("status") for m in messages[2:]] == ["done", "pending"]
    assert len(messages) == 4  # no reply yet


def test_a_model_call_shows_its_reasoning_and_its_whole_prompt_folded() -> None:
    call = ModelCalled(
        **S,
        agent="responder",
        step_id="r1",
        model="openai/gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You write the reply."},
            {"role": "user", "content": "Films: Arrival ``` </details> done"},
        ],
        reply='{"text": "Try Arrival."}',
        reasoning="The user wants something quiet.",
        prompt_tokens=120,
        completion_tokens=30,
    )
    events = [
        StepStarted(**S, agent="responder", step_id="r1", title="writing", model="gpt"),
        call,
    ]
    step = render_chat(events)[-1]
    text = str(step.content)
    assert "📨 **openai/gpt-4o-mini** · 120+30 tokens" in text
    assert "🧠 The user wants something quiet." in text
    assert "<summary>the whole prompt (2 messages)</summary>" in text
    assert "[system]\nYou write the reply." in text and "[user]\nFilms: Arrival" in text
    assert "<summary>the model's answer</summary>" in text and "Try Arrival." in text
    # The prompt cannot close the fold early: its fences are neutralised.
    assert text.count("```") == 4


def test_cards_escape_catalog_text() -> None:
    html = item_cards([ARRIVAL])
    assert "&lt;first contact&gt;" in html and "<first contact>" not in html


def test_each_card_has_like_dislike_and_seen_buttons_until_one_is_pressed() -> None:
    cards = item_cards([ARRIVAL])
    values = re.findall(r'<button class="rt-act[^"]*" value="([^"]+)">', cards)
    assert values == ["liked:arrival|2016", "disliked:arrival|2016", "seen:arrival|2016"]
    judged = item_cards([ARRIVAL], verdicts={"Arrival (2016)": "seen"})
    assert "rt-act" not in judged and "Seen: it won't be suggested again" in judged
    # The same film judged after the turn: the turn's cards show it, the chat says it in a line.
    events = [
        *turn_events(),
        StepStarted(
            **S, agent="user_analyst", step_id="f9", title="seen: Arrival (2016)", model="offline"
        ),
    ]
    events.append(events[-1].model_copy(update={"step_id": "f10", "title": "liked: Gravity"}))
    chat = [str(m.content) for m in render_chat(events)]
    assert any("rt-verdict" in c for c in chat) and not any("rt-act" in c for c in chat)
    assert chat[-2:] == [  # a line for each button pressed, in order
        "👁 You've seen **Arrival (2016)**: it won't be suggested again.",
        "👍 You liked **Gravity**: the next picks will lean towards it.",
    ]


def test_a_card_shows_the_catalog_poster_unless_posters_are_off() -> None:
    url = "https://upload.wikimedia.org/wikipedia/en/d/df/Arrival%2C_Movie_Poster.jpg"
    with_poster = ARRIVAL.model_copy(update={"poster": url})
    cards = item_cards([with_poster, ARRIVAL])
    assert re.findall(r'<img class="rt-poster" src="([^"]+)"', cards) == [url]
    assert 'referrerpolicy="no-referrer"' in cards
    assert "<img" not in item_cards([with_poster], posters=False)
    events = turn_events()
    events[-1] = events[-1].model_copy(update={"items": [with_poster]})
    assert url in str(render_chat(events)[-1].content)
    assert "<img" not in str(render_chat(events, posters=False)[-1].content)


def test_a_card_button_value_escapes_the_item_id() -> None:
    odd = ARRIVAL.model_copy(update={"id": 'x"><img src=y>'})
    cards = item_cards([odd])
    assert "<img" not in cards and 'value="liked:x&quot;&gt;&lt;img src=y&gt;"' in cards


def test_feedback_steps_outside_a_turn_get_their_own_group() -> None:
    events = [
        StepStarted(
            **S,
            agent="user_analyst",
            step_id="f1",
            title="disliked: Gravity (2013)",
            model="offline",
        ),
        MemoryAccess(
            **S,
            agent="user_analyst",
            step_id="f1",
            op="write",
            kind="feedback",
            summary="disliked Gravity (2013)",
        ),
        StepFinished(**S, agent="user_analyst", step_id="f1", status="done", duration_ms=3.0),
    ]
    group, step, said = render_chat(events)
    assert (
        group.metadata["title"] == "📝 Feedback noted"
        and step.metadata["parent_id"] == group.metadata["id"]
    )
    assert "disliked Gravity" in str(step.content)
    # what the button did, in a line the user sees without opening anything
    assert said.content == "👎 You disliked **Gravity (2013)**: it won't come back."


def test_finished_turns_drawn_one_by_one_are_the_chat_drawn_at_once() -> None:
    # The web app draws each turn once, when it ends, after those drawn before (ui/app.py).
    def second(event):  # the same turn again, as turn 2 with steps of its own
        update = {"turn": 2}
        if getattr(event, "step_id", None):
            update["step_id"] = event.step_id + "-2"
        return event.model_copy(update=update)

    first = turn_events()
    feedback = [
        StepStarted(
            **S, agent="user_analyst", step_id="f1", title="liked: Arrival (2016)", model="offline"
        ),
        StepFinished(**S, agent="user_analyst", step_id="f1", status="done", duration_ms=3.0),
    ]
    later = feedback + [second(e) for e in turn_events()]
    verdicts = {"arrival|2016": "liked"}

    at_once = render_chat(first + later, verdicts=verdicts)
    one_by_one = render_chat(first, verdicts=verdicts) + render_chat(later, verdicts=verdicts)

    assert len(at_once) > 10 and one_by_one == at_once


def test_an_error_reaches_the_reply_as_a_sentence() -> None:
    events = [
        TurnStarted(**S, user_id="ana", message="hi"),
        TurnFinished(
            **S,
            act="CHAT",
            reply="Sorry, something went wrong.",
            duration_ms=5.0,
            error="the store is unavailable",
        ),
    ]
    assert "⚠️ the store is unavailable" in str(render_chat(events)[-1].content)


def test_candidate_rows_take_the_latest_bus_and_the_fit() -> None:
    events = turn_events() + [
        StepOutput(
            **S,
            agent="item_analyst",
            step_id="c3",
            payload_type="ItemAnalyses",
            payload={
                "analyses": [{"item_id": "arrival|2016", "fit": 0.82}],
                "draft": ["arrival|2016"],
            },
        ),
    ]
    # the two largest, in words
    why = "named with these films 0.31, often recommended 0.20"
    assert candidate_rows(events) == [[1, "Arrival", 2016, 0.031, why, 0.82]]


def test_profile_panel_shows_only_what_is_known() -> None:
    assert "Nothing known yet" in profile_markdown(PreferenceProfile(user_id="x"))
    p = PreferenceProfile(
        user_id="x", likes=[ItemRef(id="heat|1995", title="Heat", year=1995)], wants=["light"]
    )
    p.constraints.exclude_genres = ["Horror"]
    text = profile_markdown(p)
    assert "Heat (1995)" in text and "light" in text and "Horror" in text
    assert "dislikes" not in text and "now:" not in text
    # The request of this conversation shows apart from what lasts.
    state = DialogueState(request=Request(genres=["comedy"], year_min=2000, topics=["heist"]))
    text = profile_markdown(p, state)
    assert "**🎯 now: years**: 2000 – …" in text and "heist" in text and "comedy" in text


def test_a_role_that_fell_back_is_said_in_the_reply() -> None:
    events = [
        TurnStarted(**S, user_id="ana", message="hi"),
        StepStarted(
            **S, agent="manager", step_id="m1", title="planning the turn", model="openai/x"
        ),
        ModelNotice(
            **S,
            agent="manager",
            step_id="m1",
            kind="offline_fallback",
            detail="openai/x gave no usable answer (could not reach http://localhost:1; change llm.api_base)",
        ),
        StepFinished(**S, agent="manager", step_id="m1", status="done", duration_ms=3.0),
        TurnFinished(**S, act="ASK", reply="Which genre?", duration_ms=5.0),
    ]
    reply = str(render_chat(events)[-1].content)
    assert (
        reply.startswith("Which genre?")
        and "⚠️ manager: openai/x gave no usable answer" in reply
        and "llm.api_base" in reply
    )


def test_trace_text_quoting_a_model_or_the_catalog_renders_no_html() -> None:
    events = [
        TurnStarted(**S, user_id="ana", message="hi"),
        StepStarted(**S, agent="manager", step_id="m1", title="planning", model="openai/x"),
        StepThought(**S, agent="manager", step_id="m1", content='<img src="http://x/t.png">'),
        ModelNotice(
            **S,
            agent="manager",
            step_id="m1",
            kind="offline_fallback",
            detail='openai/x said <img src="http://x/n.png">',
        ),
        StepFinished(**S, agent="manager", step_id="m1", status="done", duration_ms=3.0),
        TurnFinished(
            **S,
            act="ASK",
            reply="Which genre?",
            duration_ms=5.0,
            fell_back=["manager"],
            offline_only=True,
        ),
    ]
    rendered = " ".join(str(m.content) for m in render_chat(events))
    assert "<img" not in rendered and "&lt;img" in rendered
    assert "the offline policy answered alone" in rendered


def test_no_text_anyone_wrote_makes_the_browser_fetch_an_image() -> None:
    attack = '<img src="http://evil.example/a.png"> look ![pixel](http://evil.example/b.png)'
    events = [
        TurnStarted(**S, seq=0, ts=0, user_id="u", message=attack),
        TurnFinished(**S, seq=1, ts=0, act="CHAT", reply=f"You said: {attack}", duration_ms=1),
    ]
    chat = render_chat(events)
    text = " ".join(str(m.content) for m in chat)
    assert "<img" not in text and "![" not in text
    assert "[pixel](http://evil.example/b.png)" in text  # a link to click, not an image to load
    assert "&lt;img" in text  # shown as text


def test_a_payload_reads_as_a_short_list_with_the_raw_json_folded() -> None:
    events = [
        TurnStarted(**S, seq=0, ts=0, user_id="u", message="hi"),
        StepStarted(**S, seq=1, ts=0, agent="searcher", step_id="x", title="t", model="offline"),
        StepOutput(
            **S,
            seq=2,
            ts=0,
            agent="searcher",
            step_id="x",
            payload_type="CandidateBus",
            payload={"candidates": [{"item": {"title": "Heat", "year": 1995}}] * 5, "note": ""},
        ),
        StepFinished(**S, seq=3, ts=0, agent="searcher", step_id="x", status="done", duration_ms=1),
        TurnFinished(**S, seq=4, ts=0, act="CHAT", reply="ok", duration_ms=1),
    ]
    chat = render_chat(events)
    step = next(m for m in chat if "searcher" in str(m.metadata.get("title", "")))
    text = str(step.content)
    assert "- **candidates**: 5: Heat (1995), Heat (1995), Heat (1995), Heat (1995), …" in text
    assert "note" not in text.split("<details>")[0]  # empty fields are left out
    assert "<details><summary>raw JSON</summary>" in text and '"year": 1995' in text
    turn = next(m for m in chat if str(m.metadata.get("title", "")).startswith("🤝"))
    assert turn.metadata["log"] == "CHAT · offline, no LLM calls"
