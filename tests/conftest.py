from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from recteam.memory.embeddings import load_local_embedder
from recteam.memory.ingest import ingest_path
from recteam.memory.settings import EmbeddingSettings, MemorySettings
from recteam.memory.store import MemoryStore, open_store

pytest_plugins = ["tests.llm_stub"]  # the local OpenAI-compatible server, for every test file

FIXTURES = Path(__file__).parent / "fixtures"
FILMS = FIXTURES / "films.jsonl"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's recteam.toml, .env, RECTEAM_* variables or data folder."""
    import os

    for key in list(os.environ):
        if key.startswith("RECTEAM_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    # a model endpoint that failed in one test is not cooling down in the next
    clients = sys.modules.get("recteam.orchestration.model_clients")
    if clients is not None:
        clients._COOLING.clear()


@pytest.fixture(scope="session")
def embedder():
    return load_local_embedder(EmbeddingSettings())


def memory_settings(kind: str, path: Path) -> MemorySettings:
    if kind == "embedded":
        return MemorySettings(backend="embedded", path=path)
    return MemorySettings(backend="server", url=":memory:", path=path)


@pytest.fixture(params=["embedded", "server"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(backend_kind: str, tmp_path: Path, embedder) -> Iterator[MemoryStore]:
    s = open_store(memory_settings(backend_kind, tmp_path / "store"), embedder)
    yield s
    s.close()


@pytest.fixture
def films_store(store: MemoryStore) -> MemoryStore:
    ingest_path(store, FILMS)
    return store


@pytest.fixture(scope="session")
def shipped_store(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[MemoryStore]:
    """One embedded store over the shipped catalog (36k films, its precomputed vectors) for the
    whole run: ingesting it takes ~10-20 s, so tests share it. Tests must not change its catalog;
    what they write for a user they should forget."""
    from importlib import resources

    path = tmp_path_factory.mktemp("shipped") / "store"
    s = open_store(MemorySettings(backend="embedded", path=path), embedder)
    ingest_path(s, Path(str(resources.files("recteam.data").joinpath("catalog.jsonl.gz"))))
    yield s
    s.close()
