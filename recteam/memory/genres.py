"""Maps the words people use for a genre to the catalog's genre keys (data/genres.toml)."""

from __future__ import annotations

import tomllib
from functools import cache, lru_cache
from importlib import resources

from recteam.memory.items import normalize_key

__all__ = ["genre_keys"]


@cache
def _alias_index() -> dict[str, frozenset[str]]:
    raw = tomllib.loads(resources.files("recteam.data").joinpath("genres.toml").read_text())
    index: dict[str, set[str]] = {}
    for canonical, aliases in raw["aliases"].items():
        keys = {normalize_key(canonical), *(normalize_key(a) for a in aliases)}
        # Every alias finds every spelling the catalog may use for the genre ("Sport", "Sports").
        for key in keys:
            index.setdefault(key, set()).update(keys)
    return {k: frozenset(v) for k, v in index.items()}


@lru_cache(maxsize=4096)
def genre_keys(genre: str) -> frozenset[str]:
    """All catalog genre keys a person's genre word may mean; the word itself when unknown."""
    key = normalize_key(genre)
    return _alias_index().get(key, frozenset({key}))
