"""What a person sees of their own memory, the same in the web app and in `recteam memory`: one
row per stored record (when, kind, what) and the export document. Pure functions of records."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from recteam.memory.user_memory import MemoryRecord

__all__ = [
    "MEMORY_HEADERS",
    "entry_label",
    "export_document",
    "iso_time",
    "memory_rows",
    "record_json",
    "when_text",
]

MEMORY_HEADERS = ["When", "Kind", "What"]
SHOWN_CHARS = 240  # of a record's text in a table; the export has all of it


def when_text(created_at: float, now: float | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', else the local date and time: '12 Mar 2025 14:03'."""
    age = (time.time() if now is None else now) - created_at
    if age < 60:
        return "just now"
    if age < 3600:
        return f"{int(age // 60)} min ago"
    if age < 86400:
        return f"{int(age // 3600)} h ago"
    return datetime.fromtimestamp(created_at).strftime("%d %b %Y %H:%M")


def iso_time(created_at: float) -> str:
    return datetime.fromtimestamp(created_at, tz=UTC).isoformat(timespec="seconds")


def _short(text: str, limit: int = SHOWN_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def memory_rows(records: Sequence[MemoryRecord], now: float | None = None) -> list[list[str]]:
    """Table rows, in the records' order (newest first from UserMemory.all)."""
    return [[when_text(r.created_at, now), r.kind, _short(r.text or "")] for r in records]


def entry_label(record: MemoryRecord, now: float | None = None) -> str:
    """One line naming a record in a menu: '3 h ago · feedback · liked Heat (1995)'."""
    return f"{when_text(record.created_at, now)} · {record.kind} · {_short(record.text, 90)}"


def record_json(record: MemoryRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "text": record.text,
        "data": record.data,
        "session_id": record.session_id,
        "created_at": iso_time(record.created_at),
    }


def export_document(user_id: str, records: Sequence[MemoryRecord]) -> dict[str, Any]:
    """Every record of the user as one JSON-ready document (what 'Export all' downloads)."""
    return {
        "user": user_id,
        "exported_at": iso_time(time.time()),
        "count": len(records),
        "records": [record_json(r) for r in records],
    }
