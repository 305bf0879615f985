"""Reading catalog files into rows: CSV (or TSV, or the semicolons a European spreadsheet writes),
JSON lines and JSON arrays (the wikipedia-movies layout), each optionally gzipped; every row with
the line it starts on.

This module knows syntax, not films: a row that cannot be parsed is its line and why, and a file
that cannot be read at all (not text in any encoding it was told of, empty, a broken gzip) is a
BadFile. What the columns mean is ingest.py's business.

Text is UTF-8, with or without a byte-order mark; a UTF-16 or UTF-32 file with its byte-order
mark is read too. A file that is not UTF-8 is read in the encoding the person names (`--encoding`)
or refused with the line of its first odd byte and the flag that would read it, never guessed at:
a wrong guess would store misspelt titles under new ids.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recteam.errors import IngestError

__all__ = [
    "MAX_FIELD_CHARS",
    "SUFFIXES",
    "BadFile",
    "Listing",
    "ParsedFile",
    "Row",
    "RowProblem",
    "catalog_files",
    "check_encoding",
    "file_kind",
    "number_name",
    "parse_file",
    "row_problem",
]

SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json")
# The longest text one field may hold (a description of a few pages is ~20,000); a longer field
# is most likely a broken quote that swallowed the rows after it, and its row is skipped.
MAX_FIELD_CHARS = 1_000_000
# Longest first: a UTF-32 little-endian mark starts with the UTF-16 one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
# Windows-1252 puts letters and punctuation (curly quotes, the euro sign) where Latin-1 has
# control characters nobody types: bytes 0x80-0x9f.
_C1 = bytes(range(0x80, 0xA0))

# A row as parsed: its fields by column or key, or why it could not be parsed.
Row = dict[str, Any] | str


@dataclass(frozen=True)
class RowProblem:
    file: Path
    line: int  # 0: the file as a whole
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.message}"


class BadFile(Exception):
    """A whole file cannot be read: in a folder it is skipped and named, alone it is an error."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class ParsedFile:
    rows: list[tuple[int, Row]]
    header: list[str] | None = None  # a CSV's column names, as written
    encoding: str = "utf-8"  # what the text was read as


@dataclass
class Listing:
    files: list[Path]
    ignored: list[Path] = field(default_factory=list)  # in a folder, what is not a catalog file


def file_kind(path: Path) -> str | None:
    """'.csv', '.tsv', '.jsonl', '.ndjson' or '.json' ('.gz' aside), or None."""
    name = path.name.lower().removesuffix(".gz")
    return next((s for s in SUFFIXES if name.endswith(s)), None)


def _sidecar(path: Path) -> bool:
    """A file shipped beside a catalog file for it (its summaries or its vectors), not a catalog."""
    name = path.name.lower()
    return ".summaries." in name or name.endswith(".vectors.npz")


def catalog_files(path: Path) -> Listing:
    """The catalog files `path` names: itself, or the catalog files directly in the folder (in
    name order), with the folder's other visible entries listed as ignored."""
    if not path.exists():
        raise IngestError(f"{path}: no such file or folder")
    if not path.is_dir():
        if file_kind(path) is None:
            raise IngestError(
                f"{path}: unsupported file type; use .csv, .tsv, .jsonl or .json (optionally .gz)"
            )
        return Listing([path])
    listing = Listing([])
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or _sidecar(entry):
            continue
        if entry.is_file() and file_kind(entry) is not None:
            listing.files.append(entry)
        else:
            listing.ignored.append(entry)
    if not listing.files:
        raise IngestError(f"{path}: no .csv, .tsv, .jsonl or .json files in this folder")
    return listing


def check_encoding(encoding: str | None) -> None:
    """Raises IngestError when `encoding` names no text encoding Python knows."""
    if encoding is None:
        return
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise IngestError(
            f"--encoding {encoding}: no such text encoding (try cp1252, latin-1 or utf-16)"
        ) from None


def parse_file(path: Path, encoding: str | None = None) -> ParsedFile:
    """Every row of `path`, as (line, row) or (line, why it cannot be parsed). Raises BadFile when
    the file as a whole cannot be read; it is read and decoded whole before any row is used, so
    a file that fails halfway gives no rows."""
    text, used = _read_text(path, encoding)
    kind = file_kind(path)
    if kind in (".csv", ".tsv"):
        header, rows = _csv_rows(text, "\t" if kind == ".tsv" else None)
        return ParsedFile(rows, header, used)
    if kind in (".jsonl", ".ndjson"):
        return ParsedFile(list(_jsonl_rows(text)), None, used)
    return ParsedFile(list(_json_array(text)), None, used)


# text ----------------------------------------------------------------------------------------


def _read_text(path: Path, encoding: str | None) -> tuple[str, str]:
    """The whole file as text, and the encoding it was read in."""
    try:
        with gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise BadFile(0, f"cannot read this file ({exc})") from exc
    text, used = _decode(raw, encoding)
    if not text.strip():
        raise BadFile(0, "the file is empty")
    return text, used


def _decode(raw: bytes, encoding: str | None) -> tuple[str, str]:
    """`raw` as text: in the encoding its byte-order mark names; else as UTF-8 when it is UTF-8
    (whatever `encoding` says, so one non-UTF-8 file in a folder does not garble the others);
    else in `encoding`; else a BadFile naming the first odd byte and the flag to pass."""
    for bom, codec, name in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec).removeprefix("\ufeff"), codec
            except UnicodeDecodeError as exc:
                raise _undecodable(raw, exc, f"{name} text, as its byte-order mark says") from exc
    utf8 = _utf8(raw)
    if utf8 is not None:
        return utf8, "utf-8"
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            named = "" if codecs.lookup(encoding).name == "utf-8" else f" or {encoding}"
            raise _undecodable(raw, exc, f"UTF-8{named} text") from exc
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _undecodable(raw, exc, "UTF-8 text", _hint(raw, exc.start)) from exc
    # valid UTF-8 but with NUL bytes: UTF-16 without its byte-order mark
    at = raw.index(b"\0")
    order = "le" if at % 2 else "be"  # 'T\0i\0...' is little-endian
    line = raw.count(b"\n", 0, at) + 1
    raise BadFile(
        line,
        f"not UTF-8 text (it holds NUL bytes, as UTF-16 text does); "
        f"if it is UTF-16, pass --encoding utf-16-{order}",
    )


def _utf8(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\0" in text else text


def _undecodable(raw: bytes, exc: UnicodeDecodeError, expected: str, hint: str = "") -> BadFile:
    line = raw.count(b"\n", 0, exc.start) + 1
    bad = raw[exc.start : exc.start + 1].hex()
    return BadFile(line, f"not {expected} (byte 0x{bad} cannot be decoded){hint}")


def _hint(raw: bytes, start: int) -> str:
    """Which --encoding reads a file that is not UTF-8, with its first odd line read that way so
    the person can see it is right."""
    begin = raw.rfind(b"\n", 0, start) + 1
    end = raw.find(b"\n", start)
    line = raw[begin : end if end >= 0 else len(raw)].rstrip(b"\r")
    try:
        sample = line.decode("cp1252")
    except UnicodeDecodeError:
        return (
            "; it is not Windows-1252 either: pass --encoding NAME with the encoding it was "
            "saved in (latin-1, cp1251, mac-roman, shift_jis, ...)"
        )
    shown = sample if len(sample) <= 80 else sample[:77] + "..."
    if any(b in _C1 for b in raw):
        return (
            f"; it reads as Windows-1252, what Excel on Windows saves (this line: {shown!r}): "
            "if that is right, pass --encoding cp1252"
        )
    return (
        f"; it reads as Latin-1 / Windows-1252 (this line: {shown!r}): if that is right, pass "
        "--encoding cp1252 (or latin-1: this file reads the same in both)"
    )


# CSV -----------------------------------------------------------------------------------------


def _delimiter(text: str) -> str:
    """',' unless the header line holds more semicolons or tabs (a spreadsheet set to a language
    that writes decimal commas saves ';')."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def _csv_rows(text: str, delimiter: str | None) -> tuple[list[str], list[tuple[int, Row]]]:
    # newline="" splits records only where csv does (\n, \r, \r\n), unlike str.splitlines
    lines = list(io.StringIO(text, newline=""))
    reader = csv.reader(lines, delimiter=delimiter or _delimiter(text))
    limit = csv.field_size_limit()
    # The whole file is in memory anyway; csv's own 128 KB cap would end the file at one long
    # field. Fields over MAX_FIELD_CHARS are refused row by row in row_problem instead.
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        try:
            header = [h.strip() for h in next(reader)]
        except csv.Error as exc:
            raise BadFile(1, f"the CSV header cannot be read ({exc})") from exc
        rows: list[tuple[int, Row]] = []
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return header, rows
            except csv.Error as exc:
                rows.append((start, f"unreadable CSV ({exc}); the rest of the file is skipped"))
                return header, rows
            if not any(cell.strip() for cell in row):
                continue
            if reader.line_num == len(lines) and _unclosed_quote("".join(lines[start - 1 :])):
                message = (
                    "the quoted field opened in this row is never closed (it runs to the end "
                    "of the file); check the quotes on this line"
                )
                rows.append((start, message))
                return header, rows
            extra = [cell for cell in row[len(header) :] if cell.strip()]
            if extra:
                rows.append((start, _extra_cells(len(row), len(header))))
                continue
            rows.append((start, dict(zip(header, row, strict=False))))
    finally:
        csv.field_size_limit(limit)


def _extra_cells(cells: int, columns: int) -> str:
    return (
        f"{cells} fields where the header has {columns} columns; a comma inside a field "
        "must be in quotes"
    )


def _unclosed_quote(record: str) -> bool:
    """True when `record` (the last CSV record) ends inside a quoted field: csv's lenient mode
    would keep everything up to the end of the file as that field."""
    try:
        for _ in csv.reader(io.StringIO(record, newline=""), strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


# JSON ----------------------------------------------------------------------------------------


def _jsonl_rows(text: str) -> Iterator[tuple[int, Row]]:
    for line_no, line in enumerate(io.StringIO(text, newline=None), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield line_no, f"invalid JSON ({exc.msg})"
            continue
        yield (line_no, obj) if isinstance(obj, dict) else (line_no, "expected a JSON object")


def _json_array(text: str) -> Iterator[tuple[int, Row]]:
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


# rows ----------------------------------------------------------------------------------------


def row_problem(row: dict[str, Any]) -> str | None:
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
                return f"{key}: {number_name(v)} is not a finite number"
    return None


def number_name(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
