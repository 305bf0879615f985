from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from recteam.errors import IngestError
from recteam.memory import ingest
from recteam.memory.catalog import SearchRequest
from recteam.memory.embeddings import text_key
from recteam.memory.ingest import IngestReport, ingest_path, vectors_sidecar
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


# Files people actually have (issue 14): each bad input is named by file and line, nothing else
# is lost, and an input that is wholly bad leaves the catalog as it was.


def _problems(report: IngestReport) -> list[tuple[str, int]]:
    return [(p.file.name, p.line) for p in report.problems]


def test_a_csv_field_over_128_kb_is_read_and_one_over_the_limit_skips_its_row(
    store: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_plot = "A long plot. " * 20_000  # 260 KB: over csv's default 128 KB field cap
    path = tmp_path / "long.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["title", "year", "description"])
        writer.writerow(["Long Film", "2001", long_plot])
        writer.writerow(["Too Long Film", "2002", "x" * 300_001])
        writer.writerow(["Short Film", "2003", "Brief."])
    monkeypatch.setattr(ingest, "MAX_FIELD_CHARS", 300_000, raising=False)
    report = ingest_path(store, path)
    assert report.new_items == 2 and store.catalog.count() == 2
    assert _problems(report) == [("long.csv", 3)]
    assert "description" in report.problems[0].message
    assert "300,001 characters" in report.problems[0].message
    assert store.catalog.resolve_title("Long Film").description == long_plot.strip()
    assert csv.field_size_limit() == 131072  # the process-wide cap is put back


def test_non_finite_numbers_are_rejected_per_row(store: MemoryStore, tmp_path: Path) -> None:
    jsonl = tmp_path / "nums.jsonl"
    jsonl.write_text(
        '{"title": "Fine", "year": 2001, "popularity": 3.5}\n'
        '{"title": "Endless", "year": 2002, "popularity": Infinity}\n'
        '{"title": "Unknown", "year": 2003, "popularity": NaN}\n'
        '{"title": "Below", "year": 2004, "popularity": -Infinity}\n'
    )
    (tmp_path / "nums.csv").write_text("title,popularity\nAlso Fine,1\nText Inf,inf\n")
    report = ingest_path(store, tmp_path)
    assert _problems(report) == [
        ("nums.csv", 3),
        ("nums.jsonl", 2),
        ("nums.jsonl", 3),
        ("nums.jsonl", 4),
    ]
    assert [p.message for p in report.problems[1:]] == [
        "popularity: Infinity is not a finite number",
        "popularity: NaN is not a finite number",
        "popularity: -Infinity is not a finite number",
    ]
    assert "not a finite number" in report.problems[0].message
    assert report.new_items == 2 and store.catalog.count() == 2


def test_a_utf8_file_with_a_byte_order_mark_is_read(store: MemoryStore, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("title,year\r\nAmélie,2001\r\n", encoding="utf-8-sig")  # as Excel saves it
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = ingest_path(store, path)
    assert report.problems == [] and report.new_items == 1
    assert store.catalog.resolve_title("Amélie").year == 2001


def test_a_bad_file_in_a_folder_is_named_and_skipped_while_the_others_go_in(
    store: MemoryStore, tmp_path: Path
) -> None:
    folder = tmp_path / "films"
    folder.mkdir()
    (folder / "a_good.csv").write_text("title,year\nArrival,2016\n")
    (folder / "b_empty.csv").write_text("")
    (folder / "c_latin1.csv").write_bytes("title,year\nHeat,1995\nAmélie,2001\n".encode("cp1252"))
    (folder / "d_good.jsonl").write_text('{"title": "Moon", "year": 2009}\n')
    report = ingest_path(store, folder)
    assert store.catalog.count() == 2 and report.new_items == 2
    assert [f.name for f in report.files] == ["a_good.csv", "d_good.jsonl"]
    assert _problems(report) == [("b_empty.csv", 0), ("c_latin1.csv", 3)]
    assert "empty" in report.problems[0].message
    latin1 = str(report.problems[1])
    assert latin1.startswith(f"{folder / 'c_latin1.csv'}:3: not UTF-8 text (byte 0xe9")
    assert "--encoding cp1252" in latin1 and "skipped" in latin1
    # alone, the same file is an error naming it, and the catalog is as it was
    with pytest.raises(IngestError, match=r"c_latin1\.csv:3: not UTF-8.*--encoding cp1252"):
        ingest_path(store, folder / "c_latin1.csv")
    assert store.catalog.count() == 2
    # with the encoding named, it goes in
    report = ingest_path(store, folder / "c_latin1.csv", encoding="cp1252")
    assert report.new_items == 2 and store.catalog.resolve_title("Amélie").year == 2001


def test_an_unclosed_quote_is_a_problem_at_the_line_its_record_starts(
    store: MemoryStore, tmp_path: Path
) -> None:
    last = tmp_path / "last.csv"
    last.write_text('title,year\nArrival,2016\n"Heat,1995\n')
    report = ingest_path(store, last)
    assert _problems(report) == [("last.csv", 3)] and "never closed" in report.problems[0].message
    # opened mid-file, the quote swallows the rows after it: named where it opens, not ingested
    middle = tmp_path / "middle.csv"
    middle.write_text('title,year\n"Moon,2009\nUp,2009\nHeat,1995\n')
    with pytest.raises(IngestError, match=r"middle\.csv:2: the quoted field .* never closed"):
        ingest_path(store, middle)
    assert [it.title for it in store.catalog.iter_items()] == ["Arrival"]


def test_a_few_rows_are_upserted_into_the_live_catalog_without_a_copy(
    store: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_path(store, FILMS)
    live = store.catalog.collection
    three = tmp_path / "three.csv"
    three.write_text("title,year\nFilm One,2001\nFilm Two,2002\nArrival,2016\n")
    copies: list[str] = []
    monkeypatch.setattr(store.catalog, "_copy", lambda source, target: copies.append(source))
    report = ingest_path(store, three)
    assert copies == [] and store.catalog.collection == live
    assert (report.new_items, report.updated_items, report.catalog_size) == (2, 1, 64)
    assert store.catalog.resolve_title("Film Two").year == 2002
    # a failed write leaves the catalog as it was
    monkeypatch.setattr(store.backend, "upsert", _fail)
    with pytest.raises(OSError):
        ingest_path(store, tmp_path / "three.csv")
    assert store.catalog.count() == 64 and store.catalog.collection == live


def _fail(*_: object) -> None:
    raise OSError("disk full")
