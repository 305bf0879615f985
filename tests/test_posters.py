"""Poster thumbnails (issue 14): the catalog's https URL travels from a `thumbnail` / `poster`
column through the store and the candidate bus to the recommended items, never into a vector, an
index or a prompt; a bad URL is no poster, and its row still goes in."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

import pytest

from recteam.agents.llm import render_prompt, schema_outline
from recteam.agents.messages import (
    Candidate,
    CandidateBus,
    ItemRef,
    RecommendedItem,
    Reply,
)
from recteam.agents.settings import TeamSettings
from recteam.agents.trace import ModelCalled, StepOutput, dump_jsonl, load_jsonl
from recteam.memory.ingest import ingest_path
from recteam.memory.items import CatalogItem, poster_url
from recteam.memory.store import MemoryStore
from recteam.orchestration.llm_settings import LLMSettings
from recteam.orchestration.session import Recommender
from recteam.orchestration.settings import load_settings
from tests.conftest import FILMS
from tests.team_helpers import finished, of, turn

GOOD = "https://upload.wikimedia.org/wikipedia/en/d/dc/Greencardposter.jpg"
BAD = [
    "http://upload.wikimedia.org/x.jpg",  # not https
    "javascript:alert(1)",
    'https://upload.wikimedia.org/x.jpg" onerror="alert(1)',  # a quote
    "https://upload.wikimedia.org/x.jpg'",
    "https://upload.wikimedia.org/<script>.jpg",
    "https://upload.wikimedia.org/a b.jpg",  # whitespace inside
    "https:///x.jpg",  # no host
    "//upload.wikimedia.org/x.jpg",  # not absolute
    "/wikipedia/en/x.jpg",
    "https://user:pw@upload.wikimedia.org/x.jpg",
    "https://upload.wikimedia.org/" + "a" * 500,  # over 500 characters
    "data:image/png;base64,AAAA",
    "",
    42,
]


def poster_of(title: str) -> str:
    return f"https://upload.wikimedia.org/wikipedia/en/test/{title.replace(' ', '_')}.jpg"


def test_only_an_absolute_https_url_is_a_poster() -> None:
    assert poster_url(GOOD) == GOOD
    assert poster_url(f"  {GOOD}\n") == GOOD
    other = "https://example.org:8443/p.png?w=200"
    assert poster_url(other) == other
    for bad in BAD:
        assert poster_url(bad) is None, bad
        assert CatalogItem(title="Heat", year=1995, poster=bad).poster is None
        card = {"id": "heat|1995", "title": "Heat", "reason": "r", "poster": bad}
        assert RecommendedItem.model_validate(card).poster is None


def test_the_poster_is_in_no_embedded_or_indexed_text() -> None:
    plain = CatalogItem(title="Green Card", year=1990, genres=["Comedy"], description="A marriage.")
    shown = plain.model_copy(update={"poster": GOOD})
    assert shown.dense_text() == plain.dense_text() and shown.sparse_text() == plain.sparse_text()
    assert shown.payload()["poster"] == GOOD and plain.payload()["poster"] is None
    back = CatalogItem.from_payload(shown.payload())
    assert back.poster == GOOD and back == shown
    # a payload written before posters, or one holding a bad URL, reads back with none
    old = {k: v for k, v in shown.payload().items() if k != "poster"}
    assert CatalogItem.from_payload(old).poster is None
    assert CatalogItem.from_payload({**old, "poster": "javascript:alert(1)"}).poster is None


def test_a_thumbnail_or_poster_column_is_ingested_and_a_bad_url_drops_only_the_poster(
    store: MemoryStore, tmp_path: Path
) -> None:
    csv_file = tmp_path / "films.csv"
    csv_file.write_text(
        "title,year,thumbnail\n"
        f"Green Card,1990,{GOOD}\n"
        "Heat,1995,http://upload.wikimedia.org/heat.jpg\n"
        "Arrival,2016,javascript:alert(1)\n"
        'Moon,2009,"https://upload.wikimedia.org/moon.jpg"" onerror=""x"\n'
        "Alien,1979,\n"
    )
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text(
        json.dumps({"title": "Her", "year": 2013, "poster": poster_of("Her")})
        + "\n"
        + json.dumps({"title": "Up", "year": 2009, "thumbnail": 7, "thumbnail_width": 220})
        + "\n"
    )
    report = ingest_path(store, csv_file)
    assert report.new_items == 5 and not report.problems
    assert ingest_path(store, jsonl).new_items == 2
    posters = {it.title: it.poster for it in store.catalog.iter_items()}
    assert posters == {
        "Green Card": GOOD,
        "Heat": None,
        "Arrival": None,
        "Moon": None,
        "Alien": None,
        "Her": poster_of("Her"),
        "Up": None,
    }
    assert store.catalog.resolve_title("Green Card").poster == GOOD


@pytest.fixture
def poster_store(store: MemoryStore, tmp_path: Path) -> MemoryStore:
    """The test films, each with a poster."""
    rows = [json.loads(line) for line in FILMS.read_text().splitlines() if line.strip()]
    films = tmp_path / "films.jsonl"
    films.write_text(
        "".join(json.dumps({**r, "thumbnail": poster_of(r["title"])}) + "\n" for r in rows)
    )
    ingest_path(store, films)
    return store


async def test_an_offline_turn_puts_each_picks_poster_on_its_card(
    poster_store: MemoryStore, tmp_path: Path
) -> None:
    rec = Recommender(poster_store, LLMSettings(), TeamSettings())
    events = await turn(rec, "ana", "Something like Arrival, nothing before 2000, no horror")
    done = finished(events)
    assert done.act == "RECOMMEND" and done.items
    assert [i.poster for i in done.items] == [poster_of(i.title) for i in done.items]
    bus = next(e.payload for e in of(events, StepOutput) if e.payload_type == CandidateBus.__name__)
    candidates = CandidateBus.model_validate(bus).candidates
    assert candidates and all(c.poster == poster_of(c.item.title) for c in candidates)
    # an exported trace read back keeps them
    path = tmp_path / "trace.jsonl"
    dump_jsonl(events, path)
    again = finished(list(load_jsonl(path)))
    assert [i.poster for i in again.items] == [i.poster for i in done.items]


def test_no_prompt_shows_a_poster_url() -> None:
    """The URL is no film language: it is in no output schema and in no data a model is given."""
    for output in (Reply, CandidateBus):
        assert "poster" not in schema_outline(output)
    candidate = Candidate(item=ItemRef(id="heat|1995", title="Heat", year=1995), poster=GOOD)
    item = RecommendedItem(id="heat|1995", title="Heat", year=1995, reason="r", poster=GOOD)
    system, user = render_prompt(
        "responder",
        act="RECOMMEND",
        schema=schema_outline(Reply),
        message="something tense",
        dialogue=[],
        profile={},
        items=[item.model_dump(mode="json")],
        analyses=[],
        ask_about=None,
        facts="",
        remembered="",
    )
    assert "Heat" in user and "upload.wikimedia" not in system + user
    _, user = render_prompt(
        "reflector",
        schema="{}",
        profile={},
        draft=[candidate.model_dump(mode="json")],
        analyses=[],
        message="something tense",
    )
    assert "Heat" in user and "upload.wikimedia" not in user


async def test_llm_roles_are_never_sent_a_poster_url(poster_store: MemoryStore) -> None:
    from tests.test_team_llm import ANALYSES, APPROVE, DELTA, PLAN_RECOMMEND, REPLY, scripted

    clients = scripted(
        manager=[PLAN_RECOMMEND],
        user_analyst=[DELTA],
        item_analyst=[ANALYSES],
        reflector=[APPROVE],
        responder=[REPLY],
    )
    rec = Recommender(poster_store, LLMSettings(), TeamSettings(), clients=clients)
    events = await turn(rec, "ana", "I loved Arrival; more science fiction after 2000")
    done = finished(events)
    assert done.error is None and done.llm_calls == 5
    # the model's reply names ids; titles and posters come from the catalog
    assert [i.poster for i in done.items] == [poster_of(i.title) for i in done.items]
    sent = [m["content"] for call in of(events, ModelCalled) for m in call.messages]
    assert len(of(events, ModelCalled)) == 5 and any("Interstellar" in s for s in sent)
    assert not [s for s in sent if "upload.wikimedia" in s or '"poster"' in s]


def test_the_shipped_catalog_has_posters() -> None:
    path = Path(str(resources.files("recteam.data").joinpath("catalog.jsonl.gz")))
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    green_card = next(r for r in rows if r["title"] == "Green Card" and r["year"] == 1990)
    assert green_card["poster"] == GOOD
    with_poster = [r for r in rows if r.get("poster")]
    assert len(with_poster) > 25_000
    assert all(poster_url(r["poster"]) == r["poster"] for r in with_poster)


def test_the_shipped_store_reads_the_posters(shipped_store: MemoryStore) -> None:
    green_card = shipped_store.catalog.resolve_title("Green Card (1990)")
    assert (green_card.year, green_card.poster) == (1990, GOOD)


def test_posters_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().ui.posters is True
    Path("recteam.toml").write_text("[ui]\nposters = false\n")
    assert load_settings().ui.posters is False
    monkeypatch.setenv("RECTEAM_UI__POSTERS", "true")
    assert load_settings().ui.posters is True
