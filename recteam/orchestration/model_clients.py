"""The one seam to LLM services: the only module that imports litellm.

For now it holds the embedding side (a litellm embedding model as a recteam Embedder, and the
factory that picks the configured embedder); the chat-completion adapter joins it with the agents.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else litellm fetches prices on import

from recteam.errors import ConfigError, RecteamError
from recteam.memory.embeddings import Embedder, load_local_embedder
from recteam.memory.settings import EmbeddingSettings

__all__ = ["LITELLM_EMBEDDING_PREFIX", "LiteLLMEmbedder", "build_embedder"]

LITELLM_EMBEDDING_PREFIX = "litellm/"


class LiteLLMEmbedder:
    """Any litellm embedding model (OpenAI, Ollama, a litellm proxy, ...), L2-normalised."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        if not settings.dimensions:
            raise ConfigError(
                f"embedding.dimensions: required for {settings.model!r} (the vector size the model returns)"
            )
        self.model = settings.model.removeprefix(LITELLM_EMBEDDING_PREFIX)
        self.name = f"litellm:{self.model}"
        self.dim = settings.dimensions
        self.api_base = settings.api_base
        self.api_key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
        if settings.api_key_env and not self.api_key:
            raise ConfigError(
                f"embedding.api_key_env names {settings.api_key_env}, but that environment variable is not set"
            )
        self.batch_size = settings.batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import litellm

        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = litellm.embedding(
                    model=self.model, input=batch, api_base=self.api_base, api_key=self.api_key
                )
            except Exception as exc:  # litellm maps every provider's failure to its own types
                raise RecteamError(
                    f"embedding model {self.model!r} failed ({type(exc).__name__}: {str(exc)[:160]}); "
                    "check embedding.model, embedding.api_base and embedding.api_key_env"
                ) from exc
            rows.extend(item["embedding"] for item in response.data)
        out = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
        if out.shape[1] != self.dim:
            raise ConfigError(
                f"embedding.dimensions is {self.dim} but {self.model!r} returned vectors of size {out.shape[1]}"
            )
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def build_embedder(settings: EmbeddingSettings) -> Embedder:
    if settings.model.startswith(LITELLM_EMBEDDING_PREFIX):
        return LiteLLMEmbedder(settings)
    return load_local_embedder(settings)
