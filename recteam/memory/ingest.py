"""Ingests catalog files (see catalog_files.py for what it reads and how) into the catalog:
each row becomes a CatalogItem or a problem named by its file and line, and the items go into the
catalog all or nothing: a few are upserted into the live catalog in one write, many (or
--replace) are written as a new collection that replaces the live one only when complete."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from recteam.errors import IngestError
from recteam.memory.catalog_files import (
    MAX_FIELD_CHARS,
    SUFFIXES,
    BadFile,
    Row,
    RowProblem,
    catalog_files,
    check_encoding,
    number_name,
    parse_file,
    row_problem,
)
from recteam.memory.facts import extract_facts
from recteam.memory.items import CatalogItem
from recteam.memory.store import MemoryStore

__all__ = [
    "MAX_FIELD_CHARS",
    "IngestReport",
    "RowProblem",
    "ingest_path",
    "read_items",
    "read_summaries",
    "summaries_sidecar",
    "vectors_sidecar",
]

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


@dataclass
class IngestReport:
    files: list[Path] = field(default_factory=list)  # the files read
    skipped_files: list[Path] = field(default_factory=list)  # in a folder: unreadable, named
    ignored: list[Path] = field(default_factory=list)  # in a folder: not catalog files
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)  # bad rows and skipped files
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

    @property
    def bad_rows(self) -> int:
        return len(self.problems) - len(self.skipped_files)


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            continue
        k = _field(key)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
        out.setdefault(k, value)
    year = out.get("year")
    if isinstance(year, str) and len(year) >= 4 and year[:4].isdigit():
        out["year"] = int(year[:4])  # "1999" or a date such as "1999-05-01"
    return out


def _field(column: str) -> str:
    """The item field a column or key names: 'Movie Title ' -> 'title'."""
    k = column.strip().lower()
    return _ALIASES.get(k, k)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "row"
    return f"{where}: {err['msg']}"


def read_items(path: Path, report: IngestReport, encoding: str | None = None) -> list[CatalogItem]:
    """Every valid item under `path`, duplicates (same id) merged into the last one seen. A file
    with a summaries sidecar (see summaries_sidecar) gets each item's description from it; a row
    with a description but none of the facts fields gets the facts its description states.
    `encoding` reads the files that are not UTF-8 (see catalog_files.py). A file that cannot be
    read at all (not text, empty, no title column) is an IngestError when it is `path` itself;
    in a folder it is skipped and named in the report."""
    check_encoding(encoding)
    items: dict[str, CatalogItem] = {}
    listing = catalog_files(path)
    report.ignored.extend(listing.ignored)
    for file in listing.files:
        try:
            parsed = parse_file(file, encoding)
            if parsed.header is not None and "title" not in map(_field, parsed.header):
                raise BadFile(1, f"the header has no 'title' column (found: {parsed.header})")
        except BadFile as bad:
            if not path.is_dir():
                raise IngestError(str(RowProblem(file, bad.line, bad.message))) from bad
            skipped = RowProblem(file, bad.line, f"{bad.message}; the whole file is skipped")
            report.problems.append(skipped)
            report.skipped_files.append(file)
            continue
        report.files.append(file)
        summaries = read_summaries(file)
        for line, row in parsed.rows:
            report.rows += 1
            item = _item(row, summaries)
            if isinstance(item, str):
                report.problems.append(RowProblem(file, line, item))
                continue
            if item.id in items:
                report.duplicates += 1
            items[item.id] = item
    return list(items.values())


def _item(row: Row, summaries: dict[str, str]) -> CatalogItem | str:
    """The item a parsed row describes, or why it describes none."""
    if isinstance(row, str):
        return row
    problem = row_problem(row)
    if problem:
        return problem
    try:
        fields = _normalise(row)
        item = CatalogItem.model_validate(fields)
    except ValidationError as exc:
        return _first_error(exc)
    if not math.isfinite(item.popularity):  # "inf" in a CSV column parses as a float
        return f"popularity: {number_name(item.popularity)} is not a finite number"
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
        rows = parse_file(found).rows
    except BadFile as bad:
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


def _seed_cache(store: MemoryStore, files: list[Path]) -> int:
    """Puts the vectors shipped beside `files` (their vectors sidecars, for this embedder) into
    the embedding cache, so their items are not embedded again."""
    seeded = 0
    for file in files:
        sidecar = vectors_sidecar(file)
        if not sidecar.exists():
            continue
        with np.load(sidecar) as data:
            if str(data["model"]) != store.embedder.name:
                continue
            keys = [bytes(k) for k in data["keys"]]
            store.embedder.store(keys, data["vectors"].astype(np.float32))
        seeded += len(keys)
    return seeded


def ingest_path(
    store: MemoryStore,
    path: Path,
    replace: bool = False,
    batch_size: int = 512,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
    encoding: str | None = None,
) -> IngestReport:
    """Reads `path` (UTF-8, with or without a byte-order mark; files that are not UTF-8 in
    `encoding`), then adds its items to the catalog (or, with `replace`, makes the catalog
    exactly its items). Raises IngestError, with the catalog untouched, when nothing is valid."""
    started = time.perf_counter()
    report = IngestReport()
    items = read_items(path, report, encoding)
    if not items:
        first = f"; first problem: {report.problems[0]}" if report.problems else ""
        raise IngestError(f"{path}: no valid rows to ingest ({report.rows} read){first}")
    _seed_cache(store, report.files)
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
