"""The files recteam keeps about a person beside their memory points: the web chat's trace exports
and memory exports, and the copies of them the web app hands to Gradio to download.

Where they live:
- `<memory.path>/user-files/<user key>/`: one private folder per user (0o700, files 0o600), never
  the world-readable system temp folder. The key is a readable slug of the name plus a hash of it,
  so two names never share a folder and no name can climb out of it.
- Gradio serves a download only from its cache folder (GRADIO_TEMP_DIR; `recteam serve` points it
  at `<memory.path>/ui-cache`, 0o700, unless it is set). The app copies a file there itself, into a
  folder of its own with a random name (a hard link when both are on one file system: the files
  are replaced, never written in place, so a link is a copy), and removes the previous copy of
  the same file: Gradio then serves it as it is (no second copy of its own), and a file has at
  most one copy. Copies an earlier run made are swept when the app starts.

Forget-me (`forget`) removes the user's folder and every cached copy of its files, found by name:
trace names carry the random session id and memory-export names the user key, so no other user's
file shares a name. Used by the web app and by `recteam memory delete --all`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

__all__ = [
    "CACHE_ENV",
    "UserFiles",
    "default_ui_cache",
    "private_dir",
    "user_key",
    "write_private",
]

CACHE_ENV = "GRADIO_TEMP_DIR"  # where Gradio keeps uploads and the files it serves
FILES_DIR = "user-files"
UI_CACHE_DIR = "ui-cache"
DIR_MODE = 0o700
FILE_MODE = 0o600
_SLUG = re.compile(r"[^a-z0-9_-]+")
_COPY_PREFIX = "recteam-"  # a download copy's folder: this and 32 random hex digits


def user_key(user_id: str) -> str:
    """A folder name for the user: a readable slug and 16 hex of the name's SHA-256."""
    slug = _SLUG.sub("-", user_id.lower()).strip("-")[:32] or "user"
    return f"{slug}-{hashlib.sha256(user_id.encode('utf-8')).hexdigest()[:16]}"


def private_dir(path: Path) -> Path:
    """Creates `path` (and missing parents) readable by this user only; tightens it if it was not."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def write_private(path: Path, text: str) -> Path:
    """Writes `text` to `path` as 0o600, through a temporary file (no half file after a crash)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def default_ui_cache(memory_path: Path) -> Path:
    """The Gradio cache `recteam serve` uses when GRADIO_TEMP_DIR is not set."""
    return memory_path / UI_CACHE_DIR


class UserFiles:
    """A user's files under `root`, and their download copies in `caches` (the first is where new
    copies go: the running app's Gradio cache)."""

    def __init__(self, root: Path, caches: Sequence[Path] = ()) -> None:
        self.root = root
        self.caches = tuple(dict.fromkeys(caches))  # in order, each once

    @classmethod
    def at(cls, memory_path: Path, cache: Path | None = None) -> UserFiles:
        """The files kept under a memory path. Copies are looked for in `cache` (the app's Gradio
        cache), in GRADIO_TEMP_DIR when set, and in the cache `recteam serve` uses by default."""
        env = os.environ.get(CACHE_ENV)
        caches = [c for c in (cache, Path(env) if env else None) if c is not None]
        return cls(memory_path / FILES_DIR, [*caches, default_ui_cache(memory_path)])

    def user_dir(self, user_id: str) -> Path:
        return self.root / user_key(user_id)

    def _private_user_dir(self, user_id: str) -> Path:
        private_dir(self.root)
        return private_dir(self.user_dir(user_id))

    # writing ------------------------------------------------------------------------------------
    def write_trace(self, user_id: str, session_id: str, events: Iterable[BaseModel]) -> Path:
        """The session's trace as JSON lines (what `recteam replay` reads), 0o600."""
        name = f"recteam-trace-{_SLUG.sub('-', session_id.lower())[:40]}.jsonl"
        lines = "".join(e.model_dump_json() + "\n" for e in events)
        return write_private(self._private_user_dir(user_id) / name, lines)

    def write_memory_export(self, user_id: str, document: dict[str, Any]) -> Path:
        """Everything remembered about the user as one JSON document, 0o600."""
        path = self._private_user_dir(user_id) / f"recteam-memory-{user_key(user_id)}.json"
        return write_private(path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")

    def offer(self, path: Path, replacing: Path | None = None) -> Path:
        """A copy of `path` in the Gradio cache for download, replacing earlier copies of it.
        `replacing`: the one earlier copy, when the caller kept it (a tab re-offering its trace
        after each turn): removed alone instead of looking through every folder of the caches,
        which hold a folder per copy ever offered since the last sweep."""
        if not self.caches:
            raise ValueError("no cache folder to offer files from")
        if replacing is not None and self._is_copy_of(replacing, path.name):
            replacing.unlink(missing_ok=True)
            _remove_if_empty(replacing.parent)
        else:
            self._remove_copies([path.name])
        folder = private_dir(self.caches[0] / f"{_COPY_PREFIX}{secrets.token_hex(16)}")
        copy = folder / path.name
        try:
            # A second name for the same file, not a second file: the original is only ever
            # replaced (write_private), never written in place, so the copy keeps what it was
            # when offered, and a long session's trace is not copied again after every turn.
            os.link(path, copy)
        except OSError:  # another file system (GRADIO_TEMP_DIR elsewhere): a real copy
            write_private(copy, path.read_text(encoding="utf-8"))
        return copy

    def _is_copy_of(self, copy: Path, name: str) -> bool:
        """`copy` is a download copy named `name` in a copy folder directly under a cache."""
        folder = copy.parent
        return (
            copy.name == name
            and folder.name.startswith(_COPY_PREFIX)
            and any(folder.parent == cache for cache in self.caches)
        )

    def sweep(self, older_than_s: float) -> int:
        """Removes download copies made more than `older_than_s` seconds ago (the originals stay
        in the user's folder): a copy serves one tab, and no tab outlives its server, so what an
        earlier run offered is only disk. Returns how many copy folders went."""
        cutoff = time.time() - older_than_s
        removed = 0
        for cache in self.caches:
            if not cache.is_dir():
                continue
            for folder in cache.iterdir():
                if not (folder.name.startswith(_COPY_PREFIX) and folder.is_dir()):
                    continue
                with contextlib.suppress(OSError):  # gone meanwhile: nothing to do
                    if folder.stat().st_mtime < cutoff:
                        shutil.rmtree(folder)
                        removed += 1
        return removed

    # reading and removing -----------------------------------------------------------------------
    def files(self, user_id: str) -> list[Path]:
        folder = self.user_dir(user_id)
        return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []

    def cached_copies(self, names: Iterable[str]) -> list[Path]:
        """Copies with these names in the caches' folders (Gradio's own or the app's)."""
        wanted = set(names)
        found: list[Path] = []
        for cache in self.caches:
            if not cache.is_dir() or not wanted:
                continue
            for folder in cache.iterdir():
                if folder.is_dir():
                    found += [folder / n for n in wanted if (folder / n).is_file()]
        return found

    def _remove_copies(self, names: Iterable[str]) -> int:
        copies = self.cached_copies(names)
        for copy in copies:
            copy.unlink(missing_ok=True)
            _remove_if_empty(copy.parent)
        return len(copies)

    def discard_memory_exports(self, user_id: str) -> int:
        """Removes the user's memory exports and their copies (after an entry was deleted, an
        earlier export still holds it). Returns how many files were removed."""
        exports = [p for p in self.files(user_id) if p.name.startswith("recteam-memory-")]
        for path in exports:
            path.unlink(missing_ok=True)
        names = [f"recteam-memory-{user_key(user_id)}.json"]
        return len(exports) + self._remove_copies(names)

    def discard_upload(self, path: Path) -> bool:
        """Removes a file Gradio received (an uploaded trace to replay) once it has been read:
        only inside a cache folder, never elsewhere."""
        resolved = path.resolve()
        for cache in self.caches:
            if resolved.is_relative_to(cache.resolve()) and resolved.is_file():
                resolved.unlink()
                _remove_if_empty(resolved.parent)
                return True
        return False

    def forget(self, user_id: str) -> int:
        """Removes every file kept for the user and every cached copy of them; returns how many
        files were removed."""
        own = self.files(user_id)
        names = {p.name for p in own} | {f"recteam-memory-{user_key(user_id)}.json"}
        removed = self._remove_copies(names)
        folder = self.user_dir(user_id)
        if folder.is_dir():
            shutil.rmtree(folder)
        return removed + len(own)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty, or gone already
        folder.rmdir()
