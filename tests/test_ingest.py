from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recteam.errors import IngestError
from recteam.memory import catalog_files
from recteam.memory.catalog import SearchRequest
from recteam.memory.embeddings import text_key
from recteam.memory.ingest import IngestReport, ingest_path, read_items, vectors_sidecar
from recteam.memory.items import CatalogItem
from recteam.memory.store import MemoryStore, open_store
from tests.conftest import FILMS, memory_settings


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
    monkeypatch.setattr(catalog_files, "MAX_FIELD_CHARS", 300_000)
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


# Reading alone (no store): what a file of each kind yields, and how each bad one is named.


def _read(
    path: Path, encoding: str | None = None
) -> tuple[list[tuple[str, int | None]], IngestReport]:
    report = IngestReport()
    items = read_items(path, report, encoding)
    return [(it.title, it.year) for it in items], report


ROWS = [("Amélie", 2001), ("Crouching Tiger, Hidden Dragon", 2000), ("Heat", 1995)]


def _catalog_text(kind: str) -> str:
    if kind == "csv":
        return "title,year\n" + "".join(f'"{t}",{y}\n' for t, y in ROWS)
    if kind == "tsv":
        return "title\tyear\n" + "".join(f"{t}\t{y}\n" for t, y in ROWS)
    objects = [{"title": t, "year": y} for t, y in ROWS]
    if kind == "jsonl":
        return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects)
    return json.dumps(objects, ensure_ascii=False, indent=1)


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "json"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_utf8_with_or_without_a_byte_order_mark_and_marked_utf16_are_read(
    tmp_path: Path, kind: str, encoding: str
) -> None:
    path = tmp_path / f"films.{kind}"
    path.write_text(_catalog_text(kind), encoding=encoding)  # utf-8-sig and utf-16 write a mark
    items, report = _read(path)
    assert report.problems == [] and items == ROWS


def test_latin1_and_cp1252_files_are_named_with_the_flag_that_reads_them(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("title,year\nHeat,1995\nAmélie,2001\n".encode("latin-1"))
    with pytest.raises(IngestError) as refused:
        _read(latin1)
    message = str(refused.value)
    assert message.startswith(f"{latin1}:3: not UTF-8 text (byte 0xe9 cannot be decoded)")
    assert "(this line: 'Amélie,2001')" in message  # read as it would be, to check by eye
    assert "pass --encoding cp1252 (or latin-1" in message
    for flag in ("latin-1", "cp1252"):
        assert _read(latin1, flag)[0] == [("Heat", 1995), ("Amélie", 2001)]
    # curly quotes are Windows-1252 only (Latin-1 has control characters there)
    excel = tmp_path / "excel.csv"
    excel.write_bytes("title,year\nHeat,1995\nDon’t Look Up,2021\n".encode("cp1252"))
    with pytest.raises(IngestError) as refused:
        _read(excel)
    message = str(refused.value)
    assert message.startswith(f"{excel}:3: not UTF-8 text (byte 0x92 cannot be decoded)")
    assert "Windows-1252" in message and message.endswith("pass --encoding cp1252")
    assert _read(excel, "cp1252")[0] == [("Heat", 1995), ("Don’t Look Up", 2021)]
    # neither UTF-8 nor Windows-1252: the flag to pass, with examples
    other = tmp_path / "other.csv"
    other.write_bytes(b"title,year\nHeat,1995\nX\x81\x8d,2001\n")
    with pytest.raises(IngestError, match=r"other\.csv:3: .*not Windows-1252 either.*--encoding"):
        _read(other)
    with pytest.raises(IngestError, match="--encoding klingon: no such text encoding"):
        _read(latin1, "klingon")


def test_utf16_without_its_mark_is_named_with_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "unicode.csv"
    path.write_bytes("title,year\nMoon,2009\n".encode("utf-16-le"))
    with pytest.raises(IngestError, match=r"unicode\.csv:1: .*NUL bytes.*--encoding utf-16-le"):
        _read(path)
    assert _read(path, "utf-16-le")[0] == [("Moon", 2009)]


def test_encoding_reads_only_the_files_that_are_not_utf8(tmp_path: Path) -> None:
    """One Windows-1252 file in a folder of UTF-8 ones: --encoding cp1252 reads it and leaves
    the UTF-8 files as they are (read as cp1252 they would turn 'Amélie' into 'AmÃ©lie')."""
    folder = tmp_path / "films"
    folder.mkdir()
    (folder / "a.csv").write_text("title,year\nAmélie,2001\n", encoding="utf-8")
    (folder / "b.csv").write_bytes("title,year\nDon’t Look Up,2021\n".encode("cp1252"))
    items, report = _read(folder)
    assert items == [("Amélie", 2001)]
    assert [(p.file.name, p.line) for p in report.problems] == [("b.csv", 2)]
    assert "--encoding cp1252" in report.problems[0].message
    items, report = _read(folder, "cp1252")
    assert report.problems == [] and items == [("Amélie", 2001), ("Don’t Look Up", 2021)]


def test_a_jsonl_field_over_the_limit_is_named_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_files, "MAX_FIELD_CHARS", 1000)
    path = tmp_path / "long.jsonl"
    rows = [
        {"title": "Fine", "year": 2001},
        {"title": "Long", "year": 2002, "cast": ["A", "x" * 1001]},
        {"title": "Also Fine", "year": 2003, "description": "y" * 1000},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items, report = _read(path)
    assert items == [("Fine", 2001), ("Also Fine", 2003)]
    assert [str(p) for p in report.problems] == [
        f"{path}:2: cast: the field is 1,001 characters long; the limit is 1,000"
    ]


def test_bad_files_in_a_folder_are_named_and_the_rest_go_in(tmp_path: Path) -> None:
    folder = tmp_path / "films"
    folder.mkdir()
    (folder / "a.csv").write_text("title,year\nArrival,2016\n")
    good = gzip.compress(b'{"title": "Moon", "year": 2009}\n')
    (folder / "b.jsonl.gz").write_bytes(good)
    (folder / "c.jsonl.gz").write_bytes(good[: len(good) // 2])  # cut off mid-download
    (folder / "d.csv").write_text("name_of_film,year\nHeat,1995\n")
    (folder / "e.json").write_text('[{"title": "Up", "year": 2009},\n {"title": "Big"')
    (folder / "f.tsv").write_text("title\tyear\nHeat\t1995\n")
    (folder / "films.xlsx").write_bytes(b"PK\x03\x04")
    (folder / "README.md").write_text("my films")
    (folder / ".hidden.csv").write_text("not,read\n")
    (folder / "older").mkdir()
    items, report = _read(folder)
    assert items == [("Arrival", 2016), ("Moon", 2009), ("Up", 2009), ("Heat", 1995)]
    assert [p.name for p in report.files] == ["a.csv", "b.jsonl.gz", "e.json", "f.tsv"]
    problems = [(p.file.name, p.line, p.message) for p in report.problems]
    assert [p[:2] for p in problems] == [("c.jsonl.gz", 0), ("d.csv", 1), ("e.json", 2)]
    assert "cannot read this file" in problems[0][2] and "whole file is skipped" in problems[0][2]
    assert "no 'title' column" in problems[1][2] and "whole file is skipped" in problems[1][2]
    assert "invalid JSON" in problems[2][2]
    assert [p.name for p in report.skipped_files] == ["c.jsonl.gz", "d.csv"]
    assert report.bad_rows == 1
    assert [p.name for p in report.ignored] == ["README.md", "films.xlsx", "older"]


def test_a_row_with_more_fields_than_the_header_is_named(tmp_path: Path) -> None:
    path = tmp_path / "commas.csv"
    path.write_text(
        "title,year,description\n"
        "Crouching Tiger, Hidden Dragon,2000,A wuxia film\n"  # the title's comma is not quoted
        "Moon,2009,\n"  # an empty last field, and a trailing comma: fine
        "Heat,1995,A heist,,\n"
    )
    items, report = _read(path)
    assert items == [("Moon", 2009), ("Heat", 1995)]
    assert [str(p) for p in report.problems] == [
        f"{path}:2: 4 fields where the header has 3 columns; a comma inside a field must be in "
        "quotes"
    ]


def test_semicolon_and_tab_separated_files_are_read(tmp_path: Path) -> None:
    semi = tmp_path / "excel-de.csv"  # a spreadsheet set to a decimal-comma language
    semi.write_text('Title;Year;Genres\nAmélie;2001;Comedy|Romance\n"Heat; the film";1995;\n')
    report = IngestReport()
    items = read_items(semi, report)
    assert report.problems == []
    assert [(it.title, it.year, it.genres) for it in items] == [
        ("Amélie", 2001, ["Comedy", "Romance"]),
        ("Heat; the film", 1995, []),
    ]
    tabs = tmp_path / "films.csv"
    tabs.write_text("title\tyear\nUp, the film\t2009\n")
    assert _read(tabs)[0] == [("Up, the film", 2009)]


# Crash safety: a real ingest process killed with SIGKILL at the worst moments.

_KILLED_INGEST = """
import sys, time
from pathlib import Path
from recteam.memory.embeddings import load_local_embedder
from recteam.memory.ingest import ingest_path
from recteam.memory.settings import EmbeddingSettings, MemorySettings
from recteam.memory.store import open_store

store_path, source, moment, marker = sys.argv[1:]
store = open_store(
    MemorySettings(backend="embedded", path=Path(store_path)),
    load_local_embedder(EmbeddingSettings()),
)

def stop_here(*_):
    Path(marker).write_text(moment)
    time.sleep(120)  # killed here

calls = 0

def progress(n):
    global calls
    calls += 1
    # upsert: all 12 are embedded in one batch before the write; replace: 4 per batch, 2 written
    if calls == {"upsert": 1, "replace": 3}.get(moment):
        stop_here()

if moment == "after-write":  # the upsert has returned; the flush after it has not run
    store.backend.flush = stop_here
ingest_path(store, Path(source), replace=moment == "replace", batch_size=4, progress=progress)
"""


@pytest.mark.parametrize("moment", ["upsert", "after-write", "replace"])
def test_a_killed_ingest_process_leaves_the_catalog_whole(
    tmp_path: Path, embedder, moment: str
) -> None:
    """SIGKILL mid-ingest, then the store opened again: 'upsert' dies while the new rows are
    embedded (nothing is written before all are), 'after-write' just after the one write into
    the live catalog (the engine's write-ahead log has it whole), 'replace' after two batches
    went into the new catalog beside the live one (the alias still names the old)."""
    settings = memory_settings("embedded", tmp_path / "store")
    store = open_store(settings, embedder)
    ingest_path(store, FILMS)
    live = store.catalog.collection
    store.close()
    more = tmp_path / "more.jsonl"
    new = [{"title": f"Killed Film {i}", "year": 2001 + i} for i in range(12)]
    more.write_text("".join(json.dumps(r) + "\n" for r in new))
    marker = tmp_path / "marker"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_INGEST, str(settings.path), str(more), moment, str(marker)]
    )
    try:
        deadline = time.monotonic() + 90
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), f"the ingest process ended ({proc.returncode}) before its moment"
    finally:
        proc.kill()
        proc.wait()
    store = open_store(settings, embedder)
    try:
        titles = {it.title for it in store.catalog.iter_items()}
        assert store.catalog.collection == live
        if moment == "after-write":
            assert store.catalog.count() == 74 and {r["title"] for r in new} <= titles
        elif moment == "replace":
            # it died with the new catalog beside the live one holding 2 of its 3 batches
            half = [
                c for c in store.backend.list_collections() if c.startswith(store.catalog.alias)
            ]
            assert [store.backend.count(c) for c in half if c != live] == [8]
            assert store.catalog.count() == 62 and not any(t.startswith("Killed") for t in titles)
        else:
            assert store.catalog.count() == 62 and not any(t.startswith("Killed") for t in titles)
        # the next ingest goes in whole, and clears what the killed one left beside the catalog
        report = ingest_path(store, more, replace=moment == "replace")
        assert report.catalog_size == (12 if moment == "replace" else 74)
        items = [c for c in store.backend.list_collections() if c.startswith(store.catalog.alias)]
        assert items == [store.catalog.collection]
    finally:
        store.close()
