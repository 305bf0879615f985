"""Reads catalog files (CSV, JSON lines, the wikipedia-movies JSON arrays; gzip of any; or a
folder of them) into CatalogItems, reporting each bad row with its file and line, and writes them
into the catalog in one all-or-nothing rebuild."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
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
        return f"{self.file}:{self.line}: {self.message}"


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


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


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


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line, row) pairs, or (line, problem) where a row cannot be parsed at all."""
    kind = _kind(path)
    try:
        with _open_text(path) as fh:
            if kind == ".csv":
                reader = csv.DictReader(fh)
                if not reader.fieldnames or "title" not in {
                    _ALIASES.get(f.strip().lower(), f.strip().lower()) for f in reader.fieldnames
                }:
                    raise IngestError(
                        f"{path}: the CSV header has no 'title' column (found: {reader.fieldnames})"
                    )
                for row in reader:
                    yield reader.line_num, row
            elif kind in (".jsonl", ".ndjson"):
                for line_no, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield line_no, f"invalid JSON ({exc.msg})"
                        continue
                    yield (
                        (line_no, obj)
                        if isinstance(obj, dict)
                        else (line_no, "expected a JSON object")
                    )
            else:
                yield from _json_array(fh.read())
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise IngestError(f"{path}: cannot read ({exc})") from exc


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


def read_items(path: Path, report: IngestReport) -> list[CatalogItem]:
    """Every valid item under `path`, duplicates (same id) merged into the last one seen. A file
    with a summaries sidecar (see summaries_sidecar) gets each item's description from it; a row
    with a description but none of the facts fields gets the facts its description states."""
    items: dict[str, CatalogItem] = {}
    report.files = _files(path)
    summaries = read_summaries(path)
    for file in report.files:
        for line, row in _rows(file):
            report.rows += 1
            if isinstance(row, str):
                report.problems.append(RowProblem(file, line, row))
                continue
            try:
                fields = _normalise(row)
                item = CatalogItem.model_validate(fields)
            except ValidationError as exc:
                report.problems.append(RowProblem(file, line, _first_error(exc)))
                continue
            description = item.description or summaries.get(item.id)
            if description and not any(k in fields for k in _FACTS):
                facts = extract_facts(description)
                found = {"directors": facts.directors, "based_on": facts.based_on}
                found["franchise"] = facts.franchise
                # validated like any row, so a rebuild from this item reads the same facts
                item = CatalogItem.model_validate({**fields, **found, "description": description})
            elif description != item.description:
                item.description = description
            if item.id in items:
                report.duplicates += 1
            items[item.id] = item
    return list(items.values())


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
    for _, row in _rows(found):
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
) -> IngestReport:
    """Reads `path`, then rebuilds the catalog with its items added (or, with `replace`, with
    only its items). Raises IngestError, with the catalog untouched, when nothing is valid."""
    started = time.perf_counter()
    report = IngestReport()
    items = read_items(path, report)
    if not items:
        first = f"; first problem: {report.problems[0]}" if report.problems else ""
        raise IngestError(f"{path}: no valid rows to ingest ({report.rows} read){first}")
    _seed_cache(store, path)
    existing_ids: set[str] = set()
    if not replace and store.catalog.collection is not None:
        known = store.backend.retrieve(store.catalog.collection, [it.point_id for it in items])
        existing_ids = {p.id for p in known}
    report.updated_items = sum(1 for it in items if it.point_id in existing_ids)
    report.new_items = len(items) - report.updated_items
    if on_start:
        on_start(len(items))
    batches = (items[i : i + batch_size] for i in range(0, len(items), batch_size))
    report.catalog_size = store.catalog.rebuild(batches, replace=replace, progress=progress)
    report.seconds = time.perf_counter() - started
    return report
