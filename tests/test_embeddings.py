from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recteam.errors import ConfigError
from recteam.memory.embeddings import CachedEmbedder, load_local_embedder
from recteam.memory.settings import EmbeddingSettings


def test_bundled_minilm_reproduces_the_reference_embedding(embedder) -> None:
    # First coordinates of sentence-transformers' all-MiniLM-L6-v2 for this sentence.
    vec = embedder.embed(["This is an example sentence"])[0]
    assert vec.shape == (384,)
    np.testing.assert_allclose(
        vec[:5], [0.0676569, 0.0634959, 0.0487131, 0.0793050, 0.0374480], atol=2e-5
    )
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5


def test_batched_embedding_equals_one_by_one(embedder) -> None:
    texts = ["a quiet film about grief", "Heat (1995). Crime, Drama.", "x"]
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_similar_texts_are_closer(embedder) -> None:
    a, b, c = embedder.embed(
        [
            "astronauts stranded in space",
            "a crew of astronauts travels to Mars",
            "a romantic comedy in Paris",
        ]
    )
    assert float(a @ b) > float(a @ c)


class CountingEmbedder:
    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.calls = inner, inner.name, inner.dim, 0

    def embed(self, texts):
        self.calls += len(texts)
        return self.inner.embed(texts)


def test_cache_survives_a_restart(embedder, tmp_path: Path) -> None:
    counting = CountingEmbedder(embedder)
    first = CachedEmbedder(counting, tmp_path / "cache.sqlite")
    v1 = first.embed(["Arrival", "Heat"])
    first.close()
    assert counting.calls == 2
    second = CachedEmbedder(counting, tmp_path / "cache.sqlite")
    v2 = second.embed(["Heat", "Arrival", "Moon"])
    second.close()
    assert counting.calls == 3  # only "Moon" was new
    np.testing.assert_allclose(v2[:2], v1[::-1])


def test_a_folder_without_a_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="embedding.model"):
        load_local_embedder(EmbeddingSettings(model=str(tmp_path)))


def test_a_text_embedded_as_a_query_is_not_embedded_again_when_stored(
    embedder, tmp_path: Path
) -> None:
    counting = CountingEmbedder(embedder)
    cached = CachedEmbedder(counting, tmp_path / "cache.sqlite")
    q = cached.embed_query("a smart heist movie (wants: smart)")
    stored = cached.embed(["a smart heist movie (wants: smart)", "something else"])
    cached.close()
    assert counting.calls == 2  # the query once, "something else" once
    np.testing.assert_allclose(stored[0], q)
