"""Reads catalog files (CSV, JSON lines, the wikipedia-movies JSON arrays; gzip of any; or a
folder of them) into CatalogItems, reporting each bad row, and each file that cannot be read at
all, with its file and line, and writes them into the catalog all or nothing: a few items are
upserted into the live catalog in one write, many (or --replace) are written as a new collection
that replaces the live one only when complete."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from recteam.errors import IngestError
from recteam.memory.facts import extract_facts
from recteam.memory.items import CatalogItem
from recteam.memory.store import MemoryStore

__all__ = [
    "IngestReport",
    "RowProblem",
    "ingest_path",
    "read_items",
    "read_summaries",
    "summaries_sidecar",
    "vectors_sidecar",
]

SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json")
# The longest text one field may hold (a description of a few pages is ~20,000); a longer field
# is most likely a broken quote that swallowed the rows after it, and its row is skipped.
MAX_FIELD_CHARS = 1_000_000
# Up to this many items go into the live catalog in one write (computed in full first); more are
# written as a new collection beside it, where copying the live items costs little next to
# embedding theirs, and the engine never holds one write of unbounded size.
INCREMENTAL_MAX = 4096
# Column names other catalogs use for our fields.
_ALIASES = {
    "name": "title",
    "movie": "title",
    "movie_title": "title",
    "release_year": "year",
    "genre": "genres",
    "actors": "cast",
    "stars": "cast",
    "starring": "cast",
    "href": "slug",
    "thumbnail": "poster",
    "overview": "description",
    "plot": "description",
    "summary": "description",
    "extract": "description",
    "item_id": "id",
}
_FACTS = ("directors", "based_on", "franchise")


@dataclass(frozen=True)
class RowProblem:
    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.message}"


@dataclass
class IngestReport:
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    duplicates: int = 0
    new_items: int = 0
    updated_items: int = 0
    catalog_size: int = 0
    seconds: float = 0.0

    @property
    def items(self) -> int:
        return self.new_items + self.updated_items

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


def _files(path: Path) -> list[Path]:
    if not path.exists():
        raise IngestError(f"{path}: no such file or folder")
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if _kind(p) is not None)
        if not found:
            raise IngestError(f"{path}: no .csv, .jsonl or .json files in this folder")
        return found
    if _kind(path) is None:
        raise IngestError(
            f"{path}: unsupported file type; use .csv, .jsonl or .json (optionally .gz)"
        )
    return [path]


def _kind(path: Path) -> str | None:
    name = path.name.lower().removesuffix(".gz")
    return next((s for s in SUFFIXES if name.endswith(s)), None)


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            continue
        k = key.strip().lower()
        k = _ALIASES.get(k, k)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
        out.setdefault(k, value)
    year = out.get("year")
    if isinstance(year, str) and len(year) >= 4 and year[:4].isdigit():
        out["year"] = int(year[:4])  # "1999" or a date such as "1999-05-01"
    return out


class _BadFile(Exception):
    """A whole file cannot be read: in a folder it is skipped and named, alone it is an error."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _read_text(path: Path, encoding: str | None) -> str:
    """The whole file as text: decompressed, decoded (UTF-8 with or without a byte-order mark
    unless `encoding` says otherwise), read before any row is used, so a file that fails
    halfway contributes no rows."""
    try:
        with gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise _BadFile(0, f"cannot read this file ({exc})") from exc
    try:
        text = raw.decode(encoding or "utf-8")
    except LookupError as exc:
        raise IngestError(f"--encoding {encoding}: no such text encoding") from exc
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        if encoding:
            hint = ""
        elif _decodes(raw, "cp1252"):
            hint = (
                "; it reads as Windows-1252 (what Excel on Windows saves): "
                "if that is right, pass --encoding cp1252"
            )
        else:
            hint = "; pass --encoding NAME with the encoding it was saved in"
        raise _BadFile(
            line,
            f"not {encoding or 'UTF-8'} text (byte 0x{bad} cannot be decoded){hint}",
        ) from exc
    # Spreadsheet programs start UTF-8 files with a byte-order mark; it is not part of the text.
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise _BadFile(0, "the file is empty")
    return text


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _parse(path: Path, encoding: str | None = None) -> list[tuple[int, dict[str, Any] | str]]:
    """(line, row) pairs, or (line, problem) where a row cannot be parsed at all. Raises _BadFile
    when the file as a whole cannot be read."""
    text = _read_text(path, encoding)
    kind = _kind(path)
    if kind == ".csv":
        return list(_csv_rows(text))
    if kind in (".jsonl", ".ndjson"):
        return list(_jsonl_rows(text))
    return list(_json_array(text))


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    # newline="" splits records only where csv does (\n, \r, \r\n), unlike str.splitlines
    lines = list(io.StringIO(text, newline=""))
    reader = csv.reader(lines)
    limit = csv.field_size_limit()
    # The whole file is in memory anyway; csv's own 128 KB cap would end the file at one long
    # field. Fields over MAX_FIELD_CHARS are refused row by row in _row_problem instead.
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        try:
            header = next(reader)
        except csv.Error as exc:
            raise _BadFile(1, f"the CSV header cannot be read ({exc})") from exc
        names = [h.strip() for h in header]
        if "title" not in {_ALIASES.get(n.lower(), n.lower()) for n in names}:
            raise _BadFile(1, f"the CSV header has no 'title' column (found: {names})")
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, f"unreadable CSV ({exc}); the rest of the file is skipped"
                return
            if not any(cell.strip() for cell in row):
                continue
            if reader.line_num == len(lines) and _unclosed_quote("".join(lines[start - 1 :])):
                yield (
                    start,
                    "the quoted field opened in this row is never closed (it runs to the end "
                    "of the file); check the quotes on this line",
                )
                return
            yield start, dict(zip(names, row, strict=False))
    finally:
        csv.field_size_limit(limit)


def _unclosed_quote(record: str) -> bool:
    """True when `record` (the last CSV record) ends inside a quoted field: csv's lenient mode
    would keep everything up to the end of the file as that field."""
    try:
        for _ in csv.reader(io.StringIO(record, newline=""), strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for line_no, line in enumerate(io.StringIO(text, newline=None), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield line_no, f"invalid JSON ({exc.msg})"
            continue
        yield (line_no, obj) if isinstance(obj, dict) else (line_no, "expected a JSON object")


def _row_problem(row: dict[str, Any]) -> str | None:
    """Why a parsed row cannot be stored as it is: an oversized field, or a number that is not
    finite (JSON's NaN and Infinity, which the engine cannot store)."""
    for key, value in row.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str) and len(v) > MAX_FIELD_CHARS:
                return (
                    f"{key}: the field is {len(v):,} characters long; "
                    f"the limit is {MAX_FIELD_CHARS:,}"
                )
            if isinstance(v, float) and not math.isfinite(v):
                return f"{key}: {_number(v)} is not a finite number"
    return None


def _number(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _json_array(text: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Elements of a top-level JSON array with the line each starts on."""
    decoder = json.JSONDecoder()
    pos = len(text) - len(text.lstrip())
    if text[pos : pos + 1] != "[":
        yield text.count("\n", 0, pos) + 1, "expected a JSON array of film objects"
        return
    pos += 1
    line, counted = 1, 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            yield line, "the JSON array is not closed"
            return
        if text[pos] == "]":
            return
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            # Nothing after a syntax error can be trusted to line up; stop this file here.
            yield (
                text.count("\n", 0, exc.pos) + 1,
                f"invalid JSON ({exc.msg}); the rest of the file is skipped",
            )
            return
        yield (line, obj) if isinstance(obj, dict) else (line, "expected a JSON object")


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "row"
    return f"{where}: {err['msg']}"


def read_items(path: Path, report: IngestReport, encoding: str | None = None) -> list[CatalogItem]:
    """Every valid item under `path`, duplicates (same id) merged into the last one seen. A file
    with a summaries sidecar (see summaries_sidecar) gets each item's description from it; a row
    with a description but none of the facts fields gets the facts its description states.
    A file that cannot be read at all (not text in `encoding`, empty, no title column) is an
    IngestError when it is `path` itself; in a folder it is skipped and named in the report."""
    items: dict[str, CatalogItem] = {}
    files = _files(path)
    summaries = read_summaries(path)
    for file in files:
        try:
            rows = _parse(file, encoding)
        except _BadFile as bad:
            if not path.is_dir():
                raise IngestError(str(RowProblem(file, bad.line, bad.message))) from bad
            report.problems.append(
                RowProblem(file, bad.line, f"{bad.message}; the whole file is skipped")
            )
            continue
        report.files.append(file)
        for line, row in rows:
            report.rows += 1
            item = _item(row, summaries)
            if isinstance(item, str):
                report.problems.append(RowProblem(file, line, item))
                continue
            if item.id in items:
                report.duplicates += 1
            items[item.id] = item
    return list(items.values())


def _item(row: dict[str, Any] | str, summaries: dict[str, str]) -> CatalogItem | str:
    """The item a parsed row describes, or why it describes none."""
    if isinstance(row, str):
        return row
    problem = _row_problem(row)
    if problem:
        return problem
    try:
        fields = _normalise(row)
        item = CatalogItem.model_validate(fields)
    except ValidationError as exc:
        return _first_error(exc)
    if not math.isfinite(item.popularity):  # "inf" in a CSV column parses as a float
        return f"popularity: {_number(item.popularity)} is not a finite number"
    description = item.description or summaries.get(item.id)
    if description and not any(k in fields for k in _FACTS):
        facts = extract_facts(description)
        found = {"directors": facts.directors, "based_on": facts.based_on}
        found["franchise"] = facts.franchise
        # validated like any row, so a rebuild from this item reads the same facts
        item = CatalogItem.model_validate({**fields, **found, "description": description})
    elif description != item.description:
        item.description = description
    return item


def summaries_sidecar(path: Path) -> Path:
    """'catalog.jsonl.gz' -> 'catalog.summaries.jsonl.gz': descriptions shipped beside a file in
    their own file (the shipped catalog's are Wikipedia text under CC BY-SA; see NOTICE.md)."""
    return path.with_name(f"{_stem(path)}.summaries.jsonl.gz")


def read_summaries(path: Path) -> dict[str, str]:
    """{item id: summary} from the summaries sidecar of the file `path`: the one beside it, or
    the one beside the file its vectors sidecar links to (a sample of the shipped catalog, as
    the benchmark makes, links the shipped vectors); {} when there is none."""
    if path.is_dir():
        return {}
    candidates = [summaries_sidecar(path)]
    vectors = vectors_sidecar(path)
    if vectors.is_symlink():
        candidates.append(summaries_sidecar(vectors.resolve()))
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        return {}
    summaries: dict[str, str] = {}
    try:
        rows = _parse(found)
    except _BadFile as bad:
        raise IngestError(str(RowProblem(found, bad.line, bad.message))) from bad
    for _, row in rows:
        if isinstance(row, dict) and row.get("id") and row.get("summary"):
            summaries[str(row["id"])] = str(row["summary"])
    return summaries


def _stem(path: Path) -> str:
    """'catalog.jsonl.gz' and 'catalog.vectors.npz' -> 'catalog'."""
    name = path.name.removesuffix(".vectors.npz")
    for suffix in (".gz", *SUFFIXES):
        name = name.removesuffix(suffix)
    return name


def vectors_sidecar(path: Path) -> Path:
    """'catalog.jsonl.gz' -> 'catalog.vectors.npz': precomputed embeddings shipped beside a file."""
    return path.with_name(f"{_stem(path)}.vectors.npz")


def _seed_cache(store: MemoryStore, path: Path) -> int:
    sidecar = vectors_sidecar(path)
    if path.is_dir() or not sidecar.exists():
        return 0
    with np.load(sidecar) as data:
        if str(data["model"]) != store.embedder.name:
            return 0
        keys = [bytes(k) for k in data["keys"]]
        store.embedder.store(keys, data["vectors"].astype(np.float32))
    return len(keys)


def ingest_path(
    store: MemoryStore,
    path: Path,
    replace: bool = False,
    batch_size: int = 512,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
    encoding: str | None = None,
) -> IngestReport:
    """Reads `path` (text in `encoding`; default UTF-8, with or without a byte-order mark), then
    adds its items to the catalog (or, with `replace`, makes the catalog exactly its items).
    Raises IngestError, with the catalog untouched, when nothing is valid."""
    started = time.perf_counter()
    report = IngestReport()
    items = read_items(path, report, encoding)
    if not items:
        first = f"; first problem: {report.problems[0]}" if report.problems else ""
        raise IngestError(f"{path}: no valid rows to ingest ({report.rows} read){first}")
    _seed_cache(store, path)
    existing_ids: set[str] = set()
    live = store.catalog.collection
    if not replace and live is not None:
        known = store.backend.retrieve(live, [it.point_id for it in items])
        existing_ids = {p.id for p in known}
    report.updated_items = sum(1 for it in items if it.point_id in existing_ids)
    report.new_items = len(items) - report.updated_items
    if on_start:
        on_start(len(items))
    if not replace and live is not None and len(items) <= INCREMENTAL_MAX:
        report.catalog_size = store.catalog.upsert(items, progress=progress)
    else:
        batches = (items[i : i + batch_size] for i in range(0, len(items), batch_size))
        report.catalog_size = store.catalog.rebuild(batches, replace=replace, progress=progress)
    report.seconds = time.perf_counter() - started
    return report
