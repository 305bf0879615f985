from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recteam.errors import IngestError
from recteam.memory.catalog import SearchRequest
from recteam.memory.embeddings import text_key
from recteam.memory.ingest import ingest_path, vectors_sidecar
from recteam.memory.items import CatalogItem
from recteam.memory.store import MemoryStore
from tests.conftest import FILMS


def test_bad_rows_are_reported_with_file_and_line_and_skipped(
    store: MemoryStore, tmp_path: Path
) -> None:
    csv_file = tmp_path / "films.csv"
    csv_file.write_text(
        "title,year,genres,cast\n"
        "Arrival,2016,Drama|Science Fiction,Amy Adams|Jeremy Renner\n"
        ",2001,Drama,\n"  # no title
        "Heat,nineteen,Crime,\n"  # bad year
        "Heat,1995,Crime|Drama,Al Pacino\n"
    )
    report = ingest_path(store, csv_file)
    assert report.new_items == 2 and report.catalog_size == 2
    assert [(p.file.name, p.line) for p in report.problems] == [("films.csv", 3), ("films.csv", 4)]
    assert "title" in report.problems[0].message and "year" in report.problems[1].message


def test_jsonl_and_wikipedia_json_lines_are_exact(store: MemoryStore, tmp_path: Path) -> None:
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"title": "Moon", "year": 2009}\n\n{not json}\n["list"]\n')
    wiki = tmp_path / "b.json"
    rows = [
        {
            "title": "Up",
            "year": 2009,
            "cast": [],
            "genres": ["Animated"],
            "href": "Up_(2009_film)",
            "extract": "An old man ties balloons to his house.",
        },
        {"title": "", "year": 2000},
    ]
    wiki.write_text(json.dumps(rows, indent=2))
    report = ingest_path(store, tmp_path)
    assert [(p.file.name, p.line) for p in report.problems] == [
        ("a.jsonl", 3),
        ("a.jsonl", 4),
        ("b.json", 12),
    ]
    up = store.catalog.resolve_title("Up")
    assert (
        up.description == "An old man ties balloons to his house." and up.slug == "Up_(2009_film)"
    )


def test_ingesting_twice_adds_no_duplicates(store: MemoryStore) -> None:
    first = ingest_path(store, FILMS)
    second = ingest_path(store, FILMS)
    assert first.new_items == first.catalog_size == 62
    assert second.new_items == 0 and second.updated_items == 62
    assert store.catalog.count() == 62


def test_an_aborted_ingest_leaves_the_previous_catalog_intact(
    store: MemoryStore, tmp_path: Path
) -> None:
    ingest_path(store, FILMS)
    live = store.catalog.collection
    more = tmp_path / "more.jsonl"
    more.write_text(
        "".join(json.dumps({"title": f"Film {i}", "year": 2001}) + "\n" for i in range(50))
    )

    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_path(store, more, batch_size=10, progress=interrupt)
    assert store.catalog.collection == live
    assert store.catalog.count() == 62
    assert [
        c for c in store.backend.list_collections() if c.startswith(store.catalog.alias + "-")
    ] == [live]
    assert store.catalog.search(SearchRequest(query="Film 7", limit=3))[0].item.title != "Film 7"


def test_a_file_with_no_valid_rows_changes_nothing(store: MemoryStore, tmp_path: Path) -> None:
    ingest_path(store, FILMS)
    bad = tmp_path / "bad.csv"
    bad.write_text("title,year\n,1999\n")
    with pytest.raises(IngestError, match=r"no valid rows.*bad.csv:2"):
        ingest_path(store, bad)
    assert store.catalog.count() == 62
    with pytest.raises(IngestError, match="no 'title' column"):
        (tmp_path / "nohead.csv").write_text("name_of_film,year\nX,1999\n")
        ingest_path(store, tmp_path / "nohead.csv")
    with pytest.raises(IngestError, match="unsupported file type"):
        ingest_path(store, Path(__file__))


def test_replace_makes_the_catalog_exactly_the_file(store: MemoryStore, tmp_path: Path) -> None:
    ingest_path(store, FILMS)
    one = tmp_path / "one.jsonl"
    one.write_text('{"title": "Moon", "year": 2009}\n')
    assert ingest_path(store, one, replace=True).catalog_size == 1


def test_a_vectors_sidecar_spares_the_embedding(store: MemoryStore, tmp_path: Path) -> None:
    items = [CatalogItem(title="Sidecar Film", year=2020)]
    path = tmp_path / "cat.jsonl"
    path.write_text(json.dumps({"title": "Sidecar Film", "year": 2020}) + "\n")
    marker = np.zeros((1, store.embedder.dim), dtype=np.float16)
    marker[0, 0] = 1.0
    keys = np.frombuffer(
        text_key(store.embedder.name, items[0].dense_text()), dtype=np.uint8
    ).reshape(1, 20)
    np.savez(vectors_sidecar(path), model=np.array(store.embedder.name), keys=keys, vectors=marker)
    ingest_path(store, path)
    point = store.backend.retrieve(
        store.catalog.collection or "", [items[0].point_id], with_vectors=True
    )[0]
    assert point.dense["text"][0] == pytest.approx(1.0) and abs(point.dense["text"][1:]).sum() == 0
