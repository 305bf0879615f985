"""The kinds of per-user memory, in a module of their own so that `recteam --help` can name them
without loading the store (numpy, pydantic)."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["MEMORY_KINDS", "MemoryKind"]

# "dialogue": one point per session holding its dialogue state (agents/dialogue_state.py);
# "judgement": the item analyst's judgement of one film for this user (one point per film).
MemoryKind = Literal[
    "preference", "feedback", "episode", "reflection", "plan", "dialogue", "judgement"
]
MEMORY_KINDS: tuple[str, ...] = get_args(MemoryKind)
