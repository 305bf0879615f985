"""ReDial evaluation: metrics on hand-computed arrays, the data join, fold separation, and the
protocol end to end through the real offline team on three tiny dialogues."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from recteam.evaluation.ranking_fit import (
    Pools,
    fit_weights,
    holdout_split,
    load_pools,
    out_of_fold,
)
from recteam.evaluation.redial_data import (
    Dialogue,
    Message,
    catalog_items,
    load_dialogues,
    load_movies,
    load_wikipedia,
    replace_mentions,
    said_about,
    split_title,
)
from recteam.evaluation.redial_metrics import RecallCounter, hits_at
from recteam.evaluation.redial_protocol import eval_points, folds, popularity_scores
from recteam.evaluation.redial_runner import EvalConfig, markdown_table, run_redial
from recteam.memory.cooccurrence import CoMentionTable
from tests.conftest import FIXTURES
from tests.test_cli import recteam

REDIAL = FIXTURES / "redial"


# metrics -----------------------------------------------------------------------------------------
def test_hits_at_counts_targets_in_the_top_k() -> None:
    ranking = ["a", "b", "c", "d"]
    assert hits_at(ranking, ["a"], (1, 2)) == {1: 1, 2: 1}
    assert hits_at(ranking, ["c", "b", "z"], (1, 2, 3, 50)) == {1: 0, 2: 1, 3: 2, 50: 2}
    assert hits_at(["a", "a", "b"], ["b"], (2,)) == {2: 0}  # a repeat still takes a slot


def test_recall_with_and_without_already_mentioned_movies() -> None:
    c = RecallCounter(ks=(1, 2))
    # targets x (mentioned earlier) and y; the ranking leads with x
    c.add(["x", "q", "y"], ["x", "y"], mentioned={"x"})
    # one target z at rank 2
    c.add(["p", "z"], ["z"], mentioned=set())
    assert c.recall() == {"R@1": pytest.approx(1 / 3), "R@2": pytest.approx(2 / 3)}
    # without mentioned: x is no target and leaves the ranking, so y moves to rank 2
    assert c.recall(new=True) == {"R@1": 0.0, "R@2": 1.0}
    assert (c.targets, c.new_targets) == (3, 2)


def test_recall_of_nothing_is_zero() -> None:
    assert RecallCounter(ks=(1,)).recall() == {"R@1": 0.0}


# data --------------------------------------------------------------------------------------------
def test_mentions_become_titles_and_unknown_ids_stay() -> None:
    text, ids = replace_mentions(
        "like @1 or @2, and @1 again; @99?", {"1": "Heat (1995)", "2": "Up (2009)"}
    )
    assert text == "like Heat (1995) or Up (2009), and Heat (1995) again; @99?"
    assert ids == ("1", "2")
    assert split_title("The Shining  (1980)") == ("The Shining", 1980)
    assert split_title("Untitled") == ("Untitled", None)


def test_join_by_title_and_year_within_one_keeps_unmatched_as_title_only() -> None:
    movies = load_movies(REDIAL / "movies.csv")
    items, matched = catalog_items(movies, load_wikipedia(REDIAL / "wikipedia.json"))
    by_id = {it.id: it for it in items}
    assert len(items) == 11 and matched == 9
    assert by_id["101"].cast[0] == "Jack Nicholson" and "hotel" in (by_id["101"].description or "")
    assert by_id["102"].genres == ["Horror"]  # wikipedia says 2015, ReDial 2014: within one year
    assert by_id["106"].cast == ["Audrey Tautou"]  # 'Amélie' = 'Amelie'
    assert by_id["107"].genres == []  # 'Up' 2011 is two years off: no match
    assert by_id["108"].genres == [] and by_id["108"].title == "La Haine"
    # a series' main title, with no year: its first part; with a year: the part of that year
    assert by_id["109"].slug is None and by_id["109"].cast == ["Will Ferrell"]
    assert by_id["111"].cast == ["Dwayne Johnson"]  # 'Jumanji (2017)', not the 1995 film
    assert by_id["110"].title == "Why Him?" and by_id["110"].genres == ["Comedy"]  # URL-decoded
    assert all(it.popularity == 0 for it in items)  # never the CSV's mention counts


def test_dialogues_load_with_titles_and_the_seeker_marked() -> None:
    movies = load_movies(REDIAL / "movies.csv")
    d = load_dialogues(REDIAL / "dialogues.jsonl", movies)[0]
    assert d.messages[0].seeker and not d.messages[1].seeker
    assert d.messages[0].text == "Hi, I want a scary horror movie like The Babadook (2014)"
    assert d.messages[1].mentions == ("101", "102")
    assert d.liked == {"102"}


def test_points_are_recommender_messages_with_movies() -> None:
    movies = load_movies(REDIAL / "movies.csv")
    first, second, third = load_dialogues(REDIAL / "dialogues.jsonl", movies)
    points = list(eval_points(first))
    assert [p.index for p in points] == [1, 3]
    assert points[1].targets == ("102", "103") and points[1].mentioned == {"101", "102", "103"}
    history, message = points[1].split()
    assert message == "I loved The Shining (1980) already, something else?"
    assert len(history) == 2
    assert points[1].recent_mentions() == ["101", "102", "103"]
    # the recommender opens: there is no seeker message yet
    opening = next(eval_points(third))
    assert opening.split() == ([], "Hi")
    assert [p.targets for p in eval_points(second)] == [("105",), ("107",)]  # @999 is no movie


# statistics --------------------------------------------------------------------------------------
def test_a_film_is_described_only_by_what_the_statistics_dialogues_said_of_it() -> None:
    dialogues = [
        Dialogue("1", [Message(True, "Heat is a tense heist film", ("h",))]),
        Dialogue("2", [Message(False, "Heat has the best shootout", ("h", "c"))]),
        Dialogue("3", [Message(True, "Heat bored me to tears", ("h",))]),
    ]
    said = said_about(dialogues[:2])
    assert said["h"] == "Said about it: Heat is a tense heist film | Heat has the best shootout"
    assert said["c"] == "Said about it: Heat has the best shootout"
    assert "bored" not in " ".join(said.values())  # dialogue 3 was not given
    assert len(said_about(dialogues, limit=30)["h"]) == 30


def test_a_scored_dialogue_never_feeds_its_own_statistics() -> None:
    dialogues = [
        Dialogue(str(i), [Message(False, "x", (str(i), str((i + 1) % 10)))]) for i in range(10)
    ]
    splits = folds(dialogues, 3)
    assert sorted(d.id for f in splits for d in f.scored) == sorted(d.id for d in dialogues)
    for fold in splits:
        scored = {d.id for d in fold.scored}
        assert not scored & {d.id for d in fold.train}
        stats = fold.statistics()
        assert sum(stats.mentions.values()) == 2 * len(fold.train)
        for d in fold.scored:
            own = set(d.messages[0].mentions)
            others = [set(t.messages[0].mentions) for t in fold.train]
            # the pair named only in this dialogue is never counted
            if not any(own <= o for o in others):
                a, b = sorted(own)
                assert stats.pairs.get(a, {}).get(b, 0) == 0
    only = folds(dialogues[:2], 5, train=dialogues[5:])
    assert len(only) == 1 and [d.id for d in only[0].train] == ["5", "6", "7", "8", "9"]


def test_co_mentions_rank_partners_of_the_seeds() -> None:
    table = CoMentionTable.from_dialogues([["a", "b"], ["a", "b", "c"], ["a", "d"], ["e"]])
    assert table.mentions["a"] == 3
    related = [k for k, _ in table.related(["a"])]
    assert related[0] == "b" and set(related) == {"b", "c", "d"}
    assert next(k for k, _ in table.related(["a"], exclude=["b"])) in {"c", "d"}
    assert table.related(["zzz"]) == []
    assert [k for k, _ in table.popular(2)] == ["a", "b"]
    scores = popularity_scores(table)
    assert scores["a"] == pytest.approx(15.0) and 0 < scores["e"] < scores["b"]


def test_co_mention_table_round_trips_through_a_file(tmp_path: Path) -> None:
    table = CoMentionTable.from_dialogues([["a", "b"], ["b", "c"]])
    table.save(tmp_path / "co.json")
    again = CoMentionTable.load(tmp_path / "co.json")
    assert again.related(["b"]) == table.related(["b"])


# the protocol end to end -------------------------------------------------------------------------
def test_protocol_runs_the_team_and_scores_baselines(tmp_path: Path, embedder) -> None:
    config = EvalConfig(
        dialogues=REDIAL / "dialogues.jsonl",
        movies=REDIAL / "movies.csv",
        facts=REDIAL / "wikipedia.json",
        folds=3,
        cache_dir=tmp_path / "cache",
    )
    result = run_redial(config, embedder)
    assert result["points"] == 6 and result["errors"] == 0, result["first_errors"]
    assert result["candidates"] == 50
    assert set(result["acts"]) <= {"RECOMMEND", "ASK"}  # the protocol asks for a recommendation
    team = result["systems"]["recteam"]
    assert team["targets"] == 8 and team["new_targets"] == 6
    repeat = result["systems"]["repeat mentioned"]
    assert repeat["new"]["R@50"] == 0.0 and repeat["all"]["R@50"] > 0
    assert team["new"]["R@50"] > 0  # the team finds something with no LLM at all
    # the ranking weights of each fold were fitted on the other folds' turns only
    assert result["weights"] == "out-of-fold"
    fits = result["out_of_fold"]["folds"]
    assert [f["fold"] for f in fits] == ["fold 1/3", "fold 2/3", "fold 3/3"]
    assert sum(f["scored_turns"] for f in fits) == 6
    assert all(f["fitted_on_turns"] == 6 - f["scored_turns"] for f in fits)
    table = markdown_table(result)
    assert "| recteam (out-of-fold weights) |" in table and "| popularity |" in table
    assert "| recteam (in-sample weights) |" in table  # labelled, below the out-of-fold table
    json.dumps(result)  # the report is plain JSON


def test_cli_writes_json_and_a_markdown_table(tmp_path: Path) -> None:
    done = recteam(
        "eval", "redial",
        "--dialogues", str(REDIAL / "dialogues.jsonl"),
        "--movies", str(REDIAL / "movies.csv"),
        "--facts", str(REDIAL / "wikipedia.json"),
        "--folds", "3", "--limit", "2", "--out", str(tmp_path / "out"),
        "--signals-out", str(tmp_path / "pools.jsonl.gz"), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)  # --json: one object on stdout and nothing else
    assert printed["weights"] == "out-of-fold" and "R@10" in printed["systems"]["recteam"]["new"]
    assert "turns of fold 1/3" in done.stderr  # the progress went to stderr
    result = json.loads((tmp_path / "out" / "redial.json").read_text())
    assert result == printed
    assert result["dialogues"] == 2 and result["points"] == 4
    table = (tmp_path / "out" / "redial.md").read_text()
    assert "| popularity |" in table and "R@10 (new)" in table
    # every scored turn's pool was recorded, and the weights can be fitted to them
    pools = load_pools(tmp_path / "pools.jsonl.gz")
    assert 1 <= len(pools) <= 4 and "popularity" in pools.signals
    fitted = recteam(
        "eval", "fit-ranking", str(tmp_path / "pools.jsonl.gz"), "--rounds", "1", cwd=tmp_path
    )
    assert fitted.returncode == 0, fitted.stderr
    assert "[weights]" in fitted.stdout and "popularity = " in fitted.stdout


def _pools(targets_signal: list[float], rows: int = 60) -> Pools:
    """Turns where signal 'good' marks the target (row 0) and 'loud' is noise."""
    rng = np.random.default_rng(0)
    matrices, targets = [], []
    for strength in targets_signal:
        m = rng.random((rows, 2), dtype=np.float32) * np.array([0.5, 1.0], dtype=np.float32)
        m[0, 0] = strength
        matrices.append(m)
        targets.append([0, -1])  # the second target is not in the pool: always a miss
    return Pools(["good", "loud"], matrices, targets)


def test_fitting_raises_the_weight_of_the_signal_that_finds_targets() -> None:
    pools = _pools([0.9] * 40)
    result = fit_weights(pools, {"good": 0.0, "loud": 0.3}, rounds=5)
    assert result.weights["good"] > 0 and result.after[10] > result.before[10]
    assert result.after[50] <= 0.5  # the target outside the pool stays a miss
    held = fit_weights(pools, {"good": 0.0, "loud": 0.3}, rounds=5, holdout=True).held_out
    assert held is not None and held[1][10] >= held[0][10]


def test_a_truncated_or_foreign_pools_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "pools.jsonl.gz"
    bad.write_text("not gzip")
    with pytest.raises(ValueError, match="not a gzip file"):
        load_pools(bad)
    with gzip.open(bad, "wt") as fh:
        fh.write('{"key": "k", "targets": ["a"], "mentioned": [], "pool": [["a", {"x": 1}]]}\n')
        fh.write('{"key": "k2", "targe')  # cut mid-line, as by a crash
    assert len(load_pools(bad)) == 1


def _two_fold_pools(turns: int = 30, rows: int = 60) -> tuple[Pools, list[int]]:
    """Fold 0's targets are marked by signal 'a' (and 'b' is 0 there), fold 1's by signal 'b'
    (and 'a' is 0 there); 'noise' is noise."""
    rng = np.random.default_rng(1)
    matrices, targets, keys, fold_of = [], [], [], []
    for fold, column in ((0, 0), (1, 1)):
        for n in range(turns):
            m = rng.random((rows, 3), dtype=np.float32) * np.array([0.3, 0.3, 1.0], np.float32)
            m[:, 1 - column] = 0.0  # the other fold's signal is silent here
            m[0, column] = 1.0
            matrices.append(m)
            targets.append([0])
            keys.append(f"redial-{fold}{n}-1")
            fold_of.append(fold)
    return Pools(["a", "b", "noise"], matrices, targets, keys), fold_of


def test_out_of_fold_weights_are_fitted_without_the_scored_folds_pools() -> None:
    pools, fold_of = _two_fold_pools()
    start = {"a": 0.0, "b": 0.0, "noise": 0.5}
    first, second = out_of_fold(pools, fold_of, start, rounds=4)
    # fold 0 is ranked by weights learnt on fold 1 alone: they lift 'b', never 'a'
    assert first.fitted_on == 30 and second.fitted_on == 30
    assert first.weights["a"] == 0.0 and first.weights["b"] > 0
    assert second.weights["b"] == 0.0 and second.weights["a"] > 0
    # so each fold's own signal stays unused and its targets stay hard to find
    hits_first, total_first = first.new
    assert total_first == 30 and hits_first[1] < 10
    # fitted in-sample instead, both signals are lifted and fold 0 is found
    inside = fit_weights(pools, start, rounds=4)
    assert inside.weights["a"] > 0 and inside.weights["b"] > 0


def test_holdout_splits_by_dialogue_not_by_turn() -> None:
    m = np.ones((3, 1), dtype=np.float32)
    keys = [f"redial-{d}-{i}" for d in range(40) for i in (1, 3, 5)]
    pools = Pools(["x"], [m] * len(keys), [[0]] * len(keys), keys)
    fit_on, held = holdout_split(pools)
    assert fit_on and held and sorted(fit_on + held) == list(range(len(keys)))
    side = {}
    for n in fit_on + held:
        side.setdefault(keys[n].rsplit("-", 1)[0], set()).add(n in held)
    assert all(len(sides) == 1 for sides in side.values())  # a dialogue is never cut in two
    result = fit_weights(pools, {"x": 0.1}, rounds=1, holdout=True)
    assert result.held_out_dialogues == sum(1 for sides in side.values() if True in sides)


# the evaluation store ----------------------------------------------------------------------------
def test_eval_memory_stores_unread_kinds_unembedded_and_fails_a_read_that_returns_one(
    tmp_path: Path, embedder
) -> None:
    from recteam.evaluation.redial_store import open_eval_store
    from recteam.memory.user_memory import MemoryRecord

    store = open_eval_store(tmp_path / "store", tmp_path / "cache", embedder)
    try:
        mem = store.memories
        episode = MemoryRecord(
            user_id="u", kind="episode", text="user: a heist film", session_id="s"
        )
        lesson = MemoryRecord(user_id="u", kind="reflection", text="no heist films")
        mem.add_many([episode, lesson])
        # nothing embedded the episode's text; the lesson is found by meaning as before
        assert not store.embedder.cached([episode.text]) and store.embedder.cached([lesson.text])
        found = mem.nearest("u", store.embedder.embed_query("heist"), ("reflection",))
        assert [r.id for r in found] == [lesson.id]
        # recall reads episodes of other sessions only: none here, so no error
        assert (
            mem.nearest("u", store.embedder.embed_query("heist"), ("episode",), not_session="s")
            == []
        )
        with pytest.raises(RuntimeError, match="without an embedding"):
            mem.nearest("u", store.embedder.embed_query("heist"), ("episode",))
        mem.delete_user("u")
        assert mem.count("u") == 0
    finally:
        store.close()


def test_blas_threads_are_set_for_the_block_and_restored() -> None:
    from recteam.evaluation.redial_threads import _openblas, blas_threads

    libs = _openblas()
    before = [get() for get, _ in libs]
    with blas_threads(1) as found:
        assert found == bool(libs)
        assert all(get() == 1 for get, _ in libs)
    assert [get() for get, _ in libs] == before


def test_worker_processes_score_every_turn_of_every_fold(tmp_path: Path, embedder) -> None:
    import functools

    from recteam.memory.embeddings import load_local_embedder
    from recteam.memory.settings import EmbeddingSettings

    config = EvalConfig(
        dialogues=REDIAL / "dialogues.jsonl",
        movies=REDIAL / "movies.csv",
        facts=REDIAL / "wikipedia.json",
        folds=3,
        cache_dir=tmp_path / "cache",
        workers=2,
        in_sample_weights=True,
    )
    stages: list[str] = []
    result = run_redial(
        config,
        embedder,
        on_stage=stages.append,
        make_embedder=functools.partial(load_local_embedder, EmbeddingSettings()),
    )
    assert result["workers"] == 2 and result["errors"] == 0, result["first_errors"]
    # 3 folds on 2 workers: two whole, the third in two parts
    assert any("fold 3/3, part 2/2" in s for s in stages) and any(
        s == "turns of fold 1/3" for s in stages
    )
    team = result["systems"]["recteam"]
    assert result["points"] == 6 and team["targets"] == 8 and team["new_targets"] == 6


def test_eval_embedder_keeps_queries_on_disk_for_the_next_run(tmp_path: Path, embedder) -> None:
    from recteam.evaluation.redial_store import EvalEmbedder

    class Counting:
        name, dim = embedder.name, embedder.dim

        def __init__(self) -> None:
            self.texts: list[str] = []

        def embed(self, texts: list[str]) -> np.ndarray:
            self.texts += texts
            return embedder.embed(texts)

    first_inner = Counting()
    first = EvalEmbedder(first_inner, tmp_path / "cache.sqlite")
    v = first.embed_query("a heist film with a twist")
    assert first_inner.texts == ["a heist film with a twist"]
    first.close()  # writes the new query vectors
    second_inner = Counting()
    second = EvalEmbedder(second_inner, tmp_path / "cache.sqlite")
    again = second.embed_query("a heist film with a twist")
    assert second_inner.texts == [] and again.tobytes() == v.tobytes()
    second.embed_query("something else")
    assert second_inner.texts == ["something else"]
    second.close()
