"""What a film can be "based on": the closed vocabulary, in a module of its own so that the item
model (memory/items.py, loaded by every command) names it without compiling the rules that read
it from summaries (memory/facts.py, a catalog build's work)."""

from __future__ import annotations

__all__ = ["BASED_ON"]

# In the words dense_text() uses ("Based on a novel.").
BASED_ON = (
    "novel",
    "short story",
    "true story",
    "comic",
    "play",
    "musical",
    "TV series",
    "video game",
    "book",
    "fairy tale",
)
