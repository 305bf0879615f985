"""The web app through its API (gradio_client) against the live app: a turn streams the team's
steps and ends with named films, and sessions running at the same time stay apart. Each Client is
a session of its own, as a browser tab is."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client
from gradio_client.client import Job

pytest_plugins = ["tests.ui_server"]
pytestmark = pytest.mark.usefixtures("app_output")

FILMS = Path(__file__).parent / "fixtures" / "films.jsonl"
TIMEOUT_S = 30  # for one turn; an offline turn takes about a second


def _text(message: dict[str, Any]) -> str:
    """A chat message's text, whether its content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _title(message: dict[str, Any]) -> str:
    return str((message.get("metadata") or {}).get("title") or "")


BOLD = re.compile(r"<(?:b|strong)>(.*?)</(?:b|strong)>|\*\*(.+?)\*\*")


def _bold(text: str) -> list[str]:
    """Names in bold, as HTML (<b>, <strong>) or Markdown (**)."""
    return [html.unescape(h or m) for h, m in BOLD.findall(text)]


def _user_texts(history: list[dict[str, Any]]) -> list[str]:
    return [_text(m) for m in history if m.get("role") == "user"]


def _history(job: Job) -> list[dict[str, Any]]:
    """The chat history of a finished /send call."""
    try:
        return list(job.result(timeout=TIMEOUT_S)[0])
    except TimeoutError:
        pass
    updates = job.outputs()
    last = [_title(m) or _text(m)[:80] for m in (updates[-1][0] if updates else [])]
    pytest.fail(
        f"no reply within {TIMEOUT_S} s; {len(updates)} update(s) streamed, the last: {last}",
        pytrace=False,
    )


def _send(client: Client, message: str, user: str) -> tuple[list[dict[str, Any]], int]:
    """One turn; returns the final chat history and how many updates were streamed."""
    job = client.submit(message, user, api_name="/send")
    history = _history(job)
    return history, len(job.outputs())


@pytest.fixture(scope="module")
def catalog_titles() -> set[str]:
    with FILMS.open() as f:
        return {json.loads(line)["title"] for line in f if line.strip()}


def test_a_turn_streams_the_steps_and_names_films(live_app: str, catalog_titles: set[str]) -> None:
    client = Client(live_app, verbose=False)
    history, updates = _send(client, "I want a crime film from the 90s", "ui-client-carol")

    assert updates > 1, "the turn was not streamed: one update only"
    assert _user_texts(history) == ["I want a crime film from the 90s"]
    steps = [_title(m) for m in history if m.get("role") == "assistant" and _title(m)]
    assert any(re.search(r"\bsearcher\b", t) for t in steps), steps
    named = _bold(_text(history[-1]))
    assert named, f"the last message names no film in bold: {_text(history[-1])[:300]!r}"
    assert set(named) <= catalog_titles, f"films not in the catalog: {set(named) - catalog_titles}"


def test_sessions_at_the_same_time_do_not_see_each_other(live_app: str) -> None:
    alice, bob = Client(live_app, verbose=False), Client(live_app, verbose=False)
    said = {
        "alice": "I want a crime film from the 90s",
        "bob": "something funny with Jim Carrey",
    }
    # Both turns run at once: each job is submitted before either is waited for.
    jobs = {
        "alice": alice.submit(said["alice"], "ui-client-alice", api_name="/send"),
        "bob": bob.submit(said["bob"], "ui-client-bob", api_name="/send"),
    }
    histories = {who: _history(job) for who, job in jobs.items()}

    assert _user_texts(histories["alice"]) == [said["alice"]]
    assert _user_texts(histories["bob"]) == [said["bob"]]
    assert histories["alice"] != histories["bob"]
    for who, other in (("alice", "bob"), ("bob", "alice")):
        everything = "\n".join(_text(m) for m in histories[who])
        assert said[other] not in everything, f"{who}'s chat shows {other}'s message"

    # Each session goes on from its own dialogue only.
    more, _ = _send(alice, "more like that", "ui-client-alice")
    assert _user_texts(more) == [said["alice"], "more like that"]


def test_an_empty_message_or_name_is_a_notice_in_the_chat_not_an_error(live_app: str) -> None:
    client = Client(live_app, verbose=False)
    out = client.predict("   ", "ui-client-dan", api_name="/send")
    history, kept = out[0], out[1]
    assert "Type a message first" in _text(history[-1]) and kept == "   "
    out = client.predict("a crime film please", "", api_name="/send")
    assert "Enter your name first" in _text(out[0][-1])
    assert out[1] == "a crime film please"  # what was typed stays in the box
