"""Which catalog file a store was prepared from: a store made by an older recteam keeps the
catalog of that version unless a start notices that the file (or its summaries and vectors
beside it) changed. The stamp is the files' sizes and times, backed by their SHA-256, so an
unchanged file costs a stat per start and a fresh checkout of the same bytes is not a change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from recteam.memory.ingest import summaries_sidecar, vectors_sidecar

__all__ = ["catalog_changed", "record_catalog"]

STAMP_NAME = "catalog.stamp.json"


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [p for p in (path, summaries_sidecar(path), vectors_sidecar(path)) if p.exists()]


def _stats(files: list[Path]) -> dict[str, list[int]]:
    out = {}
    for f in files:
        st = f.stat()
        out[str(f.resolve())] = [st.st_size, st.st_mtime_ns]
    return out


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _read(marker: Path) -> dict | None:
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def catalog_changed(path: Path, store_dir: Path) -> bool:
    """True when the store in `store_dir` was not prepared from `path` as it is now (also when
    the store has no stamp: made by a recteam before stamps, its catalog may be stale)."""
    marker = store_dir / STAMP_NAME
    recorded = _read(marker)
    if recorded is None or not path.exists():
        return recorded is None and path.exists()
    files = _files(path)
    stats = _stats(files)
    if recorded.get("stats") == stats:
        return False
    if recorded.get("sha256") != _digest(files):
        return True
    record_catalog(path, store_dir)  # same bytes, new times (a fresh checkout): remember them
    return False


def record_catalog(path: Path, store_dir: Path) -> None:
    """Remembers that the store in `store_dir` now holds the catalog file `path`."""
    files = _files(path)
    store_dir.mkdir(parents=True, exist_ok=True)
    marker = store_dir / STAMP_NAME
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"path": str(path), "stats": _stats(files), "sha256": _digest(files)}),
        encoding="utf-8",
    )
    tmp.replace(marker)
