"""The user simulator (recteam eval simulate): scripted seekers against the real offline team on
the tiny ReDial fixtures; the leak guard; the metrics on hand-made episodes; the command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from autogen_ext.models.replay import ReplayChatCompletionClient

from recteam.agents.settings import TeamSettings
from recteam.agents.trace import TurnStarted
from recteam.evaluation.redial_data import catalog_items, load_movies, load_wikipedia
from recteam.evaluation.redial_store import load_catalog, open_eval_store
from recteam.evaluation.simulator import (
    Episode,
    SimConfig,
    markdown_table,
    run_episode,
    run_simulation,
    seeker_targets,
    summarize,
)
from recteam.evaluation.simulator_seeker import MASK, ScriptedSeeker, Seeker, TitleGuard
from recteam.memory.items import CatalogItem
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender
from tests.conftest import FIXTURES
from tests.test_cli import recteam

REDIAL = FIXTURES / "redial"


def _say(message: str, accepted: bool = False) -> str:
    return json.dumps({"message": message, "accepted": accepted})


@pytest.fixture(scope="module")
def items() -> dict[str, CatalogItem]:
    movies = load_movies(REDIAL / "movies.csv")
    found, _ = catalog_items(movies, load_wikipedia(REDIAL / "wikipedia.json"))
    return {it.id: it for it in found}


@pytest.fixture
def rec(tmp_path: Path, embedder, items: dict[str, CatalogItem]) -> Iterator[Recommender]:
    store = open_eval_store(tmp_path / "store", tmp_path / "cache", embedder)
    load_catalog(store, list(items.values()))
    try:
        yield Recommender(store, LLMSettings(), TeamSettings())
    finally:
        store.close()


def _titles(items: dict[str, CatalogItem]) -> dict[str, str]:
    return {k: it.title for k, it in items.items()}


# targets -----------------------------------------------------------------------------------------
def test_targets_are_the_seekers_liked_movies_from_both_questionnaires(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps({
            "conversationId": "7", "initiatorWorkerId": 1, "messages": [],
            "initiatorQuestions": {"101": {"liked": 1}, "102": {"liked": 0}},
            "respondentQuestions": {"103": {"liked": 1}, "101": {"liked": 1}, "999": {"liked": 1}},
        }) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    assert seeker_targets(path, {"101", "102", "103"}) == {"7": ["101", "103"]}
    assert seeker_targets(REDIAL / "dialogues.jsonl", {"102"})["1"] == ["102"]


# the leak guard ----------------------------------------------------------------------------------
def test_title_guard_finds_and_masks_titles_but_not_ordinary_words() -> None:
    guard = TitleGuard(["It Follows", "Up", "Amélie"])
    assert guard.names("i want IT   follows!") and guard.names("like amelie")
    assert guard.names("Up (2009) was fun") and not guard.names("set up something scary")
    assert (
        guard.mask("Something like It Follows (2014), or Up?")
        == f"Something like {MASK}, or {MASK}?"
    )


# episodes through the real offline team ----------------------------------------------------------
async def test_a_seeker_accepting_a_target_in_the_picks_is_a_success_at_that_turn(
    rec: Recommender, items: dict[str, CatalogItem]
) -> None:
    seeker = Seeker(ScriptedSeeker(), [items["102"]])  # It Follows, horror
    ep = await run_episode(rec, seeker, Episode("1", ["102"]), _titles(items), budget=5)
    assert ep.error is None and ep.success
    first_hit = next(i for i, picks in enumerate(ep.picks, start=1) if "102" in picks)
    assert ep.success_turn == first_hit == ep.turns
    assert ep.success_turn >= 2  # the scripted seeker opens vaguely; the team asks first
    assert ep.seeker_accepted is True and ep.false_accepts == 0
    assert rec.store.memories.list("sim-1", ("episode",)) == []  # the seeker is forgotten


async def test_a_seeker_naming_a_target_is_regenerated_then_masked(
    rec: Recommender, items: dict[str, CatalogItem]
) -> None:
    client = ReplayChatCompletionClient([
        _say("I really want It Follows"),  # rejected
        _say("Fine: it follows (2014), a horror film"),  # still names it: masked
    ])  # fmt: skip
    seeker = Seeker(client, [items["102"]])
    events = [
        e async for e in rec.run_turn("probe", (await seeker.reply([], [], 1, 1)).message, "probe")
    ]
    sent = [e.message for e in events if isinstance(e, TurnStarted)]
    assert sent == [f"Fine: {MASK}, a horror film"]
    assert (seeker.stats.regenerated, seeker.stats.masked, seeker.stats.calls) == (1, 1, 2)
    # the retry tells the model why
    retry = client.create_calls[-1]["messages"]
    assert "It Follows" in str(retry[-2].content)  # its first answer, in the conversation
    assert "named one of your target films" in str(retry[-1].content)


async def test_a_regenerated_message_without_the_title_goes_through_unmasked(
    items: dict[str, CatalogItem],
) -> None:
    client = ReplayChatCompletionClient([_say("It Follows please"), _say("Scary, from 2014")])
    seeker = Seeker(client, [items["102"]])
    said = await seeker.reply([], [], 1, 5)
    assert said.message == "Scary, from 2014"
    assert (seeker.stats.regenerated, seeker.stats.masked) == (1, 0)


async def test_no_target_in_the_budget_is_a_failure(
    rec: Recommender, items: dict[str, CatalogItem]
) -> None:
    # The target is La Haine (title only); the seeker keeps asking for animation and accepts
    # the wrong picks, which the run overrules.
    client = ReplayChatCompletionClient(
        [_say("Animated films for my kids, like Toy Story", accepted=True)] * 3
    )
    seeker = Seeker(client, [items["108"]])
    ep = await run_episode(rec, seeker, Episode("9", ["108"]), _titles(items), budget=2)
    assert ep.error is None
    assert not ep.success and ep.success_turn is None and ep.turns == 2
    assert all("108" not in picks for picks in ep.picks)
    assert ep.false_accepts == 1  # after turn 1; after the last turn the seeker is not asked
    assert summarize([ep])["success_rate"] == 0.0


async def test_a_failing_seeker_model_ends_its_episode_only(
    rec: Recommender, items: dict[str, CatalogItem]
) -> None:
    seeker = Seeker(ReplayChatCompletionClient([]), [items["102"]])
    ep = await run_episode(rec, seeker, Episode("5", ["102"]), _titles(items), budget=3)
    assert ep.error and not ep.success and ep.turns == 0


# metrics -----------------------------------------------------------------------------------------
def test_metrics_on_hand_made_episodes() -> None:
    episodes = [
        Episode("a", ["x", "y"], success=True, success_turn=1, seeker_accepted=True,
                ranking=["x", "q", "y"]),
        Episode("b", ["z"], success=True, success_turn=3, seeker_accepted=False,
                ranking=["p", "z"]),
        Episode("c", ["w"], ranking=["p", "q"], false_accepts=2),
        Episode("d", ["v"], ranking=[]),
    ]  # fmt: skip
    s = summarize(episodes, ks=(1, 2, 3))
    assert s["episodes"] == 4 and s["successes"] == 2 and s["success_rate"] == 0.5
    assert s["mean_turns_to_success"] == 2.0
    # per episode R@1: .5, 0, 0, 0; R@2: .5, 1, 0, 0; R@3: 1, 1, 0, 0
    assert s["recall"] == {
        "R@1": pytest.approx(0.125), "R@2": pytest.approx(0.375), "R@3": pytest.approx(0.5)
    }  # fmt: skip
    assert s["seeker"]["accepted_a_hit"] == 0.5 and s["seeker"]["false_accepts"] == 2
    empty = summarize([])
    assert empty["success_rate"] == 0.0 and empty["mean_turns_to_success"] is None


# the whole run and the command -------------------------------------------------------------------
def test_run_reports_json_and_a_markdown_table(tmp_path: Path, embedder) -> None:
    config = SimConfig(
        REDIAL / "dialogues.jsonl", REDIAL / "movies.csv", REDIAL / "wikipedia.json",
        cache_dir=tmp_path / "cache", concurrency=1,
    )  # fmt: skip
    result = run_simulation(config, embedder, ScriptedSeeker())
    assert result["episodes"] == 1  # only dialogue 1 has a liked movie
    assert result["success_rate"] == 1.0 and result["seeker"]["errors"] == 0
    assert result["recall"]["R@50"] == 1.0
    assert "| success rate |" in markdown_table(result)
    json.dumps(result)


def test_cli_needs_a_seeker_model_and_runs_the_scripted_demo(tmp_path: Path) -> None:
    common = [
        "eval", "simulate",
        "--dialogues", str(REDIAL / "dialogues.jsonl"),
        "--movies", str(REDIAL / "movies.csv"),
        "--facts", str(REDIAL / "wikipedia.json"),
        "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    refused = recteam(*common, cwd=tmp_path)
    assert refused.returncode == 2 and "--model" in refused.stderr
    done = recteam(*common, "--scripted", "--turns", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "out" / "simulate.json").read_text())
    assert result["turn_budget"] == 3 and result["episodes"] == 1
    assert "| success rate |" in (tmp_path / "out" / "simulate.md").read_text()
    assert "mean turns to success" in done.stdout
