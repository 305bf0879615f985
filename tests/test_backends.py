from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from recteam.errors import StoreBusyError, StoreUnavailableError
from recteam.memory.ingest import ingest_path
from recteam.memory.settings import MemorySettings
from recteam.memory.store import MemoryStore, open_backend, open_store
from tests.conftest import FILMS, memory_settings


def test_unreachable_qdrant_url_is_a_plain_sentence() -> None:
    settings = MemorySettings(backend="server", url="http://127.0.0.1:9", timeout=1)
    with pytest.raises(
        StoreUnavailableError,
        match=r"cannot reach the Qdrant server at http://127.0.0.1:9.*memory.url",
    ):
        open_backend(settings)


def test_missing_api_key_variable_is_named() -> None:
    settings = MemorySettings(
        backend="server", url="http://127.0.0.1:9", api_key_env="NO_SUCH_KEY_VAR"
    )
    with pytest.raises(StoreUnavailableError, match="NO_SUCH_KEY_VAR"):
        open_backend(settings)


def test_a_second_process_on_the_embedded_store_is_told_who_owns_it(tmp_path: Path) -> None:
    first = open_backend(memory_settings("embedded", tmp_path))
    try:
        with pytest.raises(StoreBusyError, match="in use by another recteam process"):
            open_backend(memory_settings("embedded", tmp_path))
    finally:
        first.close()
    open_backend(memory_settings("embedded", tmp_path)).close()  # released on close


def test_embedded_catalog_persists_across_a_restart(tmp_path: Path, embedder) -> None:
    settings = memory_settings("embedded", tmp_path / "store")
    with open_store(settings, embedder) as first:
        ingest_path(first, FILMS)
    with open_store(settings, embedder) as second:
        assert second.catalog.count() == 62
        assert second.catalog.resolve_title("Arrival").year == 2016


def test_threads_first_reading_a_collection_at_once_load_it_once(tmp_path: Path, embedder) -> None:
    # A turn reads its memory in three threads at once, and so do the first turns after a start.
    settings = memory_settings("embedded", tmp_path / "store")
    with open_store(settings, embedder) as first:
        ingest_path(first, FILMS)

    def counts(store: MemoryStore, threads: int) -> list[int]:
        name, start = store.catalog.collection, threading.Barrier(threads)
        assert name is not None

        def count(_: int) -> int:
            start.wait()
            return store.backend.count(name)

        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(count, range(threads)))

    for _ in range(3):  # the race is short on a small collection: a few fresh starts
        with open_store(settings, embedder) as store:
            assert counts(store, 8) == [62] * 8


def test_a_server_that_stops_answering_is_a_plain_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    from qdrant_client.http.exceptions import ResponseHandlingException

    backend = open_backend(MemorySettings(backend="server", url=":memory:"))

    def down(*args, **kwargs):
        raise ResponseHandlingException(ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(backend.client, "get_collections", down)  # type: ignore[attr-defined]
    with pytest.raises(StoreUnavailableError, match=r"stopped answering.*memory.url"):
        backend.list_collections()
