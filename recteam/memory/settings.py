"""Settings the memory layer needs; orchestration/settings.py composes them into the root."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["EmbeddingSettings", "MemorySettings", "SearchSettings", "default_data_dir"]


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("recteam", appauthor=False))


class EmbeddingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        default="all-MiniLM-L6-v2",
        description=(
            "Dense text embedder. 'all-MiniLM-L6-v2' is bundled (runs in numpy, no download); "
            "a folder path loads another local sentence-transformers BERT model "
            "(model.safetensors + tokenizer.json); 'litellm/<model>' calls a litellm embedding "
            "model, e.g. 'litellm/openai/text-embedding-3-small' or 'litellm/ollama/nomic-embed-text'."
        ),
    )
    dimensions: int | None = Field(
        default=None,
        gt=0,
        description="Vector size; needed only for litellm models (local models know their own).",
    )
    api_base: str | None = Field(
        default=None, description="Base URL for a litellm embedding model."
    )
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable holding the embedding API key."
    )
    batch_size: int = Field(default=64, ge=1, le=4096, description="Texts per embedding call.")
    cache: bool = Field(
        default=True,
        description="Keep computed embeddings on disk so re-ingesting or restarting never re-embeds.",
    )


class SearchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prefetch: int = Field(
        default=100, ge=1, le=10_000, description="Candidates each retriever passes to fusion."
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal-rank-fusion constant.")
    popularity_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=10.0,
        description="Weight of the popularity list in rank fusion: a prior toward well-known films (0 turns it off).",
    )
    limit: int = Field(default=10, ge=1, le=1000, description="Results returned by default.")


class MemorySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["embedded", "server"] = Field(
        default="embedded",
        description=(
            "'embedded' keeps everything in a local folder with no server (Qdrant Edge); "
            "'server' talks to a Qdrant server or cluster at memory.url."
        ),
    )
    path: Path = Field(
        default_factory=default_data_dir,
        description="Folder of the embedded store and the embedding cache.",
    )
    url: str | None = Field(
        default=None,
        description="Qdrant server URL for backend = 'server', e.g. http://localhost:6333, or ':memory:'.",
    )
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable holding the Qdrant API key."
    )
    timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for the Qdrant server.")
    prefix: str = Field(
        default="recteam",
        pattern=r"^[A-Za-z0-9_-]{1,40}$",
        description="Prefix of the collection names, so several deployments can share one server.",
    )

    @field_validator("path")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()
