"""The labelled messages of `recteam eval understanding` (recteam/evaluation/understanding*.yaml)
and their scorer: (a) the files load and every film label is a catalog film; (b) the metrics on
tiny hand-computed inputs; (c) the whole first set through the offline team, against act accuracy >= 0.90 (the target)
and a film-stance F1 floor (the target, 0.90, is not reached yet)."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from importlib import resources
from pathlib import Path

import pytest

from recteam.agents.dialogue_state import DialogueState, FilmState
from recteam.agents.messages import ItemRef
from recteam.agents.settings import TeamSettings
from recteam.evaluation.understanding import (
    ACTS,
    Case,
    CaseError,
    CaseResult,
    LabelIndex,
    facet_matches,
    load_cases,
    match_lists,
    prf,
    run_cases,
    shipped_cases,
    stance_pairs,
    summarize,
)
from recteam.memory.items import CatalogItem
from recteam.memory.store import MemoryStore
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender
from tests.test_cli import recteam

ACT_TARGET = 0.90
STANCE_F1_TARGET = 0.90
# What the offline team is held to in make test: the act target, and for film stances the floor
# it reached when this test was last raised (0.84 on the shipped catalog, below the 0.90
# target, which is reported, not hidden: see `recteam eval understanding`). Raise it as it rises.
ACT_FLOOR = ACT_TARGET
STANCE_F1_FLOOR = 0.80


# (a) the files ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shipped_index() -> LabelIndex:
    raw = resources.files("recteam.data").joinpath("catalog.jsonl.gz").read_bytes()
    return LabelIndex(
        CatalogItem.model_validate(json.loads(line)) for line in gzip.decompress(raw).splitlines()
    )


@pytest.mark.parametrize(("heldout", "at_least"), [(False, 170), (True, 40)])
def test_case_files_load_with_valid_acts_and_catalog_films(
    heldout: bool, at_least: int, shipped_index: LabelIndex
) -> None:
    cases = load_cases(shipped_cases(heldout))
    assert len(cases) >= at_least
    assert shipped_index.problems(cases) == []
    for c in cases:
        assert c.expect.acts and set(c.expect.acts) <= set(ACTS), c.id
        assert c.tags, f"{c.id} has no tag"


def test_the_held_out_set_repeats_no_id_and_no_message_of_the_first() -> None:
    first, held = load_cases(shipped_cases()), load_cases(shipped_cases(heldout=True))
    assert not {c.id for c in first} & {c.id for c in held}
    assert not {c.message.lower() for c in first} & {c.message.lower() for c in held}


def test_a_malformed_case_is_reported_by_its_id(tmp_path: Path) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(
        "- {id: ok-1, tags: [t], message: hi, expect: {act: CHAT}}\n"
        "- {id: bad-1, tags: [t], message: hi, expect: {act: SHOUT}}\n"
        "- {id: bad-2, tags: [t], message: hi, expect: {act: ASK, films: {'Heat (1995)': loved}}}\n"
        "- {id: bad-3, tags: [t], message: hi, expect: {act: ASK, request: {genre: [x]}}}\n"
        "- {id: ok-1, tags: [t], message: yo, expect: {act: CHAT}}\n",
        encoding="utf-8",
    )
    with pytest.raises(CaseError) as err:
        load_cases(path)
    text = str(err.value)
    for needle in ("bad-1", "bad-2", "bad-3", "ok-1: duplicate id"):
        assert needle in text


def test_labels_resolve_by_exact_title_and_year(shipped_index: LabelIndex) -> None:
    heat = shipped_index.resolve("Heat (1995)")
    assert heat is not None and heat.id == "heat|1995" and heat.title == "Heat"
    the_heat = shipped_index.resolve("The Heat (2013)")
    assert the_heat is not None and the_heat.title == "The Heat"
    assert shipped_index.resolve("Heat (1996)") is None  # a wrong year is an error in the set
    assert shipped_index.resolve("The Matirx (1999)") is None
    case = Case.model_validate(
        {
            "id": "x-1",
            "tags": ["t"],
            "context": [{"picks": ["Heat (1995)", "Blade Runer (1982)"]}],
            "message": "hi",
            "expect": {"act": "CHAT", "films": {"Heat (1995)": "liked"}},
        }
    )
    assert shipped_index.problems([case]) == [
        "x-1: 'Blade Runer (1982)' is not a catalog film (labels are 'Title (Year)')"
    ]


# (b) the metrics on hand-computed inputs --------------------------------------------------------
def test_prf() -> None:
    assert prf(2, 1, 1) == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "tp": 2, "fp": 1, "fn": 1}
    )
    assert prf(3, 0, 1)["f1"] == pytest.approx(2 * 1.0 * 0.75 / 1.75)
    assert prf(0, 0, 0)["f1"] == 1.0  # nothing expected, nothing predicted
    assert prf(0, 2, 0)["precision"] == 0.0


@pytest.mark.parametrize(
    ("expected", "predicted", "same"),
    [
        ("lighter", "light", True),
        ("violent", "violence", True),
        ("feel-good", "feel good", True),
        ("gory", "gore", True),
        ("family-friendly", "kid-friendly", True),
        ("depressing", "sad", True),
        ("dark", "light", False),
        ("smart", "slow", False),
        ("fun", "funny", False),  # 3 letters are no stem
    ],
)
def test_facets_match_leniently(expected: str, predicted: str, same: bool) -> None:
    assert facet_matches(expected, predicted) is same


def test_match_lists_pairs_each_value_once() -> None:
    assert match_lists(["a", "b", "c"], ["b", "x"], str.__eq__) == (1, 1, 2)
    assert match_lists(["light", "lighter"], ["light"], facet_matches) == (1, 0, 1)
    assert match_lists([], ["x"], str.__eq__) == (0, 1, 0)


def _ref(key: str) -> ItemRef:
    return ItemRef(id=key, title=key.title(), year=2000)


def test_stance_pairs_are_what_the_message_set_or_changed_plus_the_films_named() -> None:
    before = DialogueState(
        turn=2,
        films=[
            FilmState(item=_ref("a"), stance="liked", turn=1),
            FilmState(item=_ref("b"), stance="disliked", turn=2, source="button"),
            FilmState(item=_ref("c"), stance="seen", turn=1),
        ],
    )
    after = DialogueState(
        turn=3,
        films=[
            FilmState(item=_ref("a"), stance="liked", turn=1),  # untouched
            FilmState(item=_ref("b"), stance="disliked", turn=2, source="button"),  # kept
            FilmState(item=_ref("c"), stance="liked", turn=3),  # changed
            FilmState(item=_ref("d"), stance="rejected", turn=3),  # new
            FilmState(item=_ref("e"), stance="seen", turn=3),  # new
        ],
    )
    assert stance_pairs(before, after, []) == {("c", "liked"), ("d", "rejected"), ("e", "seen")}
    # "more like that" after a 👎 on b: b is named by the case and keeps its stance.
    assert ("b", "disliked") in stance_pairs(before, after, ["b", "z"])
    assert ("z", "liked") not in stance_pairs(before, after, ["b", "z"])


def _result(cid: str, tags: list[str], expected: str, act: str, e: set, p: set) -> CaseResult:
    r = CaseResult(cid, tags, "msg", [expected], act=act)
    r.expected_pairs, r.predicted_pairs = sorted(e), sorted(p)
    return r


def test_summary_act_accuracy_confusion_and_stance_f1() -> None:
    results = [
        _result("1", ["ref"], "RECOMMEND", "RECOMMEND", {("a", "liked")}, {("a", "liked")}),
        _result("2", ["ref"], "RECOMMEND", "ASK", {("b", "seen")}, {("b", "liked")}),
        _result("3", ["chat"], "CHAT", "CHAT", set(), {("c", "seen")}),
        _result("4", ["chat"], "CHAT", "CHAT", set(), set()),
    ]
    results[3].count = (1, 2)
    s = summarize(results)
    assert s["act_accuracy"] == 0.75
    assert s["act_confusion"] == {"CHAT": {"CHAT": 2}, "RECOMMEND": {"RECOMMEND": 1, "ASK": 1}}
    # tp 1 (a liked); fp 2 (b liked, c seen); fn 1 (b seen): P 1/3, R 1/2, F1 0.4
    assert s["stance"]["precision"] == pytest.approx(1 / 3)
    assert s["stance"]["recall"] == pytest.approx(1 / 2)
    assert s["stance"]["f1"] == pytest.approx(0.4)
    assert s["count_accuracy"] == {"cases": 1, "accuracy": 0.0}
    assert s["tags"]["ref"]["act_accuracy"] == 0.5
    assert s["tags"]["chat"]["stance"]["precision"] == 0.0
    assert [f["id"] for f in s["failures"]] == ["2", "3", "4"]
    assert s["passed"] == 1


# the command line -------------------------------------------------------------------------------
def test_cli_names_the_case_whose_film_is_not_in_the_catalog(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "- {id: good-1, tags: [t], message: 'i loved heat', "
        "expect: {act: RECOMMEND, films: {'Heat (1995)': liked}}}\n"
        "- {id: typo-1, tags: [t], message: 'i loved alien', "
        "expect: {act: RECOMMEND, films: {'Alein (1979)': liked}}}\n",
        encoding="utf-8",
    )
    done = recteam("eval", "understanding", "--cases", str(cases), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "typo-1: 'Alein (1979)' is not a catalog film" in done.stderr
    assert "good-1" not in done.stderr


def test_cli_scores_a_small_file_as_json(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "- {id: c-1, tags: [chat], message: 'hi', expect: {act: CHAT, films: {}}}\n"
        "- id: r-1\n  tags: [reference]\n  context:\n    - user: 'a sci-fi film'\n"
        "    - picks: ['Arrival (2016)', 'Gravity (2013)']\n"
        "    - button: {film: 'Gravity (2013)', liked: false}\n"
        "  message: 'who is in the first one?'\n"
        "  expect: {act: ANSWER, films: {'Arrival (2016)': asked_about}}\n",
        encoding="utf-8",
    )
    done = recteam("eval", "understanding", "--cases", str(cases), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["cases"] == 2 and report["errors"] == 0
    assert set(report["tags"]) == {"chat", "reference"}
    assert 0.0 <= report["act_accuracy"] <= 1.0 and "f1" in report["stance"]


# (c) the behaviour: the whole first set through the offline team ---------------------------------
@pytest.mark.slow
def test_team_hears_the_first_set__act_accuracy_0_90_and_stance_f1_floor_0_80(
    shipped_store: MemoryStore, shipped_index: LabelIndex
) -> None:
    """Act accuracy >= 0.90 (issue 11's target) and film-stance F1 >= STANCE_F1_FLOOR on
    understanding_cases.yaml, the set the rules were tuned on (the held-out and fresh sets are
    reported by `recteam eval understanding`, not asserted). About 1 s of CPU per case."""
    rec = Recommender(shipped_store, LLMSettings(), TeamSettings())
    cases = load_cases(shipped_cases())
    started = time.perf_counter()
    results = asyncio.run(run_cases(rec, cases, shipped_index, concurrency=4))
    s = summarize(results)
    elapsed = time.perf_counter() - started
    failures = "\n".join(
        f"{f['id']}: {f['message']!r}: {'; '.join(f['problems'])}" for f in s["failures"]
    )
    summary = (
        f"{len(cases)} cases in {elapsed:.0f} s: act accuracy {s['act_accuracy']:.3f} "
        f"(target {ACT_TARGET}), film-stance F1 {s['stance']['f1']:.3f} "
        f"(target {STANCE_F1_TARGET}), {s['errors']} turn errors"
    )
    print(summary)
    ok = s["act_accuracy"] >= ACT_FLOOR and s["stance"]["f1"] >= STANCE_F1_FLOOR
    assert ok and s["errors"] == 0, f"{summary}\n{failures}"
