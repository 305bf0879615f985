"""What users liked together: the shipped cold-start table, live co-like counts across users
(aggregates only), the setting that turns them off, and the evaluation that never reads either."""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import pytest

from recteam.agents.settings import TeamSettings
from recteam.agents.trace import MemoryAccess, StepOutput, TraceEvent
from recteam.evaluation.redial_runner import EvalConfig, run_redial
from recteam.memory.colike import LIKED_BOTH, colike_store, fused, shipped_table
from recteam.memory.cooccurrence import CoMentionTable
from recteam.memory.ingest import ingest_path
from recteam.memory.items import CatalogItem
from recteam.memory.store import MemoryStore, open_store
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender
from tests.conftest import FILMS, FIXTURES, memory_settings
from tests.team_helpers import finished, of, turn

CASABLANCA, JOHN_WICK, INCEPTION, JAWS = (
    "casablanca|1942",
    "john wick|2014",
    "inception|2010",
    "jaws|1975",
)
ALICE, BOB = "alice-5e1f", "bob-93c2"
ALICE_SAYS = "I loved Casablanca and John Wick but I hated Jaws. My cat Zorblax agrees."


def _rec(store: MemoryStore, colike: bool = True) -> Recommender:
    # No shipped table: every co-mention signal in these tests comes from users' likes. A bus as
    # large as the fixture catalog, so a film's signals are seen wherever it ranks.
    team = TeamSettings(colike=colike, candidates=60, colike_min_people=1)
    return Recommender(store, LLMSettings(), team, comentions=CoMentionTable())


def _row(store: MemoryStore, item: str) -> tuple[int, dict[str, int]]:
    table, _ = colike_store(store).read([item])
    return table.mentions[item], dict(table.pairs.get(item, {}))


def _signals(events: list[TraceEvent]) -> dict[str, dict[str, float]]:
    """Each candidate's signals, as the searcher's last output put them on the bus."""
    out = [e for e in of(events, StepOutput) if e.agent == "searcher"]
    assert out, "the searcher did not run"
    return {c["item"]["id"]: c["signals"] for c in out[-1].payload["candidates"]}


def _colike_access(events: list[TraceEvent]) -> list[MemoryAccess]:
    return [m for m in of(events, MemoryAccess) if m.kind == "colike"]


# the shipped cold-start table --------------------------------------------------------------------
def test_the_shipped_table_loads_maps_to_catalog_ids_and_is_used_by_default(
    films_store: MemoryStore,
) -> None:
    table = shipped_table()
    assert len(table) > 1000 and sum(len(r) for r in table.pairs.values()) // 2 > 5000
    with gzip.open(Path(str(resources.files("recteam.data") / "catalog.jsonl.gz")), "rt") as fh:
        catalog = {
            CatalogItem.model_validate({"title": r["title"], "year": r["year"]}).id
            for r in map(json.loads, fh)
        }
    assert set(table.mentions) <= catalog  # catalog ids, not ReDial movie ids
    assert all(set(row) <= catalog for row in table.pairs.values())
    assert "exorcist|1973" in [k for k, _ in table.related(["shining|1980"], limit=5)]
    data = resources.files("recteam.data") / "redial_comentions.json.gz"
    about = json.loads(gzip.decompress(data.read_bytes()))
    assert "CC BY 4.0" in about["about"]["licence"]
    notice = (resources.files("recteam.data") / "NOTICE.md").read_text()
    assert "redial_comentions.json.gz" in notice and "CC BY 4.0" in notice
    assert Recommender(films_store, LLMSettings(), TeamSettings()).comentions is table


def test_a_co_like_weighs_as_a_dialogue_whose_seeker_liked_both() -> None:
    static = CoMentionTable.from_dialogues([["a", "b"], ["a", "c"]])
    live = CoMentionTable()
    live.mentions.update({"a": 1})
    live.pairs["a"]["c"] = 1
    both = fused(static, live)
    assert both.pairs["a"]["c"] == 1 + LIKED_BOTH and both.pairs["a"]["b"] == 1
    assert both.mentions["a"] == 3 and static.pairs["a"]["c"] == 1  # the static table untouched
    assert [k for k, _ in both.related(["a"])] == ["c", "b"]


# live co-likes across users ----------------------------------------------------------------------
async def test_what_one_user_liked_together_reaches_another_as_counts_only(
    films_store: MemoryStore,
) -> None:
    rec = _rec(films_store)
    alice = await turn(rec, ALICE, ALICE_SAYS, "a1")
    assert {i.id for i in rec.profile(ALICE).likes} == {CASABLANCA, JOHN_WICK}
    (write,) = [m for m in _colike_access(alice) if m.op == "write"]
    # a point per film liked and one for the pair
    assert write.collection.endswith("-colikes") and write.points == 3 and write.ms is not None
    assert _row(films_store, CASABLANCA) == (1, {JOHN_WICK: 1})

    bob = await turn(rec, BOB, "I loved Casablanca. Can you recommend something?", "b1")
    assert finished(bob).error is None
    (read,) = [m for m in _colike_access(bob) if m.op == "read"]
    assert read.points == 2 and read.filter and read.ms is not None  # Casablanca, its pair
    signals = _signals(bob)
    assert signals[JOHN_WICK]["comention"] > 0  # through Alice's like, and nothing else here

    # Nothing Bob can read holds Alice's name or anything else of hers.
    bob_reads = "\n".join(e.model_dump_json() for e in bob) + json.dumps(
        [r.model_dump(mode="json") for r in films_store.memories.all(BOB)]
    )
    for secret in (ALICE, "Zorblax", "alice"):
        assert secret not in bob_reads
    # The aggregate itself: counts by film and pair, no user, session or text; a dislike counts
    # nothing.
    points, _ = films_store.backend.scroll(colike_store(films_store).name, limit=100)
    assert sorted(sorted(p.payload) for p in points) == [
        ["films", "n"],
        ["item", "likes"],
        ["item", "likes"],
    ]
    assert {p.payload.get("item") for p in points} == {CASABLANCA, JOHN_WICK, None}
    for p in points:
        assert ALICE not in json.dumps(p.payload) and JAWS not in json.dumps(p.payload)


async def test_a_restated_like_counts_once(films_store: MemoryStore) -> None:
    rec = _rec(films_store)
    await turn(rec, ALICE, "I loved Casablanca and John Wick", "a1")
    await turn(rec, ALICE, "I loved Casablanca", "a2")  # again, in another session
    events = await rec.feedback(ALICE, "a2", JOHN_WICK, liked=True)  # 👍 on a film liked before
    assert not _colike_access(events)
    # Liked, then disliked, then liked again: the profile lost the like, the ledger did not.
    await turn(rec, ALICE, "Actually I hated Casablanca", "a2")
    assert CASABLANCA in {i.id for i in rec.profile(ALICE).dislikes}
    again = await turn(rec, ALICE, "No wait, I loved Casablanca", "a2")
    assert CASABLANCA in {i.id for i in rec.profile(ALICE).likes}
    assert all(m.points == 0 for m in _colike_access(again) if m.op == "write")
    assert _row(films_store, CASABLANCA) == (1, {JOHN_WICK: 1})
    assert _row(films_store, JOHN_WICK) == (1, {CASABLANCA: 1})
    # A new like with 👍 pairs with every earlier one, once.
    events = await rec.feedback(ALICE, "a2", INCEPTION, liked=True)
    (write,) = _colike_access(events)
    assert write.op == "write" and write.points == 3
    assert _row(films_store, INCEPTION) == (1, {CASABLANCA: 1, JOHN_WICK: 1})
    assert _row(films_store, CASABLANCA) == (1, {JOHN_WICK: 1, INCEPTION: 1})


async def test_with_the_setting_off_nothing_is_written_or_read(films_store: MemoryStore) -> None:
    await turn(_rec(films_store), ALICE, ALICE_SAYS, "a1")  # counts exist, from a time it was on
    off = _rec(films_store, colike=False)
    carol = await turn(off, "carol", "I loved Casablanca and Inception", "c1")
    assert {i.id for i in off.profile("carol").likes} == {CASABLANCA, INCEPTION}
    assert not _colike_access(carol)
    assert _row(films_store, CASABLANCA) == (1, {JOHN_WICK: 1})
    assert _row(films_store, INCEPTION) == (0, {})
    bob = await turn(off, BOB, "I loved Casablanca. Can you recommend something?", "b1")
    assert not _colike_access(bob)
    assert _signals(bob).get(JOHN_WICK, {}).get("comention", 0.0) == 0.0


def test_concurrent_likes_lose_no_count(store: MemoryStore) -> None:
    # Sixteen people like "x" at once, each after another film: every writer reads x's count,
    # adds one and writes it back, so they must take one lock (one per store).
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: colike_store(store).add(["x"], [f"a{n}"]), range(16)))
    assert _row(store, "x") == (16, {f"a{n}": 1 for n in range(16)})


async def test_co_likes_survive_a_restart(tmp_path: Path, embedder) -> None:
    settings = memory_settings("embedded", tmp_path / "store")
    with open_store(settings, embedder) as store:
        ingest_path(store, FILMS)
        await turn(_rec(store), ALICE, "I loved Casablanca and John Wick", "a1")
    with open_store(settings, embedder) as store:
        assert _row(store, JOHN_WICK) == (1, {CASABLANCA: 1})


# the evaluation ----------------------------------------------------------------------------------
def test_the_redial_evaluation_never_uses_the_shipped_table_or_live_co_likes(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def shipped() -> CoMentionTable:
        raise AssertionError("the evaluation read the shipped co-mention table")

    monkeypatch.setattr("recteam.orchestration.session.shipped_table", shipped)
    made: list[Recommender] = []

    class Spy(Recommender):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            made.append(self)

    # The folds import the Recommender where they run (redial_folds), from the session module.
    monkeypatch.setattr("recteam.orchestration.session.Recommender", Spy)
    redial = FIXTURES / "redial"
    config = EvalConfig(
        dialogues=redial / "dialogues.jsonl",
        movies=redial / "movies.csv",
        facts=redial / "wikipedia.json",
        folds=3,
        cache_dir=tmp_path / "cache",
    )
    result = run_redial(config, embedder)
    assert result["errors"] == 0, result["first_errors"]
    assert len(made) == 3  # one per fold
    for rec in made:
        assert rec.team_settings.colike is False
        assert rec.comentions is not None and set(rec.comentions.mentions) <= {
            str(n) for n in range(101, 112)
        }  # the fold's own table, keyed by ReDial movie ids


async def test_a_pair_one_person_liked_is_not_used_and_forgetting_takes_likes_back(
    films_store: MemoryStore,
) -> None:
    careful = Recommender(
        films_store, LLMSettings(), TeamSettings(candidates=60), comentions=CoMentionTable()
    )
    await turn(careful, ALICE, ALICE_SAYS)
    assert _row(films_store, "casablanca|1942")[1] == {"john wick|2014": 1}
    table, _ = colike_store(films_store).read(["casablanca|1942"], min_people=3)
    assert not table.pairs.get("casablanca|1942")  # one person's pair stays unread
    careful.forget(ALICE)
    assert _row(films_store, "casablanca|1942") == (0, {})  # like and pair taken back


async def test_a_colike_collection_of_an_older_layout_is_made_anew_not_a_failed_turn(
    films_store: MemoryStore,
) -> None:
    from recteam.memory.backend import CollectionSpec

    name = films_store.memories.name.removesuffix("-memories") + "-colikes"
    # as an earlier build wrote it: no index on the pair count this one orders by
    films_store.backend.create_collection(
        name, CollectionSpec(dense={}, sparse=("unused",), keyword_fields=("item",))
    )
    done = finished(await turn(_rec(films_store), ALICE, ALICE_SAYS))
    assert done.error is None and done.act == "RECOMMEND"
    assert _row(films_store, "casablanca|1942")[1] == {"john wick|2014": 1}
